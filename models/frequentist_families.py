"""Single-level weighted fits of the gaussian and cumulative-logit families.

* ``gaussian``: weighted least squares (weights scaled to mean 1); standard errors from the
  design-based sandwich ``A^-1 B A^-1 * n/(n-1)`` with ``A = sum w_i x_i x_i'`` and
  ``B = sum w_i^2 e_i^2 x_i x_i'`` (HC0 with the n/(n-1) factor ``survey::svyglm`` uses, as for
  the logit; with the spec's ``strata:``/``psu:``, ``B`` is the stratified cluster version of
  :func:`models.frequentist.linearisation_meat`). Estimates are coefficients in outcome units.
* ``cumulative_logit``: statsmodels' ``OrderedModel`` (logit link,
  ``P(y <= k) = logit^-1(c_k - x'beta)``, the same sign as the PyMC model), each respondent's
  log-likelihood multiplied by its weight (pseudo-likelihood); sandwich standard errors
  ``H^-1 S'S H^-1 * n/(n-1)`` from the weighted scores ``S`` and Hessian ``H`` (``S'S`` again
  replaced by the design-based meat when strata and PSUs are named). Estimates are
  cumulative odds ratios ``exp(beta)`` (odds of a higher category).

Intervals are Wald intervals (on the log-odds scale for the ordinal model); p values two-sided
normal tests.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from cmds_common.constants import INTERVAL_PROB
from models.design import Design
from models.frequentist import add_weight_columns, linearisation_meat


def fit_weighted_least_squares(
    design: Design, interval_prob: float = INTERVAL_PROB
) -> pd.DataFrame:
    """Weighted least squares with sandwich standard errors (see the module docstring)."""
    X = np.column_stack([np.ones(len(design.y)), design.X])
    w, y = design.weights, design.y
    bread = np.linalg.inv((X * w[:, None]).T @ X)
    coefficients = bread @ (X * w[:, None]).T @ y
    scores = X * (w * (y - X @ coefficients))[:, None]
    covariance = bread @ linearisation_meat(scores, design.strata, design.psu) @ bread
    se = np.sqrt(np.diag(covariance))[1:]
    estimate = coefficients[1:]
    z = stats.norm.ppf(0.5 + interval_prob / 2)
    table = pd.DataFrame(
        {
            "term": design.terms,
            "estimate": estimate,
            "se": se,
            "ci_low": estimate - z * se,
            "ci_high": estimate + z * se,
            "p_value": 2 * stats.norm.sf(np.abs(estimate / se)),
            "note": "",
        }
    )
    return add_weight_columns(table, design, "coefficient (outcome units)")


def fit_ordered_logit(design: Design, interval_prob: float = INTERVAL_PROB) -> pd.DataFrame:
    """Weighted proportional-odds logit with sandwich standard errors (module docstring)."""
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    weights = design.weights

    class WeightedOrderedModel(OrderedModel):
        def loglikeobs(self, params):  # each row's log-likelihood times its weight
            return weights * super().loglikeobs(params)

    model = WeightedOrderedModel(design.y, design.X, distr="logit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is checked from the gradient below
        result = model.fit(method="bfgs", disp=False, maxiter=2000)
        params = np.asarray(result.params)
        scores = model.score_obs(params)
        hessian = model.hessian(params)
    n, k = len(design.y), design.X.shape[1]
    bread = np.linalg.inv(-hessian)
    covariance = bread @ linearisation_meat(scores, design.strata, design.psu) @ bread
    log_odds, se = params[:k], np.sqrt(np.diag(covariance))[:k]
    z = stats.norm.ppf(0.5 + interval_prob / 2)
    converged = np.abs(scores.sum(axis=0)).max() < 1e-3 * n
    table = pd.DataFrame(
        {
            "term": design.terms,
            "estimate": np.exp(log_odds),
            "log_odds": log_odds,
            "se": se,
            "odds_ratio": np.exp(log_odds),
            "ci_low": np.exp(log_odds - z * se),
            "ci_high": np.exp(log_odds + z * se),
            "p_value": 2 * stats.norm.sf(np.abs(log_odds / se)),
            "note": "" if converged else "the ordered-logit fit did not converge",
        }
    )
    return add_weight_columns(table, design, "cumulative odds ratio")
