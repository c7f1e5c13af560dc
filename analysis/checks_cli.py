"""Command line: posterior predictive checks and provincial variation for each fit.

``python -m analysis ppc --models model1 model2`` writes, per model, ``tables/ppc_<m>.csv``/``.md``,
``tables/calibration_<m>.csv``, ``figures/ppc_overall_<m>.png``, ``ppc_province_<m>.png``,
``ppc_categories_<m>.png``, ``calibration_<m>.png``; and for models with a province term
``tables/province_variation_<m>.csv``, ``tables/province_rates_<m>.csv``,
``figures/caterpillar_<m>.png``, ``shrinkage_<m>.png``, ``tilemap_<m>.png``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from analysis.cli_options import add_data, add_fits, add_models, add_out
from analysis.figures import save_figure
from analysis.fit_inputs import LoadedFit, load_fit, usable_fits
from analysis.ppc import calibration_table, predictive_checks
from analysis.ppc_plots import calibration_plot, interval_check_plot, overall_uptake_plot
from analysis.province_plots import caterpillar_plot, shrinkage_plot, tile_map
from analysis.province_variation import (
    province_odds_ratios,
    standardised_rates,
    variance_summaries,
)
from cmds_common.atomic import write_text, write_with
from cmds_common.markdown import to_markdown


def check_fit(fit: LoadedFit, out_dir: Path) -> pd.DataFrame:
    """Write the predictive checks of one fit; return the checks table."""
    tables, figures, name = out_dir / "tables", out_dir / "figures", fit.name
    outcome = fit.spec.outcome
    checks = predictive_checks(fit.idata, fit.data, outcome).assign(
        data_hash=fit.idata.posterior.attrs["data_hash"]
    )
    calibration = calibration_table(fit.idata, outcome)
    write_with(tables / f"ppc_{name}.csv", lambda p: checks.to_csv(p, index=False))
    write_with(tables / f"calibration_{name}.csv", lambda p: calibration.to_csv(p, index=False))
    shown = checks.assign(label=checks["variable"] + ": " + checks["level"])
    write_text(
        tables / f"ppc_{name}.md",
        f"# Posterior predictive checks: {fit.label}\n\nShares (%) with {outcome} = 1; "
        "Bayesian p = P(replicated > observed) + 0.5 P(equal).\n\n"
        + to_markdown(
            shown[["check", "label", "n"]].assign(
                observed=100 * shown["observed"],
                predicted=100 * shown["predicted_median"],
                pi_low=100 * shown["pi_low"],
                pi_high=100 * shown["pi_high"],
                bayes_p=shown["bayes_p"],
            )
        ),
    )
    save_figure(
        overall_uptake_plot(fit.idata, f"{fit.label}: overall uptake", fit.spec.outcome),
        figures / f"ppc_overall_{name}.png",
    )
    by_province = checks.query("check == 'province'")
    if not by_province.empty:
        save_figure(
            interval_check_plot(by_province, f"{fit.label}: uptake by inflow province"),
            figures / f"ppc_province_{name}.png",
        )
    categories = checks.query("check == 'category'").assign(
        label=lambda t: t["variable"] + ": " + t["level"]
    )
    save_figure(
        interval_check_plot(categories, f"{fit.label}: uptake by Table 1-2 category", "label"),
        figures / f"ppc_categories_{name}.png",
    )
    save_figure(
        calibration_plot(calibration, f"{fit.label}: calibration"),
        figures / f"calibration_{name}.png",
    )
    return checks


def province_variation(fit: LoadedFit, out_dir: Path) -> None:
    """Write the provincial variation tables and figures of a fit with a province term."""
    tables, figures, name = out_dir / "tables", out_dir / "figures", fit.name
    summary = variance_summaries(fit.idata)
    odds = province_odds_ratios(fit.idata)
    rates = standardised_rates(fit.idata, fit.design, fit.data, outcome=fit.spec.outcome)
    write_with(tables / f"province_variation_{name}.csv", lambda p: summary.to_csv(p, index=False))
    write_with(tables / f"province_odds_ratios_{name}.csv", lambda p: odds.to_csv(p, index=False))
    write_with(tables / f"province_rates_{name}.csv", lambda p: rates.to_csv(p, index=False))
    save_figure(
        caterpillar_plot(odds, f"{fit.label}: province effects"),
        figures / f"caterpillar_{name}.png",
    )
    overall = fit.data[fit.spec.outcome].mean()
    save_figure(
        shrinkage_plot(rates, overall, f"{fit.label}: partial pooling"),
        figures / f"shrinkage_{name}.png",
    )
    save_figure(
        tile_map(rates, f"{fit.label}: standardised uptake by inflow province"),
        figures / f"tilemap_{name}.png",
    )
    print(f"[{name}] provincial variation:")
    print(summary.round(3).to_string(index=False))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m analysis ppc``."""
    add_fits(parser)
    add_data(parser)
    add_out(parser)
    add_models(parser)


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m analysis ppc ...``; return the exit status."""
    from analysis.cli import main as analysis_main

    return analysis_main(["ppc", *(argv or [])])


def run(args: argparse.Namespace) -> int:
    """Predictive checks and provincial variation of each usable fit; the exit status."""
    names = args.models or sorted(p.stem for p in args.fits.glob("*.nc"))
    if not args.data.exists():
        print(f"error: analysis data {args.data} not found; run make data", file=sys.stderr)
        return 2
    selection = usable_fits(args.fits, names, args.data, need_pointwise=True)
    selection.report("the predictive checks")
    if not selection.usable:
        print(f"error: no fits in {args.fits} can be checked (see above)", file=sys.stderr)
        return 2
    for name in selection.usable:
        fit = load_fit(args.fits / f"{name}.nc", args.data)
        if fit.spec.family != "bernoulli":
            print(
                f"[{name}] predictive checks and provincial variation are built for 0/1 outcomes; "
                f"this model's family is {fit.spec.family}, so they are skipped (not yet available)"
            )
            continue
        checks = check_fit(fit, args.out)
        extreme = checks.query("bayes_p < 0.025 or bayes_p > 0.975")
        flagged = ", ".join(extreme["variable"] + "=" + extreme["level"])
        print(
            f"[{name}] {len(checks)} predictive checks, {len(extreme)} outside the 95% range"
            + (f": {flagged}" if flagged else "")
        )
        if fit.spec.group == "province":
            province_variation(fit, args.out)
    return 0
