"""An index from several items by exploratory factor analysis (statsmodels ``Factor``).

Steps, as in Ma et al. 2023 (our reading of its abstract):

1. sampling adequacy: Kaiser-Meyer-Olkin (KMO) measure and Bartlett's test of sphericity;
2. number of factors: eigenvalues of the item correlation matrix greater than 1 (Kaiser);
3. extraction by iterated principal-axis factoring (statsmodels ``Factor(method="pa")``),
   varimax rotation (``FactorResults.rotate("varimax")``);
4. each rotated factor's variance, ``SS_k = sum_j loading_jk^2``, as a percentage of the total
   item variance (``100 SS_k / p``) and as a share of the variance the factors explain
   (``SS_k / sum_k SS_k``);
5. regression (Thomson) factor scores, standardised to mean 0 and SD 1, ``z_k``;
6. the index ``sum_k (100 SS_k / p) z_k``: factor scores weighted by each factor's percentage
   of the total item variance.

The scale of step 6 is the one that reproduces the published index's spread (mean near 0, SD
near 33 in both groups): with four factors explaining about 60% of the item variance, of which
the largest takes 45%, the weights are about (27, 12, 11, 10) and the SD of the weighted sum of
standardised scores is near ``sqrt(27^2 + 12^2 + 11^2 + 10^2) = 33``. The paper does not state
its scale; this is our reading.

Formulas (``R`` the item correlation matrix, ``p`` items, ``n`` respondents):

* KMO: ``sum r_ij^2 / (sum r_ij^2 + sum q_ij^2)`` over ``i != j``, with ``q`` the partial
  correlations, ``q_ij = -S_ij / sqrt(S_ii S_jj)``, ``S = R^-1`` (Kaiser 1974); per item, the
  same sums over row ``i`` (``psych::KMO``'s ``MSA``/``MSAi``).
* Bartlett: ``chi2 = -(n - 1 - (2p + 5) / 6) log det R`` on ``p (p - 1) / 2`` degrees of freedom
  (Bartlett 1951; ``psych::cortest.bartlett``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.multivariate.factor import Factor

#: Eigenvalues of the item correlation matrix above this are retained (Kaiser's rule).
EIGENVALUE_THRESHOLD = 1.0


@dataclass(frozen=True)
class FactorIndex:
    """Everything the factor analysis of the index gives.

    Attributes
    ----------
    index : pandas.Series
        The index, one value per respondent (index points, see the module docstring).
    scores : pandas.DataFrame
        Standardised factor scores ``z_k``, one column per factor.
    loadings : pandas.DataFrame
        Rotated loadings: items x factors.
    eigenvalues : pandas.Series
        Eigenvalues of the item correlation matrix, largest first.
    variance : pandas.DataFrame
        Per factor: ``ss_loadings``, ``percent_of_total`` (the index weight) and
        ``share_of_explained`` (percent).
    adequacy : dict
        ``kmo``, ``kmo_items`` (Series), ``bartlett_chi2``, ``bartlett_df``, ``bartlett_p``.
    """

    index: pd.Series
    scores: pd.DataFrame
    loadings: pd.DataFrame
    eigenvalues: pd.Series
    variance: pd.DataFrame
    adequacy: dict


def kmo(corr: np.ndarray) -> tuple[float, np.ndarray]:
    """Kaiser-Meyer-Olkin measure of sampling adequacy, overall and per item.

    Parameters
    ----------
    corr : numpy.ndarray
        Item correlation matrix (p x p).

    Returns
    -------
    overall, per_item : float, numpy.ndarray
        As ``psych::KMO``'s ``MSA`` and ``MSAi``.
    """
    inverse = np.linalg.inv(corr)
    scale = np.sqrt(np.diag(inverse))
    partial = -inverse / np.outer(scale, scale)
    off = ~np.eye(len(corr), dtype=bool)
    r2 = np.where(off, corr**2, 0.0)
    q2 = np.where(off, partial**2, 0.0)
    return float(r2.sum() / (r2.sum() + q2.sum())), r2.sum(1) / (r2.sum(1) + q2.sum(1))


def bartlett_sphericity(corr: np.ndarray, n: int) -> tuple[float, int, float]:
    """Bartlett's test that the correlation matrix is the identity.

    Parameters
    ----------
    corr : numpy.ndarray
        Item correlation matrix (p x p).
    n : int
        Number of respondents.

    Returns
    -------
    chi2, df, p_value : float, int, float
    """
    p = len(corr)
    _, logdet = np.linalg.slogdet(corr)
    chi2 = -(n - 1 - (2 * p + 5) / 6) * logdet
    df = p * (p - 1) // 2
    return float(chi2), df, float(stats.chi2.sf(chi2, df))


def _orient(loadings: np.ndarray, names: list[str], dimensions: dict[str, list[str]]) -> list[str]:
    """Name each factor after the dimension whose items load most on it (largest first)."""
    labels = []
    for k in range(loadings.shape[1]):
        mass = {
            dim: np.sum(loadings[[names.index(i) for i in items if i in names], k] ** 2)
            for dim, items in dimensions.items()
        }
        best = max(mass, key=mass.get) if mass else f"factor_{k + 1}"
        labels.append(best if best not in labels else f"{best}_{k + 1}")
    return labels


def build_factor_index(
    items: pd.DataFrame,
    dimensions: dict[str, list[str]] | None = None,
    n_factors: int | None = None,
) -> FactorIndex:
    """Factor-analyse the items and build the variance-weighted index.

    Parameters
    ----------
    items : pandas.DataFrame
        One numeric column per item, oriented so that higher means more integrated; complete
        rows only.
    dimensions : dict of str to list of str, optional
        The dimension each item was written for (``{"economic": [...], ...}``); used only to
        name the factors (by the dimension whose items load most on each).
    n_factors : int, optional
        Number of factors; default: eigenvalues above :data:`EIGENVALUE_THRESHOLD`.

    Returns
    -------
    FactorIndex
    """
    values = items.to_numpy(dtype=float)
    if np.isnan(values).any():
        raise ValueError("factor analysis needs complete items; drop incomplete rows first")
    names = list(items.columns)
    corr = np.corrcoef(values, rowvar=False)
    eigenvalues = np.sort(np.linalg.eigvalsh(corr))[::-1]
    k = n_factors or int(np.sum(eigenvalues > EIGENVALUE_THRESHOLD))
    fit = Factor(values, n_factor=k, method="pa", endog_names=names).fit()
    fit.rotate("varimax")
    loadings = np.asarray(fit.loadings, dtype=float)
    # a factor's sign is arbitrary: make its loadings sum positive (items are oriented upwards)
    signs = np.where(loadings.sum(axis=0) < 0, -1.0, 1.0)
    loadings = loadings * signs
    ss = (loadings**2).sum(axis=0)
    order = np.argsort(-ss, kind="stable")
    loadings, ss, signs = loadings[:, order], ss[order], signs[order]
    labels = _orient(loadings, names, dimensions or {})
    raw_scores = np.asarray(fit.factor_scoring(method="regression"), dtype=float)
    raw_scores = raw_scores[:, order] * signs
    z = (raw_scores - raw_scores.mean(0)) / raw_scores.std(0, ddof=1)
    percent = 100 * ss / len(names)
    index = z @ percent
    overall, per_item = kmo(corr)
    chi2, df, p_value = bartlett_sphericity(corr, len(values))
    return FactorIndex(
        index=pd.Series(index, index=items.index, name="integration_index"),
        scores=pd.DataFrame(z, index=items.index, columns=labels),
        loadings=pd.DataFrame(loadings, index=names, columns=labels),
        eigenvalues=pd.Series(eigenvalues, index=range(1, len(names) + 1), name="eigenvalue"),
        variance=pd.DataFrame(
            {
                "ss_loadings": ss,
                "percent_of_total": percent,
                "share_of_explained": 100 * ss / ss.sum(),
            },
            index=pd.Index(labels, name="factor"),
        ),
        adequacy={
            "kmo": overall,
            "kmo_items": pd.Series(per_item, index=names),
            "bartlett_chi2": chi2,
            "bartlett_df": df,
            "bartlett_p": p_value,
        },
    )


def oriented_items(
    table: pd.DataFrame, items: list[str], reverse: list[str] | None = None
) -> pd.DataFrame:
    """Item columns as numbers, reversed items flipped (``min + max - x``) so higher = more.

    Parameters
    ----------
    table : pandas.DataFrame
        The analysis table.
    items : list of str
        Item columns (numeric, binary 0/1 or ordered categorical: read as category codes).
    reverse : list of str, optional
        Items worded the other way round.
    """
    out = {}
    for name in items:
        column = table[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.cat.codes.where(column.notna()).astype(float)
        column = pd.to_numeric(column, errors="coerce").astype(float)
        if name in (reverse or []):
            column = column.min() + column.max() - column
        out[name] = column
    return pd.DataFrame(out, index=table.index)


#: Weightings of the standardised factor scores, ours first (see the module docstring).
INDEX_SCALES = {
    "percent_of_total": "sum_k (100 SS_k / p) z_k (ours)",
    "share_of_explained": "sum_k (100 SS_k / sum SS) z_k",
    "unit_weights": "sum_k z_k",
}


def index_on_scale(result: FactorIndex, scale: str) -> pd.Series:
    """Return the index on one of :data:`INDEX_SCALES`, from the same standardised scores.

    Parameters
    ----------
    result : FactorIndex
        The factor analysis.
    scale : str
        A key of :data:`INDEX_SCALES`.
    """
    weights = {
        "percent_of_total": result.variance["percent_of_total"].to_numpy(),
        "share_of_explained": result.variance["share_of_explained"].to_numpy(),
        "unit_weights": np.ones(len(result.variance)),
    }[scale]
    return pd.Series(result.scores.to_numpy() @ weights, index=result.scores.index, name=scale)
