"""Command line: survey-weighted against unweighted posteriors (``python -m analysis weights``).

Writes ``tables/weighting_comparison.csv``/``.md`` and ``figures/weighting_comparison.png``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

import arviz as az
import pandas as pd
import yaml

from analysis.cli_options import add_data, add_fits, add_out
from analysis.figures import save_figure
from analysis.fit_inputs import default_data_path, usable_fits
from analysis.forest_plot import forest_plot
from analysis.labelled_tables import weighting_display
from analysis.odds_ratios import weighted_estimate_note
from analysis.term_labels import TermLabeller, declarations_beside, default_language
from analysis.weighting import WEIGHTING_SOURCES, weighting_comparison
from cmds_common.atomic import write_text, write_with
from cmds_common.markdown import to_markdown
from cmds_common.spec import spec_from_dict
from cmds_common.survey_weights import describe
from data_prep.variables import synthetic_declarations


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m analysis weights``."""
    add_fits(parser)
    add_data(parser, beside_fits=True)
    add_out(parser)
    parser.add_argument("--unweighted", default="model2", help="the ordinary fit")
    parser.add_argument(
        "--weighted", default="model2_weighted", help="the survey-weighted (pseudo-likelihood) fit"
    )


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m analysis weights ...``; return the exit status."""
    from analysis.cli import main as analysis_main

    return analysis_main(["weights", *(argv or [])])


def _labeller(attrs: Mapping, data: Path) -> tuple[TermLabeller, list[str]] | None:
    """Return the weighted fit's labeller and predictors (declarations beside the data)."""
    if "spec_yaml" not in attrs:
        return None
    spec = spec_from_dict(yaml.safe_load(attrs["spec_yaml"]), "weighted")
    declarations = declarations_beside(data) or synthetic_declarations()
    labeller = TermLabeller(declarations, default_language(), spec.reference_levels)
    return labeller, list(spec.predictors)


def _term_labels(table: pd.DataFrame, attrs: Mapping, data: Path) -> list[str]:
    """Readable labels of the compared terms (codes without the fit's spec)."""
    found = _labeller(attrs, data)
    if found is None:
        return list(table["term"])
    labeller, predictors = found
    return [labeller.term(term, predictors) for term in table["term"]]


def _markdown_table(table: pd.DataFrame, attrs: Mapping, data: Path) -> pd.DataFrame:
    """Return the comparison for readers: labels, intervals, reference rows."""
    found = _labeller(attrs, data)
    return table if found is None else weighting_display(table, *found)


def run(args: argparse.Namespace) -> int:
    """Survey-weighted against unweighted posteriors; the exit status."""
    names = [args.unweighted, args.weighted]
    data = args.data or default_data_path(args.fits)
    selection = usable_fits(args.fits, names, data if data.exists() else None)
    if selection.left_out:
        selection.report("the weighting comparison")
        print(
            "error: the weighting comparison needs both fits of the current data", file=sys.stderr
        )
        return 2
    unweighted, weighted = (az.from_netcdf(args.fits / f"{m}.nc") for m in names)
    table = weighting_comparison(unweighted, weighted)
    table["data_hash"] = weighted.posterior.attrs["data_hash"]
    weights_note = ""
    frequentist_csv = args.fits / f"{args.weighted}_frequentist.csv"
    summary = (
        weighted_estimate_note(pd.read_csv(frequentist_csv)) if frequentist_csv.exists() else None
    )
    if summary is not None:
        table = table.assign(**summary)
        weights_note = f"Weights: {describe(summary)}.\n\n"
        if summary["weights_unreliable"]:
            weights_note = (
                f"**Warning:** survey weights very unequal ({describe(summary)}): the weighted "
                "posterior rests on a handful of respondents; do not trust it.\n\n"
            )
    tables = args.out / "tables"
    write_with(tables / "weighting_comparison.csv", lambda p: table.to_csv(p, index=False))
    attrs = weighted.posterior.attrs
    unweighted_label = unweighted.posterior.attrs.get("model_label", args.unweighted)
    write_text(
        tables / "weighting_comparison.md",
        f"# Survey weights: {attrs.get('model_label', args.weighted)} against "
        f"{unweighted_label}\n\n"
        "Posterior median odds ratios with 95% credible intervals. Shift: change of the "
        "posterior mean log-odds in units of the unweighted posterior SD; width ratio: weighted "
        "over unweighted interval width (log scale). The weighted intervals are not "
        "design-based.\n\n" + weights_note + to_markdown(_markdown_table(table, attrs, data)),
    )
    title = f"Survey weights: {attrs.get('model_label', args.weighted)} against unweighted"
    if summary is not None and summary["weights_unreliable"]:
        title += (
            f"\nUNRELIABLE weights: Kish effective n {summary['kish_n_eff']:.0f} of {summary['n']}"
        )
    save_figure(
        forest_plot(table.assign(label=_term_labels(table, attrs, data)), title, WEIGHTING_SOURCES),
        args.out / "figures" / "weighting_comparison.png",
    )
    print("survey-weighted against unweighted posterior (odds ratios):")
    shown = table.drop(
        columns=["data_hash", "n", "kish_n_eff", "max_median_ratio", "weights_unreliable"],
        errors="ignore",
    )
    print(shown.round(3).to_string(index=False))
    if weights_note:
        print(weights_note.strip().replace("**Warning:**", "warning:"))
    return 0
