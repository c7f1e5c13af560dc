"""Command line: write ``results/report.html``, one self-contained page of the whole run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.report import ReportInputs, build_report
from cmds_common.atomic import write_text
from cmds_common.constants import RESULTS_DIR


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m analysis report", description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--models", nargs="+", default=["model1", "model2"])
    parser.add_argument("--main-model", default="model2", help="model of the checks and maps")
    parser.add_argument("--out", type=Path, help="default: <results>/report.html")
    args = parser.parse_args(argv)
    if not (args.results / "fits").exists():
        print(f"error: no fits under {args.results}; run make fit first", file=sys.stderr)
        return 2
    inputs = ReportInputs(results=args.results, models=args.models, main_model=args.main_model)
    out = args.out or args.results / "report.html"
    write_text(out, build_report(inputs))
    print(f"report written to {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
