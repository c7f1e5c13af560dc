r"""Compiled log-density of the random-intercept logistic model, for nutpie.

This is the same posterior as :func:`models.hierarchical.build_model` builds for a Bernoulli or
binomial spec whose grouping terms are random intercepts only, ``(1 | g1) + (1 | g2) + ...``,
crossed or nested (``tests/test_log_density.py`` compares log-density and gradient with the PyMC
model at random points, and posteriors on a small sample), written as numba functions that
numba caches on disk. A run then skips the compile step that costs PyMC + nutpie about 6-14 s
per process, and the gradient runs without the GIL, so both cores sample in parallel.
:mod:`models.log_density_sampler` hands them to nutpie: as C callbacks (:data:`logp_cfunc`,
:data:`expand_cfunc`, with the signatures nutpie's own numba backend compiles) when nutpie's
model class for them is as expected, else through ``from_pyfunc``.

The model, for row :math:`i` with predictors :math:`x_i` and level :math:`g_f(i)` of each
grouping factor :math:`f = 1, \dots, F`:

.. math::

    \eta_i = \alpha + x_i'\beta + \sum_f u_{f, g_f(i)}, \quad
    u_{f j} \sim \mathcal N(0, \sigma_f^2), \quad \sigma_f \sim \mathcal N^+(0, s_\sigma^2),
    \quad \alpha \sim \mathcal N(0, s_\alpha^2), \quad \beta_k \sim \mathcal N(0, s_k^2).

Unconstrained parameters, in order:

* :math:`\alpha_c`, the log-odds at the *mean* of every predictor column (indicators centred
  too, which removes most of the posterior correlation between the intercept and the
  coefficients). The reported ``intercept`` is :math:`\alpha = \alpha_c - \bar x'\beta`, the
  log-odds at the reference levels, and its prior :math:`\mathcal N(0, s_\alpha^2)` is placed on
  :math:`\alpha` exactly as in the PyMC model (the map is linear with unit Jacobian).
* :math:`\beta_1, \dots, \beta_K`.
* per grouping factor: :math:`\log\sigma_f` (with the log-Jacobian), then one value per level.
  A *non-centred* level stores :math:`z_j` with :math:`u_j = \sigma_f z_j`,
  :math:`z_j \sim \mathcal N(0, 1)`. A *centred* level of the first factor stores the level's
  own intercept :math:`a_j = \alpha_c + u_j \sim \mathcal N(\alpha_c, \sigma_1^2)`; a centred
  level of a later factor stores :math:`u_j \sim \mathcal N(0, \sigma_f^2)` itself. Which levels
  are centred is data (see :mod:`models.parameterisation`); the posterior of every reported
  quantity is the same either way, only the geometry the sampler sees changes.

Rows carry a (possibly weighted) success count :math:`s_i` and trial count :math:`t_i`, so that
one row can stand for many respondents with the same covariates and groups
(:mod:`models.aggregation`), or be a binomial observation. The log-likelihood is
:math:`\sum_i s_i\eta_i - t_i\log(1 + e^{\eta_i})`, which for :math:`t_i = 1` is the Bernoulli
log-likelihood and for weighted rows the survey-weighted pseudo-likelihood. Binomial
coefficients are constants and are left out.

Group-level predictors :math:`w_j` of the first factor (spec ``group_predictors``, z-scored
across its levels), :math:`u_{1j} = w_j'\gamma + \sigma_1 z_j` with
:math:`\gamma \sim \mathcal N(0, 1)`, enter as extra columns :math:`w_{g_1(i)}` of :math:`x_i`
(centred at their mean over rows like every column) whose coefficients, the last :math:`P` entries
of :math:`\beta`, are :math:`\gamma`: the linear predictor, the priors and hence the posterior
are those of the PyMC model, where :math:`w_j'\gamma` sits in the group effect. The levels'
parameters above then describe :math:`u_{1j} - w_j'\gamma`; :func:`expand` adds
:math:`w_j'\gamma` back to the stored ``<group>_effect`` (the stored offset stays
:math:`(u_{1j} - w_j'\gamma) / \sigma_1`, as in the PyMC model).

All data travel in one float64 buffer; the layout is written by :func:`pack_data` and read by
``_unpack``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

_BLOCK = 512  # rows per block of the likelihood loop
_HEADER = 5  # n_rows, n_terms, n_factors, intercept prior sd, group sd prior scale
_LOG_2PI = math.log(2.0 * math.pi)
#: Reassociation lets the row loop vectorise; no "nnan"/"ninf", so non-finite values still show.
_FAST_MATH = {"reassoc", "contract", "arcp", "nsz", "afn"}


def n_parameters(n_terms: int, group_sizes: Sequence[int]) -> int:
    """Length of the unconstrained parameter vector (``group_sizes``: levels per factor)."""
    return 1 + n_terms + sum(1 + int(size) for size in group_sizes)


def n_expanded(n_terms: int, group_sizes: Sequence[int]) -> int:
    """Length of the stored draw: intercept, beta, then per factor sigma, offsets and effects."""
    return 1 + n_terms + sum(1 + 2 * int(size) for size in group_sizes)


def pack_data(
    X_centred: np.ndarray,
    successes: np.ndarray,
    trials: np.ndarray,
    group_idx: np.ndarray,
    centred: Sequence[np.ndarray],
    beta_prior_sd: np.ndarray,
    column_means: np.ndarray,
    intercept_prior_sd: float,
    group_sd_scale: float,
    group_X: np.ndarray | None = None,
) -> np.ndarray:
    """Lay out the data and prior scales in the buffer the compiled functions read.

    Parameters
    ----------
    X_centred
        ``(rows, terms)`` predictors with every column centred at its mean.
    successes, trials
        Per row: number (or weighted number) of successes and of trials (respondents).
    group_idx
        ``(rows, factors)`` level index of each row in each grouping factor (``(rows, 0)`` for
        a pooled model).
    centred
        Per grouping factor, one flag per level: ``True`` for the centred parameterisation.
    beta_prior_sd
        Prior SD of each coefficient.
    column_means
        Means subtracted from the columns of the design (to report the reference intercept).
    intercept_prior_sd, group_sd_scale
        Prior SD of the reference intercept and half-normal scale of every group SD.
    group_X
        ``(levels of the first factor, P)`` group-level predictors, whose coefficients are the
        last ``P`` columns of ``X_centred`` (``None``: none).

    Returns
    -------
    numpy.ndarray
        One contiguous float64 array.

    Raises
    ------
    ValueError
        When ``group_idx`` does not have one column per entry of ``centred``.
    """
    n_rows, n_terms = X_centred.shape
    group_idx = np.asarray(group_idx).reshape(n_rows, -1)
    if group_idx.shape[1] != len(centred):
        raise ValueError("group_idx needs one column per grouping factor in `centred`")
    header = np.array(
        [n_rows, n_terms, len(centred), intercept_prior_sd, group_sd_scale], dtype=np.float64
    )
    parts = [
        header,
        np.asarray(X_centred, dtype=np.float64).T.ravel(),  # column after column
        np.asarray(successes, dtype=np.float64),
        np.asarray(trials, dtype=np.float64),
        group_idx.astype(np.float64).T.ravel(),  # factor after factor
        np.array([len(flags) for flags in centred], dtype=np.float64),
        *(np.asarray(flags, dtype=np.float64) for flags in centred),
        np.asarray(beta_prior_sd, dtype=np.float64),
        np.asarray(column_means, dtype=np.float64),
    ]
    group_X = np.empty((0, 0)) if group_X is None else np.asarray(group_X, dtype=np.float64)
    n_predictors = group_X.shape[1] if group_X.size else 0
    if n_predictors and (not len(centred) or group_X.shape[0] != len(centred[0])):
        raise ValueError("group_X needs one row per level of the first grouping factor")
    parts += [np.array([n_predictors], dtype=np.float64), group_X.ravel()]
    return np.ascontiguousarray(np.concatenate(parts))


@intrinsic
def _address(typingctx, array):
    """Return the data pointer of a float64 array as ``void*``."""
    from numba.core import cgutils

    signature = types.voidptr(array)

    def codegen(context, builder, sig, args):
        array_struct = context.make_array(sig.args[0])(context, builder, args[0])
        return builder.bitcast(array_struct.data, cgutils.voidptr_t)

    return signature, codegen


@intrinsic
def _shift(typingctx, pointer, n_values):
    """``pointer`` advanced by ``n_values`` float64 values."""
    signature = types.voidptr(types.voidptr, types.intp)

    def codegen(context, builder, sig, args):
        pointer_value, count = args
        return builder.gep(pointer_value, [builder.mul(count, count.type(8))])

    return signature, codegen


@numba.njit(cache=True, inline="always")
def _segment(buffer_pointer, start, length):
    return numba.carray(_shift(buffer_pointer, start), (length,), dtype=np.float64)


@numba.njit(cache=True, inline="always")
def _unpack(buffer_pointer):
    header = numba.carray(buffer_pointer, (_HEADER,), dtype=np.float64)
    n_rows, n_terms, n_factors = int(header[0]), int(header[1]), int(header[2])
    at = _HEADER
    X_columns = numba.carray(_shift(buffer_pointer, at), (n_terms, n_rows), dtype=np.float64)
    at += n_rows * n_terms
    successes = _segment(buffer_pointer, at, n_rows)
    trials = _segment(buffer_pointer, at + n_rows, n_rows)
    at += 2 * n_rows
    groups = numba.carray(_shift(buffer_pointer, at), (n_factors, n_rows), dtype=np.float64)
    at += n_factors * n_rows
    sizes = _segment(buffer_pointer, at, n_factors)
    at += n_factors
    n_levels = 0
    for f in range(n_factors):
        n_levels += int(sizes[f])
    centred = _segment(buffer_pointer, at, n_levels)
    beta_sd = _segment(buffer_pointer, at + n_levels, n_terms)
    means = _segment(buffer_pointer, at + n_levels + n_terms, n_terms)
    return header, X_columns, successes, trials, groups, sizes, centred, beta_sd, means


@numba.njit(cache=True, inline="always")
def _group_predictors(buffer_pointer, n_rows, n_terms, sizes, n_levels):
    """``(levels of the first factor, P)`` group-level predictors (``P`` may be 0)."""
    n_factors = sizes.shape[0]
    at = _HEADER + n_rows * (n_terms + 2 + n_factors) + n_factors + n_levels + 2 * n_terms
    n_predictors = int(_segment(buffer_pointer, at, 1)[0])
    n_first = int(sizes[0]) if n_predictors > 0 else 0
    return numba.carray(_shift(buffer_pointer, at + 1), (n_first, n_predictors), dtype=np.float64)


@numba.njit(cache=True, inline="always")
def _level_starts(sizes):
    """Index of each factor's first level among all levels, and of its first parameter."""
    n_factors = sizes.shape[0]
    level_start = np.empty(n_factors + 1, dtype=np.int64)
    level_start[0] = 0
    for f in range(n_factors):
        level_start[f + 1] = level_start[f] + int(sizes[f])
    return level_start


