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

from analysis.cli_options import add_data, add_fits, add_lang, add_models, add_out
from analysis.convergence import check_fit_convergence
from analysis.descriptive_tables import (
    category_table,
    continuous_table,
    display_category_table,
    display_continuous_table,
)
from analysis.figures import save_figure
from analysis.fit_inputs import LoadedFit, load_fit, usable_fits
from analysis.forest_plot import forest_plot
from analysis.labelled_tables import (
    interval_text,
    probability_text,
    reference_text,
    with_reference_rows,
)
from analysis.odds_ratios import group_sd_summary, odds_ratio_table
from analysis.publication_table import ModelColumn, write_publication_table
from analysis.term_labels import TermLabeller, declarations_beside, default_language
from cmds_common.atomic import write_text, write_with
from cmds_common.markdown import to_markdown
from models.frequentist import NOT_ESTIMABLE

CONVERGENCE_FAILED = 3


def _weights_label(table: pd.DataFrame) -> str:
    """Describe the weights (and survey design) in the weighted column's header.

    ``; Kish effective n 512 of 632`` (plus ``, UNRELIABLE``, and ``; 32 strata, 284 PSUs`` with a
    declared design) when the table records the weights.
    """
    if "freq_kish_n_eff" not in table or table.empty:
        return ""
    row = table.iloc[0]
    label = f"; Kish effective n {row['freq_kish_n_eff']:.0f} of {row['freq_n']:.0f}"
    label += ", UNRELIABLE" if bool(row["freq_weights_unreliable"]) else ""
    design = str(row.get("freq_survey_design", "") or "")
    if design and not design.startswith("weights only"):
        label += f"; {design.split(';')[0]}"
    return label


def _frequentist_cells(table: pd.DataFrame) -> list[str]:
    notes = table["freq_note"] if "freq_note" in table else pd.Series("", index=table.index)
    return [
        NOT_ESTIMABLE if isinstance(note, str) and note else interval_text(est, low, high)
        for note, est, low, high in zip(
            notes, table["freq_or"], table["freq_ci_low"], table["freq_ci_high"], strict=True
        )
    ]


def _scale_words(table: pd.DataFrame) -> str:
    """``odds ratios``, ``cumulative odds ratios`` or ``coefficients (outcome units)``."""
    scale = str(table["scale"].iloc[0]) if "scale" in table and len(table) else "odds ratio"
    return {"odds ratio": "odds ratios", "cumulative odds ratio": "cumulative odds ratios"}.get(
        scale, "coefficients (outcome units)"
    )


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """Compact, human-readable version of an odds-ratio table (for Markdown and the screen).

    Separated terms read "not estimable (separation)" in the weighted-logit column; the
    weighted columns' headers give the Kish effective sample size of the weights. The published
    column is left out when no term has a published figure.
    """
    weights = _weights_label(table)
    weighted_bayes = bool(table.get("bayes_weighted_likelihood", pd.Series([False])).any())
    scale = str(table["scale"].iloc[0]) if "scale" in table and len(table) else "odds ratio"
    short = {"odds ratio": "OR", "cumulative odds ratio": "cumulative OR"}.get(scale, "coef.")
    above = "P(OR>1)" if short != "coef." else "P(coef.>0)"
    frequentist = "weighted logit" if scale == "odds ratio" else "frequentist"
    bayes_header = f"Bayes {short} (95% CrI{'; weighted' + weights if weighted_bayes else ''})"
    columns = pd.DataFrame(
        {
            "term": table["label"] if "label" in table else table["term"],
            bayes_header: [
                interval_text(*r)
                for r in table[["posterior_median_or", "cri_low", "cri_high"]].to_numpy()
            ],
            above: table["prob_or_gt_1"].map(probability_text),
            "R-hat": table["r_hat"].map("{:.3f}".format),
            "ESS bulk": table["ess_bulk"].map("{:.0f}".format),
            f"{frequentist} {short} (95% CI{weights})": _frequentist_cells(table),
            "published OR (95% CI)": [
                interval_text(*r)
                for r in table[["published_or", "published_ci_low", "published_ci_high"]].to_numpy()
            ],
        }
    )
    # the published column only where the spec names published figures (one of the paper's)
    published = table.get("published_or", pd.Series(dtype=float))
    return columns if published.notna().any() else columns.drop(columns="published OR (95% CI)")


