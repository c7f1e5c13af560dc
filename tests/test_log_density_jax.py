"""The JAX log-density (``SAMPLER=jax``) is the numba one: same parameters, same posterior.

At random parameter values its log-density, gradient and stored draw equal those of
:mod:`models.log_density` (to 1e-10, relative), for one factor, crossed and nested factors,
binomial and survey-weighted specs, pooled specs, in every parameterisation, aggregated or not;
a short sampled fit through the ``jax`` engine agrees with the ``compiled`` engine within Monte
Carlo error. Everything runs on the CPU; the tests that need JAX skip when it is not installed
(``pip install -e '.[jax]'``), and the ones about a missing JAX run either way.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from cmds_common.spec import SpecError, load_spec, spec_from_dict
from models import log_density
from models.design import build_design
from models.log_density_jax import JAX_INSTALL_HINT
from models.log_density_sampler import prepare_problem
from models.sampling import SamplerSettings, resolve_sampler, sample_spec
from tests.test_families import wave2017_table
from tests.test_log_density import assert_short_sample_is_labelled
from tests.test_log_density_factors import COMPILED_SPECS

RTOL = 1e-10  # both are float64 sums over the same rows, in another order


@pytest.fixture(scope="module")
def jax_log_density():
    pytest.importorskip("jax", reason="JAX is optional: pip install -e '.[jax]'")
    from models.log_density_jax import jax_log_density

    return jax_log_density


@pytest.fixture(scope="module")
def table2017(default_table):
    return wave2017_table(default_table, n=600, seed=8)


def _assert_same_as_numba(functions, problem, seed: int, n_points: int = 3) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(n_points):
        theta = rng.normal(scale=0.6, size=problem.n_dim)
        value, grad = functions.value_and_grad(theta)
        expected_value, expected_grad = log_density.evaluate(theta, problem.buffer)
        assert value == pytest.approx(expected_value, rel=RTOL)
        scale = np.abs(expected_grad).max()
        np.testing.assert_allclose(grad, expected_grad, rtol=RTOL, atol=RTOL * scale)
        np.testing.assert_allclose(
            functions.expand(theta), log_density.expand_draw(theta, problem.buffer), rtol=RTOL
        )


SHIPPED_CASES = [
    ("model2", "non_centred"),
    ("model2", "centred"),
    ("model2", "auto"),
    ("model1", "auto"),
    ("model2_pooled", "auto"),
    ("model2_weighted", "auto"),
]
# each factor layout in each parameterisation, with and without aggregated rows
FACTOR_CASES = [(False, "non_centred"), (True, "centred"), (True, "auto")]


@pytest.mark.parametrize(("name", "parameterisation"), SHIPPED_CASES)
def test_jax_equals_numba_on_the_shipped_specs(
    default_table, jax_log_density, name, parameterisation
):
    spec = load_spec(name)
    problem = prepare_problem(build_design(default_table, spec), spec, parameterisation)
    _assert_same_as_numba(jax_log_density(problem.buffer), problem, seed=len(name))


@pytest.mark.parametrize("name", sorted(COMPILED_SPECS))
@pytest.mark.parametrize(("aggregate", "parameterisation"), FACTOR_CASES)
def test_jax_equals_numba_with_several_factors(
    table2017, jax_log_density, name, parameterisation, aggregate
):
    spec = spec_from_dict({"name": name, **COMPILED_SPECS[name]})
    problem = prepare_problem(build_design(table2017, spec), spec, parameterisation, aggregate)
    assert len(problem.group_sizes) >= 1
    _assert_same_as_numba(jax_log_density(problem.buffer), problem, seed=3)


def test_jax_flags_non_finite_values_as_minus_infinity(default_table, jax_log_density):
    spec = load_spec("model2")
    problem = prepare_problem(build_design(default_table, spec), spec, "auto")
    functions = jax_log_density(problem.buffer)
    theta = np.zeros(problem.n_dim)
    assert np.isfinite(functions.value_and_grad(theta)[0])
    theta[0] = np.nan  # nutpie must see -inf, which it treats as a rejected step
    assert functions.value_and_grad(theta)[0] == -np.inf


def test_jax_route_samples_and_labels_the_draws(default_table, jax_log_density):
    assert_short_sample_is_labelled(default_table, "jax")


def test_jax_sees_a_device(jax_log_density):
    from models.log_density_jax import jax_provenance

    provenance = jax_provenance()
    assert provenance["jax_device"]
    assert provenance["jax_version"][0].isdigit()


def test_missing_jax_stops_with_the_install_command(monkeypatch):
    from models import log_density_jax

    spec = load_spec("model2")
    monkeypatch.setattr(log_density_jax, "jax_available", lambda: False)
    with pytest.raises(SpecError, match=r"pip install -e '\.\[jax\]'"):
        resolve_sampler("jax", spec)
    monkeypatch.setitem(sys.modules, "jax", None)  # an import of jax now fails
    with pytest.raises(ImportError, match="SAMPLER=jax needs JAX"):
        log_density_jax.import_jax()
    assert "pip install" in JAX_INSTALL_HINT


def test_jax_engine_covers_random_intercepts_only():
    slopes = spec_from_dict({"name": "slopes", "formula": "y ~ x + (1 + x | province)"})
    with pytest.raises(SpecError, match="jax engine does not cover"):
        resolve_sampler("jax", slopes)
    with pytest.raises(SpecError, match="jax engine does not cover"):
        resolve_sampler("jax", load_spec("model2_gdp"))
    assert resolve_sampler("auto", load_spec("model2")) == "compiled"  # never picked by auto


@pytest.mark.slow
def test_jax_engine_posterior_equals_the_compiled_engine(default_table, jax_log_density):
    """Posterior means through ``sampler="jax"`` agree with ``compiled`` within MC error.

    A 700-respondent subsample and 2 chains x 600 draws keep it short on a CPU; different seeds
    make the two runs independent, and the tolerance is 4 combined Monte Carlo standard errors
    per quantity (a false alarm in about 1 of 16,000 comparisons when they agree).
    """
    import arviz as az

    spec = load_spec("model1")
    rows = np.random.default_rng(7).choice(len(default_table), 700, replace=False)
    design = build_design(default_table.iloc[np.sort(rows)].reset_index(drop=True), spec)
    names = ["intercept", "beta", "province_sigma"]
    common = {"chains": 2, "draws": 600, "tune": 400, "progress": False, "max_extra_batches": 0}
    summaries = {}
    for sampler, seed in (("compiled", 11), ("jax", 12)):
        settings = SamplerSettings(sampler=sampler, seed=seed, **common)
        idata = sample_spec(design, spec, settings, attrs={"model_name": spec.name})
        assert idata.posterior.attrs["sampler"] == sampler
        summaries[sampler] = az.summary(idata, var_names=names, kind="all")
    assert "jax_device" in idata.posterior.attrs  # the last fit is the JAX one
    jax_summary, reference = summaries["jax"], summaries["compiled"]
    tolerance = 4 * np.hypot(jax_summary["mcse_mean"], reference["mcse_mean"])
    difference = (jax_summary["mean"] - reference["mean"]).abs()
    assert (difference <= tolerance).all(), difference / tolerance
    assert jax_summary["r_hat"].max() <= 1.02
