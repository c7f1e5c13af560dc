"""The compiled log-density with several grouping factors and binomial rows is the PyMC model's.

Exact checks (no sampling), as ``tests/test_log_density.py`` does for one factor: at random
parameter values the compiled log-density equals the PyMC model's (``model.compile_logp``,
Jacobian included, binomial coefficients added back) and so does the gradient, for crossed
factors (``(1 | province) + (1 | city)``), nested factors (``(1 | province/city)``), a binomial
outcome and a survey-weighted spec, in every parameterisation; aggregation leaves it unchanged.
A short sampling check compares the posterior with nutpie on the PyMC model.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from cmds_common.spec import spec_from_dict
from models import log_density
from models.design import build_design
from models.hierarchical import build_model
from models.log_density_sampler import compiled_supports, prepare_problem
from tests.log_density_checks import assert_same_log_density
from tests.test_families import FAMILY_SPECS, wave2017_table

COMPILED_SPECS = {
    **{name: FAMILY_SPECS[name] for name in ("bernoulli_two_factors", "bernoulli_nested")},
    "binomial_two_factors": {
        "formula": "n_yes ~ local_medical_insurance + age_years + (1 | province) + (1 | city)",
        "family": "binomial",
        "trials": "n_asked",
    },
    "weighted_nested": {
        "formula": "family_doctor ~ hukou + local_medical_insurance + (1 | province/city)",
        "weights": "weight",
        "weighted_likelihood": True,
    },
}


@pytest.fixture(scope="module")
def table(default_table):
    return wave2017_table(default_table, n=600, seed=8)


def _parts(table, name):
    spec = spec_from_dict({"name": name, **COMPILED_SPECS[name]})
    assert compiled_supports(spec)
    design = build_design(table, spec)
    return spec, design, build_model(design, spec)


def _compiled_theta(point, design, problem) -> np.ndarray:
    """Log-density parameters for a PyMC point (see the models.log_density docstring)."""
    beta = point["beta"]
    alpha_c = point["intercept"] + design.X.mean(axis=0) @ beta
    parts = [np.atleast_1d(alpha_c), beta]
    start = 0
    for f, group in enumerate(design.groups):
        size = len(group.levels)
        centred = problem.centred[start : start + size]
        log_sigma = point[f"{group.name}_sigma_log__"]
        u = np.exp(log_sigma) * point[f"{group.name}_offset"]
        raw = np.where(centred, (alpha_c if f == 0 else 0.0) + u, point[f"{group.name}_offset"])
        parts += [np.atleast_1d(log_sigma), raw]
        start += size
    return np.concatenate(parts)


def _jacobian_and_constant(point, design, spec, problem) -> float:
    """What the compiled log-density leaves out relative to PyMC's ``compile_logp``.

    Centring level j of factor f changes variables z_j -> (alpha_c +) sigma_f z_j (Jacobian
    sigma_f); binomial coefficients are constants the compiled density drops.
    """
    total, start = 0.0, 0
    for group in design.groups:
        size = len(group.levels)
        n_centred = problem.centred[start : start + size].sum()
        total += n_centred * point[f"{group.name}_sigma_log__"]
        start += size
    if spec.family == "binomial":
        weights = design.weights if spec.weighted_likelihood else 1.0
        log_choose = (
            special.gammaln(design.trials + 1)
            - special.gammaln(design.y + 1)
            - special.gammaln(design.trials - design.y + 1)
        )
        total += float(np.sum(weights * log_choose))
    return total


@pytest.mark.parametrize("name", sorted(COMPILED_SPECS))
@pytest.mark.parametrize("parameterisation", ["non_centred", "centred", "auto"])
def test_log_density_and_gradient_equal_the_pymc_model(table, name, parameterisation):
    spec, design, model = _parts(table, name)
    problem = prepare_problem(design, spec, parameterisation, aggregate=False)
    assert problem.n_dim == sum(np.size(value) for value in model.initial_point().values())
    pymc_logp = model.compile_logp(jacobian=True)
    pymc_dlogp = model.compile_dlogp(jacobian=True)
    means = design.X.mean(axis=0)
    n_terms = len(design.terms)
    rng = np.random.default_rng(5)
    for _ in range(4):
        point = model.initial_point()
        point = {key: rng.normal(scale=0.2, size=np.shape(value)) for key, value in point.items()}
        theta = _compiled_theta(point, design, problem)
        value, grad = log_density.evaluate(theta, problem.buffer)
        expected = float(pymc_logp(point)) - _jacobian_and_constant(point, design, spec, problem)
        assert value == pytest.approx(expected, rel=1e-10, abs=1e-8)
        if parameterisation != "non_centred":
            continue  # the gradient is compared in PyMC's own (non-centred) variables
        pymc_order = grad.copy()
        pymc_order[1 : 1 + n_terms] += means * grad[0]  # alpha_c = intercept + means . beta
        np.testing.assert_allclose(pymc_order, np.asarray(pymc_dlogp(point)), rtol=1e-9, atol=1e-7)


@pytest.mark.parametrize("name", ["binomial_two_factors", "weighted_nested"])
def test_aggregation_with_several_factors_is_exact(table, name):
    spec, design, _ = _parts(table, name)
    rows = prepare_problem(design, spec, "auto", aggregate=False)
    patterns = prepare_problem(design, spec, "auto", aggregate=True)
    assert patterns.n_rows <= rows.n_rows
    np.testing.assert_array_equal(patterns.centred, rows.centred)
    assert_same_log_density(log_density.evaluate, rows.buffer, patterns.buffer, rows.n_dim, 6)


def test_expanded_draw_per_factor(table):
    spec, design, _ = _parts(table, "bernoulli_two_factors")
    problem = prepare_problem(design, spec, "centred")
    theta = np.random.default_rng(7).normal(size=problem.n_dim)
    draw = log_density.expand_draw(theta, problem.buffer)
    assert len(draw) == problem.n_expanded == log_density.expanded_size(problem.buffer)
    n_terms = len(design.terms)
    at_theta, at_draw = 1 + n_terms, 1 + n_terms
    for f, size in enumerate(problem.group_sizes):
        sigma = np.exp(theta[at_theta])
        raw = theta[at_theta + 1 : at_theta + 1 + size]
        effect = raw - theta[0] if f == 0 else raw  # every level centred
        assert draw[at_draw] == pytest.approx(sigma)
        np.testing.assert_allclose(draw[at_draw + 1 : at_draw + 1 + size], effect / sigma)
        np.testing.assert_allclose(draw[at_draw + 1 + size : at_draw + 1 + 2 * size], effect)
        at_theta += 1 + size
        at_draw += 1 + 2 * size


@pytest.mark.slow
def test_two_factor_posterior_equals_nutpie_on_the_pymc_model(table):
    """Posterior means agree within Monte Carlo error: compiled route vs nutpie on PyMC.

    Tolerance: 4 combined Monte Carlo standard errors per quantity, as in
    ``tests/test_log_density.py`` (a false alarm in about 1 of 16,000 comparisons).
    """
    import arviz as az

    from models.log_density_sampler import sample_compiled
    from models.sampling import SamplerSettings, sample_posterior

    spec, design, model = _parts(table, "binomial_two_factors")
    names = ["intercept", "beta", "province_sigma", "city_sigma"]
    settings = {"chains": 4, "draws": 1000, "tune": 500, "seed": 12, "target_accept": 0.9}
    reference = az.summary(
        sample_posterior(model, SamplerSettings(sampler="nutpie", progress=False, **settings)),
        var_names=names,
        kind="all",
    )
    idata, details = sample_compiled(design, spec, SamplerSettings(progress=False, **settings))
    assert details["compiled_grouping_factors"] == 2
    assert idata.log_likelihood["n_yes"].shape[-1] == len(design.y)
    summary = az.summary(idata, var_names=names, kind="all")
    tolerance = 4 * np.hypot(summary["mcse_mean"], reference["mcse_mean"])
    difference = (summary["mean"] - reference["mean"]).abs()
    assert (difference <= tolerance).all(), difference / tolerance
    assert summary["r_hat"].max() <= 1.01


def test_pointwise_binomial_log_likelihood_is_scipy_binom(table):
    import xarray as xr
    from scipy import stats

    from models.log_density_sampler import pointwise_groups

    spec, design, _ = _parts(table, "binomial_two_factors")
    rng = np.random.default_rng(9)
    draws = {"intercept": (("chain", "draw"), rng.normal(size=(1, 2)))}
    draws["beta"] = (
        ("chain", "draw", "term"),
        rng.normal(scale=0.2, size=(1, 2, len(design.terms))),
    )
    for group in design.groups:
        size = (1, 2, len(group.levels))
        draws[f"{group.name}_effect"] = (("chain", "draw", group.name), rng.normal(size=size))
    posterior = xr.Dataset(draws)
    loglik, predictive = pointwise_groups(posterior, design, spec, seed=1)
    eta = posterior["intercept"].values[0, 1] + design.X @ posterior["beta"].values[0, 1]
    for group in design.groups:
        eta = eta + posterior[f"{group.name}_effect"].values[0, 1][group.idx]
    expected = stats.binom.logpmf(design.y, design.trials, special.expit(eta))
    np.testing.assert_allclose(loglik[0, 1], expected, rtol=2e-6, atol=1e-5)  # float32 storage
    assert ((predictive >= 0) & (predictive <= design.trials)).all()