def table_notes(table: pd.DataFrame) -> list[str]:
    """Plain-language warnings about estimates in an odds-ratio table that cannot be trusted."""
    notes = []
    if "freq_kish_n_eff" in table and len(table) and bool(table["freq_weights_unreliable"].iloc[0]):
        row = table.iloc[0]
        which = "the weighted logit" + (
            " and the weighted Bayesian fit"
            if bool(table.get("bayes_weighted_likelihood", pd.Series([False])).any())
            else ""
        )
        notes.append(
            "Survey weights very unequal: Kish effective sample size "
            f"{row['freq_kish_n_eff']:.0f} of {row['freq_n']:.0f} respondents, largest weight "
            f"{row['freq_max_median_ratio']:.3g} x the median. The estimates of {which} rest "
            "on a handful of respondents; do not trust them (check the weights)."
        )
    design = str(table["freq_survey_design"].iloc[0]) if "freq_survey_design" in table else ""
    if "single PSU" in design:
        notes.append(f"Frequentist standard errors: {design}.")
    if "freq_note" in table:
        names = table["label"] if "label" in table else table["term"]
        for term, note in zip(names, table["freq_note"], strict=True):
            if isinstance(note, str) and note:
                notes.append(
                    f"{term}: weighted logit {note}. Every respondent in one group has the same "
                    "outcome, so the data alone give no finite odds ratio; the Bayesian estimate "
                    "there leans on its prior."
                )
    return notes


def add_labels(table: pd.DataFrame, labeller: TermLabeller, predictors) -> pd.DataFrame:
    """Insert ``label`` (readable term) after ``term``: "Local friends: 3 or more (ref: ...)"."""
    labelled = table.copy()
    labels = [labeller.term(term, predictors) for term in labelled["term"]]
    labelled.insert(labelled.columns.get_loc("term") + 1, "label", labels)
    return labelled


