"""Which fits are still valid: a fit is keyed by everything that determines its draws.

The key hashes the data hash, the spec (as YAML), the sampler settings and seed, the versions
of the packages that sample, and the source of the project modules that build and sample the
model (so a change to how a model is built refits it too). ``python -m models`` skips a spec
whose saved fit carries the same key, so ``make fit`` refits only what changed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path

import xarray as xr

from models.sampling import SamplerSettings, package_versions

#: Project modules (package, file) whose code determines the draws of a fit.
_MODEL_SOURCES = (
    ("models", "aggregation.py"),
    ("models", "batches.py"),
    ("models", "design.py"),
    ("models", "diagnostics.py"),
    ("models", "families.py"),
    ("models", "hierarchical.py"),
    ("models", "log_density.py"),
    ("models", "log_density_jax.py"),
    ("models", "log_density_sampler.py"),
    ("models", "log_density_slopes.py"),
    ("models", "parameterisation.py"),
    ("models", "sampling.py"),
    ("cmds_common", "spec.py"),
)


def _model_source_hash() -> str:
    digest = hashlib.sha256()
    for package, name in _MODEL_SOURCES:
        digest.update(resources.files(package).joinpath(name).read_bytes())
    return digest.hexdigest()[:16]


def fit_key(data_hash: str, spec_yaml: str, settings: SamplerSettings) -> str:
    """Hash (16 hex digits) of everything that determines a fit's draws."""
    sampling = {k: v for k, v in asdict(settings).items() if k != "progress"}
    payload = json.dumps(
        {
            "data_hash": data_hash,
            "spec": spec_yaml,
            "sampling": sampling,
            "versions": package_versions(),
            "model_code": _model_source_hash(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def fit_attributes(netcdf: Path) -> dict:
    """Return the attributes saved with a fit without loading its draws ({} if unreadable)."""
    if not netcdf.exists():
        return {}
    try:
        with xr.open_dataset(netcdf, group="posterior", engine="h5netcdf") as posterior:
            return dict(posterior.attrs)
    except (OSError, ValueError):
        return {}


def stored_fit_key(netcdf: Path) -> str | None:
    """Return the key saved with a fit, or ``None`` when there is no readable fit."""
    return fit_attributes(netcdf).get("fit_key")


def remove_interrupted_writes(out_dir: Path) -> list[Path]:
    """Delete temporary files left by a run that was killed while writing (SIGKILL)."""
    leftovers = sorted(out_dir.glob(".*.tmp.*")) if out_dir.exists() else []
    for path in leftovers:
        path.unlink()
    return leftovers
