r"""How much the outcome varies between the groups of each grouping factor, net of the predictors.

For each grouping factor :math:`g` (province, city, PSU, ...) of a spec:

* Between-group SD :math:`\sigma_g` of its random intercept (log-odds scale for logit links,
  latent scale for the ordinal model, outcome units for gaussian outcomes).
* ICC (variance partition coefficient) :math:`\sigma_g^2 / (\sum_f \sigma_f^2 + s^2)` over
  every grouping factor :math:`f`: on the latent scale (``icc_latent``) with
  :math:`s^2 = \pi^2/3`, the variance of the standard logistic, for the logit and cumulative-logit
  families; on the observed scale (``icc``) with :math:`s^2` the residual variance
  :math:`\sigma^2` for gaussian outcomes. With a single factor this is the usual
  :math:`\sigma^2 / (\sigma^2 + s^2)`.
* Median odds ratio (logit links) :math:`\mathrm{MOR} = \exp(\sqrt{2\sigma_g^2}\,
  \Phi^{-1}(0.75))`: the median odds ratio (cumulative odds ratio for ordinal outcomes) between
  two like respondents in two randomly chosen groups of the factor (higher vs lower).
* Standardised uptake (0/1 outcomes, by the first factor): each group's expected share with the
  outcome if it had the whole sample's mix of predictors (poststratification over the observed
  rows; other factors at their average, effect 0), with the posterior probability of being
  among the five highest and five lowest groups.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from analysis.ppc import draws_first, fitted_probabilities, pointwise_posterior
from cmds_common.constants import INTERVAL_PROB
from models.design import Design

#: Families whose link is a logit (odds ratios, latent-scale ICC, MOR).
LOGIT_FAMILIES = ("bernoulli", "binomial", "cumulative_logit")


def _interval(draws: np.ndarray, interval_prob: float) -> tuple[float, float, float]:
    tail = (1 - interval_prob) / 2
    low, median, high = np.quantile(draws, [tail, 0.5, 1 - tail])
    return median, low, high


def variance_summaries(
    idata: xr.DataTree,
    group: str = "province",
    interval_prob: float = INTERVAL_PROB,
    family: str = "bernoulli",
    groups: list[str] | None = None,
) -> pd.DataFrame:
    """Posterior median and interval of each factor's SD, ICC and (logit links) MOR.

    Parameters
    ----------
    idata
        A fit with ``<factor>_sigma`` in its posterior (and ``sigma`` for gaussian outcomes).
    group
        The factor when ``groups`` is not given.
    interval_prob
        Mass of the equal-tailed interval.
    family
        The spec's family: which ICC (latent or observed scale) and whether a MOR.
    groups
        Every grouping factor of the model (the ICC's denominator sums their variances).

    Returns
    -------
    pandas.DataFrame
        ``group``, ``measure`` (``<factor>_sd``, ``icc_latent`` or ``icc``,
        ``median_odds_ratio``), ``median``, ``low``, ``high``.
    """
    groups = groups or [group]
    sigmas = {g: idata.posterior[f"{g}_sigma"].to_numpy().ravel() for g in groups}
    if family == "gaussian":
        residual, icc_name = idata.posterior["sigma"].to_numpy().ravel() ** 2, "icc"
    else:
        residual, icc_name = np.pi**2 / 3, "icc_latent"
    total = sum(s**2 for s in sigmas.values()) + residual
    rows = []
    for g, sigma in sigmas.items():
        measures = {f"{g}_sd": sigma, icc_name: sigma**2 / total}
        if family in LOGIT_FAMILIES:
            measures["median_odds_ratio"] = np.exp(np.sqrt(2 * sigma**2) * stats.norm.ppf(0.75))
        for name, draws in measures.items():
            median, low, high = _interval(draws, interval_prob)
            rows.append({"group": g, "measure": name, "median": median, "low": low, "high": high})
    return pd.DataFrame(rows)


def group_effects(
    idata: xr.DataTree,
    group: str = "province",
    interval_prob: float = INTERVAL_PROB,
    family: str = "bernoulli",
) -> pd.DataFrame:
    """Each group's intercept against the average group (the caterpillar's rows).

    Odds ratios (cumulative odds ratios for ordinal outcomes) for logit links, deviations in
    outcome units for gaussian outcomes.

    Returns
    -------
    pandas.DataFrame
        Sorted by the estimate: the factor's column (level names), ``estimate``, ``low``,
        ``high``, ``prob_above_average`` and ``scale`` (``odds ratio``, ``cumulative odds
        ratio`` or ``outcome units``).
    """
    effect = idata.posterior[f"{group}_effect"]
    draws = effect.stack(sample=("chain", "draw")).transpose(group, "sample").to_numpy()
    logit = family in LOGIT_FAMILIES
    scale = {"cumulative_logit": "cumulative odds ratio", "gaussian": "outcome units"}.get(
        family, "odds ratio"
    )
    rows = []
    for name, row in zip(effect[group].to_numpy(), draws, strict=True):
        median, low, high = _interval(np.exp(row) if logit else row, interval_prob)
        rows.append(
            {
                group: str(name),
                "estimate": median,
                "low": low,
                "high": high,
                "prob_above_average": float(np.mean(row > 0)),
            }
        )
    table = pd.DataFrame(rows).sort_values("estimate").reset_index(drop=True)
    return table.assign(scale=scale)


def _province_deviations(idata: xr.DataTree, design: Design, group: str) -> tuple:
    """Return the draws a group's standardised rates need, at the pointwise groups' draws.

    Intercept ``(S,)``, ``beta`` ``(terms, S)``, group effects ``(groups, S)`` and slopes
    ``(groups, slope terms, S)`` (``None`` without slopes).
    """
    posterior = pointwise_posterior(idata)
    alpha = draws_first(posterior["intercept"])
    beta = draws_first(posterior["beta"].transpose(..., "term")).T
    effect = draws_first(posterior[f"{group}_effect"].transpose(..., group)).T
    slopes = None
    if design.slope_columns:
        slope = posterior[f"{group}_slope"].transpose(..., group, "slope_term")
        slopes = np.ascontiguousarray(draws_first(slope).transpose(1, 2, 0))
    return alpha, beta, np.ascontiguousarray(effect), slopes


@numba.njit(cache=True, parallel=True, nogil=True)
def standardised_means(
    base: np.ndarray, effect: np.ndarray, slope_x: np.ndarray, slopes: np.ndarray
) -> np.ndarray:
    r"""Mean over respondents of :math:`\operatorname{expit}(b_{si} + u_{js} + x_i'v_{js})`.

    One compiled pass over draws (in parallel), groups and respondents, without the
    draws x respondents temporaries NumPy would build per group (about ten times faster for a
    random-slopes fit: 12,000 draws x 3,158 respondents x 32 provinces).

    Parameters
    ----------
    base
        ``(draws, obs)`` linear predictor without the group's terms, float64.
    effect
        ``(groups, draws)`` group intercept deviations :math:`u_{js}`.
    slope_x
        ``(obs, k)`` columns with group-varying slopes (``k`` may be 0).
    slopes
        ``(groups, k, draws)`` slope deviations :math:`v_{js}`.

    Returns
    -------
    numpy.ndarray
        ``(draws, groups)`` standardised shares.
    """
    n_draws, n_obs = base.shape
    n_groups, n_slopes = effect.shape[0], slope_x.shape[1]
    out = np.empty((n_draws, n_groups))
    for s in numba.prange(n_draws):
        for j in range(n_groups):
            total = 0.0
            for i in range(n_obs):
                eta = base[s, i] + effect[j, s]
                for k in range(n_slopes):
                    eta += slope_x[i, k] * slopes[j, k, s]
                total += 1.0 / (1.0 + math.exp(-eta))
            out[s, j] = total / n_obs
    return out


def standardised_rates(
    idata: xr.DataTree,
    design: Design,
    data: pd.DataFrame,
    group: str = "province",
    interval_prob: float = INTERVAL_PROB,
    top: int = 5,
    outcome: str = "health_record",
) -> pd.DataFrame:
    """Group shares of a 0/1 outcome standardised to the whole sample, with rank probabilities.

    For each posterior draw (those the fit kept for its log-likelihood: all of them, or at most
    4,000 evenly spaced per fit, :func:`analysis.ppc.pointwise_posterior`, so that they pair
    with the fitted rates) and group ``j`` of the first grouping factor, the expected share
    with the outcome is the mean over all respondents ``i`` of ``expit(intercept + x_i' beta +
    u_j [+ x_i' v_j])``: every group is given the same mix of predictors (and the average group
    of any other factor), so differences are this factor's effects only.

    Returns
    -------
    pandas.DataFrame
        Per province: ``n``, ``raw_rate`` (observed share), ``fitted_rate`` (partially pooled
        estimate for the province's own respondents, with interval), ``standardised_rate`` (with
        interval), ``prob_top5``, ``prob_bottom5``.
    """
    alpha, beta, effect, slopes = _province_deviations(idata, design, group)
    n_groups, n_draws = effect.shape
    slope_x = design.X[:, design.slope_columns]
    if slopes is None:
        slopes = np.zeros((n_groups, 0, n_draws))
    standardised = standardised_means(
        alpha[:, None] + (design.X @ beta).T, effect, np.ascontiguousarray(slope_x), slopes
    )
    ranks = (-standardised).argsort(axis=1).argsort(axis=1) + 1  # 1 = highest uptake
    fitted = fitted_probabilities(idata, outcome)
    observed = data[outcome].to_numpy()
    rows = []
    for j, name in enumerate(design.group_levels):
        mine = design.group_idx == j
        std_median, std_low, std_high = _interval(standardised[:, j], interval_prob)
        fit_median, fit_low, fit_high = _interval(fitted[:, mine].mean(axis=1), interval_prob)
        rows.append(
            {
                group: name,
                "n": int(mine.sum()),
                "raw_rate": observed[mine].mean(),
                "fitted_rate": fit_median,
                "fitted_low": fit_low,
                "fitted_high": fit_high,
                "standardised_rate": std_median,
                "standardised_low": std_low,
                "standardised_high": std_high,
                f"prob_top{top}": float(np.mean(ranks[:, j] <= top)),
                f"prob_bottom{top}": float(np.mean(ranks[:, j] > n_groups - top)),
            }
        )
    return pd.DataFrame(rows)
