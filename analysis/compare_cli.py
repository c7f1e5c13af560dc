"""Command line: PSIS-LOO comparison of fitted models (``tables/model_comparison.csv``/``.md``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import arviz as az

from analysis.model_comparison import loo_comparison
from cmds_common.atomic import write_text, write_with
from cmds_common.constants import FITS_DIR, RESULTS_DIR
from cmds_common.markdown import to_markdown


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m analysis compare", description=__doc__)
    parser.add_argument("--fits", type=Path, default=FITS_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--models", nargs="+", default=["model2_pooled", "model2", "model2_slopes"])
    args = parser.parse_args(argv)
    missing = [m for m in args.models if not (args.fits / f"{m}.nc").exists()]
    if missing:
        print(f"error: no fits for {missing} in {args.fits}; run make fit", file=sys.stderr)
        return 2
    fits = {m: az.from_netcdf(args.fits / f"{m}.nc") for m in args.models}
    hashes = {m: f.posterior.attrs["data_hash"] for m, f in fits.items()}
    if len(set(hashes.values())) > 1:
        print(f"error: the models were fitted to different data sets: {hashes}", file=sys.stderr)
        return 2
    table = loo_comparison(fits)
    tables = args.out / "tables"
    write_with(tables / "model_comparison.csv", lambda p: table.to_csv(p, index=False))
    write_text(
        tables / "model_comparison.md",
        "# Model comparison (PSIS-LOO)\n\nHigher elpd_loo is better; elpd_diff and dse are "
        "differences from the best model and their standard errors. Pareto k: good <= "
        "pareto_k_threshold (min(1 - 1/log10(draws), 0.7)), bad up to 1, very bad > 1.\n\n"
        + to_markdown(table),
    )
    print("model comparison (PSIS-LOO):")
    print(table.round(2).to_string(index=False))
    return 0
