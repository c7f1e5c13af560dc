"""Robustness grid: every combination of specs x outcomes x data files x seeds, one fit each.

A grid is one YAML file (``grids/example.yaml``)::

    name: integration_robustness
    focal: local_medical_insurance_yes   # the coefficient the specification curve shows
    specs: [model2, model2_pooled]       # shipped names or .yaml paths
    outcomes: [health_record, family_doctor]   # optional: default each spec's own outcome
    data: [results/data/analysis_data.parquet] # analysis tables (written by python -m data_prep)
    seeds: [20150501, 1]
    sampler: {draws: 500, tune: 500, chains: 2}  # optional overrides of every spec's settings

Each cell is the spec with its outcome replaced, fitted with the seed on the data file; cells
are named ``<spec>-<outcome>-<data>-s<seed>``. The fit runs as a task (:mod:`models.task_runner`)
and is saved as ``fits/<cell>.nc`` with its fit key (:mod:`models.fit_cache`), so a rerun fits
only the cells whose key changed or that failed. The result is one tidy table, one row per cell:
the focal coefficient's posterior mean and 95% interval (log scale), its weighted frequentist
estimate and interval, R-hat, bulk ESS and divergences.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from cmds_common.analysis_table import data_hash, read_analysis_table
from cmds_common.atomic import write_with
from cmds_common.spec import ModelSpec, SpecError, load_spec, spec_to_yaml
from cmds_common.yaml_text import load_yaml
from data_prep.design_check import design_findings
from models.fit_cache import fit_key, stored_fit_key
from models.fit_file import write_fit_netcdf
from models.fitting import fit_model, spec_settings
from models.sampling import SamplerSettings
from models.task_runner import LOCAL, Task, TaskOutcome, run_tasks

#: Keys a grid file may have, and the sampler overrides it may give.
GRID_KEYS = {"name", "focal", "specs", "outcomes", "data", "seeds", "sampler"}
SAMPLER_KEYS = {"sampler", "chains", "draws", "tune", "target_accept", "max_extra_batches"}
#: Width of the reported posterior and confidence intervals.
INTERVAL = 0.95
#: Columns of the tidy result table (one row per cell).
RESULT_COLUMNS = [
    "cell",
    "spec",
    "outcome",
    "data",
    "seed",
    "family",
    "term",
    "estimate",
    "lower",
    "upper",
    "frequentist_estimate",
    "frequentist_lower",
    "frequentist_upper",
    "r_hat",
    "ess_bulk",
    "divergences",
    "n_obs",
    "status",
]


class GridError(ValueError):
    """A grid file that cannot be run, with the file named."""


@dataclass(frozen=True)
class Grid:
    """A robustness grid as read from its YAML file."""

    name: str
    focal: str
    specs: tuple[ModelSpec, ...]
    outcomes: tuple[str, ...]
    data: tuple[Path, ...]
    seeds: tuple[int, ...]
    sampler: dict[str, Any]
    source: str = "<dict>"


@dataclass(frozen=True)
class GridCell:
    """One fit of the grid: a spec (outcome replaced, named after the cell), data file, seed."""

    name: str
    spec: ModelSpec
    base_spec: str
    data: Path
    data_label: str
    seed: int


def load_grid(path: str | Path) -> Grid:
    """Read and check a grid file.

    Parameters
    ----------
    path
        The grid's YAML file. Relative data paths are read from the current folder (where
        ``make`` runs), as on the command line.

    Raises
    ------
    GridError
        Unknown keys, missing ones, unknown specs, or settings of the wrong type.
    """
    path = Path(path)
    if not path.exists():
        raise GridError(f"grid file not found: {path}")
    raw = load_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise GridError(f"{path}: expected a mapping of keys")
    unknown = set(raw) - GRID_KEYS
    missing = {"focal", "specs", "data", "seeds"} - set(raw)
    if unknown or missing:
        raise GridError(
            f"{path}: "
            + "; ".join(
                ([f"unknown keys {sorted(unknown)}"] if unknown else [])
                + ([f"missing keys {sorted(missing)}"] if missing else [])
            )
            + f" (keys: {sorted(GRID_KEYS)})"
        )
    sampler = dict(raw.get("sampler") or {})
    stray = set(sampler) - SAMPLER_KEYS
    if stray:
        raise GridError(f"{path}: unknown sampler keys {sorted(stray)} (known: {SAMPLER_KEYS})")
    try:
        specs = tuple(load_spec(str(s)) for s in _as_list(raw["specs"]))
        seeds = tuple(int(s) for s in _as_list(raw["seeds"]))
    except (SpecError, ValueError, TypeError) as err:
        raise GridError(f"{path}: {err}") from err
    return Grid(
        name=str(raw.get("name", path.stem)),
        focal=str(raw["focal"]),
        specs=specs,
        outcomes=tuple(str(o) for o in _as_list(raw.get("outcomes") or [])),
        data=tuple(Path(str(d)) for d in _as_list(raw["data"])),
        seeds=seeds,
        sampler=sampler,
        source=str(path),
    )


def _as_list(value: object) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def grid_cells(grid: Grid) -> list[GridCell]:
    """Every combination of spec, outcome, data file and seed, in the grid file's order."""
    stems = [d.stem for d in grid.data]
    labels = [f"{d.parent.name}_{d.stem}" if stems.count(d.stem) > 1 else d.stem for d in grid.data]
    cells = []
    for spec in grid.specs:
        for outcome in grid.outcomes or (spec.outcome,):
            for data, label in zip(grid.data, labels, strict=True):
                for seed in grid.seeds:
                    name = f"{spec.name}-{outcome}-{label}-s{seed}"
                    cells.append(
                        GridCell(
                            name=name,
                            spec=dataclasses.replace(spec, outcome=outcome, name=name),
                            base_spec=spec.name,
                            data=data,
                            data_label=label,
                            seed=seed,
                        )
                    )
    return cells


