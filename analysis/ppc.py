"""Posterior predictive checks of the outcome overall, by grouping factor and by category.

Each check compares a statistic of the observed data in a group with its distribution over
posterior predictive replicates. The statistic follows the spec's family:

* ``bernoulli``: the share with the outcome (``share``);
* ``binomial``: the proportion of successes out of all trials in the group (``proportion``);
* ``gaussian``: the mean and the standard deviation (``mean``, ``sd``; groups of one
  respondent have no SD);
* ``cumulative_logit``: the share in each category (``share <category>``).

Groups are the whole sample, every level of every grouping factor of the spec (``check`` is the
factor's name, e.g. ``province`` or ``province_city``), and every level of the categorical
variables of Tables 1-2 and of the spec (``check`` = ``category``). The Bayesian p value is the
mid-p ``P(T_rep > T_obs) + 0.5 P(T_rep = T_obs)``: near 0.5 is good; below 0.025 or above
0.975 means the model rarely produces data like the observed in that group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import sparse

from cmds_common import reference
from cmds_common.constants import INTERVAL_PROB
from cmds_common.spec import ModelSpec
from data_prep import variables

#: Statistics shown in percent (shares and proportions).
PERCENT_PREFIXES = ("share", "proportion")


def is_percent(statistic: str) -> bool:
    """Whether a check statistic is a share or proportion (shown in %)."""
    return statistic.startswith(PERCENT_PREFIXES)


def draws_first(values: xr.DataArray) -> np.ndarray:
    """Chains and draws of ``values`` as one leading axis: ``(chains * draws, ...)``.

    The same array as ``values.stack(sample=("chain", "draw")).transpose("sample", ...)``
    (chain-major), read from the file in one piece: on a fit opened lazily from NetCDF,
    xarray's ``stack`` reads it through element-wise indexing, seconds per fit.
    """
    array = values.transpose("chain", "draw", ...).to_numpy()
    return array.reshape(-1, *array.shape[2:])


def pointwise_posterior(idata: xr.DataTree) -> xr.Dataset:
    """Return the posterior at the draws the pointwise groups kept, as a Dataset.

    A fit keeps at most ``POINTWISE_MAX_DRAWS`` draws of its log-likelihood and predictive
    draws (every k-th draw of each chain, :func:`models.log_density_sampler.pointwise_thinning`);
    quantities computed per respondent (standardised province rates, prior sensitivity) use
    the same posterior draws, so they pair draw by draw with the log-likelihood. Without
    thinning (or without pointwise groups) this is the whole posterior.
    """
    posterior = idata.posterior.to_dataset()
    if "log_likelihood" not in idata.children:
        return posterior
    kept = idata.log_likelihood["draw"].to_numpy()
    if posterior.sizes["draw"] == len(kept):
        return posterior
    return posterior.sel(draw=kept)


def replicated_outcomes(idata: xr.DataTree, outcome: str) -> np.ndarray:
    """Posterior predictive draws as an ``(n_draws, n_obs)`` array."""
    return draws_first(idata.posterior_predictive[outcome])


def fitted_probabilities(idata: xr.DataTree, outcome: str) -> np.ndarray:
    """Per-draw P(outcome = 1) of every respondent, ``(n_draws, n_obs)``, from the log-likelihood.

    The Bernoulli log-likelihood is ``log p`` where the outcome is 1 and ``log(1 - p)`` where it
    is 0, so ``p`` is recovered exactly without rebuilding the model (bernoulli family only).
    """
    likelihood = np.exp(draws_first(idata.log_likelihood[outcome]).astype(np.float64))
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


def group_statistics(
    values: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    family: str = "bernoulli",
    trials: np.ndarray | None = None,
    categories: list[str] | None = None,
) -> dict[str, np.ndarray]:
    """Compute the family's check statistics of every group, for each row of ``values``.

    Parameters
    ----------
    values
        ``(n_sets, n_obs)`` outcomes (observed data as one set, or replicates).
    codes
        Group of each respondent, ``0 .. n_groups - 1``.
    n_groups
        Number of groups.
    family
        The spec's family (see the module docstring for the statistics).
    trials
        Trials per respondent (binomial).
    categories
        Category labels of an ordinal outcome coded ``0 .. K-1``.

    Returns
    -------
    dict
        Statistic name -> ``(n_sets, n_groups)`` array (NaN where a group has no respondent, or
        one respondent for the SD).
    """
    n_obs = values.shape[1]
    indicator = sparse.csr_matrix(
        (np.ones(n_obs), (np.arange(n_obs), codes)), shape=(n_obs, n_groups)
    )
    counts = np.asarray(indicator.sum(axis=0)).ravel()

    def totals(v: np.ndarray) -> np.ndarray:
        # SciPy's sparse product wants respondents x sets in C order: free for the
        # Fortran-ordered ``values`` that predictive_checks passes, a transposing copy otherwise
        return np.asarray(indicator.T @ np.ascontiguousarray(v.T, dtype=np.float64)).T

    with np.errstate(invalid="ignore", divide="ignore"):
        if family == "binomial":
            trials = np.ones(n_obs) if trials is None else np.asarray(trials, dtype=float)
            return {"proportion": totals(values.astype(float)) / totals(trials[None, :])}
        if family == "cumulative_logit":
            return {
                f"share {label}": totals((values == k).astype(float)) / counts
                for k, label in enumerate(categories or [])
            }
        mean = totals(values.astype(float)) / counts
        if family != "gaussian":
            return {"share": mean}
        second = totals(values.astype(float) ** 2) / counts
        variance = np.clip(second - mean**2, 0, None) * counts / (counts - 1)
        return {"mean": mean, "sd": np.where(counts > 1, np.sqrt(variance), np.nan)}


def _factor_codes(data: pd.DataFrame, factor: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Codes and labels of a grouping factor (``"province:city"`` labels for nested ones)."""
    labels = data[factor[0]].astype(str)
    for column in factor[1:]:
        labels = labels + ":" + data[column].astype(str)
    if len(factor) == 1 and isinstance(data[factor[0]].dtype, pd.CategoricalDtype):
        levels = [str(c) for c in data[factor[0]].cat.categories]
    else:
        levels = sorted(set(labels))
    position = {level: k for k, level in enumerate(levels)}
    return labels.map(position).to_numpy().astype(np.int64), levels


