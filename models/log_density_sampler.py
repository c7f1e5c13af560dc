"""Sample logistic and binomial models with nutpie on the compiled log-densities.

Random intercepts (and group predictors) go to :mod:`models.log_density`, correlated random
slopes to :mod:`models.log_density_slopes`; both are packed by :func:`prepare_problem` and
reached through the same routes.

nutpie is reached without its private ``nutpie._lib`` module, by one of two routes:

* **C callbacks** (the fast route). nutpie's own numba backend hands the sampler a
  ``nutpie.compile_pymc.CompiledPyMCModel`` that holds two ``numba.cfunc`` callbacks and a
  pointer to their data; the sampler's threads call them directly, with no Python in the loop.
  :func:`callback_model` builds that class around the kernel module's ``logp_cfunc`` and
  ``expand_cfunc`` (e.g. :data:`models.log_density.logp_cfunc`), with the packed data as the
  user data. It is used when the class has exactly the fields this module fills
  (:data:`CALLBACK_FIELDS`, checked at run time and by ``tests/test_log_density.py``).
* **``from_pyfunc``**, nutpie's public entry point for user-written log-densities (the one its
  JAX backend uses): nutpie calls a small Python function per gradient, which hands the work to
  the same numba function. Equally exact, but each call takes Python's lock (about 50 us per
  gradient here), so it is the fallback when the class above has changed.
* **JAX** (``SAMPLER=jax``): the same ``from_pyfunc`` entry point around the same log-density
  written in JAX (:mod:`models.log_density_jax`), on whatever device JAX sees (a GPU when
  there is one); random intercepts only.

:func:`sample_compiled` returns the same ``InferenceData`` layout as the PyMC route in
:mod:`models.sampling` (variables ``intercept``, ``beta``, ``<group>_sigma``,
``<group>_offset``, ``<group>_effect``; ``<group>_gamma``; ``intercept_at_means``,
``<group>_chol``, ``<group>_slope_sigma``, ``<group>_corr``, ``<group>_slope`` with the same
dims), so everything downstream reads either. Pointwise log-likelihood and posterior predictive
draws are computed here in NumPy from the draws and the respondent-level design.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from nutpie import compile_pymc
from nutpie.compiled_pyfunc import from_pyfunc

from cmds_common.constants import MIN_POINTWISE_DRAWS, POINTWISE_LIMIT, POINTWISE_MAX_DRAWS
from cmds_common.spec import ModelSpec
from models import log_density, log_density_slopes
from models.aggregation import aggregate_rows
from models.design import Design
from models.nutpie_run import sample_interruptibly
from models.parameterisation import centred_groups, pooled_logit_fit

if TYPE_CHECKING:  # models.sampling chooses this engine; this module only reads its settings
    from models.sampling import SamplerSettings


def pointwise_thinning(n_obs: int, chains: int, draws: int, limit: int | None = None) -> int:
    """Keep every k-th draw in the pointwise groups so that respondents x draws fit ``limit``.

    ``limit`` defaults to :data:`POINTWISE_LIMIT`; at most :data:`POINTWISE_MAX_DRAWS` draws are
    kept either way. Returns ``k`` (1: every draw), or 0 when even the thinned groups would
    keep fewer than :data:`MIN_POINTWISE_DRAWS` draws (then they are not stored at all).
    """
    limit = POINTWISE_LIMIT if limit is None else limit
    thin = max(1, -(-n_obs * chains * draws // limit), -(-chains * draws // POINTWISE_MAX_DRAWS))
    return thin if chains * len(range(0, draws, thin)) >= MIN_POINTWISE_DRAWS else 0


def compiled_supports(spec: ModelSpec) -> bool:
    """Whether the compiled log-densities cover ``spec``.

    They cover Bernoulli and binomial specs (weighted or not), pooled or with any number of
    random-intercept terms (``(1 | province) + (1 | city)``, any column, nested
    ``province:city`` factors), with group-level predictors (``group_predictors``) of the
    first factor, and with correlated random slopes ``(1 + a + b | g)`` by one factor (LKJ
    prior, :mod:`models.log_density_slopes`), alone or beside other random intercepts;
    interactions are columns of ``X`` and so covered too. Slopes without a group intercept
    (``(0 + a | g)``) and the other families go to nutpie on the PyMC model.
    """
    return spec.family in ("bernoulli", "binomial") and all(
        group.intercept for group in spec.groups
    )


@dataclass(frozen=True)
class LogDensityProblem:
    """Everything the compiled functions need, plus the labels of the stored draws.

    ``n_terms`` counts the columns of the packed design (the group predictors' columns
    included); ``group_sizes`` holds the number of levels of each random-intercept factor and
    ``centred`` one flag per level of every such factor, factor after factor. A problem with
    ``slope_columns`` (columns of the design whose slopes vary by a factor of
    ``slope_levels`` levels) is sampled by :mod:`models.log_density_slopes`, and
    ``group_sizes`` then lists the other factors only.
    """

    buffer: np.ndarray
    n_terms: int
    group_sizes: tuple[int, ...]
    centred: np.ndarray
    n_rows: int
    start_intercept: float
    var_names: list[str]
    var_shapes: list[tuple[int, ...]]
    dims: dict[str, tuple[str, ...]]
    coords: dict[str, pd.Index]
    slope_columns: tuple[int, ...] = ()
    slope_levels: int = 0

    @property
    def kernel(self) -> ModuleType:
        """The module of the compiled functions: the random-intercept or the slopes one."""
        return log_density_slopes if self.slope_columns else log_density

    @property
    def n_dim(self) -> int:
        """Number of unconstrained parameters."""
        if self.slope_columns:
            return log_density_slopes.n_parameters(
                self.n_terms, len(self.slope_columns), self.slope_levels, self.group_sizes
            )
        return log_density.n_parameters(self.n_terms, self.group_sizes)

    @property
    def n_groups(self) -> int:
        """Number of levels over all grouping factors."""
        return int(sum(self.group_sizes)) + self.slope_levels

    @property
    def n_expanded(self) -> int:
        """Length of one stored draw."""
        if self.slope_columns:
            return log_density_slopes.n_expanded(
                self.n_terms, len(self.slope_columns), self.slope_levels, self.group_sizes
            )
        return log_density.n_expanded(self.n_terms, self.group_sizes)


def prepare_problem(
    design: Design, spec: ModelSpec, parameterisation: str = "auto", aggregate: bool = True
) -> LogDensityProblem:
    r"""Pack a design for the compiled log-density.

    Group-level predictors become extra columns :math:`w_{g(i)}` of the design (their
    coefficients are ``<group>_gamma``, prior :math:`\mathcal N(0, 1)`); a spec with
    correlated random slopes is packed for :mod:`models.log_density_slopes`.

    Parameters
    ----------
    design, spec
        As for :func:`models.hierarchical.build_model`; ``spec`` must pass
        :func:`compiled_supports`.
    parameterisation
        ``"auto"``, ``"centred"`` or ``"non_centred"`` (see :mod:`models.parameterisation`),
        applied to each random-intercept factor in turn (the slopes factor is non-centred
        through the Cholesky factor).
    aggregate
        Collapse respondents with identical covariates in the same groups (exact).

    Raises
    ------
    ValueError
        When the compiled log-density does not cover ``spec``.
    """
    if not compiled_supports(spec):
        raise ValueError(f"model {spec.name!r} is not covered by the compiled log-density")
    n_obs = len(design.y)
    weights = design.weights if spec.weighted_likelihood else np.ones(n_obs)
    trials = design.trials if design.trials is not None else np.ones(n_obs)
    group_idx = np.zeros((n_obs, len(design.groups)), dtype=np.int64)
    for f, group in enumerate(design.groups):
        group_idx[:, f] = group.idx
    X, prior_sd = _packed_columns(design, spec)
    column_means = X.mean(axis=0)
    if aggregate:  # patterns of X are those of the centred X: centre the patterns only
        rows = aggregate_rows(X, design.y.astype(float), weights, group_idx, trials)
        X_rows, successes, row_trials = rows.X - column_means, rows.successes, rows.trials
        row_groups = rows.group_idx
    else:
        X_rows, successes, row_trials = X - column_means, weights * design.y, weights * trials
        row_groups = group_idx
    slope_at = next((f for f, g in enumerate(design.groups) if g.slope_columns), None)
    intercept_factors = [f for f in range(len(design.groups)) if f != slope_at]
    prob = None
    if parameterisation == "auto" and intercept_factors:  # one pooled fit serves every factor
        prob = pooled_logit_fit(X_rows, successes, row_trials)
    centred = [
        centred_groups(
            X_rows,
            successes,
            row_trials,
            row_groups[:, f],
            len(design.groups[f].levels),
            parameterisation,
            prob,
        )
        for f in intercept_factors
    ]
    priors = spec.priors
    group_X = design.group_X if design.group_predictor_names else None
    if slope_at is None:
        buffer = log_density.pack_data(
            X_rows,
            successes,
            row_trials,
            row_groups,
            centred,
            prior_sd,
            column_means,
            priors.intercept_sd,
            priors.group_sd_scale,
            group_X,
        )
    else:
        slope_group = design.groups[slope_at]
        buffer = log_density_slopes.pack_data(
            X_rows,
            successes,
            row_trials,
            row_groups[:, slope_at],
            len(slope_group.levels),
            slope_group.slope_columns,
            row_groups[:, intercept_factors],
            centred,
            prior_sd,
            column_means,
            (priors.intercept_sd, priors.group_sd_scale, priors.slope_scale, priors.lkj_eta),
            group_X,
        )
    share = float(np.clip(successes.sum() / row_trials.sum(), 0.01, 0.99))
    labels = _draw_labels(design, slope_at)
    return LogDensityProblem(
        buffer=buffer,
        n_terms=X.shape[1],
        group_sizes=tuple(len(design.groups[f].levels) for f in intercept_factors),
        centred=np.concatenate([np.zeros(0, dtype=bool), *centred]),
        n_rows=len(row_trials),
        start_intercept=float(np.log(share / (1.0 - share))),
        slope_columns=tuple(design.groups[slope_at].slope_columns) if slope_at is not None else (),
        slope_levels=len(design.groups[slope_at].levels) if slope_at is not None else 0,
        **labels,
    )


def _packed_columns(design: Design, spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """Return the design's columns, then the group predictors'; each column's prior SD."""
    prior_sd = spec.priors.coefficient_sd / design.term_scales
    if not design.group_predictor_names:
        return design.X, prior_sd
    first = design.groups[0]
    X = np.column_stack([design.X, design.group_X[first.idx]])
    return X, np.concatenate([prior_sd, np.ones(design.group_X.shape[1])])