@numba.njit(cache=True, nogil=True, fastmath=_FAST_MATH)
def log_density(theta, grad, buffer_pointer):
    """Log posterior density (up to a constant) and its gradient; ``grad`` is filled in."""
    header, X_columns, successes, trials, groups, sizes, centred, beta_sd, means = _unpack(
        buffer_pointer
    )
    n_terms, n_rows = X_columns.shape
    n_factors = sizes.shape[0]
    intercept_sd, sigma_scale = header[3], header[4]
    level_start = _level_starts(sizes)
    n_levels = level_start[n_factors]
    alpha_c = theta[0]
    beta = theta[1 : 1 + n_terms]

    # per level: its contribution v to the linear predictor beyond alpha_c, and sigma per factor
    value = np.empty(max(n_levels, 1))
    sigma = np.empty(max(n_factors, 1))
    for f in range(n_factors):
        position = 1 + n_terms + f + level_start[f]  # log sigma_f; its levels follow
        sigma[f] = math.exp(theta[position])
        for j in range(int(sizes[f])):
            level = level_start[f] + j
            raw = theta[position + 1 + j]
            if centred[level]:
                value[level] = raw - alpha_c if f == 0 else raw
            else:
                value[level] = sigma[f] * raw

    # Rows go in blocks small enough to stay in cache between the forward (linear predictor)
    # and backward (gradient) passes; within a block the column loops are contiguous and
    # vectorise.
    eta = np.empty(_BLOCK)
    residual = np.empty(_BLOCK)
    residual_by_level = np.zeros(max(n_levels, 1))
    grad_beta = np.zeros(n_terms)
    residual_total = 0.0
    loglik = 0.0
    for start in range(0, n_rows, _BLOCK):
        stop = min(start + _BLOCK, n_rows)
        size = stop - start
        for i in range(size):
            eta[i] = alpha_c
        for f in range(n_factors):
            for i in range(size):
                eta[i] += value[level_start[f] + int(groups[f, start + i])]
        for k in range(n_terms):
            coefficient = beta[k]
            column = X_columns[k, start:stop]
            for i in range(size):
                eta[i] += column[i] * coefficient
        for i in range(size):
            row = start + i
            e = math.exp(-abs(eta[i]))
            # log(1 + e) rather than log1p(e): numba's log1p is ~4x slower, and for e in (0, 1]
            # the two differ by less than 1e-16 per row
            softplus = max(eta[i], 0.0) + math.log(1.0 + e)
            prob = (1.0 if eta[i] >= 0.0 else e) / (1.0 + e)
            loglik += successes[row] * eta[i] - trials[row] * softplus
            residual[i] = successes[row] - trials[row] * prob
            residual_total += residual[i]
        for f in range(n_factors):
            for i in range(size):
                residual_by_level[level_start[f] + int(groups[f, start + i])] += residual[i]
        for k in range(n_terms):
            column = X_columns[k, start:stop]
            total = 0.0
            for i in range(size):
                total += column[i] * residual[i]
            grad_beta[k] += total

    # prior on the reference intercept alpha = alpha_c - means . beta
    alpha = alpha_c
    for k in range(n_terms):
        alpha -= means[k] * beta[k]
    logp = loglik - 0.5 * (alpha / intercept_sd) ** 2 - math.log(intercept_sd) - 0.5 * _LOG_2PI
    grad_alpha_c = -alpha / intercept_sd**2 + residual_total
    for k in range(n_terms):
        scale = beta_sd[k]
        logp += -0.5 * (beta[k] / scale) ** 2 - math.log(scale) - 0.5 * _LOG_2PI
        grad[1 + k] = grad_beta[k] - beta[k] / scale**2 + means[k] * alpha / intercept_sd**2

    for f in range(n_factors):
        position = 1 + n_terms + f + level_start[f]
        log_sigma = theta[position]
        s = sigma[f]
        # half-normal prior on sigma, on the log scale (+ log-Jacobian)
        logp += math.log(2.0) - math.log(sigma_scale) - 0.5 * _LOG_2PI
        logp += -0.5 * (s / sigma_scale) ** 2 + log_sigma
        grad_log_sigma = 1.0 - (s / sigma_scale) ** 2
        for j in range(int(sizes[f])):
            level = level_start[f] + j
            raw = theta[position + 1 + j]
            residual_level = residual_by_level[level]
            if centred[level]:
                # u = raw - alpha_c (first factor) or raw (later factors), u ~ N(0, sigma^2)
                standardised = value[level] / s
                logp += -0.5 * standardised**2 - log_sigma - 0.5 * _LOG_2PI
                grad[position + 1 + j] = residual_level - standardised / s
                if f == 0:  # these rows' eta = raw + ...: it does not move with alpha_c
                    grad_alpha_c += standardised / s - residual_level
                grad_log_sigma += standardised**2 - 1.0
            else:
                logp += -0.5 * raw**2 - 0.5 * _LOG_2PI
                grad[position + 1 + j] = residual_level * s - raw
                grad_log_sigma += residual_level * s * raw
        grad[position] = grad_log_sigma
    grad[0] = grad_alpha_c
    return logp