def _category_variables(data: pd.DataFrame, spec: ModelSpec | None) -> list[tuple[str, list]]:
    """Tables 1-2 variables (published levels), then the spec's other categorical predictors."""
    published = reference.table1_table2().query("variable != 'all'")
    found = [
        (name, list(rows["level"]))
        for name, rows in published.groupby("variable", sort=False)
        if name in data
    ]
    seen = {name for name, _ in found}
    for name in spec.predictors if spec is not None else ():
        if name not in seen and isinstance(data[name].dtype, pd.CategoricalDtype):
            found.append((name, [str(c) for c in data[name].cat.categories]))
    return found


def _observed(idata: xr.DataTree, data: pd.DataFrame, outcome: str, family: str) -> np.ndarray:
    """Return the fitted outcome, refusing a data set other than the one it was fitted to."""
    y = idata.observed_data[outcome].to_numpy()
    column = data[outcome]
    if family == "cumulative_logit" and isinstance(column.dtype, pd.CategoricalDtype):
        column = pd.Series(column.cat.codes)
    same = len(y) == len(data) and np.allclose(y, column.to_numpy(dtype=float))
    if not same:
        raise ValueError("the data set is not the one this model was fitted to")
    return y


def predictive_checks(
    idata: xr.DataTree,
    data: pd.DataFrame,
    outcome: str = variables.OUTCOME,
    interval_prob: float = INTERVAL_PROB,
    spec: ModelSpec | None = None,
) -> pd.DataFrame:
    """Observed against replicated statistics overall, by grouping factor and by category.

    Parameters
    ----------
    idata
        A fit with ``posterior_predictive`` and ``observed_data``.
    data
        The analysis table the model was fitted to (same rows, same order).
    outcome
        Outcome variable name (the spec's when a spec is given).
    interval_prob
        Width of the outer predictive interval (the inner one is 50%).
    spec
        The fit's spec: its family, grouping factors and predictors. Without one the checks
        are those of a 0/1 outcome by ``province``.

    Returns
    -------
    pandas.DataFrame
        One row per group and statistic: ``check`` (``overall``, a grouping factor's name, or
        ``category``), ``variable``, ``level``, ``statistic``, ``n``, ``observed``,
        ``predicted_median``, ``pi_low``, ``pi50_low``, ``pi50_high``, ``pi_high``,
        ``bayes_p``.
    """
    family = spec.family if spec is not None else "bernoulli"
    outcome = spec.outcome if spec is not None else outcome
    y = _observed(idata, data, outcome, family)
    # Fortran order: every grouping below sums respondents' columns (see group_statistics)
    y_rep = np.asfortranarray(replicated_outcomes(idata, outcome))
    trials = data[spec.trials].to_numpy(float) if spec is not None and spec.trials else None
    categories = (
        [str(c) for c in data[outcome].cat.categories] if family == "cumulative_logit" else None
    )
    groupings = [("overall", "all", np.zeros(len(y), dtype=np.int64), ["all"])]
    factors = [g.factor for g in spec.groups] if spec is not None else [(variables.PROVINCE,)]
    for factor in factors:
        if all(column in data for column in factor):
            codes, levels = _factor_codes(data, factor)
            groupings.append(("_".join(factor), ":".join(factor), codes, levels))
    for name, levels in _category_variables(data, spec):
        values = data[name].astype(str).to_numpy()
        position = {level: k for k, level in enumerate(levels)}
        codes = np.array([position.get(v, len(levels)) for v in values], dtype=np.int64)
        groupings.append(("category", name, codes, [*levels, "(other)"]))
    records = []
    for check, variable, codes, levels in groupings:
        counts = np.bincount(codes, minlength=len(levels))
        observed = group_statistics(y[None, :], codes, len(levels), family, trials, categories)
        replicated = group_statistics(y_rep, codes, len(levels), family, trials, categories)
        for statistic, obs in observed.items():
            for k, level in enumerate(levels):
                if counts[k] == 0 or level == "(other)" or not np.isfinite(obs[0, k]):
                    continue
                stats = _summary(obs[0, k], replicated[statistic][:, k], interval_prob)
                records.append(
                    {
                        "check": check,
                        "variable": variable,
                        "level": level,
                        "statistic": statistic,
                        "n": int(counts[k]),
                        **stats,
                    }
                )
    return pd.DataFrame(records)


def calibration_table(
    idata: xr.DataTree, outcome: str = variables.OUTCOME, n_bins: int = 10
) -> pd.DataFrame:
    """Binned calibration of a 0/1 outcome: mean predicted probability against observed share.

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