def cell_settings(cell: GridCell, grid: Grid) -> SamplerSettings:
    """Sampler settings of a cell: the spec's own, the grid's overrides, the cell's seed."""
    overrides = {k: v for k, v in grid.sampler.items() if k != "sampler"}
    return spec_settings(
        cell.spec,
        str(grid.sampler.get("sampler", "auto")),
        overrides,
        seed=cell.seed,
        progress=False,
    )


def fit_cell(cell: GridCell, settings: SamplerSettings) -> tuple[pd.DataFrame, xr.DataTree]:
    """Fit one cell (the task a worker runs): the frequentist table and the posterior.

    The data file is read where the task runs, so workers of a cluster need to see it (a
    shared file system, as on SLURM clusters).

    Raises
    ------
    SpecError
        When the spec cannot be estimated on the data (missing outcome, empty level, rank).
    """
    table = read_analysis_table(cell.data)
    problems = [str(f) for f in design_findings(table, cell.spec)]
    if problems:
        raise SpecError(f"{cell.data}: " + "; ".join(problems))
    key = fit_key(data_hash(table), spec_to_yaml(cell.spec), settings)
    _, frequentist, idata = fit_model(
        table, cell.spec, settings, attrs={"data_path": str(cell.data), "fit_key": key}
    )
    return frequentist, idata


def cell_key(cell: GridCell, settings: SamplerSettings, hashes: dict[Path, str]) -> str:
    """Compute the fit key of a cell (``hashes``: data hash per file, read once per file)."""
    return fit_key(hashes[cell.data], spec_to_yaml(cell.spec), settings)


