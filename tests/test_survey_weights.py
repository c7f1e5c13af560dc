"""Survey-weighted pseudo-likelihood: exact density, equal weights, and the comparison table."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
from scipy import special, stats

from analysis.weighting import weighting_comparison
from cmds_common.spec import SpecError, load_spec, spec_from_dict
from models.design import build_design
from models.hierarchical import build_model


def _point(model, design):
    point = model.initial_point()
    point["intercept"] = np.array(-0.3)
    point["beta"] = np.linspace(-0.2, 0.2, len(design.terms))
    point["province_offset"] = np.linspace(-1, 1, len(design.group_levels))
    point["province_sigma_log__"] = np.array(np.log(0.4))
    return point


def test_weighted_density_is_weighted_sum_of_log_likelihoods(default_table):
    spec = load_spec("model2_weighted")
    design = build_design(default_table, spec)
    model = build_model(design, spec)
    point = _point(model, design)
    eta = (
        point["intercept"]
        + design.X @ point["beta"]
        + 0.4 * point["province_offset"][design.group_idx]
    )
    loglik = design.y * np.log(special.expit(eta)) + (1 - design.y) * np.log1p(-special.expit(eta))
    prior = (
        stats.norm.logpdf(point["intercept"], 0, 1.5)
        + stats.norm.logpdf(point["beta"], 0, 1 / design.term_scales).sum()
        + stats.halfnorm.logpdf(0.4)
        + stats.norm.logpdf(point["province_offset"]).sum()
    )
    assert design.weights.sum() == pytest.approx(len(design.y))  # scaled to sum to n
    # tight: the same density evaluated two ways in float64
    assert model.compile_logp(jacobian=False)(point) == pytest.approx(
        prior + np.sum(design.weights * loglik), rel=1e-10
    )


def test_equal_weights_give_the_unweighted_model(default_table):
    table = default_table.assign(weight=1.0)
    weighted, plain = load_spec("model2_weighted"), load_spec("model2")
    w_design, p_design = build_design(table, weighted), build_design(table, plain)
    w_model, p_model = build_model(w_design, weighted), build_model(p_design, plain)
    point = _point(p_model, p_design)
    assert w_model.compile_logp()(point) == pytest.approx(p_model.compile_logp()(point), rel=1e-12)


def test_weighted_likelihood_needs_weights():
    with pytest.raises(SpecError, match="needs a 'weights:' column"):
        spec_from_dict(
            {"name": "w", "formula": "health_record ~ hukou", "weighted_likelihood": True}
        )


def test_comparison_table_shift_and_width():
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(2, 4000, 2))
    base = draws * np.array([0.1, 0.2]) + np.array([0.0, 0.5])
    moved = draws * np.array([0.2, 0.2]) + np.array([0.1, 0.5])  # first term: +1 SD, twice as wide
    coords = {"term": ["a", "b"]}
    table = weighting_comparison(
        az.from_dict({"posterior": {"beta": base}}, coords=coords, dims={"beta": ["term"]}),
        az.from_dict({"posterior": {"beta": moved}}, coords=coords, dims={"beta": ["term"]}),
    ).set_index("term")
    assert table.loc["a", "shift_in_sd"] == pytest.approx(1.0, abs=0.05)
    assert table.loc["b", "shift_in_sd"] == pytest.approx(0.0, abs=0.05)
    assert table.loc["a", "width_ratio"] == pytest.approx(2.0, rel=0.05)
    assert table.loc["b", "width_ratio"] == pytest.approx(1.0, rel=0.05)
    assert table.loc["b", "unweighted_or"] == pytest.approx(np.exp(0.5), rel=0.02)
