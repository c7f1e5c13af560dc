"""Weighted logistic regression: agreement with statsmodels and recovery of known truth."""

from __future__ import annotations

import numpy as np
import statsmodels.api as sm
from scipy import special

from models.design import Design
from models.frequentist import fit_weighted_logit


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