@numba.njit(cache=True, nogil=True)
def expand(theta, out, buffer_pointer):
    r"""Write one stored draw: intercept, beta, then per factor sigma, offsets and effects.

    ``beta`` ends with the group predictors' coefficients (stored as ``<group>_gamma``), and
    the first factor's effects include :math:`w_j'\gamma`.
    """
    _, X_columns, _, _, _, sizes, centred, _, means = _unpack(buffer_pointer)
    n_terms, n_rows = X_columns.shape
    n_factors = sizes.shape[0]
    level_start = _level_starts(sizes)
    group_X = _group_predictors(buffer_pointer, n_rows, n_terms, sizes, level_start[n_factors])
    n_predictors = group_X.shape[1]
    alpha_c = theta[0]
    alpha = alpha_c
    for k in range(n_terms):
        alpha -= means[k] * theta[1 + k]
        out[1 + k] = theta[1 + k]
    out[0] = alpha
    for f in range(n_factors):
        n_f = int(sizes[f])
        position = 1 + n_terms + f + level_start[f]
        at = 1 + n_terms + f + 2 * level_start[f]  # sigma_f; offsets and effects follow
        sigma = math.exp(theta[position])
        out[at] = sigma
        for j in range(n_f):
            raw = theta[position + 1 + j]
            if centred[level_start[f] + j]:
                effect = raw - alpha_c if f == 0 else raw
            else:
                effect = sigma * raw
            out[at + 1 + j] = effect / sigma
            if f == 0:  # the group predictors' part of the effect: w_j' gamma
                for p in range(n_predictors):
                    effect += group_X[j, p] * theta[1 + n_terms - n_predictors + p]
            out[at + 1 + n_f + j] = effect


