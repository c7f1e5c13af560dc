"""Odds-ratio tables: Bayesian posterior, frequentist fit and published Table 3 side by side."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from cmds_common import reference
from cmds_common.constants import INTERVAL_PROB
from models.frequentist import NOT_ESTIMABLE, SEPARATION_LOG_ODDS

#: The scale a family's coefficients are reported on, and whether that is exp(coefficient).
SCALES = {
    "bernoulli": ("odds ratio", True),
    "binomial": ("odds ratio", True),
    "cumulative_logit": ("cumulative odds ratio", True),
    "gaussian": ("coefficient (outcome units)", False),
}


def reporting_scale(family: str) -> tuple[str, bool]:
    """Name of the scale a family's coefficients are shown on, and whether it is exp(beta)."""
    return SCALES.get(family, SCALES["bernoulli"])


def posterior_odds_ratios(
    idata: xr.DataTree, interval_prob: float = INTERVAL_PROB, family: str = "bernoulli"
) -> pd.DataFrame:
    """Summarise the posterior of each coefficient on its family's reporting scale.

    Odds ratios for logit links (cumulative odds ratios for the ordinal model), coefficients in
    outcome units for the gaussian family (:data:`SCALES`). Intervals are equal-tailed (the 2.5%
    and 97.5% posterior quantiles for 95%), which unlike an HDI are unchanged by the exp()
    transform from log-odds to odds ratios. The column names keep the odds-ratio wording for
    every family; ``scale`` says what the numbers are.

    Parameters
    ----------
    idata
        A fit with a ``beta`` variable of dim ``term``.
    interval_prob
        Posterior mass inside the credible interval.
    family
        The spec's outcome family.

    Returns
    -------
    pandas.DataFrame
        ``term``, ``posterior_median_or``, ``cri_low``, ``cri_high``, ``prob_or_gt_1``
        (the posterior probability that the coefficient is above 0), ``r_hat``, ``ess_bulk``,
        ``scale``.
    """
    beta = idata.posterior["beta"]
    tail = (1 - interval_prob) / 2
    scale, exponentiate = reporting_scale(family)
    quantiles = beta.quantile([0.5, tail, 1 - tail], dim=("chain", "draw"))
    if exponentiate:
        quantiles = np.exp(quantiles)
    diagnostics = az.summary(idata, var_names=["beta"], kind="diagnostics", round_to="none")
    return pd.DataFrame(
        {
            "term": beta["term"].to_numpy().astype(str),
            "posterior_median_or": quantiles.sel(quantile=0.5).to_numpy(),
            "cri_low": quantiles.sel(quantile=tail).to_numpy(),
            "cri_high": quantiles.sel(quantile=1 - tail).to_numpy(),
            "prob_or_gt_1": (beta > 0).mean(dim=("chain", "draw")).to_numpy(),
            "r_hat": diagnostics["r_hat"].to_numpy(),
            "ess_bulk": diagnostics["ess_bulk"].to_numpy(),
            "scale": scale,
        }
    )


def odds_ratio_table(
    idata: xr.DataTree,
    frequentist: pd.DataFrame,
    published_model: int | None,
    interval_prob: float = INTERVAL_PROB,
    family: str = "bernoulli",
) -> pd.DataFrame:
    """Join the Bayesian, frequentist and published odds ratios of one model, by term.

    Parameters
    ----------
    idata
        The Bayesian fit.
    frequentist
        Output of :func:`models.frequentist.fit_weighted_logit` (columns ``term``,
        ``odds_ratio``, ``ci_low``, ``ci_high``, ``p_value``).
    published_model
        Table 3 model number to compare with, or ``None`` for a model the paper did not fit.
    interval_prob
        Credible-interval mass.
    family
        The spec's outcome family: the scale the estimates are shown on (:data:`SCALES`).

    Returns
    -------
    pandas.DataFrame
        One row per term, in model order. ``freq_note`` says "not estimable (separation)"
        where the weighted logit has no finite estimate (its OR, CI and p are then empty);
        ``freq_n``, ``freq_kish_n_eff``, ``freq_max_median_ratio`` and
        ``freq_weights_unreliable`` describe the weights (when the table records them), and
        ``freq_survey_design`` the strata and PSUs of its standard errors.
    """
    bayes = posterior_odds_ratios(idata, interval_prob, family)
    published = reference.table3()
    published = published.loc[published["model"] == published_model]
    freq = _estimates(frequentist, "freq").assign(freq_note=_separation_notes(frequentist))
    table = bayes.merge(freq, on="term", how="left", validate="1:1")
    table["freq_note"] = table["freq_note"].astype(object).where(table["freq_note"].notna(), "")
    weights = weighted_estimate_note(frequentist)
    if weights is not None:
        table = table.assign(**{f"freq_{k}": v for k, v in weights.items()})
    return table.merge(_estimates(published, "published"), on="term", how="left", validate="1:1")


