"""Outcome families and several grouping factors in the PyMC model (fast: no sampling).

Each family's log-density and gradient at a hand-made point are compared with an independent
SciPy computation (tight tolerance: the same density evaluated two ways in float64; the
gradient against central finite differences of the SciPy density, relative 1e-5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from cmds_common.spec import load_spec, spec_from_dict
from models.design import build_design
from models.hierarchical import build_model, initial_point_is_finite
from models.log_density_sampler import compiled_supports
from models.parameter_names import free_parameter_names

HEALTH_LEVELS = ["poor", "fair", "good", "very_good"]
EXAMPLE_SPECS = ["model2_city", "family_doctor", "self_rated_health", "integration_index"]


def wave2017_table(default_table: pd.DataFrame, n: int = 300, seed: int = 3) -> pd.DataFrame:
    """Rows of the default data plus the 2017 columns the example specs need, simulated."""
    rng = np.random.default_rng(seed)
    table = default_table.iloc[:n].copy()
    city = [f"{p[:3]}{rng.integers(1, 3)}" for p in table["province"].astype(str)]
    table["city"] = pd.Categorical(city)
    insured = (table["local_medical_insurance"].cat.codes > 0).to_numpy()
    eta = -0.5 + 0.8 * insured
    table["family_doctor"] = rng.binomial(1, special.expit(eta))
    latent = 0.6 * insured + rng.logistic(size=n)
    table["self_rated_health"] = pd.Categorical.from_codes(
        np.digitize(latent, [-1.0, 0.2, 1.5]), categories=HEALTH_LEVELS, ordered=True
    )
    table["integration_index"] = 50 + 8 * insured + rng.normal(0, 10, n)
    table["n_asked"] = rng.integers(1, 6, n)
    table["n_yes"] = rng.binomial(table["n_asked"], special.expit(eta))
    return table


@pytest.fixture(scope="module")
def table2017(default_table):
    return wave2017_table(default_table)


def _constrained(model):
    """A function: unconstrained point -> values of the model's variables (its transforms)."""
    outputs = model.unobserved_value_vars
    fn = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore")
    return lambda point: dict(zip([v.name for v in outputs], fn(point), strict=True))


def scipy_logp(design, spec, values: dict) -> float:
    """The log-density (no Jacobian) of the model, written independently with SciPy."""
    centre, scale = (design.y.mean(), design.y.std()) if spec.family == "gaussian" else (0, 1)
    total = stats.norm.logpdf(values["beta"], 0, scale / design.term_scales).sum()
    eta = design.X @ values["beta"]
    if "intercept" in values:
        total += stats.norm.logpdf(values["intercept"], centre, 1.5 * scale)
        eta = eta + values["intercept"]
    for group in design.groups:
        sigma, offset = values[f"{group.name}_sigma"], values[f"{group.name}_offset"]
        total += stats.halfnorm.logpdf(sigma, scale=scale) + stats.norm.logpdf(offset).sum()
        eta = eta + sigma * offset[group.idx]
    y = design.y
    if spec.family == "bernoulli":
        total += stats.bernoulli.logpmf(y, special.expit(eta)).sum()
    elif spec.family == "binomial":
        total += stats.binom.logpmf(y, design.trials, special.expit(eta)).sum()
    elif spec.family == "gaussian":
        total += stats.halfnorm.logpdf(values["sigma"], scale=scale)
        total += stats.norm.logpdf(y, eta, values["sigma"]).sum()
    else:
        cuts = values["cutpoints"]
        total += stats.norm.logpdf(cuts, 0, 1.5).sum()
        bounds = np.concatenate([[-np.inf], cuts, [np.inf]])
        upper = special.expit(bounds[y + 1] - eta)
        lower = special.expit(bounds[y] - eta)
        total += np.log(upper - lower).sum()
    return float(total)


def _hand_made_point(model, seed: int = 11) -> dict:
    rng = np.random.default_rng(seed)
    start = model.initial_point()
    point = {name: rng.normal(0, 0.4, np.shape(value)) for name, value in start.items()}
    if "cutpoints_ordered__" in point:  # first cut, then log gaps
        point["cutpoints_ordered__"] = np.array([-1.0, np.log(0.9), np.log(1.3)])
    if "intercept" in point and "sigma_log__" in point:  # gaussian: intercept near the data
        point["intercept"] = np.array(51.0)
    return point


