"""Command line: a robustness grid of fits (``python -m analysis grid``, ``make grid``).

Fits every cell of ``--grid`` (specs x outcomes x data files x seeds, see :mod:`analysis.grid`)
as Dask tasks and writes to ``<out>/grid/<name>/``:

* ``fits/<cell>.nc`` and ``fits/<cell>_frequentist.csv``: one fit per cell (a rerun skips the
  cells whose saved fit has the same fit key);
* ``grid_results.csv``/``.md``: the tidy table, one row per cell;
* ``specification_curve.png``: the focal coefficient of every cell with its 95% interval.

The table and figure are written once every cell has run. Exit status 1 when a cell failed
(each is named, with its error, and left out of the figure), 2 for a grid that cannot run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.cli_options import add_out
from analysis.figures import save_figure
from analysis.grid import GridError, load_grid, run_grid
from analysis.grid_plots import specification_curve
from cmds_common.atomic import write_text, write_with
from cmds_common.markdown import to_markdown
from models.fit_cache import remove_interrupted_writes


def add_scheduler(parser: argparse.ArgumentParser) -> None:
    """Add ``--scheduler`` and ``--workers``: where batches of fits run."""
    parser.add_argument(
        "--scheduler",
        default="local",
        help="'local': a Dask LocalCluster on this machine; 'tcp://host:port': a running Dask "
        "scheduler (make ... SCHEDULER=tcp://host:8786); 'serial': in this process",
    )
    parser.add_argument(
        "--workers", type=int, help="worker processes of the local cluster (default: one per core)"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m analysis grid``."""
    parser.add_argument("--grid", type=Path, required=True, help="the grid's YAML file")
    add_out(parser)
    add_scheduler(parser)
    parser.add_argument("--refit", action="store_true", help="refit cells whose fit is current")


def run(args: argparse.Namespace) -> int:
    """Fit the grid and write its table and specification curve; the exit status."""
    try:
        grid = load_grid(args.grid)
        out = args.out / "grid" / grid.name
        for leftover in remove_interrupted_writes(out / "fits"):
            print(f"removed {leftover}, left by an interrupted run")
        results, failures = run_grid(
            grid, out / "fits", scheduler=args.scheduler, workers=args.workers, refit=args.refit
        )
    except GridError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished fits are kept; the next run fits the rest", file=sys.stderr)
        return 130
    header = (
        f"# Robustness grid {grid.name} ({grid.source})\n\n"
        f"Focal term `{grid.focal}`: posterior mean and central 95% interval (log-odds for "
        "logistic and ordinal families), weighted frequentist estimate with 95% CI, and the "
        f"focal coefficient's R-hat and bulk ESS. {len(results)} cells, "
        f"{len(failures)} failed.\n\n"
    )
    failed_lines = "".join(f"- `{name}`: {error}\n" for name, error in failures.items())
    write_with(out / "grid_results.csv", lambda p: results.to_csv(p, index=False))
    write_text(
        out / "grid_results.md",
        header + to_markdown(results) + (f"\n\nFailed cells:\n\n{failed_lines}" * bool(failures)),
    )
    save_figure(specification_curve(results, grid.focal), out / "specification_curve.png")
    shown = results.drop(columns=["cell", "family", "term"])
    print(shown.to_string(index=False))
    print(f"wrote {out}")
    if failures:
        print(f"{len(failures)} cell(s) failed:\n{failed_lines}", file=sys.stderr, end="")
        return 1
    return 0
