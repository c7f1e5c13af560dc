r"""Compiled log-density of the logistic model with correlated random slopes, for nutpie.

The posterior :func:`models.hierarchical.build_model` defines for a Bernoulli or binomial spec
with one correlated random-slopes term ``(1 + a + b | g)`` (plus, optionally, random
intercepts by other factors and group-level predictors of ``g``), written as numba functions
cached on disk, like the random-intercept log-density of :mod:`models.log_density` (whose
conventions it shares: one float64 buffer, rows that may aggregate respondents with identical
covariates and groups, the intercept sampled at the predictors' means, C callbacks for nutpie).
``tests/test_log_density_slopes.py`` compares value and gradient with the PyMC model.

The model, for row :math:`i` in level :math:`j = g(i)` of the slopes factor, with predictors
:math:`x_i` (the design's columns, indicators uncentred), the slope columns
:math:`c_1, \dots, c_K` of :math:`x_i`, and the levels :math:`h_f(i)` of other factors:

.. math::

    \eta_i &= \alpha + x_i'\beta + d_{j0} + \sum_{k=1}^K x_{i c_k} d_{jk}
        + \sum_f u_{f, h_f(i)}, \qquad
    d_j = L z_j, \quad z_j \sim \mathcal N(0, I_n), \quad n = K + 1, \\
    L &= \operatorname{diag}(\tau)\, U, \quad \Omega = U U' \sim \operatorname{LKJ}(\eta), \quad
    \tau_0 \sim \mathcal N^+(0, s_\sigma^2), \quad \tau_k \sim \mathcal N^+(0, s_\tau^2)
        \ (k \ge 1),

with :math:`\alpha \sim \mathcal N(0, s_\alpha^2)`, :math:`\beta_k \sim \mathcal N(0, s_k^2)`
and the other factors' :math:`u_{fh} \sim \mathcal N(0, \sigma_f^2)`,
:math:`\sigma_f \sim \mathcal N^+(0, s_\sigma^2)`, exactly as in the PyMC model
(``pm.LKJCholeskyCov`` with ``sd_dist`` the half-normals above, ``compute_corr=True``; its
stored ``<g>_sigma`` is :math:`\tau_0`, ``<g>_slope_sigma`` is :math:`\tau_{1..K}`,
``<g>_corr`` is :math:`\Omega`, ``<g>_effect`` is :math:`d_{j0}` and ``<g>_slope`` is
:math:`d_{j,1..K}`). Group-level predictors :math:`w_j` of :math:`g` enter as extra columns
:math:`w_{g(i)}` of :math:`x_i` whose coefficients, the last :math:`P` entries of
:math:`\beta`, are ``<g>_gamma`` (:math:`\gamma \sim \mathcal N(0, 1)`); the stored effect is
:math:`w_j'\gamma + d_{j0}`, as in the PyMC model.

Unconstrained parameters, in order:

* :math:`\alpha_c = \alpha + \bar x'\beta` (the log-odds at the predictors' means; the prior
  :math:`\mathcal N(0, s_\alpha^2)` is on :math:`\alpha = \alpha_c - \bar x'\beta`, a linear map
  with unit Jacobian, as the PyMC model's ``intercept_at_means`` does); then :math:`\beta`.
* :math:`\log\tau_0, \dots, \log\tau_K` (each with its log-Jacobian).
* for each row :math:`r = 1, \dots, K` of :math:`U`, a vector :math:`y_r \in \mathbb R^r`:
  :math:`U_r = (y_r, 1) / \sqrt{1 + |y_r|^2}` (row 0 is :math:`(1)`). Each row of a
  correlation Cholesky factor is a unit vector with a positive last entry, and this map (the
  central projection of the hemisphere onto the plane) is a smooth bijection onto them.
* :math:`z_j` for every level, level after level (``<g>_offset``, dims ``(g, effect)``).
* per other factor: :math:`\log\sigma_f`, then per level :math:`z` (non-centred,
  :math:`u = \sigma_f z`) or :math:`u` itself (centred; see :mod:`models.parameterisation`).

Why this parameterisation of :math:`L`, and why it is the same posterior. PyMC samples the
packed :math:`L` with a log-transformed diagonal; with a slope SD near zero, the off-diagonal
entries of that row must shrink with it on a linear scale, which is a funnel. Here
:math:`(\tau, U)` are separate, and :math:`\tau` is on the log scale. PyMC's density of
:math:`L` is, by construction (``_LKJCholeksyCovRV_logp``: the LKJ density of :math:`U`,
the half-normal density of :math:`\tau` and the Jacobian of :math:`L \mapsto (\tau, U)`),
the product of independent priors on :math:`\tau` and on the strictly lower entries
:math:`u_r \in \mathbb R^r` of :math:`U`. The LKJ density in the latter coordinates is
:math:`\prod_{r \ge 1} U_{rr}^{n - r - 1 + 2\eta - 2}` (Lewandowski, Kurowicka and Joe 2009;
the Stan reference manual's Cholesky LKJ density). The map :math:`y_r \mapsto u_r = y_r / q_r`,
:math:`q_r = \sqrt{1 + |y_r|^2}`, is radial with Jacobian determinant
:math:`q_r^{-(r - 1)} \cdot q_r^{-3} = U_{rr}^{r + 2}`, and :math:`U_{rr} = 1 / q_r`. The prior
on :math:`y_r` is therefore

.. math::

    p(y_r) \propto U_{rr}^{n - r - 1 + 2\eta - 2 + r + 2} = (1 + |y_r|^2)^{-(n + 2\eta - 1) / 2},

a multivariate :math:`t` shape (for :math:`n = 2`: :math:`\rho = y / \sqrt{1 + y^2}` and
:math:`(1 - \rho^2)^{\eta - 1} |d\rho / dy| = (1 + y^2)^{-(\eta + 1/2)}`). With
:math:`\log p(\tau_k) + \log\tau_k` for the SDs, this is the PyMC model's posterior in other
coordinates; the log-density below leaves out constants (the LKJ normalising constant among
them). ``tests/test_log_density_slopes.py`` checks it against ``model.compile_logp()``, with
the log-determinant of the Jacobian between the two coordinate systems computed numerically.

Rows carry a (weighted) success count :math:`s_i` and trial count :math:`t_i`; the
log-likelihood is :math:`\sum_i s_i \eta_i - t_i \log(1 + e^{\eta_i})`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np

from models.log_density import (
    _BLOCK,
    _FAST_MATH,
    _LOG_2PI,
    EXPAND_SIGNATURE,
    LOGP_SIGNATURE,
    _address,
    _level_starts,
    _segment,
    _shift,
)

#: n_rows, n_terms, n_factors (other than the slopes factor), n_slopes, levels of the slopes
#: factor, n_group_predictors, intercept prior sd, group sd scale, slope sd scale, LKJ eta
_HEADER = 10


def n_parameters(
    n_terms: int, n_slopes: int, n_levels: int, group_sizes: Sequence[int] = ()
) -> int:
    """Length of the unconstrained parameter vector.

    ``n_slopes``: slope columns; ``n_levels``: levels of the slopes factor; ``group_sizes``:
    levels of each other (random-intercept) factor.
    """
    n = n_slopes + 1
    return 1 + n_terms + n + n * (n - 1) // 2 + n_levels * n + sum(1 + int(s) for s in group_sizes)


def n_expanded(n_terms: int, n_slopes: int, n_levels: int, group_sizes: Sequence[int] = ()) -> int:
    """Length of one stored draw (see :func:`expanded_names`)."""
    n = n_slopes + 1
    slopes_part = 1 + n * (n + 1) // 2 + n_levels * n + n + n * n + n_levels * n
    return 1 + n_terms + slopes_part + sum(1 + 2 * int(s) for s in group_sizes)


def expanded_names(group: str, other_groups: Sequence[str], n_predictors: int) -> list[str]:
    """Names of the stored variables, in the order :func:`expand` writes them.

    ``intercept``, ``beta``, (``<g>_gamma``), ``intercept_at_means``, ``<g>_chol`` (the packed
    Cholesky factor of the covariance, row by row, as PyMC stores it), ``<g>_offset``,
    ``<g>_sigma``, ``<g>_slope_sigma``, ``<g>_corr``, ``<g>_effect``, ``<g>_slope``, then
    ``<f>_sigma``, ``<f>_offset``, ``<f>_effect`` per other factor.
    """
    names = ["intercept", "beta"] + ([f"{group}_gamma"] if n_predictors else [])
    names += ["intercept_at_means", f"{group}_chol", f"{group}_offset", f"{group}_sigma"]
    names += [f"{group}_slope_sigma", f"{group}_corr", f"{group}_effect", f"{group}_slope"]
    for name in other_groups:
        names += [f"{name}_sigma", f"{name}_offset", f"{name}_effect"]
    return names


def pack_data(
    X_centred: np.ndarray,
    successes: np.ndarray,
    trials: np.ndarray,
    slope_idx: np.ndarray,
    n_levels: int,
    slope_columns: Sequence[int],
    group_idx: np.ndarray,
    centred: Sequence[np.ndarray],
    beta_prior_sd: np.ndarray,
    column_means: np.ndarray,
    priors: tuple[float, float, float, float],
    group_X: np.ndarray | None = None,
) -> np.ndarray:
    """Lay out the data and prior scales in the buffer the compiled functions read.

    Parameters
    ----------
    X_centred
        ``(rows, terms)`` predictors, every column centred at its mean (group predictors'
        columns last).
    successes, trials
        Per row: (weighted) number of successes and of trials.
    slope_idx, n_levels
        Level of each row in the slopes factor, and its number of levels.
    slope_columns
        Columns of ``X_centred`` whose slopes vary by the slopes factor.
    group_idx, centred
        ``(rows, factors)`` levels of the other factors, and per factor one centred flag per
        level.
    beta_prior_sd, column_means
        Prior SD of each coefficient; means subtracted from the columns.
    priors
        Intercept prior SD, half-normal scale of the intercept SDs, of the slope SDs, LKJ eta.
    group_X
        ``(n_levels, P)`` group-level predictors (the last ``P`` columns); ``None``: none.

    Returns
    -------
    numpy.ndarray
        One contiguous float64 array.
    """
    n_rows, n_terms = X_centred.shape
    group_idx = np.asarray(group_idx).reshape(n_rows, -1)
    if group_idx.shape[1] != len(centred):
        raise ValueError("group_idx needs one column per grouping factor in `centred`")
    group_X = np.empty((n_levels, 0)) if group_X is None else np.asarray(group_X, float)
    if group_X.shape[0] != n_levels:
        raise ValueError("group_X needs one row per level of the slopes factor")
    header = [n_rows, n_terms, len(centred), len(slope_columns), n_levels, group_X.shape[1]]
    parts = [
        np.array([*header, *priors], dtype=np.float64),
        np.asarray(X_centred, dtype=np.float64).T.ravel(),
        np.asarray(successes, dtype=np.float64),
        np.asarray(trials, dtype=np.float64),
        np.asarray(slope_idx, dtype=np.float64),
        group_idx.astype(np.float64).T.ravel(),
        np.asarray(slope_columns, dtype=np.float64),
        np.array([len(flags) for flags in centred], dtype=np.float64),
        *(np.asarray(flags, dtype=np.float64) for flags in centred),
        np.asarray(beta_prior_sd, dtype=np.float64),
        np.asarray(column_means, dtype=np.float64),
        group_X.ravel(),
    ]
    return np.ascontiguousarray(np.concatenate(parts))


@numba.njit(cache=True, inline="always")
def _unpack(buffer_pointer):
    header = numba.carray(buffer_pointer, (_HEADER,), dtype=np.float64)
    n_rows, n_terms, n_factors = int(header[0]), int(header[1]), int(header[2])
    n_slopes, n_levels, n_predictors = int(header[3]), int(header[4]), int(header[5])
    at = _HEADER
    X_columns = numba.carray(_shift(buffer_pointer, at), (n_terms, n_rows), dtype=np.float64)
    at += n_rows * n_terms
    successes = _segment(buffer_pointer, at, n_rows)
    trials = _segment(buffer_pointer, at + n_rows, n_rows)
    slope_idx = _segment(buffer_pointer, at + 2 * n_rows, n_rows)
    at += 3 * n_rows
    groups = numba.carray(_shift(buffer_pointer, at), (n_factors, n_rows), dtype=np.float64)
    at += n_factors * n_rows
    slope_columns = _segment(buffer_pointer, at, n_slopes)
    sizes = _segment(buffer_pointer, at + n_slopes, n_factors)
    at += n_slopes + n_factors
    n_other = 0
    for f in range(n_factors):
        n_other += int(sizes[f])
    centred = _segment(buffer_pointer, at, n_other)
    beta_sd = _segment(buffer_pointer, at + n_other, n_terms)
    means = _segment(buffer_pointer, at + n_other + n_terms, n_terms)
    at += n_other + 2 * n_terms
    group_X = numba.carray(_shift(buffer_pointer, at), (n_levels, n_predictors), dtype=np.float64)
    data = (X_columns, successes, trials, slope_idx, groups, slope_columns, sizes, centred)
    return header, data, beta_sd, means, group_X


@numba.njit(cache=True, inline="always")
def _correlation_factor(theta, at, n):
    """``U`` (lower triangular, unit rows) and ``q`` (row norms of ``(y_r, 1)``) from ``theta``."""
    U = np.zeros((n, n))
    q = np.ones(n)
    U[0, 0] = 1.0
    position = at
    for r in range(1, n):
        squares = 1.0
        for e in range(r):
            squares += theta[position + e] ** 2
        q[r] = math.sqrt(squares)
        for e in range(r):
            U[r, e] = theta[position + e] / q[r]
        U[r, r] = 1.0 / q[r]
        position += r
    return U, q


@numba.njit(cache=True, inline="always")
def _slope_column_value(X_columns, means, column, row):
    """Return the uncentred value of a slope column: slopes multiply ``x``, not ``x - mean``."""
    return X_columns[column, row] + means[column]


@numba.njit(cache=True, inline="always")
def _deviations(theta, at_z, n_levels, tau, U):
    r"""``(levels, n)`` deviations :math:`d_j = \operatorname{diag}(\tau) U z_j` of each level."""
    n = tau.shape[0]
    deviation = np.zeros((max(n_levels, 1), n))
    for j in range(n_levels):
        for r in range(n):
            total = 0.0
            for e in range(r + 1):
                total += U[r, e] * theta[at_z + j * n + e]
            deviation[j, r] = tau[r] * total
    return deviation


@numba.njit(cache=True, nogil=True, fastmath=_FAST_MATH)
def log_density(theta, grad, buffer_pointer):
    """Log posterior density (up to a constant) and its gradient; ``grad`` is filled in."""
    header, data, beta_sd, means, _ = _unpack(buffer_pointer)
    X_columns, successes, trials, slope_idx, groups, slope_columns, sizes, centred = data
    n_terms, n_rows = X_columns.shape
    n_slopes, n_levels = slope_columns.shape[0], int(header[4])
    n = n_slopes + 1
    n_factors = sizes.shape[0]
    intercept_sd, sigma_scale, slope_scale, eta_lkj = header[6], header[7], header[8], header[9]
    alpha_c = theta[0]
    beta = theta[1 : 1 + n_terms]
    at_tau = 1 + n_terms
    at_y = at_tau + n
    at_z = at_y + n * (n - 1) // 2
    at_other = at_z + n_levels * n

    tau = np.empty(n)
    for e in range(n):
        tau[e] = math.exp(theta[at_tau + e])
    U, q = _correlation_factor(theta, at_y, n)
    # deviations d_j = diag(tau) U z_j: intercept (e = 0) and slopes (e >= 1) of level j
    deviation = _deviations(theta, at_z, n_levels, tau, U)

    level_start = _level_starts(sizes)
    n_other = level_start[n_factors]
    value = np.empty(max(n_other, 1))
    sigma = np.empty(max(n_factors, 1))
    for f in range(n_factors):
        position = at_other + f + level_start[f]
        sigma[f] = math.exp(theta[position])
        for j in range(int(sizes[f])):
            raw = theta[position + 1 + j]
            value[level_start[f] + j] = raw if centred[level_start[f] + j] else sigma[f] * raw

    eta = np.empty(_BLOCK)
    residual = np.empty(_BLOCK)
    residual_by_level = np.zeros(max(n_other, 1))
    # d loglik / d deviation[j, e]: residuals of level j, times the slope column for e >= 1
    score = np.zeros((max(n_levels, 1), n))
    grad_beta = np.zeros(n_terms)
    residual_total = 0.0
    loglik = 0.0
    for start in range(0, n_rows, _BLOCK):
        stop = min(start + _BLOCK, n_rows)
        size = stop - start
        for i in range(size):
            row = start + i
            j = int(slope_idx[row])
            linear = alpha_c + deviation[j, 0]
            for k in range(n_slopes):
                column = int(slope_columns[k])
                linear += _slope_column_value(X_columns, means, column, row) * deviation[j, 1 + k]
            eta[i] = linear
        for f in range(n_factors):
            for i in range(size):
                eta[i] += value[level_start[f] + int(groups[f, start + i])]
        for k in range(n_terms):
            coefficient = beta[k]
            column_values = X_columns[k, start:stop]
            for i in range(size):
                eta[i] += column_values[i] * coefficient
        for i in range(size):
            row = start + i
            e = math.exp(-abs(eta[i]))
            softplus = max(eta[i], 0.0) + math.log(1.0 + e)
            prob = (1.0 if eta[i] >= 0.0 else e) / (1.0 + e)
            loglik += successes[row] * eta[i] - trials[row] * softplus
            residual[i] = successes[row] - trials[row] * prob
            residual_total += residual[i]
        for i in range(size):
            row = start + i
            j = int(slope_idx[row])
            score[j, 0] += residual[i]
            for k in range(n_slopes):
                column = int(slope_columns[k])
                score[j, 1 + k] += residual[i] * _slope_column_value(X_columns, means, column, row)
        for f in range(n_factors):
            for i in range(size):
                residual_by_level[level_start[f] + int(groups[f, start + i])] += residual[i]
        for k in range(n_terms):
            column_values = X_columns[k, start:stop]
            total = 0.0
            for i in range(size):
                total += column_values[i] * residual[i]
            grad_beta[k] += total

    # the reference intercept alpha = alpha_c - means . beta and the coefficients
    alpha = alpha_c
    for k in range(n_terms):
        alpha -= means[k] * beta[k]
    logp = loglik - 0.5 * (alpha / intercept_sd) ** 2 - math.log(intercept_sd) - 0.5 * _LOG_2PI
    grad[0] = -alpha / intercept_sd**2 + residual_total
    for k in range(n_terms):
        scale = beta_sd[k]
        logp += -0.5 * (beta[k] / scale) ** 2 - math.log(scale) - 0.5 * _LOG_2PI
        grad[1 + k] = grad_beta[k] - beta[k] / scale**2 + means[k] * alpha / intercept_sd**2

    # SDs: half-normal on tau_e, on the log scale (+ log-Jacobian)
    for e in range(n):
        scale = sigma_scale if e == 0 else slope_scale
        logp += math.log(2.0) - math.log(scale) - 0.5 * _LOG_2PI
        logp += -0.5 * (tau[e] / scale) ** 2 + theta[at_tau + e]
        total = 0.0
        for j in range(n_levels):
            total += score[j, e] * deviation[j, e]
        grad[at_tau + e] = 1.0 - (tau[e] / scale) ** 2 + total

    # offsets z_j ~ N(0, I); d deviation[j, r] / d z[j, e] = tau_r U[r, e] for r >= e
    for j in range(n_levels):
        for e in range(n):
            z = theta[at_z + j * n + e]
            logp += -0.5 * z * z - 0.5 * _LOG_2PI
            total = 0.0
            for r in range(e, n):
                total += score[j, r] * tau[r] * U[r, e]
            grad[at_z + j * n + e] = total - z

    # correlation rows: prior (1 + |y_r|^2)^(-(n + 2 eta - 1) / 2), and the chain rule through
    # U_r = (y_r, 1) / q_r: dU[r, e] / dy[r, a] = delta_ea / q_r - U[r, e] y_a / q_r^2
    power = n + 2.0 * eta_lkj - 1.0
    position = at_y
    for r in range(1, n):
        logp -= power * math.log(q[r])
        # d loglik / d U[r, e] = tau_r sum_j score[j, r] z[j, e]
        along = 0.0  # sum_e dU[r, e] * U[r, e]
        d_U = np.empty(r + 1)
        for e in range(r + 1):
            total = 0.0
            for j in range(n_levels):
                total += score[j, r] * theta[at_z + j * n + e]
            d_U[e] = tau[r] * total
            along += d_U[e] * U[r, e]
        for a in range(r):
            y = theta[position + a]
            grad[position + a] = d_U[a] / q[r] - (along + power) * y / q[r] ** 2
        position += r

    # other factors: u = sigma z (non-centred) or u itself (centred), u ~ N(0, sigma^2)
    for f in range(n_factors):
        position = at_other + f + level_start[f]
        log_sigma = theta[position]
        s = sigma[f]
        logp += math.log(2.0) - math.log(sigma_scale) - 0.5 * _LOG_2PI
        logp += -0.5 * (s / sigma_scale) ** 2 + log_sigma
        grad_log_sigma = 1.0 - (s / sigma_scale) ** 2
        for j in range(int(sizes[f])):
            level = level_start[f] + j
            raw = theta[position + 1 + j]
            residual_level = residual_by_level[level]
            if centred[level]:
                standardised = raw / s
                logp += -0.5 * standardised**2 - log_sigma - 0.5 * _LOG_2PI
                grad[position + 1 + j] = residual_level - standardised / s
                grad_log_sigma += standardised**2 - 1.0
            else:
                logp += -0.5 * raw**2 - 0.5 * _LOG_2PI
                grad[position + 1 + j] = residual_level * s - raw
                grad_log_sigma += residual_level * s * raw
        grad[position] = grad_log_sigma
    return logp


@numba.njit(cache=True, nogil=True)
def expand(theta, out, buffer_pointer):
    """Write one stored draw in the order of :func:`expanded_names`."""
    header, data, _, means, group_X = _unpack(buffer_pointer)
    X_columns, _, _, _, _, slope_columns, sizes, centred = data
    n_terms = X_columns.shape[0]
    n_slopes, n_levels, n_predictors = slope_columns.shape[0], int(header[4]), int(header[5])
    n = n_slopes + 1
    n_factors = sizes.shape[0]
    at_tau = 1 + n_terms
    at_y = at_tau + n
    at_z = at_y + n * (n - 1) // 2
    at_other = at_z + n_levels * n
    alpha = theta[0]
    for k in range(n_terms):
        alpha -= means[k] * theta[1 + k]
        out[1 + k] = theta[1 + k]
    out[0] = alpha
    at = 1 + n_terms
    out[at] = theta[0]  # intercept_at_means
    at += 1
    tau = np.empty(n)
    for e in range(n):
        tau[e] = math.exp(theta[at_tau + e])
    U, _ = _correlation_factor(theta, at_y, n)
    for r in range(n):  # packed Cholesky factor of the covariance, row by row
        for e in range(r + 1):
            out[at] = tau[r] * U[r, e]
            at += 1
    for j in range(n_levels):
        for e in range(n):
            out[at] = theta[at_z + j * n + e]
            at += 1
    for e in range(n):  # <g>_sigma, then <g>_slope_sigma
        out[at] = tau[e]
        at += 1
    for r in range(n):  # correlation U U'
        for c in range(n):
            total = 0.0
            for e in range(min(r, c) + 1):
                total += U[r, e] * U[c, e]
            out[at] = total
            at += 1
    deviation = _deviations(theta, at_z, n_levels, tau, U)
    for j in range(n_levels):  # effects: w_j' gamma + d_j0
        effect = deviation[j, 0]
        for p in range(n_predictors):
            effect += group_X[j, p] * theta[1 + n_terms - n_predictors + p]
        out[at] = effect
        at += 1
    for j in range(n_levels):
        for k in range(n_slopes):
            out[at] = deviation[j, 1 + k]
            at += 1
    level_start = _level_starts(sizes)
    for f in range(n_factors):
        n_f = int(sizes[f])
        position = at_other + f + level_start[f]
        sigma = math.exp(theta[position])
        out[at] = sigma
        for j in range(n_f):
            raw = theta[position + 1 + j]
            effect = raw if centred[level_start[f] + j] else sigma * raw
            out[at + 1 + j] = effect / sigma
            out[at + 1 + n_f + j] = effect
        at += 1 + 2 * n_f


# numba caches a C callback only when it calls a module-level function, so each log-density
# module carries its own pair of callbacks and NumPy wrappers (as models/log_density.py does).
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
    """Log-density and gradient at ``theta`` (unconstrained parameters, float64)."""
    grad = np.zeros(len(theta))
    value = _evaluate(np.ascontiguousarray(theta, dtype=np.float64), grad, buffer)
    return float(value), grad


def expanded_size(buffer: np.ndarray) -> int:
    """Length of one stored draw for the data packed in ``buffer``."""
    n_rows, n_terms, n_factors, n_slopes, n_levels = (int(v) for v in buffer[:5])
    at = _HEADER + n_rows * (n_terms + 3 + n_factors) + n_slopes
    sizes = buffer[at : at + n_factors].astype(int).tolist()
    return n_expanded(n_terms, n_slopes, n_levels, sizes)


def expand_draw(theta: np.ndarray, buffer: np.ndarray, size: int | None = None) -> np.ndarray:
    """One stored draw from unconstrained parameters (``size``: its length, when known)."""
    out = np.zeros(expanded_size(buffer) if size is None else size)
    _expand(np.ascontiguousarray(theta, dtype=np.float64), out, buffer)
    return out


@numba.njit(cache=True, nogil=True)
def _evaluate(theta, grad, buffer):
    return log_density(theta, grad, _address(buffer))


@numba.njit(cache=True, nogil=True)
def value_and_grad(theta, buffer):
    """Log-density and gradient for nutpie in one call: ``-inf`` where either is not finite."""
    grad = np.zeros(theta.shape[0])
    value = log_density(theta, grad, _address(buffer))
    finite = math.isfinite(value)
    for k in range(grad.shape[0]):
        finite = finite and math.isfinite(grad[k])
    return (value if finite else -np.inf), grad


@numba.njit(cache=True, nogil=True)
def _expand(theta, out, buffer):
    expand(theta, out, _address(buffer))
