"""Linear regression of an outcome on the treatment and covariates (statsmodels OLS).

Two versions:

* the **full model** (our analysis): every covariate, heteroskedasticity-robust (HC3) standard
  errors (MacKinnon and White 1985);
* the **paper's procedure**: stepwise selection as SPSS does it (Ma et al. 2023 used "stepwise
  multiple linear regression"): at each step the column with the smallest p-value enters if
  ``p < 0.05``, then any column with ``p > 0.10`` leaves; columns are indicator columns, so a
  categorical variable may enter level by level. Stepwise selection is a known bad practice
  (its p-values and SEs ignore the selection, and it is unstable); it is shown only to mirror
  the paper, labelled as such, with conventional OLS SEs as SPSS prints them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm

from cmds_common.constants import INTERVAL_PROB

#: SPSS's default stepwise thresholds: p to enter, p to remove.
P_ENTER, P_REMOVE = 0.05, 0.10


def _table(fit, model: str, cov_type: str) -> pd.DataFrame:
    low, high = np.asarray(fit.conf_int(alpha=1 - INTERVAL_PROB)).T
    return pd.DataFrame(
        {
            "model": model,
            "term": fit.params.index,
            "estimate": fit.params.to_numpy(),
            "se": fit.bse.to_numpy(),
            "low": low,
            "high": high,
            "p": fit.pvalues.to_numpy(),
            "se_type": cov_type,
        }
    )


def full_ols(y: pd.Series, X: pd.DataFrame, model: str = "ols_full") -> pd.DataFrame:
    """OLS of ``y`` on every column of ``X`` (plus an intercept), HC3 standard errors.

    Parameters
    ----------
    y : pandas.Series
        Outcome.
    X : pandas.DataFrame
        Numeric predictor columns (:func:`analysis.matching.covariate_matrix` with the
        treatment indicator).
    model : str
        Name written in the ``model`` column.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``term``, ``estimate``, ``se``, ``low``, ``high``, ``p``, ``se_type``.
    """
    fit = sm.OLS(y.to_numpy(float), sm.add_constant(X, has_constant="add")).fit(cov_type="HC3")
    return _table(fit, model, "HC3").assign(r_squared=fit.rsquared, n=int(fit.nobs))


def stepwise_ols(y: pd.Series, X: pd.DataFrame, model: str = "ols_stepwise") -> pd.DataFrame:
    """SPSS-style stepwise OLS (enter ``p < 0.05``, remove ``p > 0.10``); conventional SEs.

    Parameters
    ----------
    y : pandas.Series
        Outcome.
    X : pandas.DataFrame
        Candidate predictor columns.
    model : str
        Name written in the ``model`` column.

    Returns
    -------
    pandas.DataFrame
        As :func:`full_ols` for the selected columns, with ``step_entered``.
    """
    chosen: list[str] = []
    entered: dict[str, int] = {}
    values = y.to_numpy(float)

    def fit_of(columns: list[str]):
        return sm.OLS(values, sm.add_constant(X[columns], has_constant="add")).fit()

    for step in range(1, 2 * X.shape[1] + 1):
        candidates = {c: fit_of([*chosen, c]).pvalues[c] for c in X.columns if c not in chosen}
        best = min(candidates, key=candidates.get) if candidates else None
        if best is None or candidates[best] >= P_ENTER:
            break
        chosen.append(best)
        entered[best] = step
        pvalues = fit_of(chosen).pvalues.drop("const")
        chosen = [c for c in chosen if pvalues[c] <= P_REMOVE]
    fit = fit_of(chosen)
    table = _table(fit, model, "OLS (as SPSS)").assign(r_squared=fit.rsquared, n=int(fit.nobs))
    table["step_entered"] = table["term"].map(entered)
    return table
