r"""How much uptake of health records varies between inflow provinces, net of the predictors.

* Between-province SD :math:`\sigma` of the random intercept (log-odds scale).
* Latent-scale ICC :math:`\sigma^2 / (\sigma^2 + \pi^2/3)`: the share of latent variation in
  the propensity to have a record that lies between provinces.
* Median odds ratio :math:`\mathrm{MOR} = \exp(\sqrt{2\sigma^2}\,\Phi^{-1}(0.75))`: the median
  odds ratio between two like respondents in two randomly chosen provinces (higher province vs
  lower).
* Standardised uptake: each province's expected share with a record if it had the whole
  sample's mix of predictors (poststratification over the observed rows), with the posterior
  probability of being among the five highest and five lowest provinces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special, stats

from analysis.ppc import fitted_probabilities
from cmds_common.constants import INTERVAL_PROB
from models.design import Design


def _interval(draws: np.ndarray, interval_prob: float) -> tuple[float, float, float]:
    tail = (1 - interval_prob) / 2
    low, median, high = np.quantile(draws, [tail, 0.5, 1 - tail])
    return median, low, high


def variance_summaries(
    idata: xr.DataTree, group: str = "province", interval_prob: float = INTERVAL_PROB
) -> pd.DataFrame:
    """Posterior median and equal-tailed interval of the province SD, latent ICC and MOR."""
    sigma = idata.posterior[f"{group}_sigma"].to_numpy().ravel()
    measures = {
        f"{group}_sd": sigma,
        "icc_latent": sigma**2 / (sigma**2 + np.pi**2 / 3),
        "median_odds_ratio": np.exp(np.sqrt(2 * sigma**2) * stats.norm.ppf(0.75)),
    }
    rows = []
    for name, draws in measures.items():
        median, low, high = _interval(draws, interval_prob)
        rows.append({"measure": name, "median": median, "low": low, "high": high})
    return pd.DataFrame(rows)


def province_odds_ratios(
    idata: xr.DataTree, group: str = "province", interval_prob: float = INTERVAL_PROB
) -> pd.DataFrame:
    """Each province's intercept as an odds ratio against the national average (caterpillar)."""
    effect = idata.posterior[f"{group}_effect"]
    draws = effect.stack(sample=("chain", "draw")).transpose(group, "sample").to_numpy()
    rows = []
    for name, row in zip(effect[group].to_numpy(), draws, strict=True):
        median, low, high = _interval(np.exp(row), interval_prob)
        rows.append(
            {
                group: str(name),
                "odds_ratio": median,
                "low": low,
                "high": high,
                "prob_above_average": float(np.mean(row > 0)),
            }
        )
    return pd.DataFrame(rows).sort_values("odds_ratio").reset_index(drop=True)


def _province_deviations(idata: xr.DataTree, design: Design, group: str) -> tuple:
    posterior = idata.posterior.to_dataset().stack(sample=("chain", "draw"))
    alpha = posterior["intercept"].to_numpy()
    beta = posterior["beta"].transpose("term", "sample").to_numpy()
    effect = posterior[f"{group}_effect"].transpose(group, "sample").to_numpy()
    slopes = None
    if design.slope_columns:
        slopes = posterior[f"{group}_slope"].transpose(group, "slope_term", "sample").to_numpy()
    return alpha, beta, effect, slopes


def standardised_rates(
    idata: xr.DataTree,
    design: Design,
    data: pd.DataFrame,
    group: str = "province",
    interval_prob: float = INTERVAL_PROB,
    top: int = 5,
    outcome: str = "health_record",
) -> pd.DataFrame:
    """Province uptake standardised to the whole sample's composition, with rank probabilities.

    For each posterior draw and province ``j``, the expected share with a record is the mean over
    all respondents ``i`` of ``expit(intercept + x_i' beta + u_j [+ x_i' v_j])``: every province
    is given the same mix of predictors, so differences are province effects only.

    Returns
    -------
    pandas.DataFrame
        Per province: ``n``, ``raw_rate`` (observed share), ``fitted_rate`` (partially pooled
        estimate for the province's own respondents, with interval), ``standardised_rate`` (with
        interval), ``prob_top5``, ``prob_bottom5``.
    """
    alpha, beta, effect, slopes = _province_deviations(idata, design, group)
    base = (alpha[:, None] + (design.X @ beta).T).astype(np.float32)  # (draws, obs)
    n_groups, n_draws = effect.shape
    standardised = np.empty((n_draws, n_groups))
    for j in range(n_groups):
        linear = base + effect[j][:, None]
        if slopes is not None:
            linear = linear + (design.X[:, design.slope_columns] @ slopes[j]).T
        standardised[:, j] = special.expit(linear).mean(axis=1)
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