def run_grid(
    grid: Grid,
    fits_dir: Path,
    scheduler: str = LOCAL,
    workers: int | None = None,
    refit: bool = False,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Fit every cell not already saved with its key; summarise every cell.

    Parameters
    ----------
    grid
        The grid.
    fits_dir
        Folder of the cells' fits (``<cell>.nc`` and ``<cell>_frequentist.csv``). Each fit is
        written atomically as soon as it arrives.
    scheduler, workers
        Where the fits run (:func:`models.task_runner.run_tasks`).
    refit
        Fit every cell again even when its saved fit is current.

    Returns
    -------
    results, failures
        The tidy table (:data:`RESULT_COLUMNS`, one row per cell; failed cells have
        ``status`` "failed" and no estimates) and ``{cell: error line}``.
    """
    cells = grid_cells(grid)
    hashes = {}
    for path in dict.fromkeys(c.data for c in cells):
        if not path.exists():
            raise GridError(f"{grid.source}: data file {path} not found")
        hashes[path] = data_hash(read_analysis_table(path))
    settings = {cell.name: cell_settings(cell, grid) for cell in cells}
    keys = {cell.name: cell_key(cell, settings[cell.name], hashes) for cell in cells}
    todo = [
        cell
        for cell in cells
        if refit
        or not (fits_dir / f"{cell.name}_frequentist.csv").exists()
        or stored_fit_key(fits_dir / f"{cell.name}.nc") != keys[cell.name]
    ]
    print(f"[grid] {grid.name}: {len(cells)} cells, {len(cells) - len(todo)} already fitted")

    def save(outcome: TaskOutcome) -> None:
        if outcome.failed:
            return
        frequentist, idata = outcome.value
        write_with(fits_dir / f"{outcome.name}.nc", lambda p: write_fit_netcdf(idata, p))
        write_with(
            fits_dir / f"{outcome.name}_frequentist.csv",
            lambda p: frequentist.to_csv(p, index=False),
        )

    outcomes = run_tasks(
        [Task(c.name, fit_cell, (c, settings[c.name])) for c in todo],
        scheduler=scheduler,
        workers=workers,
        description="grid fits",
        on_done=save,
        log_dir=fits_dir.parent / "logs",
    )
    failures = {name: o.error_line() for name, o in outcomes.items() if o.failed}
    rows = [
        _failed_row(cell, grid.focal)
        if cell.name in failures
        else cell_summary(cell, grid.focal, fits_dir)
        for cell in cells
    ]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS), failures


def _failed_row(cell: GridCell, focal: str) -> dict[str, Any]:
    return {**_cell_columns(cell, focal), "status": "failed"}


def _cell_columns(cell: GridCell, focal: str) -> dict[str, Any]:
    return {
        "cell": cell.name,
        "spec": cell.base_spec,
        "outcome": cell.spec.outcome,
        "data": cell.data_label,
        "seed": cell.seed,
        "family": cell.spec.family,
        "term": focal,
    }


def cell_summary(cell: GridCell, focal: str, fits_dir: Path) -> dict[str, Any]:
    """One row of the result table from a cell's saved fit.

    The estimate is the posterior mean of the focal coefficient (log-odds for logistic
    families), its interval the central 95% posterior interval; R-hat and bulk ESS are the
    focal coefficient's (rank-normalised, ArviZ).
    """
    import arviz as az

    row: dict[str, Any] = {**_cell_columns(cell, focal), "status": "ok"}
    posterior = xr.open_datatree(fits_dir / f"{cell.name}.nc", engine="h5netcdf")
    try:
        beta = posterior["posterior"].to_dataset()["beta"]
        stats = posterior["sample_stats"].to_dataset()
        row["n_obs"] = int(posterior["posterior"].attrs.get("n_obs", -1))
        row["divergences"] = int(stats["diverging"].sum()) if "diverging" in stats else 0
        if focal not in beta.coords["term"].values:
            row["status"] = "focal term not in this spec"
            return row
        draws = beta.sel(term=focal).load()
        tail = (1 - INTERVAL) / 2
        lower, upper = np.quantile(draws.values, [tail, 1 - tail])
        row.update(
            estimate=float(draws.mean()),
            lower=float(lower),
            upper=float(upper),
            r_hat=float(az.rhat(draws.to_dataset(name="beta"))["beta"]),
            ess_bulk=float(az.ess(draws.to_dataset(name="beta"))["beta"]),
        )
    finally:
        posterior.close()
    row.update(_frequentist_focal(fits_dir / f"{cell.name}_frequentist.csv", focal))
    return row


def _frequentist_focal(path: Path, focal: str) -> dict[str, float]:
    """Read the focal term's weighted frequentist estimate and 95% interval on the log scale."""
    table = pd.read_csv(path)
    match = table[table["term"] == focal]
    if match.empty or "se" not in table:
        return {}
    # log_odds for the logistic and ordinal families; gaussian estimates are in outcome units
    column = "log_odds" if "log_odds" in table else "estimate"
    estimate, se = float(match[column].iloc[0]), float(match["se"].iloc[0])

    z = float(stats.norm.ppf(0.5 + INTERVAL / 2))
    return {
        "frequentist_estimate": estimate,
        "frequentist_lower": estimate - z * se,
        "frequentist_upper": estimate + z * se,
    }
