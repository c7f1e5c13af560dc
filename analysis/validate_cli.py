"""Command line: simulation-based calibration of a model (``python -m analysis validate``).

Simulates ``--replicates`` outcome vectors from the model's prior on the real design, fits each
with the default engine, and writes to ``<out>/validation/``:

* ``calibration_replicates.csv``: per replicate and quantity, the truth, rank and coverage;
* ``calibration_coverage.csv``/``.md``: coverage of 50% and 90% intervals with 99% binomial
  intervals, and the rank-uniformity test, per quantity;
* ``sbc_rank_ecdf.png`` and ``interval_coverage.png``.

Each replicate is a Dask task (``--scheduler``: a local cluster by default, or a running
scheduler's address); finished replicates are kept in ``validation/replicates/`` with their fit
keys, so a rerun (after an interruption, or with more ``--replicates``) fits only the missing
ones. The numbers do not depend on where the replicates ran.

Exit status 1 when a coverage check fails for more quantities than chance explains (see
``--max-failures``), 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time

from analysis.calibration import CalibrationSettings, coverage_table, run_calibration
from analysis.calibration_plots import coverage_plot, rank_ecdf_plot
from analysis.cli_options import add_data, add_out
from analysis.figures import save_figure
from analysis.grid_cli import add_scheduler
from cmds_common.analysis_table import data_hash, read_analysis_table
from cmds_common.atomic import write_text, write_with
from cmds_common.constants import DEFAULT_SEED
from cmds_common.markdown import to_markdown
from cmds_common.spec import load_spec
from models.design import build_design


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m analysis validate``."""
    add_data(parser)
    parser.add_argument("--spec", default="model2", help="spec whose design is simulated from")
    add_out(parser)
    parser.add_argument("--replicates", type=int, default=100, help="simulated data sets")
    parser.add_argument("--draws", type=int, default=1000, help="draws per chain and replicate")
    parser.add_argument("--tune", type=int, default=500, help="warm-up draws per chain")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the whole study")
    add_scheduler(parser)
    parser.add_argument(
        "--max-failures",
        type=int,
        default=2,
        help="coverage cells (quantity x level) allowed outside their 99%% interval (default 2: "
        "with 28 cells about 0.28 fail by chance)",
    )


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m analysis validate ...``; return the exit status."""
    from analysis.cli import main as analysis_main

    return analysis_main(["validate", *(argv or [])])


def run(args: argparse.Namespace) -> int:
    """Simulation-based calibration study; the exit status."""
    if not args.data.exists():
        print(f"error: analysis data {args.data} not found; run `make data`", file=sys.stderr)
        return 2
    table = read_analysis_table(args.data)
    spec = load_spec(args.spec)
    design = build_design(table, spec)
    settings = CalibrationSettings(
        replicates=args.replicates, draws=args.draws, tune=args.tune, seed=args.seed
    )
    started = time.perf_counter()

    def report(replicate: int, diagnostics: dict) -> None:
        elapsed = time.perf_counter() - started
        print(
            f"[validate] replicate {replicate + 1}/{settings.replicates}: "
            f"max R-hat {diagnostics['max_r_hat']:.3f}, min bulk ESS "
            f"{diagnostics['min_ess_bulk']:.0f}, {diagnostics['divergences']} divergences "
            f"({elapsed:.0f} s so far)",
            flush=True,
        )

    out = args.out / "validation"
    try:
        results = run_calibration(
            design,
            spec,
            settings,
            report,
            scheduler=args.scheduler,
            workers=args.workers,
            cache_dir=out / "replicates",
            data_key=data_hash(table),
        )
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    coverage = coverage_table(results, settings.rank_draws)
    write_with(out / "calibration_replicates.csv", lambda p: results.to_csv(p, index=False))
    write_with(out / "calibration_coverage.csv", lambda p: coverage.to_csv(p, index=False))
    failures = int((~coverage[["coverage_50%_ok", "coverage_90%_ok"]]).to_numpy().sum())
    flagged = results.drop_duplicates("replicate")
    header = (
        f"# Calibration of {spec.name}: {settings.replicates} simulated data sets\n\n"
        f"Design: {len(design.y)} respondents of {args.data} (data hash {data_hash(table)}); "
        f"parameters drawn from the prior; {settings.chains} chains x {settings.draws} draws "
        f"after {settings.tune} warm-up per fit; seed {settings.seed}. Ranks among "
        f"{settings.rank_draws} thinned draws. A coverage is ok when the nominal level is inside "
        f"the 99% Wilson interval of the observed share. {failures} of {2 * len(coverage)} "
        f"coverage cells outside; replicates with R-hat > 1.01: "
        f"{int((flagged['max_r_hat'] > 1.01).sum())}, with divergences: "
        f"{int((flagged['divergences'] > 0).sum())}.\n\n"
    )
    write_text(out / "calibration_coverage.md", header + to_markdown(coverage))
    save_figure(rank_ecdf_plot(results, settings.rank_draws, args.seed), out / "sbc_rank_ecdf.png")
    save_figure(coverage_plot(coverage), out / "interval_coverage.png")
    print(coverage.to_string(index=False))
    print(f"{failures} coverage cells outside their 99% interval; wrote {out}")
    return 1 if failures > args.max_failures else 0
