"""Draw posteriors: nutpie's NUTS by default, PyMC's own NUTS as the fallback.

A fit returns one ``InferenceData`` with posterior, sample statistics, log-likelihood,
posterior predictive and observed data, tagged with what produced it.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata

import arviz as az
import pymc as pm

from cmds_common.constants import DEFAULT_CHAINS, DEFAULT_DRAWS, DEFAULT_SEED, DEFAULT_TUNE

SAMPLERS = ("nutpie", "pymc")
_VERSIONED_PACKAGES = ("pymc", "pytensor", "nutpie", "arviz", "numpy", "pandas", "statsmodels")


@dataclass(frozen=True)
class SamplerSettings:
    """How to sample: which NUTS implementation, chains, draws, warm-up, seed."""

    sampler: str = "nutpie"
    chains: int = DEFAULT_CHAINS
    draws: int = DEFAULT_DRAWS
    tune: int = DEFAULT_TUNE
    seed: int = DEFAULT_SEED
    target_accept: float = 0.9
    progress: bool = True

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if min(self.chains, self.draws) < 1 or self.tune < 0:
            raise ValueError("chains and draws must be >= 1 and tune >= 0")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape a fit."""
    versions = {}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _sample_nutpie(model: pm.Model, settings: SamplerSettings) -> az.InferenceData:
    import nutpie

    compiled = nutpie.compile_pymc_model(model)
    return nutpie.sample(
        compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        seed=settings.seed,
        target_accept=settings.target_accept,
        progress_bar=settings.progress,
        save_warmup=False,
    )


def _sample_pymc(model: pm.Model, settings: SamplerSettings) -> az.InferenceData:
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
) -> az.InferenceData:
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
    started = time.perf_counter()
    used = settings.sampler
    if settings.sampler == "nutpie":
        try:
            idata = _sample_nutpie(model, settings)
        except (ImportError, NotImplementedError, RuntimeError) as err:
            warnings.warn(f"nutpie unavailable ({err}); falling back to PyMC's NUTS", stacklevel=2)
            used = "pymc"
            idata = _sample_pymc(model, settings)
    else:
        idata = _sample_pymc(model, settings)
    sampling_seconds = time.perf_counter() - started
    _refuse_partial_trace(idata, settings)
    with model:
        pm.compute_log_likelihood(idata, progressbar=False)
        pm.sample_posterior_predictive(
            idata,
            extend_inferencedata=True,
            random_seed=settings.seed,
            progressbar=settings.progress,
        )
    if "observed_data" not in idata.groups():
        observed = {name: model.rvs_to_values[rv].data for name, rv in _observed(model)}
        idata.add_groups(
            {"observed_data": observed}, dims={k: ["obs"] for k in observed}, coords={}
        )
    # float32 halves the largest group (draws x respondents) at no cost to LOO's precision
    idata.log_likelihood = idata.log_likelihood.astype("float32")
    idata.posterior_predictive = idata.posterior_predictive.astype("int8")
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
        **(attrs or {}),
    }
    idata.posterior.attrs.update(
        {k: v if isinstance(v, int | float) else str(v) for k, v in provenance.items()}
    )
    return idata


def _refuse_partial_trace(idata: az.InferenceData, settings: SamplerSettings) -> None:
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


def _observed(model: pm.Model) -> list[tuple[str, pm.Model]]:
    return [(rv.name, rv) for rv in model.observed_RVs]
