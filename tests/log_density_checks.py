"""Shared checks of the compiled log-density tests."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import xarray as xr


def assert_same_log_density(
    evaluate: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]],
    buffer: np.ndarray,
    other_buffer: np.ndarray,
    n_dim: int,
    seed: int,
    points: int = 4,
) -> None:
    """Log-density and gradient equal on two buffers (e.g. one row per respondent and
    aggregated patterns) at ``points`` random parameter vectors of length ``n_dim``.

    The tolerances (1e-11 relative on the value, 1e-9 on the gradient) allow only the
    reordering of a floating-point sum over rows.
    """
    rng = np.random.default_rng(seed)
    for _ in range(points):
        theta = rng.normal(scale=0.5, size=n_dim)
        value, grad = evaluate(theta, buffer)
        other_value, other_grad = evaluate(theta, other_buffer)
        assert other_value == pytest.approx(value, rel=1e-11)
        np.testing.assert_allclose(other_grad, grad, rtol=1e-9, atol=1e-9)


def assert_callbacks_match(module: ModuleType, problem: Any, theta: np.ndarray) -> None:
    """``module``'s C callbacks (what nutpie's threads call) give what its NumPy entry points
    give at ``theta``: the same numba code on both sides, so only fast-math reassociation of the
    compiled copies may differ (1e-10 relative)."""
    address = ctypes.c_void_p(problem.buffer.ctypes.data)

    def pointer(array: np.ndarray):
        return array.ctypes.data_as(ctypes.POINTER(ctypes.c_double))

    grad, value = np.zeros(problem.n_dim), np.zeros(1)
    status = module.logp_cfunc.ctypes(
        problem.n_dim, pointer(theta), pointer(grad), pointer(value), address
    )
    expected_value, expected_grad = module.evaluate(theta, problem.buffer)
    assert status == 0
    np.testing.assert_allclose(value[0], expected_value, rtol=1e-10)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-10)
    size = problem.n_expanded
    out = np.zeros(size)
    assert (
        module.expand_cfunc.ctypes(problem.n_dim, size, pointer(theta), pointer(out), address) == 0
    )
    np.testing.assert_allclose(out, module.expand_draw(theta, problem.buffer, size))


def callback_status(module: ModuleType, problem: Any, theta: np.ndarray) -> int:
    """Status ``module.logp_cfunc`` returns at ``theta`` (0 ok, 3/4 non-finite)."""
    address = ctypes.c_void_p(problem.buffer.ctypes.data)
    grad, value = np.zeros(problem.n_dim), np.zeros(1)
    return module.logp_cfunc.ctypes(
        problem.n_dim,
        *(a.ctypes.data_as(ctypes.POINTER(ctypes.c_double)) for a in (theta, grad, value)),
        address,
    )


def random_posterior(design: Any, rng: np.random.Generator) -> xr.Dataset:
    """Two random draws (one chain) of a province model's intercept, coefficients, effects and,
    when the design has them, slopes: the input of ``pointwise_groups`` in tests."""
    n_terms, n_groups = len(design.terms), len(design.group_levels)
    variables = {
        "intercept": (("chain", "draw"), rng.normal(size=(1, 2))),
        "beta": (("chain", "draw", "term"), rng.normal(scale=0.1, size=(1, 2, n_terms))),
        "province_effect": (
            ("chain", "draw", "province"),
            rng.normal(scale=0.5, size=(1, 2, n_groups)),
        ),
    }
    if design.slope_columns:
        variables["province_slope"] = (
            ("chain", "draw", "province", "slope_term"),
            rng.normal(scale=0.5, size=(1, 2, n_groups, len(design.slope_columns))),
        )
    return xr.Dataset(variables)