def _separation_notes(frequentist: pd.DataFrame) -> pd.Series:
    """Return the fit's own notes, or for tables older than them the |log-odds| rule."""
    if "note" in frequentist:
        notes = frequentist["note"].astype(object)
        return notes.where(notes.notna(), "").astype(str)
    return pd.Series(np.where(_runaway(frequentist), NOT_ESTIMABLE, ""), index=frequentist.index)


def _runaway(frequentist: pd.DataFrame) -> np.ndarray:
    """Rows whose |log-odds| exceeds the separation bound (from the OR if no log-odds column)."""
    log_odds = (
        frequentist["log_odds"] if "log_odds" in frequentist else np.log(frequentist["odds_ratio"])
    )
    return np.abs(np.asarray(log_odds, dtype=float)) > SEPARATION_LOG_ODDS


def weighted_estimate_note(frequentist: pd.DataFrame) -> dict | None:
    """Kish effective sample size of the weights behind a fit's weighted estimates.

    Read from the weighted-logit table (same weights as a weighted-likelihood fit); ``None``
    when that table predates the columns.
    """
    if "kish_n_eff" not in frequentist or frequentist.empty:
        return None
    row = frequentist.iloc[0]
    note = {
        "n": int(row["n_obs"]),
        "kish_n_eff": float(row["kish_n_eff"]),
        "max_median_ratio": float(row["max_median_ratio"]),
        "weights_unreliable": bool(row["weights_unreliable"]),
    }
    if "survey_design" in frequentist:  # strata and PSUs behind the standard errors
        note["survey_design"] = str(row["survey_design"])
    return note


def _estimates(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Term, OR, CI and p of one source, renamed ``<source>_or``, ``<source>_ci_low``, ..."""
    value = "estimate" if "estimate" in table else "odds_ratio"
    columns = {value: "or", "ci_low": "ci_low", "ci_high": "ci_high", "p_value": "p"}
    estimates = table[["term", *columns]].rename(
        columns={old: f"{source}_{new}" for old, new in columns.items()}
    )
    if source == "freq" and "note" not in table:
        estimates.loc[_runaway(table), [f"freq_{c}" for c in columns.values()]] = np.nan
    return estimates


def group_sd_summary(idata: xr.DataTree, group: str, interval_prob: float = INTERVAL_PROB) -> dict:
    """Posterior median and equal-tailed interval of the group (province) SD, with diagnostics."""
    sigma = idata.posterior[f"{group}_sigma"]
    tail = (1 - interval_prob) / 2
    diagnostics = az.summary(
        idata, var_names=[f"{group}_sigma"], kind="diagnostics", round_to="none"
    ).iloc[0]
    return {
        "parameter": f"{group}_sigma",
        "posterior_median": float(sigma.median()),
        "cri_low": float(sigma.quantile(tail)),
        "cri_high": float(sigma.quantile(1 - tail)),
        "r_hat": float(diagnostics["r_hat"]),
        "ess_bulk": float(diagnostics["ess_bulk"]),
    }