def _draw_labels(design: Design, slope_at: int | None) -> dict[str, Any]:
    """Names, shapes, dims and coords of the stored draw, as the PyMC model labels them."""
    names, shapes = ["intercept", "beta"], [(), (len(design.terms),)]
    dims: dict[str, tuple[str, ...]] = {"beta": ("term",)}
    coords = {"term": pd.Index(design.terms)}
    if design.group_predictor_names:
        first = design.groups[0].name
        names.append(f"{first}_gamma")
        shapes.append((len(design.group_predictor_names),))
        dims[f"{first}_gamma"] = ("group_predictor",)
        coords["group_predictor"] = pd.Index(design.group_predictor_names)
    if slope_at is not None:
        group = design.groups[slope_at]
        name, size, n_slopes = group.name, len(group.levels), len(group.slope_columns)
        n = n_slopes + 1
        slope_terms = [design.terms[k] for k in group.slope_columns]
        names += [
            "intercept_at_means",
            f"{name}_chol",
            f"{name}_offset",
            f"{name}_sigma",
            f"{name}_slope_sigma",
            f"{name}_corr",
            f"{name}_effect",
            f"{name}_slope",
        ]
        shapes += [(), (n * (n + 1) // 2,), (size, n), (), (n_slopes,), (n, n), (size,)]
        shapes.append((size, n_slopes))
        dims.update(
            {
                f"{name}_chol": (f"{name}_chol_dim_0",),
                f"{name}_offset": (name, "effect"),
                f"{name}_slope_sigma": ("slope_term",),
                f"{name}_corr": ("effect", "effect_bis"),
                f"{name}_effect": (name,),
                f"{name}_slope": (name, "slope_term"),
            }
        )
        coords.update(
            {
                name: pd.Index(group.levels),
                f"{name}_chol_dim_0": pd.RangeIndex(n * (n + 1) // 2),
                "slope_term": pd.Index(slope_terms),
                "effect": pd.Index(["intercept", *slope_terms]),
                "effect_bis": pd.Index(["intercept", *slope_terms]),
            }
        )
    for f, group in enumerate(design.groups):
        if f == slope_at:
            continue
        name, size = group.name, len(group.levels)
        names += [f"{name}_sigma", f"{name}_offset", f"{name}_effect"]
        shapes += [(), (size,), (size,)]
        dims.update({f"{name}_offset": (name,), f"{name}_effect": (name,)})
        coords[name] = pd.Index(group.levels)
    return {"var_names": names, "var_shapes": shapes, "dims": dims, "coords": coords}


def initial_point(problem: LogDensityProblem, seed: int) -> np.ndarray:
    """Start near the overall log-odds with PyMC-style uniform(-1, 1) jitter."""
    start = np.random.default_rng(seed).uniform(-1.0, 1.0, problem.n_dim)
    start[0] += problem.start_intercept
    # a centred level of the first random-intercept factor stores alpha_c + u_j (not so beside
    # random slopes, where every centred level stores u_j)
    if problem.group_sizes and problem.group_sizes[0] and not problem.slope_columns:
        first = start[2 + problem.n_terms : 2 + problem.n_terms + problem.group_sizes[0]]
        first[problem.centred[: problem.group_sizes[0]]] += problem.start_intercept
    return start


#: Fields of ``nutpie.compile_pymc.CompiledPyMCModel`` that :func:`callback_model` fills.
CALLBACK_FIELDS = frozenset(
    {
        "dims",
        "reparameterized_names",
        "compiled_logp_func",
        "compiled_expand_func",
        "initial_point_func",
        "shared_data",
        "shared_var_keys",
        "user_data",
        "n_expanded",
        "shape_info",
        "logp_func",
        "expand_func",
        "_n_dim",
        "_shapes",
        "_coords",
        "_transform_adapt_args",
    }
)


def callback_route_available() -> bool:
    """Whether nutpie's C-callback model class has the fields :func:`callback_model` fills."""
    model_class = getattr(compile_pymc, "CompiledPyMCModel", None)
    if model_class is None or not dataclasses.is_dataclass(model_class):
        return False
    return {field.name for field in dataclasses.fields(model_class)} == CALLBACK_FIELDS


def callback_model(problem: LogDensityProblem) -> Any:
    """Build a nutpie model of ``problem`` whose threads call the numba C callbacks directly.

    Raises
    ------
    RuntimeError
        When nutpie's ``CompiledPyMCModel`` no longer has :data:`CALLBACK_FIELDS`.
    """
    if not callback_route_available():
        raise RuntimeError("nutpie.compile_pymc.CompiledPyMCModel has changed its fields")
    names, shapes = list(problem.var_names), [tuple(shape) for shape in problem.var_shapes]
    return compile_pymc.CompiledPyMCModel(
        dims=dict(problem.dims),
        compiled_logp_func=problem.kernel.logp_cfunc,
        compiled_expand_func=problem.kernel.expand_cfunc,
        initial_point_func=lambda seed: initial_point(problem, seed),
        shared_data={},
        shared_var_keys={},
        # the sampler reads user_data.ctypes.data: the packed buffer, kept alive by the model
        user_data=problem.buffer,
        n_expanded=problem.n_expanded,
        shape_info=(names, None, shapes),
        logp_func=None,
        expand_func=None,
        _n_dim=problem.n_dim,
        _shapes=dict(zip(names, shapes, strict=True)),
        _coords=dict(problem.coords),
    )


NUTPIE_ROUTES = ("auto", "callback", "pyfunc", "jax")


def nutpie_model(problem: LogDensityProblem, route: str = "auto") -> Any:
    """Build the nutpie model of ``problem``.

    Parameters
    ----------
    problem
        Packed data and labels from :func:`prepare_problem`.
    route
        ``"callback"`` (:func:`callback_model`), ``"pyfunc"`` (``from_pyfunc``), ``"jax"``
        (``from_pyfunc`` around :func:`models.log_density_jax.jax_log_density`), or ``"auto"``:
        the callback route when :func:`callback_route_available`, else ``from_pyfunc``.

    The log-density returns ``-inf`` (status 4 on the callback route) where the value or the
    gradient is not finite, which nutpie treats as a rejected (divergent) step, as it does for
    PyMC models.

    Raises
    ------
    ImportError
        For ``route="jax"`` when JAX is not installed (the message says how to install it).
    """
    if route not in NUTPIE_ROUTES:
        raise ValueError(f"route must be one of {NUTPIE_ROUTES}, not {route!r}")
    if route == "callback" or (route == "auto" and callback_route_available()):
        return callback_model(problem)
    buffer, kernel = problem.buffer, problem.kernel
    if route == "jax":
        if problem.slope_columns:
            raise ValueError("the JAX log-density covers random intercepts only")
        from models.log_density_jax import jax_log_density

        functions = jax_log_density(buffer)
        return _pyfunc_model(problem, functions.value_and_grad, functions.expand)
    return _pyfunc_model(
        problem,
        lambda x: kernel.value_and_grad(x, buffer),
        lambda x: kernel.expand_draw(x, buffer, problem.n_expanded),
    )


def _pyfunc_model(
    problem: LogDensityProblem,
    value_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    expand_draw: Callable[[np.ndarray], np.ndarray],
) -> Any:
    """Build nutpie's ``from_pyfunc`` model of a log-density and its stored draw."""
    split_at = np.cumsum([int(np.prod(shape)) for shape in problem.var_shapes])[:-1]

    def make_logp_fn():
        return value_and_grad

    def make_expand_fn(seed1, seed2, chain):
        def expand(x):
            parts = np.split(expand_draw(x), split_at)
            return {
                name: part.reshape(shape)
                for name, part, shape in zip(
                    problem.var_names, parts, problem.var_shapes, strict=True
                )
            }

        return expand

    return from_pyfunc(
        ndim=problem.n_dim,
        make_logp_fn=make_logp_fn,
        make_expand_fn=make_expand_fn,
        expanded_dtypes=[np.dtype("float64")] * len(problem.var_names),
        expanded_shapes=problem.var_shapes,
        expanded_names=problem.var_names,
        coords=dict(problem.coords),
        dims=problem.dims,
        make_initial_point_fn=lambda seed: initial_point(problem, seed),
    )


def pointwise_groups(
    posterior: Any, design: Design, spec: ModelSpec, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""Pointwise log-likelihood and posterior predictive draws per respondent.

    Bernoulli, or binomial with the design's trials (the log-likelihood then includes the
    binomial coefficient, as PyMC's does). Every grouping factor's ``<name>_effect`` is added
    to the linear predictor, and for a factor with random slopes
    :math:`\sum_k x_{i c_k} v_{g(i) k}` from its ``<name>_slope``.

    Returns
    -------
    log_likelihood, predictive
        Arrays ``(chain, draw, obs)`` of float32 and, for the draws, int8 (Bernoulli) or int32
        (binomial).
    """
    from scipy import special

    intercept = posterior["intercept"].to_numpy()
    beta = posterior["beta"].to_numpy()
    n_chains, n_draws = intercept.shape
    binomial = spec.family == "binomial"
    trials = design.trials if binomial else None
    loglik = np.empty((n_chains, n_draws, len(design.y)), dtype=np.float32)
    predictive = np.empty_like(loglik, dtype=np.int32 if binomial else np.int8)
    # Every group-level draw side by side, with each respondent's column of each term and its
    # multiplier (1 for an intercept effect, the predictor's value for a slope).
    group_draws, columns, multipliers, offset = [], [], [], 0
    for group in design.groups:
        effect = posterior[f"{group.name}_effect"].to_numpy()
        group_draws.append(effect)
        columns.append(offset + group.idx)
        multipliers.append(np.ones(len(design.y)))
        offset += effect.shape[-1]
        if group.slope_columns:
            slope = posterior[f"{group.name}_slope"].to_numpy()
            n_slopes = slope.shape[-1]
            group_draws.append(slope.reshape(n_chains, n_draws, -1))
            for k, column in enumerate(group.slope_columns):
                columns.append(offset + group.idx * n_slopes + k)
                multipliers.append(design.X[:, column])
            offset += slope.shape[-2] * n_slopes
    every_draw = np.concatenate(group_draws, axis=-1) if group_draws else None
    group_columns = np.column_stack(columns) if columns else np.zeros((len(design.y), 0), int)
    group_x = np.column_stack(multipliers) if multipliers else np.zeros((len(design.y), 0))
    rng = np.random.default_rng(seed)
    if not binomial:  # one compiled pass, parallel over draws, without NumPy's temporaries
        X = np.ascontiguousarray(design.X, dtype=np.float64)
        y = design.y.astype(np.float64)
        for chain in range(n_chains):
            draws = every_draw[chain] if every_draw is not None else np.zeros((n_draws, 0))
            log_density.bernoulli_pointwise(
                np.ascontiguousarray(intercept[chain]),
                np.ascontiguousarray(beta[chain]),
                X,
                np.ascontiguousarray(draws),
                group_columns,
                group_x,
                y,
                rng.random((n_draws, len(design.y))),
                loglik[chain],
                predictive[chain],
            )
        return loglik, predictive
    log_coefficient = (
        special.gammaln(trials + 1)
        - special.gammaln(design.y + 1)
        - special.gammaln(trials - design.y + 1)
    )
    for chain in range(n_chains):
        eta = intercept[chain][:, None] + beta[chain] @ design.X.T
        for t in range(group_columns.shape[1]):
            eta += every_draw[chain][:, group_columns[:, t]] * group_x[:, t]
        softplus = np.logaddexp(0.0, eta)
        loglik[chain] = log_coefficient + design.y * eta - trials * softplus
        predictive[chain] = rng.binomial(trials, np.exp(eta - softplus))
    return loglik, predictive


def sample_compiled(
    design: Design,
    spec: ModelSpec,
    settings: SamplerSettings,
    pointwise: bool = True,
) -> tuple[xr.DataTree, dict[str, Any]]:
    """Draw the posterior of a logistic or binomial spec that :func:`compiled_supports`.

    ``settings`` gives chains, draws, warm-up, seed, target acceptance, progress bar,
    parameterisation and aggregation; its ``sampler`` field picks the numba log-density (any
    value but ``"jax"``) or the JAX one (``"jax"``, :mod:`models.log_density_jax`; random
    intercepts only).

    Returns
    -------
    idata
        Groups ``posterior``, ``sample_stats``, ``observed_data``, ``log_likelihood`` and
        ``posterior_predictive``. When respondents x draws exceed :data:`POINTWISE_LIMIT`, or
        the draws :data:`POINTWISE_MAX_DRAWS` (per batch of chains), the
        last two keep every k-th draw (``pointwise_thinning`` = k; their ``draw`` coordinate
        names the posterior draws kept); they are left out when fewer than
        :data:`MIN_POINTWISE_DRAWS` draws would remain (``pointwise_stored`` = 0).
    details
        Set-up of the log-density (rows after aggregation, centred groups, pointwise thinning;
        for JAX, the devices it sees and its version), for provenance.

    ``pointwise=False`` skips the pointwise groups (simulation studies need only the posterior).
    """
    problem = prepare_problem(design, spec, settings.parameterisation, settings.aggregate)
    route = "jax" if settings.sampler == "jax" else "auto"
    model = nutpie_model(problem, route)
    jax_details = {}
    if route == "jax":
        from models.log_density_jax import jax_provenance

        jax_details = jax_provenance()
        print(f"[{spec.name}] JAX log-density on {jax_details['jax_device']}")
    idata = sample_interruptibly(model, **settings.nutpie_arguments(f"[{spec.name}] "))
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
    idata = idata.assign({name: xr.DataTree(dataset) for name, dataset in groups.items()})
    details = {
        "compiled_rows": problem.n_rows,
        "nutpie_route": (
            "callback" if isinstance(model, compile_pymc.CompiledPyMCModel) else "from_pyfunc"
        ),
        **jax_details,
        "compiled_centred_groups": int(problem.centred.sum()),
        "compiled_groups": problem.n_groups,
        "compiled_grouping_factors": len(problem.group_sizes) + bool(problem.slope_columns),
        "compiled_random_slopes": len(problem.slope_columns),
        "pointwise_stored": int(thin > 0),
        "pointwise_thinning": thin,
    }
    return idata, details
