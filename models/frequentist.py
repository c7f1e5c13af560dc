"""Frequentist replication of Table 3: single-level weighted logistic regression.

:func:`fit_frequentist` picks the fit of the design's family: this weighted logit for
``bernoulli`` and ``binomial`` (successes out of trials), and those of
:mod:`models.frequentist_families` for ``gaussian`` (weighted least squares) and
``cumulative_logit`` (statsmodels' ``OrderedModel``). All return one row per term with
``term``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p_value``, ``note`` and ``scale``.

Weights and standard errors
---------------------------
Point estimates maximise the weighted log-likelihood (pseudo-likelihood) with sampling weights
scaled to mean 1, fitted by statsmodels' GLM (``var_weights``). Standard errors are
design-based: the sandwich (linearisation) estimator ``A^-1 B A^-1`` with
``A = sum w_i mu_i (1-mu_i) x_i x_i'`` and ``B`` the design-based variance of the total of the
weighted scores ``z_i = w_i (y_i - mu_i) x_i`` (:func:`linearisation_meat`): with strata
``h`` and PSUs ``c``, ``B = sum_h m_h/(m_h-1) sum_c (z_hc - zbar_h)(z_hc - zbar_h)'`` where
``z_hc`` is the PSU's total and ``m_h`` the stratum's number of PSUs. This is the variance R's
``survey::svyglm`` gives for ``svydesign(ids = ~psu, strata = ~stratum, weights = ~w,
nest = TRUE)``; without a declared design (the spec's ``strata:``/``psu:``; the paper's
published tables give none) each respondent is its own PSU in one stratum, which is
``svydesign(ids = ~1, weights = ~w)`` and ``B = n/(n-1) sum z_i z_i'``. A stratum with a single
PSU adds nothing to ``B`` (R's ``options(survey.lonely.psu = "certainty")``) and the table's
``survey_design`` column says how many there were. Confidence intervals are Wald intervals on
the log-odds scale; p values are two-sided normal tests. The group terms of a spec are ignored
here (the paper's models are single-level).

Estimates that cannot be trusted
--------------------------------
Under (quasi-)complete separation (a 0/1 term whose respondents all have, or all lack, the
outcome) the maximum-likelihood log-odds runs off to infinity: the optimiser stops at a huge
value with a meaningless standard error (the sandwich one is then tiny, so the interval looks
narrow and p = 0). Such terms are detected from the data (constant outcome among the
respondents with the indicator) and from the fit (``|log-odds|`` above
:data:`SEPARATION_LOG_ODDS`, which also catches a reference level with a constant outcome); their
OR, CI and p are left empty and ``note`` says "not estimable (separation)". Every row also
carries the Kish effective sample size of the weights (:mod:`cmds_common.survey_weights`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats
from statsmodels.genmod.families import Binomial
from statsmodels.genmod.generalized_linear_model import GLM

from cmds_common.constants import INTERVAL_PROB
from cmds_common.survey_weights import weight_summary
from models.aggregation import pattern_codes
from models.design import Design

#: An |log-odds| above this (OR beyond 22,000 or below 1/22,000) is taken as separation.
SEPARATION_LOG_ODDS: float = 10.0
#: Text shown instead of the OR of a separated term.
NOT_ESTIMABLE = "not estimable (separation)"


def separated_terms(design: Design, log_odds: np.ndarray) -> dict[str, str]:
    """Terms whose maximum-likelihood estimate does not exist, with the reason.

    A 0/1 column whose respondents (with the indicator) all have the same outcome separates the
    data; a fitted ``|log-odds|`` above :data:`SEPARATION_LOG_ODDS` is the same problem seen
    from the fit (for example when a reference level has a constant outcome).
    """
    reasons = {}
    for j, term in enumerate(design.terms):
        column = design.X[:, j]
        if np.isin(column, (0.0, 1.0)).all() and column.any():
            trials = design.trials if design.trials is not None else np.ones(len(design.y))
            outcomes = np.unique((design.y / trials)[column == 1])
            if len(outcomes) == 1:
                n = int(column.sum())
                reasons[term] = (
                    f"{NOT_ESTIMABLE}: all {n} respondents with {term} have outcome "
                    f"{int(outcomes[0])}"
                )
                continue
        if abs(log_odds[j]) > SEPARATION_LOG_ODDS:
            reasons[term] = (
                f"{NOT_ESTIMABLE}: the fitted log-odds ({log_odds[j]:.1f}) runs off to infinity"
            )
    return reasons


def linearisation_meat(
    scores: np.ndarray, strata: np.ndarray | None = None, psu: np.ndarray | None = None
) -> np.ndarray:
    """Design-based variance of the total of per-row scores (Taylor linearisation).

    Parameters
    ----------
    scores
        ``(n, k)`` weighted score contributions of the rows.
    strata
        Each row's stratum code (``None``: one stratum).
    psu
        Each row's PSU code, unique across strata (``None``: each row its own PSU).

    Returns
    -------
    numpy.ndarray
        ``sum_h m_h/(m_h-1) sum_c (z_hc - zbar_h)(z_hc - zbar_h)'`` over strata ``h`` with
        ``m_h >= 2`` PSUs, ``z_hc`` the PSU totals; strata with one PSU add nothing.
    """
    n, k = scores.shape
    strata = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata)
    psu = np.arange(n) if psu is None else np.asarray(psu)
    psu_codes, psu_of_row = np.unique(psu, return_inverse=True)
    totals = np.zeros((len(psu_codes), k))
    np.add.at(totals, psu_of_row, scores)
    stratum_of_psu = np.zeros(len(psu_codes), dtype=strata.dtype)
    stratum_of_psu[psu_of_row] = strata
    meat = np.zeros((k, k))
    for h in np.unique(stratum_of_psu):
        in_stratum = totals[stratum_of_psu == h]
        m = len(in_stratum)
        if m < 2:
            continue
        centred = in_stratum - in_stratum.mean(axis=0)
        meat += m / (m - 1) * centred.T @ centred
    return meat


def design_description(design: Design) -> str:
    """Describe in words the survey design the standard errors use (for the tables)."""
    if design.strata is None and design.psu is None:
        return "weights only: each respondent its own PSU, one stratum"
    n = len(design.y)
    strata = np.zeros(n, dtype=np.int64) if design.strata is None else design.strata
    psu = np.arange(n) if design.psu is None else design.psu
    per_stratum = pd.Series(psu).groupby(strata).nunique()
    text = f"{len(per_stratum)} strata, {int(per_stratum.sum())} PSUs"
    lonely = int((per_stratum < 2).sum())
    if lonely:
        text += (
            f"; {lonely} strata with a single PSU add no variance (R: survey.lonely.psu = "
            "'certainty'), so the standard errors may be too small"
        )
    return text


def sandwich_covariance(
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    mu: np.ndarray,
    trials: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    psu: np.ndarray | None = None,
) -> np.ndarray:
    """Design-based (linearisation) covariance of weighted logistic coefficients.

    Without ``strata`` and ``psu`` this is HC0 with the factor n/(n-1).

    Parameters
    ----------
    X
        Design matrix including the intercept column.
    y, weights, mu
        Outcome (successes), weights (mean 1) and fitted probabilities.
    trials
        Trials per row (binomial; ones when omitted).
    strata, psu
        The survey design (:func:`linearisation_meat`).
    """
    n = len(y)
    trials = np.ones(n) if trials is None else trials
    bread = np.linalg.inv((X * (weights * trials * mu * (1 - mu))[:, None]).T @ X)
    scores = X * (weights * (y - trials * mu))[:, None]
    return bread @ linearisation_meat(scores, strata, psu) @ bread


def _glm_logit(X: np.ndarray, share: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Maximise ``sum_i trials_i (share_i eta_i - log(1 + exp(eta_i)))``, ``eta = X beta``.

    ``share`` is successes / trials; ``trials`` may be weighted (weights x counts).
    statsmodels' GLM with ``var_weights = trials`` maximises exactly this.
    """
    model = GLM(share, X, family=Binomial(), var_weights=trials)
    with warnings.catch_warnings():
        # separation is reported per term by the caller, in the table itself
        warnings.filterwarnings("ignore", message=".*[Pp]erfect separation.*")
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        return np.asarray(model.fit().params)


