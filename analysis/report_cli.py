"""Command line: write ``results/report.html``, one self-contained page of the whole run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.cli_options import add_models
from analysis.report import ReportInputs, build_report
from cmds_common.atomic import write_text
from cmds_common.constants import RESULTS_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m analysis report``."""
    parser.add_argument(
        "--results", type=Path, default=RESULTS_DIR, help="results folder the report reads"
    )
    add_models(parser, default=["model1", "model2"], required=True)
    parser.add_argument("--main-model", default="model2", help="model of the checks and maps")
    parser.add_argument("--out", type=Path, help="report file (default: <results>/report.html)")


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m analysis report ...``; return the exit status."""
    from analysis.cli import main as analysis_main

    return analysis_main(["report", *(argv or [])])


def run(args: argparse.Namespace) -> int:
    """Write the self-contained HTML report; the exit status."""
    if not (args.results / "fits").exists():
        print(f"error: no fits under {args.results}; run make fit first", file=sys.stderr)
        return 2
    inputs = ReportInputs(results=args.results, models=args.models, main_model=args.main_model)
    out = args.out or args.results / "report.html"
    write_text(out, build_report(inputs))
    print(f"report written to {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
