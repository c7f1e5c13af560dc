r"""Choose, province by province, between the centred and non-centred random intercept.

A group with much data pins its intercept down tightly, and the non-centred form
(:math:`u_j = \sigma z_j`) then ties :math:`z_j` to :math:`\sigma` in a narrow ridge; a group
with little data is the other way round, and the centred form
(:math:`u_j \sim \mathcal N(0, \sigma^2)`) makes a funnel. The rule used here centres group
:math:`j` when its data carry more information about its intercept than the prior does:

.. math::

    I_j \hat\sigma^2 \ge 1, \qquad I_j = t_j \hat p (1 - \hat p),

with :math:`t_j` the group's respondents, :math:`\hat p` the overall share with a record and
:math:`\hat\sigma` a moment estimate of the SD of the groups' log-odds (floored at 0.1). Only the
sampler's geometry depends on the choice; the posterior is the same.
"""

from __future__ import annotations

import numpy as np

PARAMETERISATIONS = ("auto", "centred", "non_centred")
_SIGMA_FLOOR = 0.1


def rough_group_sd(successes: np.ndarray, trials: np.ndarray, group_idx: np.ndarray, n_groups: int):
    """Moment estimate of the SD of the groups' log-odds, net of binomial noise.

    Parameters
    ----------
    successes, trials
        Per-row counts (one row per respondent, or aggregated).
    group_idx
        Group index of each row.
    n_groups
        Number of groups.

    Returns
    -------
    float
        ``sqrt(max(var(empirical logits) - mean(sampling variance), 0.1**2))``.
    """
    s = np.bincount(group_idx, weights=successes, minlength=n_groups) + 0.5
    f = np.bincount(group_idx, weights=trials - successes, minlength=n_groups) + 0.5
    logits = np.log(s / f)
    sampling_variance = 1.0 / s + 1.0 / f
    excess = np.var(logits) - np.mean(sampling_variance)
    return float(np.sqrt(max(excess, _SIGMA_FLOOR**2)))


def centred_groups(
    successes: np.ndarray,
    trials: np.ndarray,
    group_idx: np.ndarray,
    n_groups: int,
    parameterisation: str = "auto",
) -> np.ndarray:
    """Flag, per group, whether its intercept is sampled in the centred form.

    Parameters
    ----------
    successes, trials, group_idx, n_groups
        As for :func:`rough_group_sd`.
    parameterisation
        ``"auto"`` (the rule in the module docstring), ``"centred"`` or ``"non_centred"``.

    Returns
    -------
    numpy.ndarray
        Boolean array of length ``n_groups``.
    """
    if parameterisation not in PARAMETERISATIONS:
        raise ValueError(f"parameterisation must be one of {PARAMETERISATIONS}")
    if parameterisation != "auto":
        return np.full(n_groups, parameterisation == "centred")
    share = float(np.sum(successes) / np.sum(trials))
    information = np.bincount(group_idx, weights=trials, minlength=n_groups)
    information = information * share * (1.0 - share)
    sigma = rough_group_sd(successes, trials, group_idx, n_groups)
    return information * sigma**2 >= 1.0
