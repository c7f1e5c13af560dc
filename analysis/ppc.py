"""Posterior predictive checks of uptake overall, by province and by category.

Each check compares a statistic of the observed data (the share with a health record in a group)
with its distribution over posterior predictive replicates. The Bayesian p value is the mid-p
``P(T_rep > T_obs) + 0.5 P(T_rep = T_obs)``: near 0.5 is good; below 0.025 or above 0.975 means
the model rarely produces data like the observed in that group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from cmds_common import reference
from cmds_common.constants import INTERVAL_PROB
from data_prep import variables


def replicated_outcomes(idata: xr.DataTree, outcome: str) -> np.ndarray:
    """Posterior predictive draws as an ``(n_draws, n_obs)`` array of 0/1."""
    replicated = idata.posterior_predictive[outcome].stack(sample=("chain", "draw"))
    return replicated.transpose("sample", ...).to_numpy()


def fitted_probabilities(idata: xr.DataTree, outcome: str) -> np.ndarray:
    """Per-draw P(record) of every respondent, ``(n_draws, n_obs)``, from the log-likelihood.

    The Bernoulli log-likelihood is ``log p`` where the outcome is 1 and ``log(1 - p)`` where it
    is 0, so ``p`` is recovered exactly without rebuilding the model.
    """
    loglik = idata.log_likelihood[outcome].stack(sample=("chain", "draw"))
    likelihood = np.exp(loglik.transpose("sample", ...).to_numpy().astype(np.float64))
    observed = idata.observed_data[outcome].to_numpy()
    return np.where(observed[None, :] == 1, likelihood, 1.0 - likelihood)


def _summary(observed: float, replicated: np.ndarray, interval_prob: float) -> dict:
    tail = (1 - interval_prob) / 2
    q = np.quantile(replicated, [tail, 0.25, 0.5, 0.75, 1 - tail])
    p_value = np.mean(replicated > observed) + 0.5 * np.mean(np.isclose(replicated, observed))
    return {
        "observed": observed,
        "predicted_median": q[2],
        "pi_low": q[0],
        "pi50_low": q[1],
        "pi50_high": q[3],
        "pi_high": q[4],
        "bayes_p": p_value,
    }


def predictive_checks(
    idata: xr.DataTree,
    data: pd.DataFrame,
    outcome: str = variables.OUTCOME,
    interval_prob: float = INTERVAL_PROB,
) -> pd.DataFrame:
    """Uptake overall, by province and in every Table 1-2 category, observed against replicated.

    Parameters
    ----------
    idata
        A fit with ``posterior_predictive`` and ``observed_data``.
    data
        The analysis table the model was fitted to (same rows, same order).
    outcome
        Outcome variable name.
    interval_prob
        Width of the outer predictive interval (the inner one is 50%).

    Returns
    -------
    pandas.DataFrame
        One row per check: ``check`` (overall / province / category), ``variable``,
        ``level``, ``n``, ``observed``, ``predicted_median``, ``pi_low``, ``pi50_low``,
        ``pi50_high``, ``pi_high``, ``bayes_p``.
    """
    y = idata.observed_data[outcome].to_numpy()
    if len(y) != len(data) or not np.array_equal(y, data[outcome].to_numpy()):
        raise ValueError("the data set is not the one this model was fitted to")
    y_rep = replicated_outcomes(idata, outcome)
    groups = [("overall", "all", "all", np.ones(len(y), bool))]
    if variables.PROVINCE in data:
        province = data[variables.PROVINCE].astype(str).to_numpy()
        for level in data[variables.PROVINCE].cat.categories:
            groups.append(("province", variables.PROVINCE, level, province == level))
    published = reference.table1_table2().query("variable != 'all'")
    for variable, rows in published.groupby("variable", sort=False):
        if variable in data:
            values = data[variable].astype(str).to_numpy()
            for level in rows["level"]:
                groups.append(("category", variable, level, values == level))
    records = []
    for check, variable, level, mask in groups:
        if not mask.any():
            continue
        stats = _summary(y[mask].mean(), y_rep[:, mask].mean(axis=1), interval_prob)
        records.append(
            {"check": check, "variable": variable, "level": level, "n": int(mask.sum()), **stats}
        )
    return pd.DataFrame(records)


def calibration_table(
    idata: xr.DataTree, outcome: str = variables.OUTCOME, n_bins: int = 10
) -> pd.DataFrame:
    """Binned calibration: mean predicted probability against observed share, by decile.

    Bins are deciles of each respondent's posterior mean probability. For each bin the table
    gives the observed share, the mean predicted probability and the 95% predictive interval
    of the share, with the Bayesian p value.
    """
    p = fitted_probabilities(idata, outcome)
    p_mean = p.mean(axis=0)
    y = idata.observed_data[outcome].to_numpy()
    y_rep = replicated_outcomes(idata, outcome)
    edges = np.quantile(p_mean, np.linspace(0, 1, n_bins + 1))
    bins = np.clip(np.searchsorted(edges, p_mean, side="right") - 1, 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        mask = bins == b
        if not mask.any():
            continue
        stats = _summary(y[mask].mean(), y_rep[:, mask].mean(axis=1), INTERVAL_PROB)
        rows.append(
            {
                "bin": b + 1,
                "n": int(mask.sum()),
                "mean_predicted": p_mean[mask].mean(),
                **stats,
            }
        )
    return pd.DataFrame(rows)