FAMILY_SPECS = {
    "bernoulli_two_factors": {
        "formula": "family_doctor ~ local_medical_insurance * hukou + age_years"
        " + (1 | province) + (1 | city)",
    },
    "bernoulli_nested": {"formula": "family_doctor ~ hukou + (1 | province/city)"},
    "binomial": {
        "formula": "n_yes ~ local_medical_insurance + age_years + (1 | province)",
        "family": "binomial",
        "trials": "n_asked",
    },
    "gaussian": {
        "formula": "integration_index ~ local_medical_insurance + age_years + (1 | province)",
        "family": "gaussian",
    },
    "cumulative_logit": {
        "formula": "self_rated_health ~ local_medical_insurance + hukou + (1 | city)",
        "family": "cumulative_logit",
    },
}


@pytest.fixture(scope="module", params=sorted(FAMILY_SPECS))
def family_parts(request, table2017):
    spec = spec_from_dict({"name": request.param, **FAMILY_SPECS[request.param]})
    design = build_design(table2017, spec)
    return spec, design, build_model(design, spec)


def test_logp_matches_scipy_at_a_hand_made_point(family_parts):
    spec, design, model = family_parts
    point = _hand_made_point(model)
    values = _constrained(model)(point)
    model_logp = model.compile_logp(jacobian=False)(point)
    assert model_logp == pytest.approx(scipy_logp(design, spec, values), rel=1e-9)


def test_gradient_matches_finite_differences_of_scipy(family_parts):
    spec, design, model = family_parts
    point = _hand_made_point(model)
    gradient = model.compile_dlogp(jacobian=False)(point)
    names = [v.name for v in model.value_vars]
    flat = np.concatenate([np.ravel(point[n]) for n in names])
    sizes = [np.size(point[n]) for n in names]
    constrained = _constrained(model)

    def f(vector):
        pieces = np.split(vector, np.cumsum(sizes)[:-1])
        at = {n: p.reshape(np.shape(point[n])) for n, p in zip(names, pieces, strict=True)}
        return scipy_logp(design, spec, constrained(at))

    step = 1e-6
    numeric = np.array(
        [(f(flat + step * e) - f(flat - step * e)) / (2 * step) for e in np.eye(len(flat))]
    )
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-4)


def test_dims_coords_and_names(family_parts):
    spec, design, model = family_parts
    assert model.named_vars_to_dims[spec.outcome] == ("obs",)
    for group in design.groups:
        assert list(model.coords[group.name]) == group.levels
        assert model.named_vars_to_dims[f"{group.name}_effect"] == (group.name,)
        assert model.named_vars_to_dims[f"{group.name}_offset"] == (group.name,)
        assert model[f"{group.name}_idx"].get_value().tolist() == group.idx.tolist()
    free = {rv.name for rv in model.free_RVs} - {f"{g.name}_offset" for g in design.groups}
    assert set(free_parameter_names(spec)) - {f"{g.name}_effect" for g in design.groups} == free
    assert initial_point_is_finite(model)
    if spec.family == "cumulative_logit":
        assert list(model.coords["cut"]) == ["poor|fair", "fair|good", "good|very_good"]
        assert "intercept" not in free
    # nothing the compiled engine cannot fit is sent to it
    assert compiled_supports(spec) == (spec.family in ("bernoulli", "binomial"))


def test_nested_city_levels(table2017):
    spec = spec_from_dict({"name": "n", "formula": "family_doctor ~ hukou + (1 | province/city)"})
    model = build_model(build_design(table2017, spec), spec)
    assert all(":" in level for level in model.coords["province_city"])
    assert {"province_sigma", "province_city_sigma"} <= {rv.name for rv in model.free_RVs}


@pytest.mark.parametrize("name", EXAMPLE_SPECS)
def test_example_specs_build_on_a_2017_like_table(name, table2017):
    spec = load_spec(name)
    design = build_design(table2017, spec)
    model = build_model(design, spec)
    assert initial_point_is_finite(model)
    assert not compiled_supports(spec) or spec.family == "bernoulli"


def test_example_specs_are_not_fitted_by_default():
    from pathlib import Path

    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    default = next(line for line in makefile.splitlines() if line.startswith("MODELS ?="))
    assert not set(EXAMPLE_SPECS) & set(default.split("=", 1)[1].split())


@pytest.mark.parametrize("name", EXAMPLE_SPECS)
def test_design_check_passes_the_example_specs(name, table2017):
    from data_prep.design_check import design_findings
    from models.fit_cli import _as_numbers

    spec = load_spec(name)
    assert [str(f) for f in design_findings(_as_numbers(table2017, spec), spec)] == []