def summarize_fit(
    netcdf: Path,
    out_dir: Path,
    declarations: dict | None = None,
    lang: str = "en",
    fit: LoadedFit | None = None,
) -> tuple[pd.DataFrame, list[str], list[dict]]:
    """Write the tables and forest plot of one fit.

    ``declarations`` (``{column: Declaration}``) give the labels of terms in ``lang``; ``fit``
    is ``netcdf`` already read (it is read here otherwise).

    Returns
    -------
    odds_ratios : pandas.DataFrame
        The full odds-ratio table.
    failures : list of str
        Failed convergence checks (empty when the fit passed).
    group_sds : list of dict
        Posterior summary of each grouping factor's intercept SD, in the spec's order (the
        first factor first; empty for a pooled model).
    """
    fit = fit or load_fit(netcdf)
    idata, name = fit.idata, fit.name
    attrs = idata.posterior.attrs
    frequentist = pd.read_csv(netcdf.with_name(f"{name}_frequentist.csv"))
    table = odds_ratio_table(idata, frequentist, fit.spec.published_model, family=fit.spec.family)
    labeller = TermLabeller(declarations or {}, lang, fit.spec.reference_levels)
    table = add_labels(table, labeller, fit.spec.predictors)
    table.insert(0, "model", name)
    table["bayes_weighted_likelihood"] = bool(fit.spec.weighted_likelihood)
    table["data_hash"] = attrs["data_hash"]
    table.attrs["outcome"] = fit.spec.outcome
    tables_dir, figures_dir = out_dir / "tables", out_dir / "figures"
    write_with(tables_dir / f"odds_ratios_{name}.csv", lambda p: table.to_csv(p, index=False))

    failures = check_fit_convergence(idata, fit.spec, name, tables_dir)
    # every grouping factor with an intercept SD (province, city, ...)
    group_sds = [
        group_sd_summary(idata, g.name)
        for g in fit.spec.groups
        if f"{g.name}_sigma" in idata.posterior
    ]

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
        "Bayesian intervals are equal-tailed 95% credible intervals; the frequentist fit uses "
        "design-based (sandwich) standard errors.\n\n"
    )
    units = "outcome units" if fit.spec.family == "gaussian" else "log-odds"
    for sd in group_sds:
        factor = sd["parameter"].removesuffix("_sigma").replace("_", " ")
        header += (
            f"{factor.capitalize()} SD ({units}): {sd['posterior_median']:.2f} "
            f"({sd['cri_low']:.2f}-{sd['cri_high']:.2f})\n\n"
        )
    status = "passed" if not failures else "FAILED: " + "; ".join(failures)
    if failures:  # said first, on the model's own table, not only at its end
        header = (
            "**CONVERGENCE FAILED: do not interpret these estimates** (see the end of this "
            "table; refit with more draws).\n\n" + header
        )
    warnings = "".join(f"\n**Warning:** {note}\n" for note in table_notes(table))
    write_text(
        tables_dir / f"odds_ratios_{name}.md",
        header
        + to_markdown(
            with_reference_rows(
                display_table(table),
                table["term"].tolist(),
                labeller,
                fit.spec.predictors,
                reference_text(str(table["scale"].iloc[0]) if "scale" in table else ""),
            )
        )
        + warnings
        + f"\nConvergence: {status}\n",
    )
    kind = "multilevel" if fit.spec.groups else "single-level"
    title = f"{fit.label}: {_scale_words(table)}"
    save_figure(
        forest_plot(
            table,
            title + (" (CONVERGENCE FAILED: do not interpret)" if failures else ""),
            bayes_label=f"Bayesian {kind} (median, 95% CrI)",
            failed=bool(failures),
        ),
        figures_dir / f"forest_{name}.png",
        150,
    )
    return table, failures, group_sds


def describe_data(data_path: Path, out_dir: Path, lang: str = "en") -> pd.DataFrame:
    """Write Tables 1-2 (and the continuous summaries) of an analysis data set.

    The CSV files keep the codes; the Markdown shows the declared labels in ``lang``.
    """
    data = pd.read_parquet(data_path)
    categories, continuous = category_table(data), continuous_table(data)
    labeller = TermLabeller(declarations_beside(data_path), lang)
    tables_dir = out_dir / "tables"
    write_with(tables_dir / "table1_table2.csv", lambda p: categories.to_csv(p, index=False))
    write_with(tables_dir / "table1_continuous.csv", lambda p: continuous.to_csv(p, index=False))
    write_text(
        tables_dir / "table1_table2.md",
        f"# Tables 1-2: {len(data)} respondents of `{data_path}`\n\n"
        "Row % = share with a health record. p: Pearson chi-square (unweighted; weighted = "
        "weights as frequencies scaled to n, descriptive only). Published: Jing et al. 2019.\n\n"
        + to_markdown(display_category_table(categories, labeller))
        + "\n## Age and years in the inflow area\n\n"
        + to_markdown(display_continuous_table(continuous, labeller)),
    )
    return categories


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m analysis summarize``."""
    add_fits(parser)
    add_data(parser)
    add_out(parser)
    add_models(parser)
    add_lang(parser)
    parser.add_argument(
        "--accept-convergence-failure",
        action="store_true",
        help="write results and exit 0 even when a fit fails the convergence checks",
    )


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m analysis summarize ...``; return the exit status."""
    from analysis.cli import main as analysis_main

    return analysis_main(["summarize", *(argv or [])])