#: C signature nutpie calls for the log-density: (n_dim, x, gradient out, logp out, user data)
#: -> status (0 = ok, 3 = non-finite gradient, 4 = non-finite value), as in
#: ``nutpie.compile_pymc._make_c_logp_func``.
LOGP_SIGNATURE = types.int64(
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)
#: C signature for one stored draw: (n_dim, n_expanded, x, draw out, user data) -> status.
EXPAND_SIGNATURE = types.int64(
    types.uint64,
    types.uint64,
    types.CPointer(types.double),
    types.CPointer(types.double),
    types.voidptr,
)


@numba.cfunc(LOGP_SIGNATURE, cache=True, nogil=True)
def logp_cfunc(dim, x_pointer, grad_pointer, logp_pointer, buffer_pointer):  # pragma: no cover
    """:func:`log_density` behind nutpie's C interface; the user data is the packed buffer."""
    x = numba.carray(x_pointer, (dim,))
    grad = numba.carray(grad_pointer, (dim,))
    value = log_density(x, grad, buffer_pointer)
    logp_pointer[0] = value
    for k in range(dim):
        if not math.isfinite(grad[k]):
            return 3
    if not math.isfinite(value):
        return 4
    return 0


@numba.cfunc(EXPAND_SIGNATURE, cache=True, nogil=True)
def expand_cfunc(dim, n_out, x_pointer, out_pointer, buffer_pointer):  # pragma: no cover
    """:func:`expand` behind nutpie's C interface."""
    expand(numba.carray(x_pointer, (dim,)), numba.carray(out_pointer, (n_out,)), buffer_pointer)
    return 0


