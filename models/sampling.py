"""Draw posteriors with one of three engines, all No-U-Turn samplers.

* ``compiled``: nutpie on the project's compiled log-densities (:mod:`models.log_density`,
  :mod:`models.log_density_slopes`), for Bernoulli and binomial specs: pooled, random
  intercepts, group predictors, correlated random slopes by one factor. No per-run compilation;
  the default where it applies.
* ``nutpie``: nutpie on the PyMC model (compiled with numba on every run); any spec.
* ``pymc``: PyMC's own NUTS on the PyMC model; any spec, and the fallback when nutpie fails.
* ``jax``: nutpie on the same log-density as ``compiled``, written in JAX
  (:mod:`models.log_density_jax`), on the device JAX sees (a GPU when there is one); random
  intercepts only (no slopes or group predictors), and only when asked for. JAX is an optional
  dependency.

``auto`` (the default) picks ``compiled`` when the spec allows it and ``nutpie`` otherwise. When
only effective sample sizes fall short, :func:`sample_spec` draws further batches of chains
(:mod:`models.batches`, at most ``settings.max_extra_batches``). A fit
returns one ``InferenceData`` with posterior, sample statistics, log-likelihood, posterior
predictive and observed data, tagged with what produced it.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

import xarray as xr

from cmds_common.constants import (
    DEFAULT_CHAINS,
    DEFAULT_DRAWS,
    DEFAULT_PRIOR_DRAWS,
    DEFAULT_SEED,
    DEFAULT_TUNE,
    MAX_EXTRA_BATCHES,
)
from cmds_common.spec import SpecError
from models.parameterisation import PARAMETERISATIONS
from models.progress_lines import bars_wanted, progress_callback, quiet_forward_sampling

if TYPE_CHECKING:  # PyMC is imported only by the engines that use it (it costs ~0.6 s)
    import pymc as pm

    from cmds_common.spec import ModelSpec
    from models.design import Design

SAMPLERS = ("auto", "compiled", "nutpie", "pymc", "jax")
#: Engines that sample the project's own log-density (numba or JAX) rather than the PyMC model.
LOG_DENSITY_ENGINES = ("compiled", "jax")
_VERSIONED_PACKAGES = ("pymc", "pytensor", "nutpie", "arviz", "numpy", "pandas", "statsmodels")


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample: engine, chains, draws, warm-up and seed.

    ``parameterisation`` and ``aggregate`` apply to the ``compiled`` and ``jax`` engines only:
    centred or non-centred province effects, and whether identical covariate patterns are
    aggregated.
    ``max_extra_batches`` caps the further batches :func:`sample_spec` draws when only effective
    sample sizes fall short (0: none).
    """

    sampler: str = "auto"
    chains: int = DEFAULT_CHAINS
    draws: int = DEFAULT_DRAWS
    tune: int = DEFAULT_TUNE
    seed: int = DEFAULT_SEED
    target_accept: float = 0.9
    progress: bool = True
    parameterisation: str = "auto"
    aggregate: bool = True
    max_extra_batches: int = MAX_EXTRA_BATCHES
    prior_draws: int = DEFAULT_PRIOR_DRAWS

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.parameterisation not in PARAMETERISATIONS:
            raise ValueError(f"parameterisation must be one of {PARAMETERISATIONS}")
        if min(self.chains, self.draws) < 1 or self.tune < 0:
            raise ValueError("chains and draws must be >= 1 and tune >= 0")
        if self.max_extra_batches < 0:
            raise ValueError("max_extra_batches must be >= 0")
        if self.prior_draws < 0:
            raise ValueError("prior_draws must be >= 0")

    def nutpie_arguments(self, label: str = "") -> dict[str, Any]:
        """Keyword arguments of ``nutpie.sample`` for these settings (warm-up not stored).

        With ``progress`` on and standard output not a terminal (a log file, a pipe), a
        :class:`models.progress_lines.ProgressLines` callback prints a line every few seconds,
        prefixed by ``label``.
        """
        arguments = {
            "draws": self.draws,
            "tune": self.tune,
            "chains": self.chains,
            "seed": self.seed,
            "target_accept": self.target_accept,
            "progress_bar": self.progress,
            "save_warmup": False,
        }
        lines = progress_callback(label) if self.progress else None
        if lines is not None:
            arguments["progress_callback"] = lines
        return arguments


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a fit."""
    versions = {}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def resolve_sampler(requested: str, spec: ModelSpec) -> str:
    """Return the engine ``requested`` means for ``spec`` (``auto``: ``compiled`` or ``nutpie``).

    Raises
    ------
    cmds_common.spec.SpecError
        When ``compiled`` or ``jax`` is asked for a spec they do not cover, or ``jax`` without
        JAX installed (the message says how to install it).
    """
    from models.log_density_jax import JAX_INSTALL_HINT, jax_available
    from models.log_density_sampler import compiled_supports

    if requested == "auto":
        return "compiled" if compiled_supports(spec) else "nutpie"
    if requested == "compiled" and not compiled_supports(spec):
        raise SpecError(
            f"model {spec.name!r} has slopes without a group intercept or a family other than "
            "bernoulli and binomial, which the compiled engine does not cover; use "
            "--sampler nutpie or pymc"
        )
    if requested == "jax" and not spec.random_intercepts_only:
        raise SpecError(
            f"model {spec.name!r} has random slopes, group predictors or a family other than "
            "bernoulli and binomial, which the jax engine does not cover; use --sampler "
            "compiled, nutpie or pymc"
        )
    if requested == "jax" and not jax_available():
        raise SpecError(JAX_INSTALL_HINT)
    return requested


def sample_spec(
    design: Design, spec: ModelSpec, settings: SamplerSettings, attrs: dict[str, Any]
) -> xr.DataTree:
    """Sample ``spec`` on ``design`` with the engine ``settings.sampler`` names.

    ``settings.sampler`` must already be resolved (see :func:`resolve_sampler`). Returns what
    :func:`sample_posterior` returns, for every engine; when only effective sample sizes fall
    short, with further batches of chains appended (:func:`models.batches.sample_in_batches`)
    and ``extra_batches``, ``total_chains``, ``total_draws``, ``batch_seeds`` and
    ``batches_interrupted`` added to the posterior attributes.
    """
    from models.batches import sample_in_batches
    from models.parameter_names import free_parameter_names

    if settings.sampler not in LOG_DENSITY_ENGINES:
        from models.hierarchical import build_model, initial_point_is_finite

        model = build_model(design, spec)
        if not initial_point_is_finite(model):
            raise RuntimeError(f"model {spec.name!r}: log-probability is not finite at the start")

        def draw(batch_settings: SamplerSettings) -> xr.DataTree:
            return sample_posterior(model, batch_settings, attrs)

    else:
        from models.log_density_sampler import sample_compiled

        def draw(batch_settings: SamplerSettings) -> xr.DataTree:
            started = time.perf_counter()
            idata, details = sample_compiled(design, spec, batch_settings)
            seconds = time.perf_counter() - started
            _refuse_partial_trace(idata, batch_settings)
            return tag_provenance(
                idata, batch_settings, batch_settings.sampler, seconds, {**details, **attrs}
            )

    idata, info = sample_in_batches(
        draw, settings, free_parameter_names(spec), label=f"[{spec.name}] "
    )
    idata.posterior.attrs.update({**info, "seed": settings.seed})
    return idata


def _sample_nutpie(model: pm.Model, settings: SamplerSettings, label: str = "") -> xr.DataTree:
    import nutpie

    from models.nutpie_run import sample_interruptibly

    compiled = nutpie.compile_pymc_model(model)
    return sample_interruptibly(compiled, **settings.nutpie_arguments(label))


def _sample_pymc(model: pm.Model, settings: SamplerSettings) -> xr.DataTree:
    import pymc as pm

    with model:
        return pm.sample(
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=min(settings.chains, 2),
            random_seed=settings.seed,
            target_accept=settings.target_accept,
            progressbar=settings.progress,
            compute_convergence_checks=False,
        )


def sample_posterior(
    model: pm.Model, settings: SamplerSettings, attrs: dict[str, str] | None = None
) -> xr.DataTree:
    """Sample a model and return a complete, tagged ``InferenceData``.

    Parameters
    ----------
    model
        A model from :func:`models.hierarchical.build_model`.
    settings
        Sampler, chains, draws, warm-up and seed. When nutpie is asked for but cannot be
        imported or fails to compile the model, PyMC's sampler is used and the fact recorded.
    attrs
        Extra attributes to store (model name, data hash, spec, ...).

    Returns
    -------
    arviz.InferenceData
        Groups ``posterior``, ``sample_stats``, ``log_likelihood``, ``posterior_predictive``
        and ``observed_data``; ``posterior.attrs`` holds the provenance.
    """
    import pymc as pm

    started = time.perf_counter()
    used = settings.sampler
    if settings.sampler == "nutpie":
        try:
            name = (attrs or {}).get("model_name")
            idata = _sample_nutpie(model, settings, f"[{name}] " if name else "")
        except (ImportError, NotImplementedError, RuntimeError) as err:
            warnings.warn(f"nutpie unavailable ({err}); falling back to PyMC's NUTS", stacklevel=2)
            used = "pymc"
            idata = _sample_pymc(model, settings)
    else:
        idata = _sample_pymc(model, settings)
    sampling_seconds = time.perf_counter() - started
    _refuse_partial_trace(idata, settings)
    # PyMC cannot rebuild a model with explicit initial values (the ordinal cutpoints have one)
    # for the pointwise log-likelihood; they only matter for the start of sampling
    model.rvs_to_initial_values.update(dict.fromkeys(model.rvs_to_initial_values))
    with model, warnings.catch_warnings(), quiet_forward_sampling():
        # Replicated outcomes are drawn given posterior draws of the parameters, which already
        # carry every Potential's effect (the random-slopes intercept prior, survey weights):
        # PyMC's warning that Potentials are ignored concerns forward sampling of parameters.
        warnings.filterwarnings("ignore", message="The effect of Potentials", category=UserWarning)
        pm.compute_log_likelihood(idata, progressbar=False)
        pm.sample_posterior_predictive(
            idata,
            extend_inferencedata=True,
            random_seed=settings.seed,
            progressbar=bars_wanted(settings.progress),
        )
    if "observed_data" not in idata.children:
        observed = {name: ("obs", model.rvs_to_values[rv].data) for name, rv in _observed(model)}
        idata["observed_data"] = xr.DataTree(xr.Dataset(observed))
    # float32 halves the largest group (draws x respondents) at no cost to LOO's precision
    idata["log_likelihood"] = idata["log_likelihood"].to_dataset().astype("float32")
    idata["posterior_predictive"] = compact_predictive(idata["posterior_predictive"].to_dataset())
    return tag_provenance(idata, settings, used, sampling_seconds, attrs or {})


def compact_predictive(predictive: xr.Dataset) -> xr.Dataset:
    """Store replicated outcomes small: int8 for 0/1 and category codes, float32 for numbers.

    Counts that do not fit in int8 (binomial outcomes with many trials) keep their integer type.
    """
    compact = {}
    for name, values in predictive.data_vars.items():
        if values.dtype.kind in "iu":
            fits = int(values.max()) <= 127 and int(values.min()) >= -128
            compact[name] = values.astype("int8") if fits else values
        else:
            compact[name] = values.astype("float32")
    return predictive.assign(compact)


def tag_provenance(
    idata: xr.DataTree,
    settings: SamplerSettings,
    used: str,
    sampling_seconds: float,
    attrs: dict[str, Any],
) -> xr.DataTree:
    """Store what produced a fit in ``idata.posterior.attrs`` (and return ``idata``)."""
    provenance = {
        "sampler": used,
        "chains": settings.chains,
        "draws": settings.draws,
        "tune": settings.tune,
        "seed": settings.seed,
        "target_accept": settings.target_accept,
        "sampling_seconds": round(sampling_seconds, 2),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "package_versions": json.dumps(package_versions()),
        **attrs,
    }
    if used in LOG_DENSITY_ENGINES:
        provenance.update(
            parameterisation=settings.parameterisation, aggregate=int(settings.aggregate)
        )
    idata.posterior.attrs.update(
        {k: v if isinstance(v, int | float) else str(v) for k, v in provenance.items()}
    )
    return idata


def _refuse_partial_trace(idata: xr.DataTree, settings: SamplerSettings) -> None:
    """Stop when the sampler returned fewer draws than asked for.

    nutpie and PyMC both catch Ctrl-C and return the draws made so far; saving those as the fit
    would leave a result that looks whole but is not.
    """
    chains, draws = idata.posterior.sizes["chain"], idata.posterior.sizes["draw"]
    if chains < settings.chains or draws < settings.draws:
        raise KeyboardInterrupt(
            f"sampling stopped after {draws} of {settings.draws} draws in {chains} of "
            f"{settings.chains} chains"
        )


def _observed(model: pm.Model) -> list[tuple[str, Any]]:
    return [(rv.name, rv) for rv in model.observed_RVs]
