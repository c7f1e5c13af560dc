r"""The random-intercept logit's log-density written in JAX, for ``SAMPLER=jax``.

The same posterior, on the same unconstrained parameter vector, as the numba log-density of
:mod:`models.log_density` (whose docstring gives the parameter order and the centred /
non-centred levels), read from the same packed buffer (:func:`models.log_density.pack_data`,
read back by :func:`models.log_density.buffer_layout`). For row :math:`i` with centred
predictors :math:`x_i`, success count :math:`s_i`, trial count :math:`t_i` and level
:math:`g_f(i)` of each grouping factor :math:`f`:

.. math::

    \eta_i = \alpha_c + x_i'\beta + \sum_f u_{f, g_f(i)}, \qquad
    \log p = \sum_i \bigl(s_i\eta_i - t_i \log(1 + e^{\eta_i})\bigr)
      + \log\mathcal N(\alpha_c - \bar x'\beta \mid 0, s_\alpha^2)
      + \sum_k \log\mathcal N(\beta_k \mid 0, s_k^2)
      + \sum_f \bigl(\log\mathcal N^+(\sigma_f \mid 0, s_\sigma^2) + \log\sigma_f\bigr)
      + \sum_{f, j} \log p(\text{level } j \text{ of } f),

where a non-centred level stores :math:`z_j` (:math:`u_j = \sigma_f z_j`,
:math:`z_j \sim \mathcal N(0, 1)`) and a centred level stores :math:`a_j = \alpha_c + u_j` (first
factor) or :math:`u_j` (later factors), with :math:`u_j \sim \mathcal N(0, \sigma_f^2)`. The
gradient comes from ``jax.value_and_grad`` and both are compiled by ``jax.jit`` once per shape,
in float64 (``jax_enable_x64``, switched on by :func:`import_jax`) so that the values equal the
numba ones to rounding (``tests/test_log_density_jax.py``). The data are placed on the device
JAX uses by default, so the log-density runs on a GPU when JAX sees one; nutpie reaches it
through its public ``nutpie.compiled_pyfunc.from_pyfunc`` (as nutpie's own JAX backend does,
see :func:`models.log_density_sampler.nutpie_model`).

JAX is optional (``pip install -e '.[jax]'``); nothing imports it until this engine is used.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec
from typing import Any

import numpy as np

from models import log_density

#: What to run when JAX is missing (CPU wheel from PyPI; a CUDA build for an NVIDIA GPU).
JAX_INSTALL_HINT = (
    "SAMPLER=jax needs JAX: install it with `pip install -e '.[jax]'` (CPU), or "
    "`pip install -U 'jax[cuda12]'` to sample on an NVIDIA GPU"
)
_LOG_2PI = math.log(2.0 * math.pi)


def jax_available() -> bool:
    """Whether JAX can be imported (checked without importing it)."""
    return find_spec("jax") is not None


def import_jax() -> Any:
    """Import JAX with float64 switched on.

    Raises
    ------
    ImportError
        With :data:`JAX_INSTALL_HINT` when JAX is not installed.
    """
    try:
        import jax
    except ImportError as err:
        raise ImportError(JAX_INSTALL_HINT) from err
    jax.config.update("jax_enable_x64", True)  # the numba log-density is float64 throughout
    return jax


def device_description() -> str:
    """Name the devices JAX sees, e.g. ``"gpu (NVIDIA H200)"`` or ``"cpu"``."""
    jax = import_jax()
    names = [
        device.platform
        if device.device_kind == device.platform
        else f"{device.platform} ({device.device_kind})"
        for device in jax.devices()
    ]
    counted = {name: names.count(name) for name in names}
    return ", ".join(name if n == 1 else f"{n} x {name}" for name, n in counted.items())


def jax_provenance() -> dict[str, str]:
    """Return what a fit records of JAX: ``jax_device`` and ``jax_version``."""
    return {"jax_device": device_description(), "jax_version": metadata.version("jax")}


@dataclass(frozen=True)
class JaxLogDensity:
    """Compiled JAX functions of one packed data set, called with NumPy arrays.

    ``value_and_grad(theta)`` returns the log-density (``-inf`` where it or the gradient is not
    finite, as nutpie expects of a rejected point) and its gradient as float64 NumPy values;
    ``expand(theta)`` the stored draw of :func:`models.log_density.expand_draw`.
    """

    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]]
    expand: Callable[[np.ndarray], np.ndarray]


def _index_data(buffer: np.ndarray) -> tuple[dict[str, np.ndarray], list[int]]:
    """Return the arrays :func:`_log_density` reads and each factor's first level."""
    layout = log_density.buffer_layout(buffer)
    sizes = [int(size) for size in layout["sizes"]]
    n_terms = layout["X"].shape[1]
    level_start = [0, *np.cumsum(sizes, dtype=np.int64).tolist()]
    sigma_position = np.array(
        [1 + n_terms + f + level_start[f] for f in range(len(sizes))], dtype=np.int64
    )
    level_factor = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    level_position = (
        sigma_position[level_factor]
        + 1
        + np.arange(level_start[-1])
        - np.repeat(level_start[:-1], sizes)
    ).astype(np.int64)
    data = {
        "X": np.ascontiguousarray(layout["X"]),
        "successes": layout["successes"].copy(),
        "trials": layout["trials"].copy(),
        # each row's level among all levels, factor after factor: (factors, rows)
        "row_levels": layout["groups"] + np.asarray(level_start[:-1], dtype=np.int64)[:, None],
        "centred": layout["centred"].copy(),
        "first_factor": level_factor == 0,
        "level_factor": level_factor,
        "level_position": level_position,
        "sigma_position": sigma_position,
        "beta_sd": layout["beta_sd"].copy(),
        "means": layout["means"].copy(),
        "intercept_sd": np.float64(layout["intercept_sd"]),
        "group_sd_scale": np.float64(layout["group_sd_scale"]),
    }
    return data, level_start


