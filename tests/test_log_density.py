"""The compiled log-density is the PyMC model's, and its fast paths give the same posterior.

Exact checks (no sampling): at random parameter values the compiled log-density equals the PyMC
model's (``model.compile_logp``, Jacobian included) to 1e-8, and so does the gradient after the
linear change of variables; aggregated rows give the same log-density as one row per respondent.
Sampling check (slow tier): posterior means from the compiled log-density (per-province
parameterisation with aggregation, all non-centred without aggregation, all centred) and from
nutpie on the plain PyMC model agree within Monte Carlo error.
"""

from __future__ import annotations

import numpy as np
import pytest

from cmds_common.spec import load_spec
from models import log_density
from models.aggregation import aggregate_rows
from models.design import build_design
from models.hierarchical import build_model
from models.log_density_sampler import (
    compiled_supports,
    nutpie_model,
    pointwise_groups,
    prepare_problem,
    sample_compiled,
)
from models.parameterisation import centred_groups
from models.sampling import SamplerSettings, sample_posterior
from tests.log_density_checks import (
    assert_callbacks_match,
    assert_same_log_density,
    callback_status,
    random_posterior,
)

N_POINTS = 5


def _pymc_point(model, rng, scale: float = 0.7) -> dict[str, np.ndarray]:
    """Random unconstrained values for every free variable of a PyMC model."""
    point = model.initial_point()
    return {name: rng.normal(scale=scale, size=np.shape(value)) for name, value in point.items()}


def _compiled_theta(point, design, spec, centred) -> np.ndarray:
    """Log-density parameters for a PyMC point (see the models.log_density docstring)."""
    beta = point["beta"]
    alpha_c = point["intercept"] + design.X.mean(axis=0) @ beta
    parts = [np.atleast_1d(alpha_c), beta]
    if spec.group:
        log_sigma = point[f"{spec.group}_sigma_log__"]
        z = point[f"{spec.group}_offset"]
        raw = np.where(centred, alpha_c + np.exp(log_sigma) * z, z)
        parts += [np.atleast_1d(log_sigma), raw]
    return np.concatenate(parts)


@pytest.mark.parametrize("name", ["model1", "model2", "model2_pooled", "model2_weighted"])
@pytest.mark.parametrize("parameterisation", ["non_centred", "centred", "auto"])
def test_log_density_equals_the_pymc_model(default_table, name, parameterisation):
    spec = load_spec(name)
    design = build_design(default_table, spec)
    model = build_model(design, spec)
    problem = prepare_problem(design, spec, parameterisation, aggregate=False)
    pymc_logp = model.compile_logp(jacobian=True)
    rng = np.random.default_rng(1)
    for _ in range(N_POINTS):
        point = _pymc_point(model, rng)
        theta = _compiled_theta(point, design, spec, problem.centred)
        value, _ = log_density.evaluate(theta, problem.buffer)
        # centring group j changes variables z_j -> alpha_c + sigma z_j (Jacobian sigma)
        log_sigma = point.get(f"{spec.group}_sigma_log__", 0.0) if spec.group else 0.0
        expected = float(pymc_logp(point)) - problem.centred.sum() * log_sigma
        assert value == pytest.approx(expected, rel=1e-10, abs=1e-8)


@pytest.mark.parametrize("name", ["model2", "model2_weighted", "model2_pooled"])
def test_gradient_equals_the_pymc_model(default_table, name):
    spec = load_spec(name)
    design = build_design(default_table, spec)
    model = build_model(design, spec)
    problem = prepare_problem(design, spec, "non_centred", aggregate=False)
    pymc_dlogp = model.compile_dlogp(jacobian=True)
    means = design.X.mean(axis=0)
    n_terms = len(design.terms)
    rng = np.random.default_rng(2)
    for _ in range(N_POINTS):
        # PyMC's compiled gradient turns NaN once some log-odds reach the hundreds (seen at
        # scale 0.7); the compiled log-density's stays finite, but the comparison needs both finite
        point = _pymc_point(model, rng, scale=0.2)
        theta = _compiled_theta(point, design, spec, problem.centred)
        _, grad = log_density.evaluate(theta, problem.buffer)
        # chain rule through alpha_c = intercept + means . beta (everything else is identity)
        pymc_order = grad.copy()
        pymc_order[1 : 1 + n_terms] += means * grad[0]
        expected = np.asarray(pymc_dlogp(point))
        np.testing.assert_allclose(pymc_order, expected, rtol=1e-9, atol=1e-7)


@pytest.mark.parametrize("name", ["model1", "model2_weighted"])
def test_aggregated_rows_give_the_same_log_density(default_table, name):
    spec = load_spec(name)
    design = build_design(default_table, spec)
    rows = prepare_problem(design, spec, "non_centred", aggregate=False)
    patterns = prepare_problem(design, spec, "non_centred", aggregate=True)
    if name == "model1":  # categorical predictors only: many respondents share a pattern
        assert patterns.n_rows < rows.n_rows / 2
    assert_same_log_density(
        log_density.evaluate, rows.buffer, patterns.buffer, rows.n_dim, 3, N_POINTS
    )