def evaluate(theta: np.ndarray, buffer: np.ndarray) -> tuple[float, np.ndarray]:
    """Log-density and gradient at ``theta`` (``theta``: unconstrained parameters, float64)."""
    grad = np.zeros(len(theta))
    value = _evaluate(np.ascontiguousarray(theta, dtype=np.float64), grad, buffer)
    return float(value), grad


def expanded_size(buffer: np.ndarray) -> int:
    """Length of one stored draw for the data packed in ``buffer``."""
    n_rows, n_terms, n_factors = (int(value) for value in buffer[:3])
    at = _HEADER + n_rows * (n_terms + 2 + n_factors)
    return n_expanded(n_terms, buffer[at : at + n_factors].astype(int).tolist())


def buffer_layout(buffer: np.ndarray) -> dict[str, np.ndarray | float]:
    """Read the packed buffer back into named NumPy views (the layout ``_unpack`` reads).

    For log-densities written outside numba (:mod:`models.log_density_jax`): ``X``
    ``(rows, terms)``, ``successes``, ``trials``, ``groups`` ``(factors, rows)`` (level index
    within each factor), ``sizes`` (levels per factor), ``centred`` (one flag per level of every
    factor), ``beta_sd``, ``means``, ``group_X`` (group predictors of the first factor's levels,
    an empty array when none), ``intercept_sd`` and ``group_sd_scale``.
    """
    n_rows, n_terms, n_factors = (int(value) for value in buffer[:3])
    at = _HEADER
    X = buffer[at : at + n_rows * n_terms].reshape(n_terms, n_rows).T
    at += n_rows * n_terms
    successes, trials = buffer[at : at + n_rows], buffer[at + n_rows : at + 2 * n_rows]
    at += 2 * n_rows
    groups = buffer[at : at + n_factors * n_rows].reshape(n_factors, n_rows).astype(np.int64)
    at += n_factors * n_rows
    sizes = buffer[at : at + n_factors].astype(np.int64)
    at += n_factors
    n_levels = int(sizes.sum())
    return {
        "X": X,
        "successes": successes,
        "trials": trials,
        "groups": groups,
        "sizes": sizes,
        "centred": buffer[at : at + n_levels] != 0.0,
        "beta_sd": buffer[at + n_levels : at + n_levels + n_terms],
        "means": buffer[at + n_levels + n_terms : at + n_levels + 2 * n_terms],
        "group_X": _group_predictor_values(buffer, at + n_levels + 2 * n_terms, sizes),
        "intercept_sd": float(buffer[3]),
        "group_sd_scale": float(buffer[4]),
    }


