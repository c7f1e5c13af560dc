"""Load a fit with the data set and design it was fitted to (checked by data hash).

:func:`usable_fits` decides which fits under ``results/fits`` belong to the current analysis
data: every summary, check, comparison and the report use only those, and say in words why any
other requested fit was left out (missing, fitted to other data, no pointwise draws, no weighted
logit table), so one ``results/`` folder never mixes runs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import arviz as az
import pandas as pd
import xarray as xr
import yaml

from cmds_common.analysis_table import data_hash
from cmds_common.constants import (
    ANALYSIS_DATA_FILE,
    DATA_DICTIONARY_FILE,
    MIN_POINTWISE_DRAWS,
    POINTWISE_LIMIT,
)
from cmds_common.spec import ModelSpec, spec_from_dict
from models.design import Design, build_design
from models.fit_cache import fit_attributes


@dataclass
class LoadedFit:
    """A fit, its spec, and (when given) the data and design it was fitted to."""

    name: str
    idata: xr.DataTree
    spec: ModelSpec
    data: pd.DataFrame | None = None
    design: Design | None = None
    labels: dict[str, str] = field(default_factory=dict)
    data_path: Path | None = None

    @property
    def label(self) -> str:
        """The model's human-readable label."""
        return str(self.idata.posterior.attrs.get("model_label", self.name))

    def describe(self, variable: str) -> str:
        """Return a variable's declared label, shortened to its first clause (else its name)."""
        label = self.labels.get(variable, "")
        short = label.split(" (")[0].split(";")[0].split(", 0 = ")[0].removeprefix("1 = ")
        return short.strip() or variable


def load_fit(netcdf: Path, data_path: Path | None = None) -> LoadedFit:
    """Read ``<name>.nc``; with ``data_path``, also the data, refusing a different data set."""
    idata = az.from_netcdf(netcdf)
    attrs = idata.posterior.attrs
    spec = spec_from_dict(yaml.safe_load(attrs["spec_yaml"]), str(netcdf))
    fit = LoadedFit(name=str(attrs["model_name"]), idata=idata, spec=spec)
    if data_path is not None:
        data = pd.read_parquet(data_path)
        if data_hash(data) != attrs["data_hash"]:
            raise ValueError(
                f"{netcdf} was fitted to data with hash {attrs['data_hash']}, but {data_path} has "
                f"hash {data_hash(data)}; refit (make fit) before checking"
            )
        fit.data, fit.design = data, build_design(data, spec)
        fit.labels = declared_labels(data_path)
        fit.data_path = Path(data_path)
    return fit


def declared_labels(data_path: Path) -> dict[str, str]:
    """Variable -> declared label, from the data dictionary written beside the analysis data."""
    dictionary = Path(data_path).parent / DATA_DICTIONARY_FILE
    if not dictionary.exists():
        return {}
    table = pd.read_csv(dictionary, usecols=["variable", "label"]).dropna()
    return dict(zip(table["variable"].astype(str), table["label"].astype(str), strict=True))


@dataclass
class FitSelection:
    """Which requested fits may be used, and why the others may not."""

    data_hash: str | None
    usable: list[str] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)

    def report(self, step: str) -> None:
        """Print one line per fit left out (to stderr)."""
        for name, reason in self.left_out.items():
            print(f"note: left out of {step}: {name}: {reason}", file=sys.stderr)


def default_data_path(fits_dir: Path) -> Path:
    """Return the analysis data beside a fits folder (``<results>/data/...parquet``)."""
    return fits_dir.parent / "data" / ANALYSIS_DATA_FILE


def current_data_hash(data_path: Path | None) -> str | None:
    """Hash of the analysis data the run is about (``None`` when there is none)."""
    if data_path is None or not data_path.exists():
        return None
    return data_hash(pd.read_parquet(data_path))


