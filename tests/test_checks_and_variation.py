"""Predictive checks, provincial variation and model variants against hand computations."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytensor
import pytest
import xarray as xr
from scipy import special, stats

from analysis.ppc import calibration_table, fitted_probabilities, predictive_checks
from analysis.province_variation import standardised_rates, variance_summaries
from cmds_common.spec import load_spec, spec_from_dict
from models.design import build_design
from models.hierarchical import build_model, initial_point_is_finite
from models.parameter_names import free_parameter_names


def _idata(y: np.ndarray, y_rep: np.ndarray, p: np.ndarray) -> xr.DataTree:
    """Fake fit: 2 chains; y_rep and p shaped (chains, draws, obs)."""
    loglik = np.where(y[None, None, :] == 1, np.log(p), np.log1p(-p))
    return az.from_dict(
        {
            "posterior": {"intercept": np.zeros(y_rep.shape[:2])},
            "posterior_predictive": {"health_record": y_rep},
            "log_likelihood": {"health_record": loglik},
            "observed_data": {"health_record": y},
        },
        dims={"health_record": ["obs"]},
    )


@pytest.fixture
def small_data() -> pd.DataFrame:
    provinces = pd.Categorical(["Beijing", "Beijing", "Tianjin", "Tianjin"] * 5)
    return pd.DataFrame(
        {
            "province": provinces,
            "health_record": np.array([1, 0, 1, 1] * 5),
            "sex": ["male", "female"] * 10,
        }
    )


def test_replicates_equal_to_data_give_mid_p_of_one_half(small_data):
    y = small_data["health_record"].to_numpy()
    y_rep = np.broadcast_to(y, (2, 50, len(y))).copy()
    checks = predictive_checks(_idata(y, y_rep, np.full((2, 50, len(y)), 0.5)), small_data)
    assert set(checks["check"]) == {"overall", "province", "category"}
    np.testing.assert_allclose(checks["bayes_p"], 0.5)
    overall = checks.query("check == 'overall'").iloc[0]
    assert overall["observed"] == pytest.approx(0.75) and overall["n"] == 20


def test_replicates_all_zero_give_p_zero_and_known_intervals(small_data):
    y = small_data["health_record"].to_numpy()
    y_rep = np.zeros((2, 50, len(y)), dtype=int)
    y_rep[:, :25, :] = 1  # half the draws all ones
    checks = predictive_checks(_idata(y, y_rep, np.full((2, 50, len(y)), 0.5)), small_data)
    beijing = checks.query("level == 'Beijing'").iloc[0]
    assert beijing["observed"] == pytest.approx(0.5)
    # replicated Beijing share is 1 in half the draws and 0 in the others
    assert beijing["bayes_p"] == pytest.approx(0.5)
    assert (beijing["pi_low"], beijing["pi_high"]) == (0.0, 1.0)


def test_data_mismatch_is_refused(small_data):
    y = small_data["health_record"].to_numpy()
    idata = _idata(1 - y, np.zeros((2, 5, len(y)), int), np.full((2, 5, len(y)), 0.5))
    with pytest.raises(ValueError, match="not the one this model was fitted to"):
        predictive_checks(idata, small_data)


def test_probabilities_recovered_exactly_from_log_likelihood():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 30)
    p = rng.uniform(0.05, 0.95, (2, 10, 30))
    recovered = fitted_probabilities(_idata(y, np.zeros_like(p, int), p), "health_record")
    np.testing.assert_allclose(recovered, p.reshape(20, 30), rtol=1e-12)


def test_calibration_bins_cover_everyone():
    rng = np.random.default_rng(2)
    p = np.broadcast_to(rng.uniform(0.1, 0.9, 500), (2, 40, 500)).copy()
    y = (rng.random(500) < p[0, 0]).astype(int)
    y_rep = (rng.random(p.shape) < p).astype(int)
    table = calibration_table(_idata(y, y_rep, p))
    assert table["n"].sum() == 500 and len(table) == 10
    assert table["mean_predicted"].is_monotonic_increasing


def test_icc_and_median_odds_ratio_formulas():
    sigma = np.full((2, 100), 0.5)
    idata = az.from_dict({"posterior": {"province_sigma": sigma}})
    table = variance_summaries(idata).set_index("measure")["median"]
    assert table["province_sd"] == pytest.approx(0.5)
    assert table["icc_latent"] == pytest.approx(0.25 / (0.25 + np.pi**2 / 3))
    assert table["median_odds_ratio"] == pytest.approx(np.exp(np.sqrt(0.5) * stats.norm.ppf(0.75)))
    assert table["median_odds_ratio"] == pytest.approx(1.611, abs=1e-3)


def test_standardised_rates_match_hand_computation(default_table):
    spec = load_spec("model1")
    design = build_design(default_table, spec)
    n_draws, n_terms, n_groups = 6, len(design.terms), len(design.group_levels)
    rng = np.random.default_rng(3)
    alpha = rng.normal(-0.4, 0.05, (1, n_draws))
    beta = rng.normal(0, 0.2, (1, n_draws, n_terms))
    effect = np.zeros((1, n_draws, n_groups))
    effect[..., 0] = 2.0  # the first province far above every other
    p = special.expit(
        alpha[..., None] + np.einsum("cdt,nt->cdn", beta, design.X) + effect[..., design.group_idx]
    )
    y = default_table["health_record"].to_numpy()
    idata = _idata(y, np.zeros_like(p, dtype=int), p)
    idata["posterior"] = az.from_dict(
        {"posterior": {"intercept": alpha, "beta": beta, "province_effect": effect}},
        coords={"term": design.terms, "province": design.group_levels},
        dims={"beta": ["term"], "province_effect": ["province"]},
    )["posterior"]
    rates = standardised_rates(idata, design, default_table)
    by_hand = special.expit(alpha[0, :, None] + beta[0] @ design.X.T + 2.0).mean(axis=1)
    assert rates.loc[0, "standardised_rate"] == pytest.approx(np.median(by_hand), rel=1e-5)
    assert rates.loc[0, "prob_top5"] == 1.0 and rates.loc[0, "prob_bottom5"] == 0.0
    # all other provinces share one effect (0), so one standardised rate
    assert rates.loc[1:, "standardised_rate"].nunique() == 1
    mine = design.group_idx == 0
    assert rates.loc[0, "raw_rate"] == pytest.approx(y[mine].mean())


def test_random_slopes_model_structure(default_table):
    spec = load_spec("model2_slopes")
    design = build_design(default_table, spec)
    assert design.slope_terms == [
        "local_medical_insurance_yes",
        "settlement_intention_yes",
        "local_friends_ge3",
    ]
    model = build_model(design, spec)
    assert initial_point_is_finite(model)
    assert model.named_vars_to_dims["province_slope"] == ("province", "slope_term")
    assert model.named_vars_to_dims["province_corr"] == ("effect", "effect_bis")
    assert list(model.coords["effect"]) == ["intercept", *design.slope_terms]
    assert "province_slope_sigma" in free_parameter_names(spec)
    assert spec.sampler == {"tune": 1500, "draws": 3000}


def test_random_slope_enters_linear_predictor(default_table):
    spec = spec_from_dict(
        {"name": "s", "formula": "health_record ~ hukou + (1 + hukou | province)"}
    )
    design = build_design(default_table, spec)
    model = build_model(design, spec)
    n_groups = len(design.group_levels)
    offset = np.zeros((n_groups, 2))
    offset[:, 1] = 1.0  # unit slope deviation in every province, no intercept deviation
    point = model.initial_point()
    point["province_offset"] = offset
    point["province_chol_cholesky-cov-packed__"] = np.array([np.log(0.5), 0.0, np.log(0.8)])
    [slope_graph] = model.replace_rvs_by_values([model["province_slope"]])
    slope = pytensor.function(model.value_vars, slope_graph, on_unused_input="ignore")(
        *[point[v.name] for v in model.value_vars]
    )
    # Cholesky factor [[0.5, 0], [0, 0.8]]: deviations = offset @ L.T -> slope 0.8 everywhere
    np.testing.assert_allclose(slope, 0.8)


def test_group_predictor_is_z_scored(default_table):
    spec = load_spec("model2_gdp")
    design = build_design(default_table, spec)
    assert design.group_X.shape == (32, 1)
    np.testing.assert_allclose(design.group_X.mean(), 0, atol=1e-12)
    np.testing.assert_allclose(design.group_X.std(), 1)
    beijing = design.group_levels.index("Beijing")
    gansu = design.group_levels.index("Gansu")
    assert design.group_X[beijing, 0] > 1 > -1 > design.group_X[gansu, 0]
    model = build_model(design, spec)
    assert initial_point_is_finite(model)
    assert model.named_vars_to_dims["province_gamma"] == ("group_predictor",)


def test_standardised_means_match_numpy_with_slopes():
    """The compiled pass against the NumPy formula (an independent implementation): random
    linear predictors, intercept and slope deviations for 5 groups and 2 slopes."""
    from analysis.province_variation import standardised_means

    rng = np.random.default_rng(12)
    n_draws, n_obs, n_groups, n_slopes = 40, 300, 5, 2
    base = rng.normal(0, 1.5, (n_draws, n_obs))
    effect = rng.normal(0, 0.8, (n_groups, n_draws))
    slope_x = rng.integers(0, 2, (n_obs, n_slopes)).astype(float)
    slopes = rng.normal(0, 0.5, (n_groups, n_slopes, n_draws))
    expected = np.stack(
        [
            special.expit(base + effect[j][:, None] + (slope_x @ slopes[j]).T).mean(axis=1)
            for j in range(n_groups)
        ],
        axis=1,
    )
    ours = standardised_means(base, effect, slope_x, slopes)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    no_slopes = standardised_means(base, effect, slope_x[:, :0], slopes[:, :0])
    expected = special.expit(base[:, None, :] + effect.T[:, :, None]).mean(axis=2)
    np.testing.assert_allclose(no_slopes, expected, rtol=1e-12)


def test_per_respondent_quantities_use_the_draws_kept_for_the_log_likelihood():
    """A fit keeps every k-th draw of its pointwise groups; the posterior draws paired with them
    are exactly those draws (and all draws when nothing was thinned)."""
    from analysis.ppc import pointwise_posterior

    rng = np.random.default_rng(7)
    draws = np.arange(12)
    posterior = xr.Dataset(
        {"intercept": (("chain", "draw"), rng.normal(size=(2, 12)))},
        coords={"chain": [0, 1], "draw": draws},
    )
    kept = draws[::3]
    pointwise = xr.Dataset(
        {"y": (("chain", "draw", "obs"), rng.normal(size=(2, 4, 5)))},
        coords={"chain": [0, 1], "draw": kept},
    )
    tree = xr.DataTree.from_dict({"posterior": posterior, "log_likelihood": pointwise})
    paired = pointwise_posterior(tree)
    np.testing.assert_array_equal(paired["draw"], kept)
    np.testing.assert_array_equal(paired["intercept"], posterior["intercept"].to_numpy()[:, ::3])
    whole = xr.DataTree.from_dict({"posterior": posterior})
    assert pointwise_posterior(whole).identical(posterior)