def run(args: argparse.Namespace) -> int:
    """Tables 1-2, odds-ratio tables, convergence gate and forest plots; the exit status."""
    lang = getattr(args, "lang", None) or default_language()
    if args.data.exists():
        describe_data(args.data, args.out, lang)
        print(f"Tables 1-2 of {args.data} written to {args.out / 'tables' / 'table1_table2.md'}")
    names = args.models or sorted(p.stem for p in args.fits.glob("*.nc"))
    selection = usable_fits(
        args.fits, names, args.data if args.data.exists() else None, need_frequentist=True
    )
    selection.report("the odds-ratio summary")
    if not selection.usable:
        print(
            f"error: no usable fits in {args.fits} for the current analysis data; run `make fit`",
            file=sys.stderr,
        )
        return 2
    all_failures, group_sds, columns = {}, [], []
    weight_caused: set[str] = set()
    outcomes: set[str] = set()
    data_path = args.data if args.data.exists() else None
    declarations = declarations_beside(data_path)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        for name in selection.usable:
            netcdf = args.fits / f"{name}.nc"
            fit = load_fit(netcdf)
            outcomes.add(fit.spec.outcome)
            table, failures, factor_sds = summarize_fit(netcdf, args.out, declarations, lang, fit)
            outcome = TermLabeller(declarations, lang).variable(fit.spec.outcome)
            print(f"\n=== {name}: {_scale_words(table)}; outcome: {outcome} ===")
            columns.append(
                ModelColumn(
                    name=name,
                    label=fit.label,
                    estimates=table,
                    predictors=fit.spec.predictors,
                    family=fit.spec.family,
                    converged=not failures,
                )
            )
            print(display_table(table).to_string(index=False))
            for note in table_notes(table):
                print(f"warning: {note}")
            if factor_sds:  # the first grouping factor's SD goes to tables/province_sd
                group_sds.append({"model": name, **factor_sds[0]})
            for sd in factor_sds:  # every grouping factor's SD, not only the first
                print(
                    f"{sd['parameter']}: {sd['posterior_median']:.2f} "
                    f"(95% CrI {sd['cri_low']:.2f}-{sd['cri_high']:.2f})"
                )
            print(f"convergence: {'passed' if not failures else 'FAILED'}")
            if failures:
                all_failures[name] = failures
                unreliable = table.get("freq_weights_unreliable", pd.Series([False]))
                if fit.spec.weighted_likelihood and bool(unreliable.any()):
                    weight_caused.add(name)
    if group_sds:
        sd_table = pd.DataFrame(group_sds)
        write_with(
            args.out / "tables" / "province_sd.csv", lambda p: sd_table.to_csv(p, index=False)
        )
    labeller = TermLabeller(declarations, lang)
    data = pd.read_parquet(data_path) if data_path is not None else None
    title = "Estimates by model" + (
        f"; outcome: {labeller.variable(outcomes.pop())}" if len(outcomes) == 1 else ""
    )
    paths = write_publication_table(args.out / "tables", columns, labeller, data, title)
    print(f"\npublication table (all models): {', '.join(str(p) for p in paths.values())}")
    print(f"tables in {args.out / 'tables'}, forest plots in {args.out / 'figures'}")
    if all_failures:
        for name, failures in all_failures.items():
            for line in failures:
                print(f"convergence check failed [{name}]: {line}", file=sys.stderr)
        for name in sorted(weight_caused):
            print(
                f"note [{name}]: this fit puts very unequal survey weights into its likelihood "
                "(see the warning above); a handful of respondents carry it, and more draws "
                "will not fix that. Check the weights, or leave this model out (MODELS=...).",
                file=sys.stderr,
            )
        if not args.accept_convergence_failure:
            # more draws mend slow mixing, not a likelihood carried by a few heavy weights
            others = [name for name in all_failures if name not in weight_caused]
            if not others:
                advice = "Check the weights or leave the model out"
            elif weight_caused:
                advice = f"Refit {', '.join(others)} with more draws"
            else:
                advice = "Refit with more draws"
            print(
                f"error: convergence checks failed (see above). {advice}, or pass "
                "--accept-convergence-failure (make fit ACCEPT_CONVERGENCE_FAILURE=1) "
                "to keep them.",
                file=sys.stderr,
            )
            return CONVERGENCE_FAILED
    return 0
