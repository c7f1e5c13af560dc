"""The compiled random-slopes and group-predictor log-densities are the PyMC model's.

Exact checks (no sampling). The slopes log-density (:mod:`models.log_density_slopes`) samples
the Cholesky factor in its own coordinates (log SDs and one unconstrained vector per row of
the correlation factor); PyMC samples the packed Cholesky factor with a log diagonal. At random
points the two log-densities then differ by the log-determinant of the Jacobian between the
coordinates, computed here numerically (complex-step derivatives), and by a constant: so the
difference between two points is compared, to 1e-8. The gradient is compared through the same
change of variables. The group-predictor spec (random intercepts) is compared directly, in every
parameterisation, as ``tests/test_log_density.py`` does. Sampling check (slow tier): posterior
means agree with nutpie on the PyMC model within Monte Carlo error, and the stored variables have
the same names, dims and coords.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from cmds_common.spec import load_spec, spec_from_dict
from models import log_density, log_density_slopes
from models.design import build_design
from models.hierarchical import build_model
from models.log_density_sampler import (
    compiled_supports,
    pointwise_groups,
    prepare_problem,
    sample_compiled,
)
from models.sampling import SamplerSettings, resolve_sampler
from tests.log_density_checks import (
    assert_callbacks_match,
    assert_same_log_density,
    random_posterior,
)
from tests.test_families import wave2017_table

N_POINTS = 4
SLOPES_SPECS = {
    # weighted likelihood, a continuous slope column, and a group-level predictor
    "weighted_gdp": {
        "formula": "health_record ~ local_medical_insurance + hukou + age_years"
        " + (1 + local_medical_insurance + age_years | province)",
        "group_predictors": ["log_gdp_per_capita_2015"],
        "weights": "weight",
        "weighted_likelihood": True,
    },
    # binomial rows, slopes by province beside a city intercept
    "binomial_city": {
        "formula": "n_yes ~ local_medical_insurance + age_years"
        " + (1 + local_medical_insurance | province) + (1 | city)",
        "family": "binomial",
        "trials": "n_asked",
    },
}


@pytest.fixture(scope="module")
def table2017(default_table):
    return wave2017_table(default_table, n=600, seed=8)


def _slopes_parts(name, default_table, table2017):
    if name == "model2_slopes":
        spec, table = load_spec(name), default_table
    else:
        spec = spec_from_dict({"name": name, **SLOPES_SPECS[name]})
        table = table2017 if name == "binomial_city" else default_table
    assert compiled_supports(spec) and not spec.random_intercepts_only
    design = build_design(table, spec)
    return spec, design, build_model(design, spec)


def _packed_cholesky(block, n):
    """PyMC's unconstrained packed Cholesky factor from (log SDs, correlation rows y_r).

    Works on complex input too (for complex-step derivatives).
    """
    log_tau, y = block[:n], block[n:]
    packed, at = [], 0
    for r in range(n):
        row = y[at : at + r]
        at += r
        q = np.sqrt(1.0 + np.sum(row * row))
        tau = np.exp(log_tau[r])
        packed += [tau * value / q for value in row]
        packed.append(log_tau[r] - np.log(q))  # log of the diagonal entry tau_r / q_r
    return np.array(packed)


def _log_det_jacobian(block, n):
    """log |det d(packed) / d(block)| by complex-step derivatives (exact to rounding)."""
    step = 1e-30
    columns = [
        _packed_cholesky(block + 1j * step * unit, n).imag / step for unit in np.eye(len(block))
    ]
    return float(np.linalg.slogdet(np.column_stack(columns))[1])


class _Layout:
    """Positions of the slopes log-density's parameters, and the PyMC point they map to."""

    def __init__(self, design, problem):
        self.group = next(g for g in design.groups if g.slope_columns)
        self.others = [g for g in design.groups if g is not self.group]
        self.n_beta = len(design.terms)
        self.n_terms = problem.n_terms
        self.n = len(problem.slope_columns) + 1
        self.levels = problem.slope_levels
        self.chol = slice(1 + self.n_terms, 1 + self.n_terms + self.n * (self.n + 1) // 2)
        self.z = slice(self.chol.stop, self.chol.stop + self.levels * self.n)
        gamma_columns = problem.n_terms - self.n_beta
        self.w_mean = (
            design.group_X[design.groups[0].idx].mean(axis=0) if gamma_columns else np.zeros(0)
        )
        self.centred = problem.centred

    def pymc_point(self, theta):
        gamma = theta[1 + self.n_beta : 1 + self.n_terms]
        name = self.group.name
        point = {
            "beta": theta[1 : 1 + self.n_beta],
            "intercept_at_means": theta[0] - self.w_mean @ gamma,
            f"{name}_chol_cholesky-cov-packed__": _packed_cholesky(theta[self.chol], self.n),
            f"{name}_offset": theta[self.z].reshape(self.levels, self.n),
        }
        if len(gamma):
            point[f"{name}_gamma"] = gamma
        at, start = self.z.stop, 0
        for group in self.others:
            size = len(group.levels)
            log_sigma, raw = theta[at], theta[at + 1 : at + 1 + size]
            centred = self.centred[start : start + size]
            point[f"{group.name}_sigma_log__"] = log_sigma
            point[f"{group.name}_offset"] = np.where(centred, raw / np.exp(log_sigma), raw)
            at, start = at + 1 + size, start + size
        return point

    def jacobian_term(self, theta):
        """log |det d(PyMC point) / d(theta)|: the Cholesky block and centred levels."""
        total = _log_det_jacobian(theta[self.chol], self.n)
        at, start = self.z.stop, 0
        for group in self.others:
            size = len(group.levels)
            total -= self.centred[start : start + size].sum() * theta[at]  # z = u / sigma
            at, start = at + 1 + size, start + size
        return total


def _flat(model, values: dict) -> np.ndarray:
    return np.concatenate([np.ravel(values[v.name]) for v in model.value_vars])


def _unflat(model, vector: np.ndarray) -> dict[str, np.ndarray]:
    shapes = {k: np.shape(v) for k, v in model.initial_point().items()}
    sizes = [int(np.prod(shapes[v.name])) for v in model.value_vars]
    pieces = np.split(vector, np.cumsum(sizes)[:-1])
    return {
        v.name: p.reshape(shapes[v.name]) for v, p in zip(model.value_vars, pieces, strict=True)
    }


@pytest.mark.parametrize("name", ["model2_slopes", *SLOPES_SPECS])
@pytest.mark.parametrize("parameterisation", ["non_centred", "centred"])
def test_slopes_log_density_equals_the_pymc_model(default_table, table2017, name, parameterisation):
    spec, design, model = _slopes_parts(name, default_table, table2017)
    problem = prepare_problem(design, spec, parameterisation, aggregate=False)
    layout = _Layout(design, problem)
    pymc_logp = model.compile_logp(jacobian=True)
    rng = np.random.default_rng(21)
    differences = []
    for _ in range(N_POINTS):
        theta = rng.normal(scale=0.5, size=problem.n_dim)
        value, _ = log_density_slopes.evaluate(theta, problem.buffer)
        expected = float(pymc_logp(layout.pymc_point(theta))) + layout.jacobian_term(theta)
        differences.append(value - expected)
    # one constant (the LKJ and other normalising constants) at every point
    np.testing.assert_allclose(np.diff(differences), 0.0, atol=1e-8)


@pytest.mark.parametrize("name", ["model2_slopes", *SLOPES_SPECS])
def test_slopes_gradient_equals_the_pymc_model(default_table, table2017, name):
    spec, design, model = _slopes_parts(name, default_table, table2017)
    problem = prepare_problem(design, spec, "non_centred", aggregate=False)
    layout = _Layout(design, problem)
    pymc_dlogp = model.compile_dlogp(jacobian=True)
    group = layout.group.name
    chol_key = f"{group}_chol_cholesky-cov-packed__"
    rng = np.random.default_rng(22)
    for _ in range(N_POINTS):
        theta = rng.normal(scale=0.3, size=problem.n_dim)
        _, grad = log_density_slopes.evaluate(theta, problem.buffer)
        pymc = _unflat(model, np.asarray(pymc_dlogp(layout.pymc_point(theta))))
        expected = np.zeros_like(theta)
        expected[0] = pymc["intercept_at_means"]
        expected[1 : 1 + layout.n_beta] = pymc["beta"]
        if f"{group}_gamma" in pymc:  # intercept_at_means = alpha_c - mean(w)' gamma
            gamma = slice(1 + layout.n_beta, 1 + layout.n_terms)
            expected[gamma] = pymc[f"{group}_gamma"] - layout.w_mean * expected[0]
        # chain rule through the Cholesky coordinates, plus the gradient of the log-Jacobian
        block = theta[layout.chol]
        columns = [
            _packed_cholesky(block + 1j * 1e-30 * unit, layout.n).imag / 1e-30
            for unit in np.eye(len(block))
        ]
        jacobian = np.column_stack(columns)
        step = 1e-5
        log_det_grad = np.array(
            [
                (
                    _log_det_jacobian(block + step * unit, layout.n)
                    - _log_det_jacobian(block - step * unit, layout.n)
                )
                / (2 * step)
                for unit in np.eye(len(block))
            ]
        )
        expected[layout.chol] = jacobian.T @ pymc[chol_key] + log_det_grad
        expected[layout.z] = pymc[f"{group}_offset"].ravel()
        at = layout.z.stop
        for other in layout.others:  # non-centred: identical coordinates
            size = len(other.levels)
            expected[at] = pymc[f"{other.name}_sigma_log__"]
            expected[at + 1 : at + 1 + size] = pymc[f"{other.name}_offset"]
            at += 1 + size
        np.testing.assert_allclose(grad, expected, rtol=1e-7, atol=1e-6)
        # everything outside the Cholesky block needs no numerical derivative: tighter
        outside = np.ones(len(theta), dtype=bool)
        outside[layout.chol] = False
        np.testing.assert_allclose(grad[outside], expected[outside], rtol=1e-9, atol=1e-8)


@pytest.mark.parametrize("name", ["model2_slopes", "binomial_city"])
def test_slopes_stored_draw_equals_the_pymc_deterministics(default_table, table2017, name):
    spec, design, model = _slopes_parts(name, default_table, table2017)
    problem = prepare_problem(design, spec, "auto")
    import pytensor

    layout = _Layout(design, problem)
    # every stored variable (free variables in their constrained form, and deterministics) as
    # a function of the PyMC model's unconstrained values
    outputs = model.replace_rvs_by_values([model[name] for name in problem.var_names])
    values_of = pytensor.function(model.value_vars, outputs, on_unused_input="ignore")
    split_at = np.cumsum([int(np.prod(shape)) for shape in problem.var_shapes])[:-1]
    rng = np.random.default_rng(23)
    for _ in range(3):
        theta = rng.normal(scale=0.5, size=problem.n_dim)
        point = layout.pymc_point(theta)
        expected = values_of(*[point[v.name] for v in model.value_vars])
        draw = log_density_slopes.expand_draw(theta, problem.buffer, problem.n_expanded)
        stored = np.split(draw, split_at)
        for name, values, reference in zip(problem.var_names, stored, expected, strict=True):
            np.testing.assert_allclose(
                values, np.ravel(reference), rtol=1e-10, atol=1e-12, err_msg=name
            )


@pytest.mark.parametrize("parameterisation", ["non_centred", "centred", "auto"])
def test_group_predictor_log_density_equals_the_pymc_model(default_table, parameterisation):
    spec = load_spec("model2_gdp")
    design = build_design(default_table, spec)
    model = build_model(design, spec)
    problem = prepare_problem(design, spec, parameterisation, aggregate=False)
    assert problem.kernel is log_density and problem.n_terms == len(design.terms) + 1
    pymc_logp = model.compile_logp(jacobian=True)
    pymc_dlogp = model.compile_dlogp(jacobian=True)
    means = np.concatenate([design.X.mean(axis=0), design.group_X[design.group_idx].mean(axis=0)])
    rng = np.random.default_rng(24)
    for _ in range(N_POINTS):
        point = {
            k: rng.normal(scale=0.2, size=np.shape(v)) for k, v in model.initial_point().items()
        }
        coefficients = np.concatenate([point["beta"], point["province_gamma"]])
        alpha_c = point["intercept"] + means @ coefficients
        log_sigma = point["province_sigma_log__"]
        z = point["province_offset"]
        raw = np.where(problem.centred, alpha_c + np.exp(log_sigma) * z, z)
        theta = np.concatenate([[alpha_c], coefficients, [log_sigma], raw])
        value, grad = log_density.evaluate(theta, problem.buffer)
        expected = float(pymc_logp(point)) - problem.centred.sum() * log_sigma
        assert value == pytest.approx(expected, rel=1e-10, abs=1e-8)
        if parameterisation == "non_centred":  # alpha_c = intercept + means . (beta, gamma)
            pymc_order = grad.copy()
            pymc_order[1 : len(means) + 1] += means * grad[0]
            np.testing.assert_allclose(
                pymc_order, _flat(model, _unflat(model, pymc_dlogp(point))), rtol=1e-9, atol=1e-7
            )
        draw = log_density.expand_draw(theta, problem.buffer, problem.n_expanded)
        effect = draw[-len(design.group_levels) :]
        expected_effect = design.group_X @ point["province_gamma"] + np.exp(log_sigma) * z
        np.testing.assert_allclose(effect, expected_effect, rtol=1e-10, atol=1e-12)


def test_aggregated_slopes_rows_give_the_same_log_density(default_table, table2017):
    spec, design, _ = _slopes_parts("binomial_city", default_table, table2017)
    rows = prepare_problem(design, spec, "auto", aggregate=False)
    patterns = prepare_problem(design, spec, "auto", aggregate=True)
    assert patterns.n_rows < rows.n_rows
    assert_same_log_density(
        log_density_slopes.evaluate, rows.buffer, patterns.buffer, rows.n_dim, 25, N_POINTS
    )


def test_slopes_c_callbacks_equal_the_python_entry(default_table):
    spec = load_spec("model2_slopes")
    problem = prepare_problem(build_design(default_table, spec), spec, "auto")
    theta = np.random.default_rng(26).normal(scale=0.3, size=problem.n_dim)
    assert_callbacks_match(log_density_slopes, problem, theta)
    expected_value, _ = log_density_slopes.evaluate(theta, problem.buffer)
    value_nutpie, _ = log_density_slopes.value_and_grad(theta, problem.buffer)
    assert value_nutpie == pytest.approx(expected_value, rel=1e-12)
    theta[0] = np.nan
    assert log_density_slopes.value_and_grad(theta, problem.buffer)[0] == -np.inf


def test_auto_picks_the_compiled_engine_for_slopes_and_group_predictors():
    assert resolve_sampler("auto", load_spec("model2_slopes")) == "compiled"
    assert resolve_sampler("auto", load_spec("model2_gdp")) == "compiled"
    assert resolve_sampler("compiled", load_spec("model2_slopes")) == "compiled"
    assert load_spec("model2").random_intercepts_only
    assert not load_spec("model2_gdp").random_intercepts_only
    independent = spec_from_dict(
        {"name": "s", "formula": "health_record ~ hukou + (0 + hukou | province)"}
    )
    assert not compiled_supports(independent)
    assert resolve_sampler("auto", independent) == "nutpie"


def test_stored_slopes_draw_is_labelled_as_the_pymc_model(default_table):
    spec = load_spec("model2_slopes")
    design = build_design(default_table, spec)
    model = build_model(design, spec)
    problem = prepare_problem(design, spec, "auto")
    pymc_names = {v.name for v in model.free_RVs} | {v.name for v in model.deterministics}
    assert set(problem.var_names) == pymc_names
    for name, dims in model.named_vars_to_dims.items():
        if name in problem.dims:
            assert problem.dims[name] == dims, name
    for dim in ("province", "slope_term", "effect", "effect_bis", "term"):
        assert list(problem.coords[dim]) == list(model.coords[dim])
    assert problem.kernel is log_density_slopes


def test_pointwise_log_likelihood_includes_the_slopes(default_table):
    from scipy import special, stats

    spec = load_spec("model2_slopes")
    design = build_design(default_table, spec)
    posterior = random_posterior(design, np.random.default_rng(27))
    loglik, _ = pointwise_groups(posterior, design, spec, seed=1)
    slope = posterior["province_slope"].values[0, 1][design.group_idx]
    eta = (
        posterior["intercept"].values[0, 1]
        + design.X @ posterior["beta"].values[0, 1]
        + posterior["province_effect"].values[0, 1][design.group_idx]
        + (design.X[:, design.slope_columns] * slope).sum(axis=1)
    )
    expected = stats.bernoulli.logpmf(design.y, special.expit(eta))
    np.testing.assert_allclose(loglik[0, 1], expected, rtol=1e-5, atol=1e-6)


def test_pointwise_predictive_draws_are_bernoulli_with_the_slopes(default_table):
    """Predictive draws of one posterior point, repeated 2,000 times, are Bernoulli(p_i).

    Per respondent, the count of ones over the draws is Binomial(2000, p_i); the standardised
    total over respondents is N(0, 1) when the draws are right (|z| < 4: a false alarm in
    about 1 of 16,000 runs), and the respondents' counts match p_i in a chi-square sense.
    """
    from scipy import special, stats

    spec = load_spec("model2_slopes")
    design = build_design(default_table, spec)
    point = random_posterior(design, np.random.default_rng(28)).isel(draw=[0])
    repeated = point.isel(draw=np.zeros(2000, dtype=int))
    _, predictive = pointwise_groups(repeated, design, spec, seed=3)
    slope = point["province_slope"].values[0, 0][design.group_idx]
    p = special.expit(
        point["intercept"].values[0, 0]
        + design.X @ point["beta"].values[0, 0]
        + point["province_effect"].values[0, 0][design.group_idx]
        + (design.X[:, design.slope_columns] * slope).sum(axis=1)
    )
    ones = predictive[0].sum(axis=0, dtype=np.int64)
    variance = 2000 * p * (1 - p)
    z = (ones.sum() - 2000 * p.sum()) / np.sqrt(variance.sum())
    assert abs(z) < 4
    informative = variance > 5  # chi-square terms of respondents with p not near 0 or 1
    chi2 = (((ones - 2000 * p) ** 2 / variance)[informative]).sum()
    assert stats.chi2.sf(chi2, informative.sum()) > 1e-4


@pytest.mark.slow
def test_compiled_slopes_posterior_equals_nutpie_on_the_pymc_model(default_table):
    """Posterior means agree within Monte Carlo error; names, dims and coords are the same.

    A 1,500-respondent subsample keeps it quick; tolerance is 4 combined Monte Carlo standard
    errors per quantity. 2,000 draws per chain: the slope SDs mix slowly (as in the spec, which
    draws 3,000), and at 1,000 the compiled fit's largest R-hat was 1.009 on one machine and
    1.020 on another.
    """
    import arviz as az

    from models.sampling import sample_posterior

    spec = load_spec("model2_slopes")
    rows = np.random.default_rng(28).choice(len(default_table), 1500, replace=False)
    design = build_design(default_table.iloc[np.sort(rows)].reset_index(drop=True), spec)
    settings = {"chains": 4, "draws": 2000, "tune": 1000, "seed": 12, "target_accept": 0.9}
    plain = sample_posterior(
        build_model(design, spec), SamplerSettings(sampler="nutpie", progress=False, **settings)
    )
    compiled, _ = sample_compiled(design, spec, SamplerSettings(progress=False, **settings))
    for name, values in plain.posterior.data_vars.items():
        assert name in compiled.posterior, name
        assert compiled.posterior[name].dims == values.dims, name
        for dim in values.dims:
            np.testing.assert_array_equal(compiled.posterior[dim].values, values[dim].values)
    assert set(compiled.posterior.data_vars) == set(plain.posterior.data_vars)
    assert compiled.log_likelihood[spec.outcome].dims == plain.log_likelihood[spec.outcome].dims
    reference = az.summary(_checked(plain), kind="all")
    summary = az.summary(_checked(compiled), kind="all")
    tolerance = 4 * np.hypot(summary["mcse_mean"], reference["mcse_mean"])
    difference = (summary["mean"] - reference["mean"]).abs()
    assert (difference <= tolerance).all(), (difference / tolerance).sort_values().tail()
    assert summary["r_hat"].max() <= 1.01


def _checked(idata) -> xr.DataTree:
    """Intercept, coefficients, SDs and the correlations below the diagonal (the diagonal is
    always 1, without Monte Carlo error)."""
    posterior = idata.posterior.to_dataset()
    checked = {
        name: posterior[name]
        for name in ("intercept", "beta", "province_sigma", "province_slope_sigma")
    }
    effects = list(posterior["effect"].values)
    for row, first in enumerate(effects):
        for second in effects[:row]:
            pair = posterior["province_corr"].sel(effect=first, effect_bis=second, drop=True)
            checked[f"corr_{first}_{second}"] = pair
    return xr.DataTree.from_dict({"posterior": xr.Dataset(checked)})
