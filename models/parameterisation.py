r"""Choose, province by province, between the centred and non-centred random intercept.

A group with much data pins its intercept down tightly, and the non-centred form
(:math:`u_j = \sigma z_j`) then ties :math:`z_j` to :math:`\sigma` in a narrow ridge; a group
with little data is the other way round, and the centred form
(:math:`u_j \sim \mathcal N(0, \sigma^2)`) makes a funnel. The rule used here centres group
:math:`j` when its data carry clearly more information about its intercept than the prior does
(the factor 2 was chosen on simulated data sets: at 1, borderline groups near a small SD
diverged; at 4, too few groups were centred and the default fit mixed worse):

.. math::

    I_j \hat\sigma^2 \ge 2,

where :math:`I_j = \sum_{i \in j} t_i \hat p_i (1 - \hat p_i)` is the Fisher information about
the group's intercept at a pooled logistic fit :math:`\hat p_i` (rows carry :math:`t_i`
respondents), and :math:`\hat\sigma` is a moment estimate of the SD of the groups' deviations
from that fit: one Newton step per group gives :math:`d_j` with sampling variance
:math:`1 / I_j`, and :math:`\hat\sigma^2 = \max(\overline{d_j^2} - \overline{1/I_j}, 0.1^2)`.
Accounting for the predictors matters: without it, groups that differ only in their mix of
respondents look like a large :math:`\sigma`.

No group is centred unless the data show clear between-group variation: when the heterogeneity
statistic :math:`Q = \sum_j I_j d_j^2` (approximately :math:`\chi^2_{J-1}` when
:math:`\sigma = 0`) has :math:`P(\chi^2_{J-1} \ge Q) > 10^{-4}`, every group is non-centred.
Then the posterior of :math:`\sigma` reaches down towards zero, and a centred group, however
much data it has, puts a funnel there. In the calibration study (:mod:`analysis.calibration`),
6 of 100 replicates, all with a true SD near zero, had divergent transitions under the
per-group rule alone; with the test at :math:`10^{-3}`, one still had 3 (true SD 0.34,
:math:`P = 8.5 \cdot 10^{-4}`, 6 of 32 groups centred, the SD's posterior 1% quantile 0.07);
at :math:`10^{-4}` it is sampled non-centred, without divergences. Non-centred is the safe form
for small SDs, so the stricter test costs only some efficiency when the variation is moderate
(see ``tests/test_log_density.py``). Only the sampler's geometry depends on the choice; the
posterior is the same.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from models.aggregation import pattern_codes

PARAMETERISATIONS = ("auto", "centred", "non_centred")
_SIGMA_FLOOR = 0.1
#: Centre a group when its information times the estimated variance reaches this.
CENTRING_THRESHOLD = 2.0
#: Centre no group unless the heterogeneity test rejects sigma = 0 at this level.
HETEROGENEITY_P = 1e-4


def pooled_logit_fit(
    X: np.ndarray, successes: np.ndarray, trials: np.ndarray, iterations: int = 25
) -> np.ndarray:
    """Fitted probabilities of a pooled logistic regression (intercept + ``X``), by Newton steps.

    A small ridge (1e-6) keeps the steps defined when a column is constant or separated. Rows
    with identical predictors are fitted as one (exact: the likelihood depends on them only
    through their summed successes and trials), which makes a large aggregated design, whose
    rows differ by group as well, cheap.
    """
    codes = pattern_codes(list(X.T), len(trials)) if len(trials) else None
    if codes is not None:
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        if len(first) <= len(trials) // 2:
            inverse = inverse.ravel()
            collapsed = pooled_logit_fit(
                X[first],
                np.bincount(inverse, weights=successes, minlength=len(first)),
                np.bincount(inverse, weights=trials, minlength=len(first)),
                iterations,
            )
            return collapsed[inverse]
    design = np.column_stack([np.ones(len(trials)), X])
    coefficients = np.zeros(design.shape[1])
    for _ in range(iterations):
        prob = 1.0 / (1.0 + np.exp(-(design @ coefficients)))
        curvature = trials * prob * (1.0 - prob)
        hessian = design.T @ (design * curvature[:, None]) + 1e-6 * np.eye(design.shape[1])
        step = np.linalg.solve(hessian, design.T @ (successes - trials * prob))
        coefficients += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return 1.0 / (1.0 + np.exp(-(design @ coefficients)))


def centred_groups(
    X: np.ndarray,
    successes: np.ndarray,
    trials: np.ndarray,
    group_idx: np.ndarray,
    n_groups: int,
    parameterisation: str = "auto",
    prob: np.ndarray | None = None,
) -> np.ndarray:
    """Flag, per group, whether its intercept is sampled in the centred form.

    Parameters
    ----------
    X
        ``(rows, terms)`` predictors.
    successes, trials
        Per-row counts (one row per respondent, or aggregated).
    group_idx
        Group index of each row.
    n_groups
        Number of groups.
    parameterisation
        ``"auto"`` (the rule in the module docstring), ``"centred"`` or ``"non_centred"``.
    prob
        Fitted probabilities of :func:`pooled_logit_fit` per row, when already computed (the
        same for every grouping factor of a design).

    Returns
    -------
    numpy.ndarray
        Boolean array of length ``n_groups``.
    """
    if parameterisation not in PARAMETERISATIONS:
        raise ValueError(f"parameterisation must be one of {PARAMETERISATIONS}")
    if parameterisation != "auto":
        return np.full(n_groups, parameterisation == "centred")
    prob = pooled_logit_fit(X, successes, trials) if prob is None else prob
    information = np.bincount(group_idx, weights=trials * prob * (1 - prob), minlength=n_groups)
    information = np.maximum(information, 1e-12)
    score = np.bincount(group_idx, weights=successes - trials * prob, minlength=n_groups)
    deviation = score / information
    if heterogeneity_p_value(score, information) > HETEROGENEITY_P:
        return np.zeros(n_groups, dtype=bool)
    sigma_squared = max(np.mean(deviation**2) - np.mean(1.0 / information), _SIGMA_FLOOR**2)
    return information * sigma_squared >= CENTRING_THRESHOLD


def heterogeneity_p_value(score: np.ndarray, information: np.ndarray) -> float:
    r"""P-value of :math:`Q = \sum_j s_j^2 / I_j` against :math:`\chi^2_{J-1}` (no variation)."""
    statistic = float(np.sum(score**2 / information))
    return float(stats.chi2.sf(statistic, max(len(score) - 1, 1)))