@dataclass(frozen=True)
class CovariatePatterns:
    r"""Respondents collapsed by identical predictor values, with what the sandwich needs.

    Without strata and PSUs (each respondent its own PSU) the weighted logit and its
    linearisation covariance depend on the rows only through these per-pattern sums, so they
    are computed exactly from one row per pattern: with :math:`w_i` the weight, :math:`y_i`
    the successes and :math:`m_i` the trials of row :math:`i` in pattern :math:`c`,
    :math:`s_c = \sum w_i y_i`, :math:`t_c = \sum w_i m_i`, and the score's second moment
    :math:`\sum_i w_i^2 (y_i - m_i\mu_c)^2 = q^{yy}_c - 2\mu_c q^{ym}_c + \mu_c^2 q^{mm}_c`
    with :math:`q^{yy}_c = \sum w_i^2 y_i^2`, :math:`q^{ym}_c = \sum w_i^2 y_i m_i`,
    :math:`q^{mm}_c = \sum w_i^2 m_i^2`.

    Attributes
    ----------
    X
        ``(patterns, 1 + terms)`` intercept column and predictors of each pattern.
    successes, trials
        :math:`s_c` and :math:`t_c`.
    q_yy, q_ym, q_mm
        The squared-weight sums above.
    n_rows
        Respondents (rows) collapsed.
    """

    X: np.ndarray
    successes: np.ndarray
    trials: np.ndarray
    q_yy: np.ndarray
    q_ym: np.ndarray
    q_mm: np.ndarray
    n_rows: int

    @property
    def n_patterns(self) -> int:
        """Number of distinct predictor rows."""
        return len(self.trials)

    @classmethod
    def of(
        cls, X: np.ndarray, y: np.ndarray, weights: np.ndarray, trials: np.ndarray
    ) -> CovariatePatterns | None:
        """Collapse ``(n, k)`` predictors; ``None`` when the patterns cannot be numbered."""
        n = len(y)
        codes = pattern_codes(list(X.T), n)
        if codes is None:
            return None
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
        y, trials = np.asarray(y, dtype=float), np.asarray(trials, dtype=float)

        def total(values: np.ndarray) -> np.ndarray:
            return np.bincount(inverse, weights=values, minlength=len(first))

        return cls(
            X=np.column_stack([np.ones(len(first)), X[first]]),
            successes=total(weights * y),
            trials=total(weights * trials),
            q_yy=total(weights**2 * y**2),
            q_ym=total(weights**2 * y * trials),
            q_mm=total(weights**2 * trials**2),
            n_rows=n,
        )

    def sandwich_covariance(self, beta: np.ndarray) -> np.ndarray:
        """:func:`sandwich_covariance` without a design, from the pattern sums (exact)."""
        mu = special.expit(self.X @ beta)
        bread = np.linalg.inv((self.X * (self.trials * mu * (1 - mu))[:, None]).T @ self.X)
        second_moment = self.q_yy - 2 * mu * self.q_ym + mu**2 * self.q_mm
        mean_score = self.X.T @ (self.successes - self.trials * mu) / self.n_rows
        n = self.n_rows
        meat = (self.X * second_moment[:, None]).T @ self.X - n * np.outer(mean_score, mean_score)
        return bread @ (n / (n - 1) * meat) @ bread


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
        One row per term: ``term``, ``estimate`` (the odds ratio), ``log_odds``, ``se``,
        ``odds_ratio``, ``ci_low``,
        ``ci_high``, ``p_value`` (all three empty for a separated term), ``note`` (empty or
        "not estimable (separation): ..."), ``scale`` ("odds ratio"), and the respondents
        ``n_obs`` and the weights' ``kish_n_eff``,
        ``max_median_ratio`` and ``weights_unreliable``.
    """
    trials = design.trials if design.trials is not None else np.ones(len(design.y))
    # one row per predictor pattern when that at least halves the rows (exact; see
    # CovariatePatterns): a 1.5-million-row design fits in seconds and little memory
    patterns = CovariatePatterns.of(design.X, design.y, design.weights, trials)
    collapsed = patterns is not None and patterns.n_patterns <= len(design.y) // 2
    if collapsed:
        beta = _glm_logit(patterns.X, patterns.successes / patterns.trials, patterns.trials)
    if collapsed and design.strata is None and design.psu is None:
        covariance = patterns.sandwich_covariance(beta)
    else:
        X = np.column_stack([np.ones(len(design.y)), design.X])
        if not collapsed:
            beta = _glm_logit(X, design.y / trials, design.weights * trials)
        mu = special.expit(X @ beta)
        covariance = sandwich_covariance(
            X, design.y, design.weights, mu, trials, design.strata, design.psu
        )
    variance = np.diag(covariance)
    # a separated term's variance can come out below 0 in floating point: no SE (NaN, flagged
    # as separation below), without NumPy's "invalid value in sqrt" warning on the console
    se = np.sqrt(np.where(variance >= 0, variance, np.nan))
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
    separated = separated_terms(design, beta[1:])
    table["note"] = [separated.get(term, "") for term in table["term"]]
    table.loc[table["note"] != "", ["odds_ratio", "ci_low", "ci_high", "p_value"]] = np.nan
    return add_weight_columns(table, design, "odds ratio")


def add_weight_columns(table: pd.DataFrame, design: Design, scale: str) -> pd.DataFrame:
    """Add ``scale`` (what ``estimate``, ``ci_low``, ``ci_high`` measure) and the weights' summary.

    ``estimate`` is the odds ratio (logit), the coefficient in outcome units (gaussian) or the
    cumulative odds ratio (ordinal): one column to read whatever the family.
    """
    if "estimate" not in table:
        table.insert(1, "estimate", table["odds_ratio"])
    table["scale"] = scale
    table["survey_design"] = design_description(design)
    summary = weight_summary(design.weights)
    table["n_obs"] = summary["n"]
    for key in ("kish_n_eff", "max_median_ratio", "weights_unreliable"):
        table[key] = summary[key]
    return table


def fit_frequentist(design: Design, interval_prob: float = INTERVAL_PROB) -> pd.DataFrame:
    """Fit the single-level weighted model of the design's family (see the module docstring)."""
    if design.family in ("bernoulli", "binomial"):
        return fit_weighted_logit(design, interval_prob)
    from models.frequentist_families import fit_ordered_logit, fit_weighted_least_squares

    if design.family == "gaussian":
        return fit_weighted_least_squares(design, interval_prob)
    if design.family == "cumulative_logit":
        return fit_ordered_logit(design, interval_prob)
    raise ValueError(f"no frequentist fit for family {design.family!r}")
