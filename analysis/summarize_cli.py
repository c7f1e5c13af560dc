"""Command line: odds-ratio comparison, convergence gate and forest plots for fitted models.

``python -m analysis --fits results/fits --out results`` reads each ``<name>.nc`` and
``<name>_frequentist.csv`` and writes ``tables/odds_ratios_<name>.csv`` and ``.md``,
``tables/convergence_<name>.csv``, ``tables/province_sd.csv`` and
``figures/forest_<name>.png``; from the analysis data set (``--data``) it writes Tables 1-2
beside the published figures (``tables/table1_table2.csv``/``.md``,
``tables/table1_continuous.csv``). Exits with status 3 when any fit fails the convergence
checks, unless ``--accept-convergence-failure`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from analysis.convergence import convergence_checks, failure_messages
from analysis.descriptive_tables import category_table, continuous_table, display_category_table
from analysis.figures import save_figure
from analysis.fit_inputs import load_fit
from analysis.forest_plot import forest_plot
from analysis.odds_ratios import group_sd_summary, odds_ratio_table
from cmds_common.atomic import write_text, write_with
from cmds_common.constants import ANALYSIS_DATA_FILE, DATA_DIR, FITS_DIR, RESULTS_DIR
from cmds_common.markdown import to_markdown
from models.hierarchical import free_parameter_names

CONVERGENCE_FAILED = 3


def _interval(est: float, low: float, high: float) -> str:
    if pd.isna(est):
        return ""
    return f"{est:.2f} ({low:.2f}-{high:.2f})"


def _probability(value: float) -> str:
    # 4,000 draws cannot tell 0 from 0.0002: print the bound, not a false zero
    if value < 0.001:
        return "<0.001"
    if value > 0.999:
        return ">0.999"
    return f"{value:.3f}"


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """Compact, human-readable version of an odds-ratio table (for Markdown and the screen)."""
    return pd.DataFrame(
        {
            "term": table["term"],
            "Bayes OR (95% CrI)": [
                _interval(*r)
                for r in table[["posterior_median_or", "cri_low", "cri_high"]].to_numpy()
            ],
            "P(OR>1)": table["prob_or_gt_1"].map(_probability),
            "R-hat": table["r_hat"].map("{:.3f}".format),
            "ESS bulk": table["ess_bulk"].map("{:.0f}".format),
            "weighted logit OR (95% CI)": [
                _interval(*r) for r in table[["freq_or", "freq_ci_low", "freq_ci_high"]].to_numpy()
            ],
            "published OR (95% CI)": [
                _interval(*r)
                for r in table[["published_or", "published_ci_low", "published_ci_high"]].to_numpy()
            ],
        }
    )


def summarize_fit(netcdf: Path, out_dir: Path) -> tuple[pd.DataFrame, list[str], dict | None]:
    """Write the tables and forest plot of one fit.

    Returns
    -------
    odds_ratios : pandas.DataFrame
        The full odds-ratio table.
    failures : list of str
        Failed convergence checks (empty when the fit passed).
    group_sd : dict or None
        Posterior summary of the province SD (``None`` for a pooled model).
    """
    fit = load_fit(netcdf)
    idata, name, group = fit.idata, fit.name, fit.spec.group
    attrs = idata.posterior.attrs
    frequentist = pd.read_csv(netcdf.with_name(f"{name}_frequentist.csv"))
    table = odds_ratio_table(idata, frequentist, fit.spec.published_model)
    table.insert(0, "model", name)
    tables_dir, figures_dir = out_dir / "tables", out_dir / "figures"
    write_with(tables_dir / f"odds_ratios_{name}.csv", lambda p: table.to_csv(p, index=False))

    checks = convergence_checks(idata, free_parameter_names(fit.spec))
    checks.insert(0, "model", name)
    write_with(tables_dir / f"convergence_{name}.csv", lambda p: checks.to_csv(p, index=False))
    failures = failure_messages(checks)
    group_sd = group_sd_summary(idata, group) if group else None

    header = (
        f"# {fit.label}\n\n"
        f"`{attrs['formula']}`\n\n"
        f"n = {attrs.get('n_obs')}; data hash `{attrs['data_hash']}`; sampler {attrs['sampler']}, "
        f"{attrs['chains']} chains x {attrs['draws']} draws, seed {attrs['seed']}"
        + (
            f" (+{attrs['extra_batches']} extra batch(es) because ESS fell short: "
            f"{attrs.get('total_chains')} chains, {attrs.get('total_draws')} draws in all)"
            if attrs.get("extra_batches")
            else ""
        )
        + ".\n"
        "Bayesian intervals are equal-tailed 95% credible intervals; the weighted logit uses "
        "design-based (sandwich) standard errors.\n\n"
    )
    if group_sd:
        header += (
            f"Province SD (log-odds): {group_sd['posterior_median']:.2f} "
            f"({group_sd['cri_low']:.2f}-{group_sd['cri_high']:.2f})\n\n"
        )
    status = "passed" if not failures else "FAILED: " + "; ".join(failures)
    write_text(
        tables_dir / f"odds_ratios_{name}.md",
        header + to_markdown(display_table(table)) + f"\nConvergence: {status}\n",
    )
    save_figure(
        forest_plot(table, f"{fit.label}: odds ratios"), figures_dir / f"forest_{name}.png", 150
    )
    return table, failures, group_sd


def describe_data(data_path: Path, out_dir: Path) -> pd.DataFrame:
    """Write Tables 1-2 (and the continuous summaries) of an analysis data set."""
    data = pd.read_parquet(data_path)
    categories, continuous = category_table(data), continuous_table(data)
    tables_dir = out_dir / "tables"
    write_with(tables_dir / "table1_table2.csv", lambda p: categories.to_csv(p, index=False))
    write_with(tables_dir / "table1_continuous.csv", lambda p: continuous.to_csv(p, index=False))
    write_text(
        tables_dir / "table1_table2.md",
        f"# Tables 1-2: {len(data)} respondents of `{data_path}`\n\n"
        "Row % = share with a health record. p: Pearson chi-square (unweighted; weighted = "
        "weights as frequencies scaled to n, descriptive only). Published: Jing et al. 2019.\n\n"
        + to_markdown(display_category_table(categories))
        + "\n## Age and years in the inflow area\n\n"
        + to_markdown(continuous),
    )
    return categories


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``python -m analysis``."""
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=Path, default=FITS_DIR)
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA_DIR / ANALYSIS_DATA_FILE,
        help="analysis data set for Tables 1-2 (skipped when absent)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--models", nargs="*", help="model names (default: every fit found)")
    parser.add_argument(
        "--accept-convergence-failure",
        action="store_true",
        help="write results and exit 0 even when a fit fails the convergence checks",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.data.exists():
        describe_data(args.data, args.out)
        print(f"Tables 1-2 of {args.data} written to {args.out / 'tables' / 'table1_table2.md'}")
    names = args.models or sorted(p.stem for p in args.fits.glob("*.nc"))
    if not names:
        print(f"error: no fits (*.nc) in {args.fits}; run `make fit` first", file=sys.stderr)
        return 2
    all_failures, group_sds = {}, []
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        for name in names:
            table, failures, group_sd = summarize_fit(args.fits / f"{name}.nc", args.out)
            print(f"\n=== {name}: odds ratios of having a health record ===")
            print(display_table(table).to_string(index=False))
            if group_sd:
                group_sds.append({"model": name, **group_sd})
                print(
                    f"{group_sd['parameter']}: {group_sd['posterior_median']:.2f} "
                    f"(95% CrI {group_sd['cri_low']:.2f}-{group_sd['cri_high']:.2f})"
                )
            print(f"convergence: {'passed' if not failures else 'FAILED'}")
            if failures:
                all_failures[name] = failures
    if group_sds:
        sd_table = pd.DataFrame(group_sds)
        write_with(
            args.out / "tables" / "province_sd.csv", lambda p: sd_table.to_csv(p, index=False)
        )
    print(f"\ntables in {args.out / 'tables'}, forest plots in {args.out / 'figures'}")
    if all_failures:
        for name, failures in all_failures.items():
            for line in failures:
                print(f"convergence check failed [{name}]: {line}", file=sys.stderr)
        if not args.accept_convergence_failure:
            print(
                "error: convergence checks failed (see above). Refit with more draws, or pass "
                "--accept-convergence-failure (make fit ACCEPT_CONVERGENCE_FAILURE=1) "
                "to keep them.",
                file=sys.stderr,
            )
            return CONVERGENCE_FAILED
    return 0
