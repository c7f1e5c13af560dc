"""Frequentist replication of Table 3: single-level weighted logistic regression.

Weights and standard errors
---------------------------
Point estimates maximise the weighted log-likelihood (pseudo-likelihood) with sampling weights
scaled to mean 1, fitted by statsmodels' GLM (``var_weights``). Standard errors are
design-based: the sandwich (linearisation) estimator ``A^-1 B A^-1 * n/(n-1)`` with
``A = sum w_i mu_i (1-mu_i) x_i x_i'`` and ``B = sum w_i^2 (y_i - mu_i)^2 x_i x_i'``, i.e. the
variance R's ``survey::svyglm`` gives for ``svydesign(ids = ~1, weights = ~w)``. Strata and
clusters of the survey are not in the public tables, so they are not used. Confidence intervals
are Wald intervals on the log-odds scale; p values are two-sided normal tests. The province
term of a spec is ignored here (the paper's models are single-level).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from cmds_common.constants import INTERVAL_PROB
from models.design import Design


def sandwich_covariance(
    X: np.ndarray, y: np.ndarray, weights: np.ndarray, mu: np.ndarray
) -> np.ndarray:
    """Design-based (HC0 with n/(n-1)) covariance of weighted logistic coefficients.

    Parameters
    ----------
    X
        Design matrix including the intercept column.
    y, weights, mu
        Outcome, weights (mean 1) and fitted probabilities.
    """
    n = len(y)
    bread = np.linalg.inv((X * (weights * mu * (1 - mu))[:, None]).T @ X)
    scores = X * (weights * (y - mu))[:, None]
    meat = scores.T @ scores
    return bread @ meat @ bread * n / (n - 1)


def fit_weighted_logit(design: Design, interval_prob: float = INTERVAL_PROB) -> pd.DataFrame:
    """Fit the single-level weighted logistic regression of a design.

    Parameters
    ----------
    design
        Output of :func:`models.design.build_design`.
    interval_prob
        Coverage of the confidence intervals.

    Returns
    -------
    pandas.DataFrame
        One row per term: ``term``, ``log_odds``, ``se``, ``odds_ratio``, ``ci_low``,
        ``ci_high``, ``p_value``.
    """
    X = np.column_stack([np.ones(len(design.y)), design.X])
    result = sm.GLM(design.y, X, family=sm.families.Binomial(), var_weights=design.weights).fit()
    beta = np.asarray(result.params)
    mu = 1 / (1 + np.exp(-X @ beta))
    se = np.sqrt(np.diag(sandwich_covariance(X, design.y, design.weights, mu)))
    z = stats.norm.ppf(0.5 + interval_prob / 2)
    table = pd.DataFrame(
        {
            "term": design.terms,
            "log_odds": beta[1:],
            "se": se[1:],
        }
    )
    table["odds_ratio"] = np.exp(table["log_odds"])
    table["ci_low"] = np.exp(table["log_odds"] - z * table["se"])
    table["ci_high"] = np.exp(table["log_odds"] + z * table["se"])
    table["p_value"] = 2 * stats.norm.sf(np.abs(table["log_odds"] / table["se"]))
    return table