def usable_fits(
    fits_dir: Path,
    names: list[str],
    data_path: Path | None,
    need_pointwise: bool = False,
    need_frequentist: bool = False,
) -> FitSelection:
    """Sort requested fits into usable ones and ones left out, with the reason in words.

    A fit is left out when its file is missing or unreadable, when it was fitted to data with
    another hash than ``data_path`` (a stale fit from an earlier ``DATA=``), when
    ``need_pointwise`` and it holds no pointwise log-likelihood, or when ``need_frequentist``
    and its weighted-logit table is missing. Without analysis data, fits must at least share
    one data hash (the most common one wins).
    """
    selection = FitSelection(data_hash=current_data_hash(data_path))
    attributes = {}
    for name in names:
        netcdf = fits_dir / f"{name}.nc"
        attrs = fit_attributes(netcdf)
        if not netcdf.exists():
            selection.left_out[name] = f"no fit ({netcdf} not found); fit it with make fit"
        elif "data_hash" not in attrs:
            selection.left_out[name] = f"{netcdf} is not a readable fit; refit it"
        else:
            attributes[name] = attrs
    hashes = [a["data_hash"] for a in attributes.values()]
    expected = selection.data_hash or (max(set(hashes), key=hashes.count) if hashes else None)
    for name, attrs in attributes.items():
        reason = _problem(fits_dir, name, attrs, expected, need_pointwise, need_frequentist)
        if reason:
            selection.left_out[name] = reason
        else:
            selection.usable.append(name)
    return selection


def _problem(
    fits_dir: Path,
    name: str,
    attrs: dict,
    expected: str | None,
    need_pointwise: bool,
    need_frequentist: bool,
) -> str:
    if expected is not None and attrs["data_hash"] != expected:
        return (
            f"stale: fitted to other data (data hash {attrs['data_hash']}, the current analysis "
            f"data has {expected}); refit it on the current data (make fit MODELS={name}) or "
            "keep runs apart with RESULTS="
        )
    if need_pointwise and not has_pointwise(fits_dir / f"{name}.nc", attrs):
        return missing_pointwise_reason(attrs)
    if need_frequentist and not (fits_dir / f"{name}_frequentist.csv").exists():
        return f"its weighted-logit table {name}_frequentist.csv is missing; refit it"
    return ""


def missing_pointwise_reason(attrs: dict) -> str:
    """Say why a fit has no pointwise draws, and what to do, from its attributes.

    A fit stores them only when at least ``MIN_POINTWISE_DRAWS`` draws (all chains) remain and
    respondents x those draws stay within ``POINTWISE_LIMIT`` (:mod:`cmds_common.constants`).
    """
    total = int(attrs.get("total_draws", int(attrs.get("chains", 0)) * int(attrs.get("draws", 0))))
    chains = max(1, int(attrs.get("chains", 1)))
    respondents = int(attrs.get("n_obs", 0))
    unusable = "so predictive checks and LOO cannot use it"
    if 0 < total < MIN_POINTWISE_DRAWS:
        return (
            f"stored without pointwise draws: {total:,} posterior draws, fewer than the "
            f"{MIN_POINTWISE_DRAWS} they need, {unusable}; refit with more draws (DRAWS= at "
            f"least {-(-MIN_POINTWISE_DRAWS // chains)} with {chains} chains)"
        )
    if respondents * MIN_POINTWISE_DRAWS > POINTWISE_LIMIT:
        return (
            f"stored without pointwise draws: {respondents:,} respondents x "
            f"{MIN_POINTWISE_DRAWS} draws exceed the {POINTWISE_LIMIT:,} values a fit keeps, "
            f"{unusable}"
        )
    return f"stored without pointwise draws (a fit from an older version), {unusable}; refit it"


def has_pointwise(netcdf: Path, attrs: dict | None = None) -> bool:
    """Whether a fit stores the pointwise log-likelihood (needed by LOO and the checks)."""
    attrs = fit_attributes(netcdf) if attrs is None else attrs
    if int(attrs.get("pointwise_stored", 1)) == 0:
        return False
    try:
        with xr.open_dataset(netcdf, group="log_likelihood", engine="h5netcdf") as group:
            return len(group.data_vars) > 0
    except (OSError, ValueError):
        return False
