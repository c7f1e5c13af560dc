"""Propensity-score matching: ATT with the Abadie-Imbens standard error, and covariate balance.

No well-kept Python library does k-nearest-neighbour matching on the propensity score with a
caliper *and* the Abadie-Imbens (2006) standard error on today's stack (``causalinference``
matches on covariates and is unmaintained; DoWhy and causallib give no matching-aware SE), so
this module follows R's ``Matching::Match`` (Sekhon 2011; ``estimand = "ATT"``, ``M = k``,
``replace = TRUE``, ``Var.calc = 0``, ``sample = FALSE``, ``distance.tolerance = 0``) and
``tests/test_ma2023_r_agreement.py`` checks it against that function when R is installed.

Steps
-----
1. Propensity score: logistic regression of the treatment on the covariates (statsmodels GLM).
2. Each treated unit ``i`` takes its ``k`` nearest controls on the propensity score, with
   replacement (ties broken by row order); a treated unit whose ``k``-th nearest control is
   farther than ``caliper`` (on the score itself) is off common support and dropped from the
   ATT, as ``Matching::Match`` drops it.
3. ``tau_i = Y_i - mean(Y_j, j matched to i)``; ``ATT = mean_i tau_i`` over matched treated.
4. Abadie-Imbens variance (homoskedastic conditional variance), with ``K_j = sum_i 1/m_i`` and
   ``KK_j = sum_i 1/m_i^2`` over the treated ``i`` that use control ``j`` (``m_i`` matches):
   ``V = [sigma^2 sum_j (K_j^2 - KK_j) + sum_i (tau_i - ATT)^2] / N_T^2``, with
   ``sigma^2 = 0.5 sum_(i,j) (1/m_i) (Y_i - Y_j - ATT)^2 / N_T`` over matched pairs.
   This SE treats the propensity score as known (as ``Matching::Match`` does). When the
   caliper drops treated units, ``Matching::Match`` (4.10) still counts them in ``N_T`` and in
   the last sum (with ``tau_i = 0``), which inflates its SE; here ``N_T`` is the matched treated
   only, as in Abadie and Imbens (2006).

Balance: standardised mean difference of each covariate column (indicators for categories),
``(mean_T - mean_C) / sqrt((var_T + var_C) / 2)`` with the pre-matching SDs in the denominator,
before matching and after (controls weighted by ``K_j``, treated restricted to the matched).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats


@dataclass(frozen=True)
class MatchResult:
    """A propensity-score matching estimate.

    Attributes
    ----------
    att, se : float
        ATT and its Abadie-Imbens standard error (outcome units).
    n_treated, n_matched_treated, n_controls_used : int
        Treated units, treated units with at least one match, distinct controls used.
    pairs : pandas.DataFrame
        ``treated``, ``control`` (row positions) and ``weight`` (``1/m_i``) of each match.
    propensity : numpy.ndarray
        Each row's propensity score.
    control_weight : numpy.ndarray
        ``K_j`` per row (0 for unused controls and for treated rows).
    """

    att: float
    se: float
    n_treated: int
    n_matched_treated: int
    n_controls_used: int
    pairs: pd.DataFrame
    propensity: np.ndarray
    control_weight: np.ndarray

    @property
    def t(self) -> float:
        """ATT / SE."""
        return self.att / self.se

    @property
    def p_value(self) -> float:
        """Two-sided normal p-value of the ATT."""
        return float(2 * stats.norm.sf(abs(self.t)))


def covariate_matrix(table: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """Covariate columns as numbers: indicators for every non-reference category.

    Parameters
    ----------
    table : pandas.DataFrame
        Typed analysis table (categoricals carry their reference first).
    covariates : list of str
        Covariate columns.
    """
    columns = {}
    for name in covariates:
        values = table[name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            for level in list(values.cat.categories)[1:]:
                columns[f"{name}_{level}"] = (values == level).to_numpy(float)
        else:
            columns[name] = pd.to_numeric(values).to_numpy(float)
    return pd.DataFrame(columns, index=table.index)


def propensity_scores(covariates: pd.DataFrame, treated: np.ndarray) -> np.ndarray:
    """Fitted probabilities of a logistic regression of ``treated`` on the covariates."""
    design = sm.add_constant(covariates.to_numpy(float), has_constant="add")
    fit = sm.GLM(np.asarray(treated, float), design, family=sm.families.Binomial()).fit()
    return np.asarray(fit.fittedvalues, dtype=float)


def match_att(
    outcome: np.ndarray,
    treated: np.ndarray,
    propensity: np.ndarray,
    neighbours: int = 4,
    caliper: float = 0.02,
) -> MatchResult:
    """Nearest-neighbour matching on the propensity score within a caliper; ATT and AI SE.

    Parameters
    ----------
    outcome : numpy.ndarray
        Outcome of each row.
    treated : numpy.ndarray
        1 for treated rows, 0 for controls.
    propensity : numpy.ndarray
        Propensity score of each row.
    neighbours : int
        ``k``: controls per treated unit (with replacement; ties broken by row order).
    caliper : float
        Largest allowed distance on the propensity score (for all ``k`` matches).

    Returns
    -------
    MatchResult
    """
    y = np.asarray(outcome, float)
    is_treated = np.asarray(treated).astype(bool)
    t_rows, c_rows = np.flatnonzero(is_treated), np.flatnonzero(~is_treated)
    distance = np.abs(propensity[t_rows][:, None] - propensity[c_rows][None, :])
    nearest = np.argsort(distance, axis=1, kind="stable")[:, :neighbours]
    rows = []
    for k, (i, order) in enumerate(zip(t_rows, nearest, strict=True)):
        if distance[k, order].max() <= caliper:
            rows += [(i, c_rows[j], 1.0 / len(order)) for j in order]
    pairs = pd.DataFrame(rows, columns=["treated", "control", "weight"])
    t_i, c_j, w = (pairs[c].to_numpy() for c in ("treated", "control", "weight"))
    matched = np.unique(t_i)
    n_t = len(matched)
    tau_pair = y[t_i] - y[c_j]
    att = float(np.sum(w * tau_pair) / n_t)
    tau_i = pd.Series(w * tau_pair).groupby(t_i).sum().to_numpy()
    k = np.bincount(c_j, weights=w, minlength=len(y))
    kk = np.bincount(c_j, weights=w**2, minlength=len(y))
    sigma2 = 0.5 * np.sum(w * (tau_pair - att) ** 2) / n_t
    variance = (sigma2 * np.sum(k**2 - kk) + np.sum((tau_i - att) ** 2)) / n_t**2
    return MatchResult(
        att=att,
        se=float(np.sqrt(variance)),
        n_treated=len(t_rows),
        n_matched_treated=n_t,
        n_controls_used=int(np.sum(k > 0)),
        pairs=pairs,
        propensity=np.asarray(propensity, float),
        control_weight=k,
    )


def balance_table(
    covariates: pd.DataFrame, treated: np.ndarray, result: MatchResult
) -> pd.DataFrame:
    """Standardised mean differences of each covariate column before and after matching.

    Parameters
    ----------
    covariates : pandas.DataFrame
        Covariate columns (:func:`covariate_matrix`); the propensity score is added as a row.
    treated : numpy.ndarray
        1 for treated rows.
    result : MatchResult
        The matching.

    Returns
    -------
    pandas.DataFrame
        ``covariate``, ``mean_treated``, ``mean_control``, ``smd_before``, ``mean_control_matched``,
        ``smd_after`` (pre-matching pooled SD in both denominators).
    """
    is_treated = np.asarray(treated).astype(bool)
    matched_t = np.zeros(len(is_treated), bool)
    matched_t[np.unique(result.pairs["treated"])] = True
    x = covariates.assign(propensity_score=result.propensity)
    rows = []
    for name in x.columns:
        v = x[name].to_numpy(float)
        sd = np.sqrt((v[is_treated].var(ddof=1) + v[~is_treated].var(ddof=1)) / 2)
        control_matched = np.average(v, weights=result.control_weight)
        rows.append(
            {
                "covariate": name,
                "mean_treated": v[is_treated].mean(),
                "mean_control": v[~is_treated].mean(),
                "smd_before": (v[is_treated].mean() - v[~is_treated].mean()) / sd,
                "mean_treated_matched": v[matched_t].mean(),
                "mean_control_matched": control_matched,
                "smd_after": (v[matched_t].mean() - control_matched) / sd,
            }
        )
    return pd.DataFrame(rows)
