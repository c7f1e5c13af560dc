"""Weighted logistic regression: agreement with statsmodels and recovery of known truth."""

from __future__ import annotations

import numpy as np
import statsmodels.api as sm
from scipy import special

from models.design import Design
from models.frequentist import CovariatePatterns, fit_weighted_logit, sandwich_covariance


def _design(X, y, weights) -> Design:
    return Design(
        X=X,
        terms=[f"x{k}" for k in range(X.shape[1])],
        term_scales=np.ones(X.shape[1]),
        continuous_centres={},
        y=y,
        weights=weights / weights.mean(),
        group_idx=np.zeros(len(y), dtype=np.int64),
        group_levels=[],
    )


def _simulate(n, beta, seed):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n), rng.integers(0, 2, n)]).astype(
        float
    )
    y = (rng.random(n) < special.expit(-0.3 + X @ beta)).astype(np.int64)
    weights = np.exp(0.4 * rng.normal(size=n))
    return X, y, weights


def test_unweighted_fit_matches_statsmodels_hc0():
    X, y, _ = _simulate(2000, np.array([0.5, -0.3, 0.2]), seed=1)
    ours = fit_weighted_logit(_design(X, y, np.ones(len(y))))
    reference = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(cov_type="HC0")
    n = len(y)
    # tight: the same estimator computed two ways; only optimiser tolerance differs
    np.testing.assert_allclose(ours["log_odds"], reference.params[1:], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours["se"], reference.bse[1:] * np.sqrt(n / (n - 1)), rtol=1e-5)


def test_weighted_point_estimate_matches_frequency_weights():
    X, y, weights = _simulate(2000, np.array([0.5, -0.3, 0.2]), seed=2)
    ours = fit_weighted_logit(_design(X, y, weights))
    scaled = weights / weights.mean()
    reference = sm.GLM(
        y, sm.add_constant(X), family=sm.families.Binomial(), freq_weights=scaled
    ).fit()
    np.testing.assert_allclose(ours["log_odds"], reference.params[1:], rtol=1e-6, atol=1e-8)


def test_recovers_known_coefficients_and_covers():
    beta = np.array([0.5, -0.3, 0.2])
    X, y, weights = _simulate(40_000, beta, seed=3)
    ours = fit_weighted_logit(_design(X, y, weights))
    z = (ours["log_odds"] - beta) / ours["se"]
    assert np.all(np.abs(z) < 4)  # each estimate within 4 design-based SEs of the truth
    assert np.all(ours["ci_low"] < np.exp(beta) * 1.1) and np.all(
        ours["ci_high"] > np.exp(beta) * 0.9
    )
    assert ((ours["p_value"] >= 0) & (ours["p_value"] <= 1)).all()


def test_pattern_sums_give_the_row_level_fit_and_sandwich():
    """Collapsing identical predictor rows (no survey design) changes no estimate or SE."""
    rng = np.random.default_rng(11)
    n = 3000
    X = rng.integers(0, 2, (n, 3)).astype(float)
    trials = rng.integers(1, 4, n)
    y = rng.binomial(trials, special.expit(-0.2 + X @ np.array([0.6, -0.4, 0.3])))
    weights = np.exp(0.4 * rng.normal(size=n))
    weights /= weights.mean()
    patterns = CovariatePatterns.of(X, y, weights, trials)
    assert patterns.n_patterns == 8
    full = np.column_stack([np.ones(n), X])
    reference = sm.GLM(
        y / trials, full, family=sm.families.Binomial(), var_weights=weights * trials
    ).fit()
    beta = np.asarray(reference.params)
    collapsed = sm.GLM(
        patterns.successes / patterns.trials,
        patterns.X,
        family=sm.families.Binomial(),
        var_weights=patterns.trials,
    ).fit()
    np.testing.assert_allclose(collapsed.params, beta, rtol=1e-8, atol=1e-10)
    by_row = sandwich_covariance(full, y, weights, special.expit(full @ beta), trials)
    np.testing.assert_allclose(patterns.sandwich_covariance(beta), by_row, rtol=1e-10)
    # and the table, which takes the collapsed route here, agrees with the row-level HC0
    design = _design(X, (rng.random(n) < 0.4).astype(np.int64), np.ones(n))
    ours = fit_weighted_logit(design)
    hc0 = sm.GLM(design.y, full, family=sm.families.Binomial()).fit(cov_type="HC0")
    np.testing.assert_allclose(ours["log_odds"], hc0.params[1:], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours["se"], hc0.bse[1:] * np.sqrt(n / (n - 1)), rtol=1e-5)
