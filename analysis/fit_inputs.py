"""Load a fit with the data set and design it was fitted to (checked by data hash)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import arviz as az
import pandas as pd
import xarray as xr
import yaml

from data_prep.analysis_dataset import data_hash
from models.design import Design, build_design
from models.spec import ModelSpec, spec_from_dict


@dataclass
class LoadedFit:
    """A fit, its spec, and (when given) the data and design it was fitted to."""

    name: str
    idata: xr.DataTree
    spec: ModelSpec
    data: pd.DataFrame | None = None
    design: Design | None = None

    @property
    def label(self) -> str:
        """The model's human-readable label."""
        return str(self.idata.posterior.attrs.get("model_label", self.name))


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
    return fit
