"""Sample the random-intercept logistic model with nutpie on the compiled log-density.

:func:`sample_kernel` returns the same ``InferenceData`` layout as the PyMC route in
:mod:`models.sampling` (variables ``intercept``, ``beta``, ``<group>_sigma``,
``<group>_offset``, ``<group>_effect`` with the same dims), so everything downstream reads
either. Pointwise log-likelihood and posterior predictive draws are computed here in NumPy from
the draws and the respondent-level design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from nutpie import _lib
from nutpie.sample import CompiledModel
from nutpie.sample import sample as nutpie_sample

from models import kernel
from models.aggregation import aggregate_rows
from models.design import Design
from models.parameterisation import centred_groups
from models.sampling import SamplerSettings
from models.spec import ModelSpec

#: Largest draws x respondents for which the pointwise groups are stored (int8/float32: ~250 MB).
POINTWISE_LIMIT = 50_000_000
#: Fewest retained draws (all chains) for which thinned pointwise groups are still worth storing.
MIN_POINTWISE_DRAWS = 400


def pointwise_thinning(n_obs: int, chains: int, draws: int, limit: int | None = None) -> int:
    """Keep every k-th draw in the pointwise groups so that respondents x draws fit ``limit``.

    ``limit`` defaults to :data:`POINTWISE_LIMIT`. Returns ``k`` (1: every draw), or 0 when
    even the thinned groups would keep fewer than :data:`MIN_POINTWISE_DRAWS` draws (then they
    are not stored at all).
    """
    limit = POINTWISE_LIMIT if limit is None else limit
    thin = max(1, -(-n_obs * chains * draws // limit))
    return thin if chains * len(range(0, draws, thin)) >= MIN_POINTWISE_DRAWS else 0


def kernel_supports(spec: ModelSpec) -> bool:
    """Whether the compiled log-density covers ``spec`` (pooled or ``(1 | group)`` only)."""
    return not spec.group_slopes and not spec.group_predictors


@dataclass(frozen=True)
class KernelProblem:
    """Everything the compiled functions need, plus the labels of the stored draws."""

    buffer: np.ndarray
    n_terms: int
    n_groups: int
    centred: np.ndarray
    n_rows: int
    start_intercept: float
    var_names: list[str]
    var_shapes: list[tuple[int, ...]]
    dims: dict[str, tuple[str, ...]]
    coords: dict[str, pd.Index]

    @property
    def n_dim(self) -> int:
        """Number of unconstrained parameters."""
        return kernel.n_parameters(self.n_terms, self.n_groups)


def prepare_kernel(
    design: Design, spec: ModelSpec, parameterisation: str = "auto", aggregate: bool = True
) -> KernelProblem:
    """Pack a design for the compiled log-density.

    Parameters
    ----------
    design, spec
        As for :func:`models.hierarchical.build_model`; ``spec`` must pass
        :func:`kernel_supports`.
    parameterisation
        ``"auto"``, ``"centred"`` or ``"non_centred"`` (see :mod:`models.parameterisation`).
    aggregate
        Collapse respondents with identical covariates in the same group (exact).
    """
    if not kernel_supports(spec):
        raise ValueError(f"model {spec.name!r} has random slopes or group predictors")
    weights = design.weights if spec.weighted_likelihood else np.ones(len(design.y))
    n_groups = len(design.group_levels) if spec.group else 0
    group_idx = design.group_idx if spec.group else np.zeros(len(design.y), dtype=np.int64)
    column_means = design.X.mean(axis=0)
    X_centred = design.X - column_means
    if aggregate:
        rows = aggregate_rows(X_centred, design.y.astype(float), weights, group_idx)
        X_rows, successes, trials, row_groups = rows.X, rows.successes, rows.trials, rows.group_idx
    else:
        X_rows, successes, trials, row_groups = X_centred, weights * design.y, weights, group_idx
    centred = (
        centred_groups(X_rows, successes, trials, row_groups, n_groups, parameterisation)
        if n_groups
        else np.zeros(0, dtype=bool)
    )
    priors = spec.priors
    buffer = kernel.pack_data(
        X_rows,
        successes,
        trials,
        row_groups,
        centred,
        priors.coefficient_sd / design.term_scales,
        column_means,
        priors.intercept_sd,
        priors.group_sd_scale,
    )
    share = float(np.clip(successes.sum() / trials.sum(), 0.01, 0.99))
    names, shapes = ["intercept", "beta"], [(), (len(design.terms),)]
    dims: dict[str, tuple[str, ...]] = {"beta": ("term",)}
    coords = {"term": pd.Index(design.terms)}
    if n_groups:
        group = spec.group
        names += [f"{group}_sigma", f"{group}_offset", f"{group}_effect"]
        shapes += [(), (n_groups,), (n_groups,)]
        dims.update({f"{group}_offset": (group,), f"{group}_effect": (group,)})
        coords[group] = pd.Index(design.group_levels)
    return KernelProblem(
        buffer=buffer,
        n_terms=len(design.terms),
        n_groups=n_groups,
        centred=centred,
        n_rows=len(trials),
        start_intercept=float(np.log(share / (1.0 - share))),
        var_names=names,
        var_shapes=shapes,
        dims=dims,
        coords=coords,
    )


@dataclass(frozen=True)
class CompiledKernelModel(CompiledModel):
    """A nutpie model whose log-density and draw expansion are the cached numba cfuncs."""

    problem: KernelProblem

    @property
    def n_dim(self) -> int:
        """Number of unconstrained parameters."""
        return self.problem.n_dim

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of each stored variable."""
        return dict(zip(self.problem.var_names, self.problem.var_shapes, strict=True))

    @property
    def coords(self) -> dict[str, pd.Index]:
        """Coordinates of the stored variables' dims."""
        return self.problem.coords

    def initial_point(self, seed: int) -> np.ndarray:
        """Start near the overall log-odds with PyMC-style uniform(-1, 1) jitter."""
        problem = self.problem
        start = np.random.default_rng(seed).uniform(-1.0, 1.0, problem.n_dim)
        start[0] += problem.start_intercept
        if problem.n_groups:
            raw = start[2 + problem.n_terms :]
            raw[problem.centred] += problem.start_intercept
        return start

    def _make_model(self, init_mean: Any) -> Any:
        problem = self.problem
        n_expanded = kernel.n_expanded(problem.n_terms, problem.n_groups)
        address = problem.buffer.ctypes.data
        expand_fn = _lib.ExpandFunc(
            problem.n_dim, n_expanded, kernel.expand_cfunc.address, address, self
        )
        logp_fn = _lib.LogpFunc(kernel.logp_cfunc.address, address, self)
        dim_sizes = {name: len(values) for name, values in problem.coords.items()}
        variables = _lib.PyVariable.new_variables(
            problem.var_names,
            ["float64"] * len(problem.var_names),
            problem.var_shapes,
            dim_sizes,
            problem.dims,
        )
        return _lib.PyMcModel(
            logp_fn,
            expand_fn,
            variables,
            problem.n_dim,
            dim_sizes,
            dict(problem.coords),
            self.initial_point,
            None,
        )

    def _make_sampler(self, settings, init_mean, cores, progress_type, store):
        return _lib.PySampler.from_pymc(
            settings, cores, self._make_model(init_mean), progress_type, store
        )


