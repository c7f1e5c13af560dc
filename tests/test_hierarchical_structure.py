"""Structure and fixed-draw tests of the PyMC hierarchical model (no sampling)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from cmds_common.spec import load_spec, spec_from_dict
from models.design import build_design
from models.hierarchical import build_model, initial_point_is_finite
from models.parameter_names import free_parameter_names


@pytest.fixture(scope="module")
def model2_parts(default_table):
    spec = load_spec("model2")
    design = build_design(default_table, spec)
    return spec, design, build_model(design, spec)


@pytest.mark.parametrize("name", ["model1", "model2"])
def test_logp_and_gradient_finite_at_initial_point(default_table, name):
    spec = load_spec(name)
    model = build_model(build_design(default_table, spec), spec)
    assert initial_point_is_finite(model)


def test_dims_and_coords(model2_parts, default_table):
    spec, design, model = model2_parts
    assert list(model.coords["term"]) == design.terms
    assert list(model.coords["province"]) == list(default_table["province"].cat.categories)
    assert len(model.coords["obs"]) == len(default_table)
    assert model.named_vars_to_dims["beta"] == ("term",)
    assert model.named_vars_to_dims["province_offset"] == ("province",)
    assert model.named_vars_to_dims["province_effect"] == ("province",)
    assert model.named_vars_to_dims["health_record"] == ("obs",)
    free = {rv.name for rv in model.free_RVs}
    assert free == {"intercept", "beta", "province_sigma", "province_offset"}
    assert free_parameter_names(spec) == ["intercept", "beta", "province_sigma", "province_effect"]


def test_logp_at_a_hand_made_point_matches_hand_computation(model2_parts):
    _, design, model = model2_parts
    rng = np.random.default_rng(5)
    n_terms, n_groups = design.X.shape[1], len(design.group_levels)
    intercept, sigma = -0.4, 0.6
    beta = rng.normal(0, 0.3, n_terms)
    offset = rng.normal(0, 1, n_groups)
    point = {
        "intercept": np.array(intercept),
        "beta": beta,
        "province_sigma_log__": np.array(np.log(sigma)),
        "province_offset": offset,
    }
    model_logp = model.compile_logp(jacobian=False)(point)

    eta = intercept + design.X @ beta + sigma * offset[design.group_idx]
    p = special.expit(eta)
    by_hand = (
        stats.norm.logpdf(intercept, 0, 1.5)
        + stats.norm.logpdf(beta, 0, 1.0 / design.term_scales).sum()
        + stats.halfnorm.logpdf(sigma, scale=1.0)
        + stats.norm.logpdf(offset).sum()
        + np.sum(design.y * np.log(p) + (1 - design.y) * np.log1p(-p))
    )
    # tight: the same density evaluated two ways in float64
    assert model_logp == pytest.approx(by_hand, rel=1e-9)

    effect = model["province_effect"].eval(
        {model["province_sigma"]: sigma, model["province_offset"]: offset}
    )
    np.testing.assert_allclose(effect, sigma * offset)


def test_continuous_prior_is_per_standard_deviation(model2_parts):
    _, design, model = model2_parts
    age = design.terms.index("age_years")
    scale = design.term_scales[age]
    assert 4 < scale < 7  # SD of age in years
    beta_sigma = model["beta"].owner.inputs[-1].eval()
    assert beta_sigma[age] == pytest.approx(1.0 / scale)


def test_pooled_spec_has_no_group_variables(default_table):
    spec = spec_from_dict({"name": "pooled", "formula": "health_record ~ hukou + local_friends"})
    model = build_model(build_design(default_table, spec), spec)
    assert {rv.name for rv in model.free_RVs} == {"intercept", "beta"}
    assert "province" not in model.coords
    assert initial_point_is_finite(model)
