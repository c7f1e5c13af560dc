"""Prior and prior-predictive draws stored with every fit (groups ``prior``, ``prior_predictive``).

The draws come from PyMC's ``sample_prior_predictive`` on the model of
:func:`models.hierarchical.build_model`, seeded with the fit's seed: every parameter drawn from
its prior (coefficients, intercept, group SDs and offsets, cut-points, residual SD, as the spec's
``priors:`` set them), then the outcome drawn given those parameters. Random-slopes models are
drawn with their intercept's normal prior given directly (``direct_intercept=True``): the model
that is sampled puts a flat density on the intercept at the predictors' means plus a prior term,
the same joint prior, but a flat variable cannot be drawn from. Survey weights enter the
likelihood only, so they do not change prior draws.

Stored with the fit, the draws let the user's ArviZ compare prior and posterior
(``azp.plot_prior_posterior``) and draw prior-predictive checks without rebuilding the model.
"""

from __future__ import annotations

import warnings

import xarray as xr

from cmds_common.spec import ModelSpec
from models.design import Design


def prior_groups(design: Design, spec: ModelSpec, draws: int, seed: int) -> dict[str, xr.Dataset]:
    """Draw the prior and prior-predictive groups of ``spec``'s model on ``design``.

    Parameters
    ----------
    design
        Output of :func:`models.design.build_design`.
    spec
        The model spec (its ``priors:``).
    draws
        Number of draws (one chain), >= 1.
    seed
        Random seed (the fit's seed: the same fit gives the same prior draws).

    Returns
    -------
    dict
        ``{"prior": Dataset, "prior_predictive": Dataset}`` with dims ``(chain, draw, ...)`` and
        the model's labelled dims; outcomes stored compactly (int8 for 0/1 and categories,
        float32 for gaussian outcomes).

    Raises
    ------
    ValueError
        When ``draws < 1``.
    """
    import pymc as pm

    from models.hierarchical import build_model
    from models.progress_lines import quiet_forward_sampling
    from models.sampling import compact_predictive

    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    model = build_model(design, spec, direct_intercept=True)
    with model, warnings.catch_warnings(), quiet_forward_sampling():
        # the only potential left is the survey weights' extra likelihood, which priors ignore
        warnings.filterwarnings("ignore", message=".*Potential.*", category=UserWarning)
        drawn = pm.sample_prior_predictive(draws=draws, random_seed=seed)
    prior = drawn.prior.to_dataset()
    keep = [name for name in prior.data_vars if not name.endswith("_idx") and name != "X"]
    return {
        "prior": prior[keep],
        "prior_predictive": compact_predictive(drawn.prior_predictive.to_dataset()),
    }


def attach_prior(
    idata: xr.DataTree, design: Design, spec: ModelSpec, draws: int, seed: int
) -> xr.DataTree:
    """Add the ``prior`` and ``prior_predictive`` groups of :func:`prior_groups` to a fit.

    Parameters
    ----------
    idata
        The fit (modified in place and returned).
    design, spec, draws, seed
        As for :func:`prior_groups`; ``draws == 0`` adds nothing.

    Returns
    -------
    xarray.DataTree
        ``idata``, with ``posterior.attrs["prior_draws"]`` recording the number of draws.
    """
    if draws:
        for name, group in prior_groups(design, spec, draws, seed).items():
            idata[name] = xr.DataTree(group)
    idata.posterior.attrs["prior_draws"] = draws
    return idata