def test_aggregation_counts_and_weights_add_up():
    X = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    y = np.array([1.0, 0.0, 1.0, 1.0])
    weights = np.array([0.5, 1.5, 2.0, 1.0])
    group = np.array([0, 0, 0, 1])
    rows = aggregate_rows(X, y, weights, group)
    assert rows.n_patterns == 3
    first = np.flatnonzero((rows.group_idx[:, 0] == 0) & (rows.X[:, 1] == 1.0))[0]
    assert rows.trials[first] == 2.0 and rows.successes[first] == 0.5
    assert rows.trials.sum() == weights.sum()
    assert rows.successes.sum() == pytest.approx((weights * y).sum())


def test_expand_reports_reference_intercept_and_effects(default_table):
    spec = load_spec("model2")
    design = build_design(default_table, spec)
    problem = prepare_problem(design, spec, "auto")
    theta = np.random.default_rng(4).normal(size=problem.n_dim)
    draw = log_density.expand_draw(theta, problem.buffer)
    n_terms, n_groups = problem.n_terms, problem.n_groups
    beta = theta[1 : 1 + n_terms]
    assert draw[0] == pytest.approx(theta[0] - design.X.mean(axis=0) @ beta)
    sigma = np.exp(theta[1 + n_terms])
    raw = theta[2 + n_terms :]
    effect = np.where(problem.centred, raw - theta[0], sigma * raw)
    np.testing.assert_allclose(draw[2 + n_terms + n_groups :], effect)
    np.testing.assert_allclose(draw[2 + n_terms : 2 + n_terms + n_groups], effect / sigma)


def test_parameterisation_rule_centres_provinces_with_much_data():
    rng = np.random.default_rng(5)
    sizes = np.array([5, 8, 2000, 3000])
    group = np.repeat(np.arange(4), sizes)
    logits = np.array([-1.0, 0.0, 1.0, -0.5])[group]
    y = (rng.random(len(group)) < 1 / (1 + np.exp(-logits))).astype(float)
    X = np.empty((len(y), 0))
    flags = centred_groups(X, y, np.ones(len(y)), group, 4)
    np.testing.assert_array_equal(flags, [False, False, True, True])
    assert centred_groups(X, y, np.ones(len(y)), group, 4, "non_centred").sum() == 0
    with pytest.raises(ValueError, match="parameterisation"):
        centred_groups(X, y, np.ones(len(y)), group, 4, "sideways")


def test_parameterisation_rule_sees_through_the_mix_of_respondents():
    """Groups that differ only in their predictors' mix do not look like a large SD."""
    rng = np.random.default_rng(8)
    group = np.repeat(np.arange(10), 300)
    x = (rng.random(len(group)) < np.linspace(0.05, 0.95, 10)[group]).astype(float)
    y = (rng.random(len(group)) < 1 / (1 + np.exp(-(-1.5 + 3.0 * x)))).astype(float)
    flags = centred_groups(x[:, None], y, np.ones(len(y)), group, 10)
    assert flags.sum() == 0  # true SD 0: every group non-centred


def test_slopes_and_group_predictors_are_compiled_too():
    """Random slopes and group predictors have their compiled log-densities (their tests are
    in ``tests/test_log_density_slopes.py``); this one covers random intercepts only."""
    assert compiled_supports(load_spec("model2"))
    assert compiled_supports(load_spec("model2_slopes"))
    assert compiled_supports(load_spec("model2_gdp"))


@pytest.mark.parametrize("route", ["callback", "pyfunc"])
def test_nutpie_entry_points_keep_their_shape(default_table, route):
    """The two nutpie entry points we depend on, and a short run through each.

    Fails (instead of sampling something else) when nutpie renames or drops an argument of
    ``nutpie.compiled_pyfunc.from_pyfunc``, when ``nutpie.compile_pymc.CompiledPyMCModel``
    gains or loses a field (the C-callback route fills every field by name), or when the model
    either returns no longer samples and labels the draws as we declare them.
    """
    import inspect

    from nutpie.compiled_pyfunc import from_pyfunc

    from models.log_density_sampler import callback_route_available

    used = {
        "ndim",
        "make_logp_fn",
        "make_expand_fn",
        "expanded_dtypes",
        "expanded_shapes",
        "expanded_names",
        "coords",
        "dims",
        "make_initial_point_fn",
    }
    assert used <= set(inspect.signature(from_pyfunc).parameters)
    assert callback_route_available(), "nutpie.compile_pymc.CompiledPyMCModel changed its fields"
    assert_short_sample_is_labelled(default_table, route)


