"""Command line: PSIS-LOO comparison of fitted models (``tables/model_comparison.csv``/``.md``).

Only fits of the current analysis data with pointwise draws are compared; fits with survey
weights in the likelihood (``weighted_likelihood: true``) are refused: their posterior comes
from a pseudo-likelihood, so their elpd_loo is not on the same footing as an ordinary fit's.
LOO compares predictions of the same outcome only: fits are ranked within each outcome (the
table's ``outcome`` column), and a fit with no other fit of its outcome is left out. Every
model left out is listed, with the reason, on screen and in the table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import arviz as az
import pandas as pd
import yaml

from analysis.cli_options import add_data, add_fits, add_models, add_out
from analysis.fit_inputs import default_data_path, usable_fits
from analysis.labelled_tables import comparison_display
from analysis.model_comparison import comparison_warnings, loo_comparison
from analysis.term_labels import TermLabeller, declarations_beside, default_language
from cmds_common.atomic import write_text, write_with
from cmds_common.markdown import to_markdown
from data_prep.variables import synthetic_declarations
from models.fit_cache import fit_attributes

WEIGHTED_REASON = (
    "fitted with survey weights in the likelihood (a pseudo-likelihood): its LOO is not "
    "comparable with ordinary fits; compare it with model2 in the weighting comparison instead"
)


def is_weighted_likelihood(netcdf: Path) -> bool:
    """Whether a fit's spec puts the survey weights in the likelihood."""
    spec_yaml = fit_attributes(netcdf).get("spec_yaml")
    return bool(spec_yaml) and bool(yaml.safe_load(spec_yaml).get("weighted_likelihood", False))


def fit_outcome(netcdf: Path) -> str:
    """Return the outcome a fit predicts (left of ``~`` in its stored spec's formula)."""
    attrs = fit_attributes(netcdf)
    formula = attrs.get("formula", "")
    if attrs.get("spec_yaml"):
        formula = yaml.safe_load(attrs["spec_yaml"]).get("formula", formula)
    return str(formula).split("~")[0].strip()


def by_outcome(fits_dir: Path, names: list[str]) -> dict[str, list[str]]:
    """Group fits by the outcome they predict, in the order given."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(fit_outcome(fits_dir / f"{name}.nc"), []).append(name)
    return groups


def write_comparison(
    table: pd.DataFrame,
    left_out: dict[str, str],
    out: Path,
    fits: Path | None = None,
    data: Path | None = None,
) -> None:
    """Write the CSV and Markdown tables; models left out appear as rows with the reason.

    The Markdown table names each model by its label (read from its fit under ``fits``) and
    the outcome by its declared label (declarations beside ``data``); the CSV keeps codes.
    """
    excluded = pd.DataFrame(
        {"model": list(left_out), "note": [f"not ranked: {r}" for r in left_out.values()]}
    )
    full = pd.concat([table, excluded], ignore_index=True) if len(excluded) else table
    tables = out / "tables"
    write_with(tables / "model_comparison.csv", lambda p: full.to_csv(p, index=False))
    warnings = "".join(f"\n**Warning:** {w}\n" for w in comparison_warnings(table))
    write_text(
        tables / "model_comparison.md",
        "# Model comparison (PSIS-LOO)\n\nHigher elpd_loo is better; elpd_diff and dse are "
        "differences from the best model and their standard errors. Pareto k: good at or below "
        "the threshold min(1 - 1/log10(draws), 0.7), very bad > 1.\n"
        + warnings
        + "\n"
        + to_markdown(comparison_display(full, _model_labels(full, fits), _labeller(data))),
    )


def _model_labels(table: pd.DataFrame, fits: Path | None) -> dict[str, str]:
    """``{model code: label}`` from the fits' attributes (codes where a fit has none)."""
    labels = {}
    for name in table["model"].astype(str):
        path = fits / f"{name}.nc" if fits is not None else None
        label = fit_attributes(path).get("model_label") if path and path.exists() else None
        labels[name] = str(label or name)
    return labels


def _labeller(data: Path | None) -> TermLabeller:
    declarations = declarations_beside(data) or synthetic_declarations()
    return TermLabeller(declarations, default_language())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m analysis compare``."""
    add_fits(parser)
    add_data(parser, beside_fits=True)
    add_out(parser)
    add_models(parser, default=["model2_pooled", "model2", "model2_slopes"], required=True)


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m analysis compare ...``; return the exit status."""
    from analysis.cli import main as analysis_main

    return analysis_main(["compare", *(argv or [])])


def run(args: argparse.Namespace) -> int:
    """PSIS-LOO comparison of the usable ordinary fits; the exit status."""
    data = args.data or default_data_path(args.fits)
    selection = usable_fits(args.fits, args.models, data if data.exists() else None, True)
    for name in list(selection.usable):
        if is_weighted_likelihood(args.fits / f"{name}.nc"):
            selection.usable.remove(name)
            selection.left_out[name] = WEIGHTED_REASON
    ordinary = list(selection.usable)
    groups = by_outcome(args.fits, selection.usable)
    for outcome, names in groups.items():
        if len(names) == 1:
            selection.usable.remove(names[0])
            selection.left_out[names[0]] = (
                f"no other fit of its outcome {outcome} among those requested; LOO compares "
                "models of the same outcome only"
            )
    selection.report("the LOO comparison")
    if len(selection.usable) < 2:  # refused: the previous comparison (if any) stays as it was
        print(
            "error: the LOO comparison needs at least two ordinary (unweighted) fits of one "
            "outcome on the current data; ordinary fits among those requested: "
            + (", ".join(ordinary) or "none")
            + " (why each other one is left out is printed above). Name two or more of one "
            'outcome, e.g. COMPARE="model2_pooled model2"; a weighted fit is set beside its '
            "unweighted twin by `make weights`.",
            file=sys.stderr,
        )
        return 2
    rankings = []
    for outcome, names in groups.items():
        if len(names) > 1:
            fits = {m: az.from_netcdf(args.fits / f"{m}.nc") for m in names}
            ranking = loo_comparison(fits)
            ranking.insert(1, "outcome", outcome)
            rankings.append(ranking)
    table = pd.concat(rankings, ignore_index=True).assign(data_hash=selection.data_hash or "")
    write_comparison(table, selection.left_out, args.out, args.fits, data)
    print("model comparison (PSIS-LOO):")
    shown = table.drop(columns=["note", "data_hash"]).round(2)
    # from 1, as in model_comparison.md (the CSV keeps arviz-stats' rank from 0)
    shown["rank"] = shown["rank"].map(lambda r: "" if pd.isna(r) else str(int(r) + 1))
    print(shown.to_string(index=False))
    for warning in comparison_warnings(table):
        print(f"warning: {warning}")
    return 0