def _level_values(theta: Any, data: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    """Return per factor log sigma and sigma; per level the stored value and the effect ``u``."""
    import jax.numpy as jnp

    log_sigma = theta[data["sigma_position"]]
    sigma = jnp.exp(log_sigma)
    raw = theta[data["level_position"]]
    level_sigma = sigma[data["level_factor"]]
    shift = jnp.where(data["first_factor"], theta[0], 0.0)
    effect = jnp.where(data["centred"], raw - shift, level_sigma * raw)
    return log_sigma, sigma, raw, effect


def _log_density(theta: Any, data: dict[str, Any]) -> Any:
    """Log posterior density (up to the constant binomial coefficients), in JAX."""
    import jax.numpy as jnp

    n_terms = data["X"].shape[1]
    alpha_c, beta = theta[0], theta[1 : 1 + n_terms]
    log_sigma, sigma, raw, effect = _level_values(theta, data)
    eta = alpha_c + data["X"] @ beta + effect[data["row_levels"]].sum(axis=0)
    loglik = jnp.sum(data["successes"] * eta - data["trials"] * jnp.logaddexp(0.0, eta))

    def normal(value: Any, sd: Any) -> Any:
        return -0.5 * (value / sd) ** 2 - jnp.log(sd) - 0.5 * _LOG_2PI

    alpha = alpha_c - data["means"] @ beta
    scale = data["group_sd_scale"]
    prior = normal(alpha, data["intercept_sd"]) + jnp.sum(normal(beta, data["beta_sd"]))
    # half-normal on sigma, sampled on the log scale (+ log-Jacobian)
    prior += jnp.sum(normal(sigma, scale) + math.log(2.0) + log_sigma)
    level_sigma, level_log_sigma = sigma[data["level_factor"]], log_sigma[data["level_factor"]]
    levels = jnp.where(
        data["centred"],
        -0.5 * (effect / level_sigma) ** 2 - level_log_sigma,
        -0.5 * raw**2,
    )
    return loglik + prior + jnp.sum(levels) - 0.5 * _LOG_2PI * raw.shape[0]


def _expand_values(theta: Any, data: dict[str, Any], level_start: tuple[int, ...]) -> Any:
    """Return the stored draw: intercept, beta, then per factor sigma, ``u/sigma`` and ``u``."""
    import jax.numpy as jnp

    n_terms = data["X"].shape[1]
    beta = theta[1 : 1 + n_terms]
    _, sigma, _, effect = _level_values(theta, data)
    parts = [jnp.atleast_1d(theta[0] - data["means"] @ beta), beta]
    for f in range(len(level_start) - 1):
        levels = effect[level_start[f] : level_start[f + 1]]
        parts += [sigma[f : f + 1], levels / sigma[f], levels]
    return jnp.concatenate(parts)


@functools.cache
def _compiled() -> tuple[Any, Any]:
    """Jitted log-density with gradient, and stored draw: one of each per process.

    JAX keeps their compiled versions per data shape, so the batches of one fit (and fits of
    tables of the same shape) compile once.
    """
    jax = import_jax()
    return jax.jit(jax.value_and_grad(_log_density)), jax.jit(_expand_values, static_argnums=2)


def jax_log_density(buffer: np.ndarray) -> JaxLogDensity:
    """Compile the log-density, its gradient and the stored draw for the data in ``buffer``.

    Parameters
    ----------
    buffer
        Data packed by :func:`models.log_density.pack_data`.

    Returns
    -------
    JaxLogDensity
        Functions of a float64 parameter vector (layout of :mod:`models.log_density`).

    Raises
    ------
    ImportError
        When JAX is not installed (the message says how to install it).
    ValueError
        When the buffer holds group-level predictors, which this copy does not add to the
        stored effects (:attr:`cmds_common.spec.ModelSpec.random_intercepts_only` keeps such
        specs away from it).
    """
    if log_density.buffer_layout(buffer)["group_X"].size:
        raise ValueError("the JAX log-density does not cover group-level predictors")
    jax = import_jax()
    import jax.numpy as jnp

    arrays, level_start = _index_data(buffer)
    data = {name: jax.device_put(value) for name, value in arrays.items()}
    value_and_grad_jit, expand_jit = _compiled()

    def value_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad_jit(jnp.asarray(theta, dtype=jnp.float64), data)
        value, grad = float(value), np.array(grad, dtype=np.float64)
        finite = math.isfinite(value) and bool(np.isfinite(grad).all())
        return (value if finite else -math.inf), grad

    def expand(theta: np.ndarray) -> np.ndarray:
        values = expand_jit(jnp.asarray(theta, dtype=jnp.float64), data, tuple(level_start))
        return np.array(values, dtype=np.float64)

    return JaxLogDensity(value_and_grad, expand)