def assert_short_sample_is_labelled(table, route: str) -> None:
    """Sample model1 briefly through one nutpie route; check the draws' dims and labels."""
    import nutpie

    spec = load_spec("model1")
    design = build_design(table.iloc[:400], spec)
    problem = prepare_problem(design, spec, "auto")
    model = nutpie_model(problem, route=route)
    assert model.n_dim == problem.n_dim
    trace = nutpie.sample(model, draws=30, tune=30, chains=1, seed=1, progress_bar=False)
    posterior = trace.posterior
    assert posterior["beta"].dims == ("chain", "draw", "term")
    assert list(posterior["term"].values) == design.terms
    assert list(posterior[f"{spec.group}_effect"][spec.group].values) == design.group_levels
    assert np.isfinite(posterior["intercept"].values).all()


def test_c_callbacks_equal_the_python_entry(default_table):
    """The C callbacks nutpie calls return what :func:`log_density.evaluate` returns.

    Same numba code on both sides; only the fast-math reassociation of the compiled copies may
    differ, hence the 1e-10 relative tolerance.
    """
    spec = load_spec("model2")
    problem = prepare_problem(build_design(default_table, spec), spec, "auto")
    rng = np.random.default_rng(11)
    for _ in range(5):
        theta = rng.normal(scale=0.3, size=problem.n_dim)
        assert_callbacks_match(log_density, problem, theta)
    theta[0] = np.inf
    assert callback_status(log_density, problem, theta) in (3, 4)


def test_unknown_nutpie_route_is_refused(default_table):
    spec = load_spec("model1")
    problem = prepare_problem(build_design(default_table.iloc[:100], spec), spec, "auto")
    with pytest.raises(ValueError, match="route"):
        nutpie_model(problem, "private")


def test_pointwise_log_likelihood_is_bernoulli(default_table):
    from scipy import special, stats

    spec = load_spec("model2")
    design = build_design(default_table, spec)
    posterior = random_posterior(design, np.random.default_rng(6))
    loglik, predictive = pointwise_groups(posterior, design, spec, seed=1)
    eta = (
        posterior["intercept"].values[0, 1]
        + design.X @ posterior["beta"].values[0, 1]
        + posterior["province_effect"].values[0, 1][design.group_idx]
    )
    expected = stats.bernoulli.logpmf(design.y, special.expit(eta))
    np.testing.assert_allclose(loglik[0, 1], expected, rtol=1e-5, atol=1e-6)
    assert set(np.unique(predictive)) <= {0, 1}


@pytest.mark.slow
def test_fast_paths_give_the_plain_model_posterior(default_table):
    """Posterior means agree within Monte Carlo error across the engines and fast paths.

    A 700-respondent subsample keeps it quick; tolerance is 4 combined Monte Carlo standard
    errors per quantity (a false alarm in about 1 of 16,000 comparisons when they agree).
    """
    import arviz as az

    spec = load_spec("model1")
    rows = np.random.default_rng(7).choice(len(default_table), 700, replace=False)
    design = build_design(default_table.iloc[np.sort(rows)].reset_index(drop=True), spec)
    names = ["intercept", "beta", "province_sigma"]
    settings = {"chains": 4, "draws": 1000, "tune": 500, "seed": 11, "target_accept": 0.9}
    plain = sample_posterior(
        build_model(design, spec), SamplerSettings(sampler="nutpie", progress=False, **settings)
    )
    reference = az.summary(plain, var_names=names, kind="all")
    fast_paths = [("auto", True), ("non_centred", False), ("centred", True)]
    for parameterisation, aggregate in fast_paths:
        fast = SamplerSettings(
            progress=False, parameterisation=parameterisation, aggregate=aggregate, **settings
        )
        idata, details = sample_compiled(design, spec, fast)
        if aggregate:
            assert details["compiled_rows"] < len(design.y)
        summary = az.summary(idata, var_names=names, kind="all")
        tolerance = 4 * np.hypot(summary["mcse_mean"], reference["mcse_mean"])
        difference = (summary["mean"] - reference["mean"]).abs()
        assert (difference <= tolerance).all(), (parameterisation, difference / tolerance)
        assert summary["r_hat"].max() <= 1.01


def test_value_and_grad_is_evaluate_and_flags_non_finite_values(default_table):
    spec = load_spec("model2")
    problem = prepare_problem(build_design(default_table, spec), spec, "auto")
    theta = np.random.default_rng(11).normal(scale=0.2, size=problem.n_dim)
    value, grad = log_density.value_and_grad(theta, problem.buffer)
    expected_value, expected_grad = log_density.evaluate(theta, problem.buffer)
    assert value == pytest.approx(expected_value, rel=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12)
    theta[0] = np.nan  # nutpie must see -inf, which it treats as a rejected step
    assert log_density.value_and_grad(theta, problem.buffer)[0] == -np.inf
