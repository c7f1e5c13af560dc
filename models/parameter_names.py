"""Names of a spec's posterior variables, without importing PyMC.

The convergence gate, the summaries and the fit itself need the list of free parameters of a
spec; reading it from here keeps the compiled engine's process free of the PyMC import.
"""

from __future__ import annotations

from cmds_common.spec import ModelSpec

#: Families whose linear predictor has its own intercept (the ordinal family has cut-points).
FAMILIES_WITH_INTERCEPT = ("bernoulli", "binomial", "gaussian")


def free_parameter_names(spec: ModelSpec) -> list[str]:
    """Posterior variables checked for convergence and summarised (no per-row nodes).

    Parameters
    ----------
    spec
        The model spec.

    Returns
    -------
    list of str
        ``intercept`` (families with one), ``beta``, the family's own parameters (``sigma``,
        ``cutpoints``), and per grouping factor its SD and effects (and slope SDs and slopes).
    """
    names = ["intercept", "beta"] if spec.family in FAMILIES_WITH_INTERCEPT else ["beta"]
    names += {"gaussian": ["sigma"], "cumulative_logit": ["cutpoints"]}.get(spec.family, [])
    for group in spec.groups:
        if group.intercept:  # a (0 + a | g) term has slopes only
            names += [f"{group.name}_sigma", f"{group.name}_effect"]
        if group.slopes:
            names += [f"{group.name}_slope_sigma", f"{group.name}_slope"]
    if spec.group_predictors:
        names += [f"{spec.group}_gamma"]
    return names