def _group_predictor_values(buffer: np.ndarray, at: int, sizes: np.ndarray) -> np.ndarray:
    """Read the ``(levels of the first factor, P)`` group predictors stored from ``at``."""
    n_predictors = int(buffer[at]) if at < len(buffer) else 0
    n_first = int(sizes[0]) if n_predictors else 0
    return buffer[at + 1 : at + 1 + n_first * n_predictors].reshape(n_first, n_predictors)


def expand_draw(theta: np.ndarray, buffer: np.ndarray, size: int | None = None) -> np.ndarray:
    """One stored draw from unconstrained parameters (``size``: its length, when known)."""
    if size is None:
        size = expanded_size(buffer)
    out = np.zeros(size)
    _expand(np.ascontiguousarray(theta, dtype=np.float64), out, buffer)
    return out


@numba.njit(cache=True, nogil=True)
def _evaluate(theta, grad, buffer):
    return log_density(theta, grad, _address(buffer))


@numba.njit(cache=True, nogil=True)
def value_and_grad(theta, buffer):
    """Log-density and gradient for nutpie in one call: ``-inf`` where either is not finite.

    One compiled call per gradient evaluation (no Python work around it) keeps the time nutpie
    spends holding Python's lock small, so the chains run in parallel.
    """
    grad = np.zeros(theta.shape[0])
    value = log_density(theta, grad, _address(buffer))
    finite = math.isfinite(value)
    for k in range(grad.shape[0]):
        finite = finite and math.isfinite(grad[k])
    return (value if finite else -np.inf), grad


@numba.njit(cache=True, nogil=True)
def _expand(theta, out, buffer):
    expand(theta, out, _address(buffer))


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=_FAST_MATH)
def bernoulli_pointwise(
    intercept, beta, X, group_draws, group_columns, group_x, y, uniforms, loglik, predictive
):
    r"""Per-respondent Bernoulli log-likelihoods and predictive draws, in one parallel pass.

    The linear predictor of draw :math:`d` and respondent :math:`i` is formed in the loop
    (no ``draws x respondents`` temporary):
    :math:`\eta_{di} = \alpha_d + x_i'\beta_d + \sum_t v_{d, c_{it}} z_{it}`, where ``group_draws``
    ``(draws, M)`` holds every group-level draw side by side (intercept effects, and slopes
    flattened level by level), ``group_columns`` ``(obs, T)`` the column of each of a
    respondent's ``T`` group terms and ``group_x`` ``(obs, T)`` its multiplier (1 for an
    intercept effect, the predictor's value for a slope).

    Other inputs: ``intercept`` ``(draws,)``, ``beta`` ``(draws, K)``, ``X`` ``(obs, K)``,
    ``y`` ``(obs,)`` 0/1 outcomes, ``uniforms`` ``(draws, obs)`` U(0, 1) draws. ``loglik`` gets
    :math:`y\eta - \log(1 + e^\eta)` and ``predictive`` 1 where the uniform is below
    :math:`\mathrm{logit}^{-1}(\eta)`, else 0. Draws run in parallel over numba's threads.
    """
    n_draws = intercept.shape[0]
    n_obs, n_terms = X.shape
    n_group_terms = group_columns.shape[1]
    for d in numba.prange(n_draws):
        for i in range(n_obs):
            value = intercept[d]
            for k in range(n_terms):
                value += beta[d, k] * X[i, k]
            for t in range(n_group_terms):
                value += group_draws[d, group_columns[i, t]] * group_x[i, t]
            e = math.exp(-abs(value))
            softplus = max(value, 0.0) + math.log1p(e)
            loglik[d, i] = y[i] * value - softplus
            prob = (1.0 if value >= 0.0 else e) / (1.0 + e)
            predictive[d, i] = 1 if uniforms[d, i] < prob else 0