def pointwise_groups(
    posterior: Any, design: Design, spec: ModelSpec, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise Bernoulli log-likelihood and posterior predictive draws per respondent.

    Returns
    -------
    log_likelihood, predictive
        Arrays ``(chain, draw, obs)`` of float32 and int8.
    """
    intercept = posterior["intercept"].to_numpy()
    beta = posterior["beta"].to_numpy()
    n_chains, n_draws = intercept.shape
    loglik = np.empty((n_chains, n_draws, len(design.y)), dtype=np.float32)
    predictive = np.empty_like(loglik, dtype=np.int8)
    effect = posterior[f"{spec.group}_effect"].to_numpy() if spec.group else None
    rng = np.random.default_rng(seed)
    for chain in range(n_chains):
        eta = intercept[chain][:, None] + beta[chain] @ design.X.T
        if effect is not None:
            eta += effect[chain][:, design.group_idx]
        softplus = np.logaddexp(0.0, eta)
        loglik[chain] = design.y * eta - softplus
        predictive[chain] = rng.random(eta.shape) < np.exp(eta - softplus)
    return loglik, predictive


def sample_kernel(
    design: Design,
    spec: ModelSpec,
    settings: SamplerSettings,
    pointwise: bool = True,
) -> tuple[az.InferenceData, dict[str, Any]]:
    """Draw the posterior of a random-intercept (or pooled) logistic spec with nutpie.

    ``settings`` gives chains, draws, warm-up, seed, target acceptance, progress bar,
    parameterisation and aggregation (its ``sampler`` field is not read).

    Returns
    -------
    idata
        Groups ``posterior``, ``sample_stats``, ``observed_data``, ``log_likelihood`` and
        ``posterior_predictive``. When respondents x draws exceed :data:`POINTWISE_LIMIT`, the
        last two keep every k-th draw (``pointwise_thinning`` = k; their ``draw`` coordinate
        names the posterior draws kept); they are left out when fewer than
        :data:`MIN_POINTWISE_DRAWS` draws would remain (``pointwise_stored`` = 0).
    details
        How the kernel was set up (rows after aggregation, centred groups, pointwise thinning),
        for provenance.

    ``pointwise=False`` skips the pointwise groups (simulation studies need only the posterior).
    """
    problem = prepare_kernel(design, spec, settings.parameterisation, settings.aggregate)
    idata = nutpie_sample(
        CompiledKernelModel(dims=problem.dims, problem=problem), **settings.nutpie_arguments()
    )
    thin = pointwise_thinning(len(design.y), settings.chains, settings.draws) if pointwise else 0
    obs = {"obs": np.arange(len(design.y))}
    groups = {"observed_data": xr.Dataset({spec.outcome: ("obs", design.y)}, coords=obs)}
    if thin:
        kept = idata.posterior.isel(draw=slice(None, None, thin))
        loglik, predictive = pointwise_groups(kept, design, spec, settings.seed)
        coords = {"chain": kept.chain, "draw": kept.draw, **obs}
        for group, values in (("log_likelihood", loglik), ("posterior_predictive", predictive)):
            variable = {spec.outcome: (("chain", "draw", "obs"), values)}
            groups[group] = xr.Dataset(variable, coords=coords)
    idata.add_groups(groups)
    details = {
        "kernel_rows": problem.n_rows,
        "kernel_centred_groups": int(problem.centred.sum()),
        "kernel_groups": problem.n_groups,
        "pointwise_stored": int(thin > 0),
        "pointwise_thinning": thin,
    }
    return idata, details
