"""Geometry of the random-slopes model and the parameterisation rule near a zero SD."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from cmds_common.spec import load_spec, spec_from_dict, spec_to_yaml
from models import hierarchical
from models.design import build_design
from models.hierarchical import build_model, initial_point_is_finite, model_coords
from models.parameterisation import centred_groups, heterogeneity_p_value


@pytest.fixture(scope="module")
def slopes(default_sample):
    spec = load_spec("model2_slopes")
    design = build_design(default_sample[0], spec)
    return spec, design


def test_slopes_model_is_finite_at_its_start_with_unchanged_dims(slopes):
    spec, design = slopes
    model = build_model(design, spec)
    assert initial_point_is_finite(model)
    assert {k: list(v) for k, v in model.coords.items()} == {
        k: list(v) for k, v in model_coords(design, spec).items()
    }
    dims = model.named_vars_to_dims
    assert dims["beta"] == ("term",)
    assert dims["province_effect"] == ("province",)
    assert dims["province_slope"] == ("province", "slope_term")
    assert dims["province_slope_sigma"] == ("slope_term",)
    assert dims["province_corr"] == ("effect", "effect_bis")
    # the reference intercept is reported as before, sampled through the intercept at the means
    assert "intercept" in {v.name for v in model.deterministics}
    assert "intercept_at_means" in {v.name for v in model.free_RVs}


@pytest.mark.slow
def test_intercept_at_means_gives_the_same_log_density(slopes, monkeypatch):
    """alpha_c = alpha + xbar'beta with a flat density and the prior on alpha: same posterior."""
    spec, design = slopes
    model = build_model(design, spec)
    monkeypatch.setattr(
        hierarchical,
        "_intercept_at_means",
        lambda design, mean, sd, beta: pm.Normal("intercept", mean, sd),
    )
    plain = build_model(design, spec)
    rng = np.random.default_rng(3)
    logp, plain_logp = model.compile_logp(), plain.compile_logp()
    for _ in range(3):
        point = {
            k: rng.normal(scale=0.3, size=np.shape(v)) for k, v in model.initial_point().items()
        }
        alpha = point["intercept_at_means"] - design.X.mean(axis=0) @ point["beta"]
        plain_point = {k: v for k, v in point.items() if k != "intercept_at_means"}
        plain_point["intercept"] = alpha
        assert float(logp(point)) == pytest.approx(float(plain_logp(plain_point)), rel=1e-10)


def test_slope_sd_scale_is_read_written_and_defaults_to_the_group_scale():
    spec = load_spec("model2_slopes")
    assert spec.priors.slope_sd_scale == 0.5 and spec.priors.slope_scale == 0.5
    assert "slope_sd_scale: 0.5" in spec_to_yaml(spec)
    plain = spec_from_dict({"name": "s", "formula": "health_record ~ hukou + (1 | province)"})
    assert plain.priors.slope_sd_scale is None and plain.priors.slope_scale == 1.0
    assert "slope_sd_scale" not in spec_to_yaml(plain)


def test_no_group_is_centred_without_clear_between_group_variation():
    """Large groups, true SD zero: centring any of them would put a funnel at sigma -> 0."""
    rng = np.random.default_rng(11)
    group = np.repeat(np.arange(32), 400)
    y = (rng.random(len(group)) < 0.4).astype(float)
    X = np.empty((len(y), 0))
    assert centred_groups(X, y, np.ones(len(y)), group, 32).sum() == 0
    # the same groups with clearly different intercepts: the large ones are centred
    logits = rng.normal(0.0, 0.8, 32)[group]
    y = (rng.random(len(group)) < 1 / (1 + np.exp(-logits))).astype(float)
    assert centred_groups(X, y, np.ones(len(y)), group, 32).sum() > 16


def test_heterogeneity_p_value():
    information = np.full(10, 100.0)
    assert heterogeneity_p_value(np.zeros(10), information) == pytest.approx(1.0)
    assert heterogeneity_p_value(np.full(10, 100.0), information) < 1e-10
