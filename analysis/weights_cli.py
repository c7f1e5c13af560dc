"""Command line: survey-weighted against unweighted posteriors (``python -m analysis weights``).

Writes ``tables/weighting_comparison.csv``/``.md`` and ``figures/weighting_comparison.png``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import arviz as az

from analysis.figures import save_figure
from analysis.forest_plot import forest_plot
from analysis.weighting import WEIGHTING_SOURCES, weighting_comparison
from cmds_common.atomic import write_text, write_with
from cmds_common.constants import FITS_DIR, RESULTS_DIR
from cmds_common.markdown import to_markdown


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m analysis weights", description=__doc__)
    parser.add_argument("--fits", type=Path, default=FITS_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--unweighted", default="model2")
    parser.add_argument("--weighted", default="model2_weighted")
    args = parser.parse_args(argv)
    paths = [args.fits / f"{m}.nc" for m in (args.unweighted, args.weighted)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"error: fits not found: {missing}; run make fit", file=sys.stderr)
        return 2
    unweighted, weighted = (az.from_netcdf(p) for p in paths)
    table = weighting_comparison(unweighted, weighted)
    tables = args.out / "tables"
    write_with(tables / "weighting_comparison.csv", lambda p: table.to_csv(p, index=False))
    write_text(
        tables / "weighting_comparison.md",
        f"# Survey weights: {args.weighted} against {args.unweighted}\n\n"
        "Posterior median odds ratios with 95% credible intervals. shift_in_sd: change of the "
        "posterior mean log-odds in units of the unweighted posterior SD; width_ratio: weighted "
        "over unweighted interval width (log scale). The weighted intervals are not "
        "design-based.\n\n" + to_markdown(table),
    )
    title = f"Survey weights: {args.weighted} against {args.unweighted}"
    save_figure(
        forest_plot(table, title, WEIGHTING_SOURCES),
        args.out / "figures" / "weighting_comparison.png",
    )
    print("survey-weighted against unweighted posterior (odds ratios):")
    print(table.round(3).to_string(index=False))
    return 0
