"""Hand-computed checks of the ma2023 study's methods: matching, g-computation, OLS, ANOVA."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from analysis.g_computation import att_draws, province_effects
from analysis.group_comparison import one_way_anova
from analysis.index_regression import full_ols, stepwise_ols
from analysis.matching import match_att
from models.design import Design, GroupDesign


def test_matching_att_and_abadie_imbens_se_by_hand():
    # treated T1 (.30), T4 (.31), T2 (.50: its 2nd nearest control is beyond the caliper),
    # T3 (.90: no control within it); controls C1 (.29), C2 (.33), C3 (.52), C4 (.60)
    ps = np.array([0.30, 0.50, 0.90, 0.31, 0.29, 0.33, 0.52, 0.60])
    y = np.array([10.0, 20.0, 5.0, 9.0, 4.0, 6.0, 8.0, 1.0])
    t = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    result = match_att(y, t, ps, neighbours=2, caliper=0.05)
    # tau: T1 = 10 - (4 + 6)/2 = 5, T4 = 9 - 5 = 4; T2 and T3 dropped
    assert result.n_matched_treated == 2 and result.n_treated == 4
    assert result.att == pytest.approx(4.5)
    # sigma^2 = 0.5 * 0.5 * (1.5^2 + 0.5^2 + 0.5^2 + 1.5^2) / 2; sum(K^2 - KK) = 0.5 + 0.5
    sigma2 = 0.5 * 0.5 * 5.0 / 2
    variance = (sigma2 * 1.0 + (0.5**2 + 0.5**2)) / 2**2
    assert result.se == pytest.approx(np.sqrt(variance))
    np.testing.assert_allclose(result.control_weight[4:], [1.0, 1.0, 0.0, 0.0])


def _design_and_posterior():
    X = np.array([[1.0, 0.5], [0.0, -0.5], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    province_idx = np.array([0, 0, 1, 2, 2])
    design = Design(
        X=X,
        terms=["treated_yes", "age"],
        term_scales=np.ones(2),
        continuous_centres={"age": 0.0},
        y=np.zeros(5),
        weights=np.ones(5),
        group_idx=province_idx,
        group_levels=["A", "B", "C"],
        slope_columns=[0],
        groups=[GroupDesign("province", province_idx, ["A", "B", "C"], slope_columns=[0])],
        family="gaussian",
    )
    beta = np.array([[[2.0, 1.0], [3.0, -1.0]]])  # chain 0, draws 0 and 1
    slopes = np.array([[[[0.5], [-1.0], [2.0]], [[0.0], [1.0], [-2.0]]]])
    posterior = xr.Dataset(
        {
            "intercept": (("chain", "draw"), np.array([[10.0, 11.0]])),
            "beta": (("chain", "draw", "term"), beta),
            "province_effect": (
                ("chain", "draw", "province"),
                np.array([[[1, 2, 3], [0, 0, 1.0]]]),
            ),
            "province_slope": (("chain", "draw", "province", "slope_term"), slopes),
        },
        coords={"province": ["A", "B", "C"], "term": design.terms, "slope_term": ["treated_yes"]},
    )
    return design, posterior


def test_g_computation_att_is_beta_plus_mean_slope_of_the_treated():
    design, posterior = _design_and_posterior()
    treated = design.X[:, 0] == 1  # rows 0 (A), 2 (B), 3 (C)
    draws = att_draws(posterior, design, "treated_yes", treated)
    # draw 0: 2 + (0.5 - 1 + 2) / 3 = 2.5; draw 1: 3 + (0 + 1 - 2) / 3 = 2.6667
    np.testing.assert_allclose(draws, [2.5, 3 - 1 / 3])


def test_province_effects_by_hand():
    _, posterior = _design_and_posterior()
    table = province_effects(posterior, "province", "treated_yes").set_index("province")
    np.testing.assert_allclose(table.loc[["A", "B", "C"], "mean"], [2.75, 2.5, 2.5])
    np.testing.assert_allclose(table.loc[["A", "B", "C"], "p_above_national"], [0.5, 0.5, 0.5])
    assert table.attrs["national"] == pytest.approx(2.5)


def test_full_ols_hc3_against_the_sandwich_formula():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.integers(0, 2, 200).astype(float)})
    y = pd.Series(1 + 2 * X["a"] - X["b"] + rng.normal(size=200) * (1 + X["b"]))
    table = full_ols(y, X).set_index("term")
    Z = np.column_stack([np.ones(200), X])
    bread = np.linalg.inv(Z.T @ Z)
    coef = bread @ Z.T @ y.to_numpy()
    resid = y.to_numpy() - Z @ coef
    leverage = np.einsum("ij,jk,ik->i", Z, bread, Z)
    meat = Z.T @ (Z * (resid**2 / (1 - leverage) ** 2)[:, None])
    np.testing.assert_allclose(table["estimate"], coef, rtol=1e-10)
    np.testing.assert_allclose(table["se"], np.sqrt(np.diag(bread @ meat @ bread)), rtol=1e-10)


def test_stepwise_selects_the_real_predictor():
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(500, 4)), columns=["x1", "x2", "x3", "x4"])
    y = pd.Series(3 * X["x1"] + 1.0 * X["x3"] + rng.normal(size=500))
    table = stepwise_ols(y, X)
    chosen = table.loc[table["term"] != "const"].sort_values("step_entered")["term"].tolist()
    assert chosen[:2] == ["x1", "x3"]


def test_anova_f_is_the_squared_t_of_two_groups():
    rng = np.random.default_rng(3)
    y = pd.Series(np.r_[rng.normal(0, 1, 80), rng.normal(0.5, 1, 40)])
    group = pd.Series(["a"] * 80 + ["b"] * 40)
    anova = one_way_anova(y, group)
    t = stats.ttest_ind(y[:80], y[80:]).statistic
    assert anova["f"] == pytest.approx(t**2)
    assert (anova["df_between"], anova["df_within"]) == (1, 118)
