"""Command line: effects people can read, for every fit: AMEs and contextual measures.

``python -m analysis effects --models model1 model2 --pcv model0 model1 model2`` writes, per
usable fit, ``tables/ame_<m>.csv``/``.md`` (average marginal effects on the probability scale,
:mod:`analysis.marginal_effects`) and, for multilevel logit-link fits, one table of Merlo's
contextual measures over all of them, ``tables/contextual_measures.csv``/``.md`` (ICC, share per
grouping factor, MOR, IOR-80, and the PCV along ``--pcv``, each model against the first), with
the figure ``figures/contextual_measures.png``; for 0/1 models without random slopes the uptake
the priors imply (``tables/prior_uptake_<m>.csv``, ``figures/prior_uptake_<m>.png``); with
``--profiles``, ``tables/profiles_<m>.csv``; for fits with pointwise log-likelihoods the
power-scaling prior sensitivity, ``tables/prior_sensitivity_<m>.csv`` (flagged parameters
printed). Fits named only in ``--pcv`` (the empty model) are not among ``summarize``'s models, so
their convergence is checked here, with the gate's checks (``tables/convergence_<m>.csv``); a
failure is printed and noted under the contextual measures, as their ICC, MOR and every PCV
against them cannot be trusted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from analysis.checks_cli import fit_labeller
from analysis.cli_options import add_data, add_fits, add_models, add_out
from analysis.contextual import (
    LOGIT_FAMILIES,
    contextual_measures,
    pcv_notes,
    proportional_change_in_variance,
    unconverged_note,
)
from analysis.convergence import check_fit_convergence
from analysis.effects_plots import contextual_plot, prior_uptake_plot
from analysis.figures import save_figure
from analysis.fit_inputs import LoadedFit, load_fit, usable_fits
from analysis.labelled_tables import CONTEXTUAL_LEGEND, ame_display, contextual_display
from analysis.marginal_effects import (
    average_marginal_effects,
    frequentist_logit_ames,
    profile_predictions,
)
from analysis.prior_checks import prior_uptake
from analysis.sensitivity import prior_sensitivity
from cmds_common.atomic import write_text, write_with
from cmds_common.markdown import to_markdown
from cmds_common.yaml_text import load_yaml


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m analysis effects``."""
    add_fits(parser)
    add_data(parser, beside_fits=True)
    add_out(parser)
    add_models(parser)
    parser.add_argument(
        "--pcv",
        nargs="*",
        default=[],
        help="models in order (e.g. model0 model1 model2): PCV of each against the first",
    )
    parser.add_argument(
        "--profiles",
        type=Path,
        help="YAML of named profiles {name: {variable: level}}: predicted outcome per province",
    )


def write_ame(fit: LoadedFit, out) -> pd.DataFrame:
    """Write the AME table of one fit; return it."""
    table = average_marginal_effects(fit.idata.posterior, fit.design, fit.spec, fit.data)
    table.insert(0, "model", fit.name)
    if fit.spec.family == "bernoulli":  # statsmodels' margins beside, where the estimand agrees
        frequentist = frequentist_logit_ames(fit.design, fit.data, fit.spec)
        table = table.merge(frequentist, on=["variable", "contrast"], how="left")
    write_with(out / "tables" / f"ame_{fit.name}.csv", lambda p: table.to_csv(p, index=False))
    shown = ame_display(
        table, fit_labeller(fit), fit.spec.outcome
    )  # labels for readers; the CSV keeps codes
    write_text(
        out / "tables" / f"ame_{fit.name}.md",
        f"# Average marginal effects: {fit.label}\n\nChange in the predicted probability "
        "(index points for a continuous outcome) when everyone has the level instead of the "
        "reference, or per unit of a continuous predictor; posterior median and 95% interval."
        + (
            " Beside it the unweighted single-level logit's AMEs by statsmodels (delta-method "
            "CI), for two-level and continuous predictors."
            if "freq_estimate" in table
            else ""
        )
        + "\n\n"
        + to_markdown(shown),
    )
    return table


def write_profiles(fit: LoadedFit, profiles: dict, out: Path) -> None:
    """Write ``tables/profiles_<m>.csv`` when the fit has every variable the profiles set."""
    needed = {v for setting in profiles.values() for v in setting}
    if not needed <= set(fit.spec.predictors):
        return
    table = profile_predictions(
        fit.idata.posterior, fit.design, fit.spec, fit.data, profiles
    ).assign(model=fit.name)
    write_with(out / "tables" / f"profiles_{fit.name}.csv", lambda p: table.to_csv(p, index=False))
    overall = table[table["group"] == "overall"]
    print(f"[{fit.name}] predicted outcome of the named profiles (overall):")
    print(overall[["profile", "outcome", "estimate", "ci_low", "ci_high"]].round(3).to_string())


def write_prior_uptake(fit: LoadedFit, out: Path) -> None:
    """Write what the priors imply for uptake: a table and a figure."""
    summary, overall = prior_uptake(fit.design, fit.spec)
    write_with(
        out / "tables" / f"prior_uptake_{fit.name}.csv", lambda p: summary.to_csv(p, index=False)
    )
    title = f"{fit.label}: uptake implied by the priors alone"
    save_figure(
        prior_uptake_plot(summary, overall, title), out / "figures" / f"prior_uptake_{fit.name}.png"
    )


def write_sensitivity(fit: LoadedFit, out: Path) -> None:
    """Write the power-scaling sensitivity of a fit; print the parameters it flags."""
    try:
        table = prior_sensitivity(fit.idata, fit.design, fit.spec).assign(model=fit.name)
    except (ValueError, NotImplementedError, KeyError) as err:  # a diagnostic, not a result
        print(f"warning: [{fit.name}] prior sensitivity not computed: {err}", file=sys.stderr)
        return
    write_with(
        out / "tables" / f"prior_sensitivity_{fit.name}.csv", lambda p: table.to_csv(p, index=False)
    )
    for row in table[table["flagged"]].itertuples():
        print(
            f"note: [{fit.name}] {row.parameter}: {row.diagnosis} (prior sensitivity "
            f"{row.prior:.3f}, likelihood {row.likelihood:.3f})"
        )


def run(args: argparse.Namespace) -> int:
    """AME tables of each usable fit, contextual measures of the multilevel logit fits."""
    names = args.models or sorted(p.stem for p in args.fits.glob("*.nc"))
    data = args.data or args.fits.parent / "data" / "analysis_data.parquet"
    wanted = list(dict.fromkeys([*names, *args.pcv]))
    selection = usable_fits(args.fits, wanted, data)
    selection.report("the effects tables")
    if not selection.usable:
        print(f"error: no fits in {args.fits} can be used (see above)", file=sys.stderr)
        return 2
    fits = {n: load_fit(args.fits / f"{n}.nc", data) for n in selection.usable}
    contextual = []
    for name, fit in fits.items():
        if name in names:
            write_ame(fit, args.out)
            print(f"[{name}] average marginal effects written")
            if fit.spec.family == "bernoulli" and not fit.design.slope_columns:
                write_prior_uptake(fit, args.out)
            if "log_likelihood" in fit.idata.children:
                write_sensitivity(fit, args.out)
            if args.profiles:
                write_profiles(fit, load_yaml(args.profiles.read_text(encoding="utf-8")), args.out)
        if fit.spec.family in LOGIT_FAMILIES and any(g.intercept for g in fit.spec.groups):
            contextual.append(contextual_measures(fit.idata.posterior, fit.spec).assign(model=name))
    sequence = [n for n in args.pcv if n in fits]
    unconverged = check_pcv_references({n: fits[n] for n in sequence if n not in names}, args.out)
    if sequence:
        reference = fits[sequence[0]]
        for name in sequence[1:]:
            for group in reference.spec.groups:
                if group.intercept and f"{group.name}_sigma" in fits[name].idata.posterior:
                    row = proportional_change_in_variance(
                        reference.idata.posterior, fits[name].idata.posterior, group.name
                    )
                    contextual.append(pd.DataFrame([row | {"model": name}]))
    if contextual:
        table = pd.concat(contextual, ignore_index=True)
        table = table[["model", "measure", "factor", "median", "low", "high"]]
        write_contextual(table, fits, sequence, args.out, unconverged)
    return 0


def check_pcv_references(references: dict[str, LoadedFit], out: Path) -> dict[str, list[str]]:
    """Apply the convergence gate's checks to fits used only as PCV references.

    ``summarize`` gates the models it summarises; a fit named only in ``--pcv`` (the empty
    model) would otherwise reach the contextual measures unchecked. Each one's checks are
    written to ``tables/convergence_<m>.csv``, as ``summarize`` writes them, and the verdict is
    printed.

    Parameters
    ----------
    references
        Model code -> loaded fit, for the fits no ``summarize`` run has checked.
    out
        Results folder.

    Returns
    -------
    dict
        Model code -> failure lines (:func:`analysis.convergence.check_fit_convergence`) of each fit
        that fails; empty when all pass.
    """
    unconverged = {}
    for name, fit in references.items():
        failures = check_fit_convergence(fit.idata, fit.spec, name, out / "tables")
        if failures:
            unconverged[name] = failures
            for line in failures:
                print(f"convergence check failed [{name}]: {line}", file=sys.stderr)
            print(
                f"warning [{name}]: the PCV's reference fit fails the convergence checks; its "
                "ICC and MOR, and every PCV against it, cannot be trusted (refit it with more "
                "draws)",
                file=sys.stderr,
            )
        else:
            print(f"[{name}] convergence: passed (checked here, as the PCV's reference)")
    return unconverged


def write_contextual(
    table: pd.DataFrame,
    fits: dict[str, LoadedFit],
    sequence: list[str],
    out: Path,
    unconverged: dict[str, list[str]] | None = None,
) -> None:
    """Write the contextual measures: CSV with codes; Markdown and figure with labels.

    ``unconverged`` (model code -> failure lines) adds a note naming each fit whose measures
    cannot be trusted.
    """
    labels = {name: fit.label for name, fit in fits.items()}
    shown = contextual_display(table, fit_labeller(next(iter(fits.values()))), labels)
    pcv = ""
    if sequence:
        reference = labels.get(sequence[0], sequence[0])
        pcv = f" PCV: change of each grouping factor's variance from {reference}."
    notes = [
        unconverged_note(labels.get(name, name), failures)
        for name, failures in (unconverged or {}).items()
    ] + pcv_notes(table, labels)
    write_with(out / "tables" / "contextual_measures.csv", lambda p: table.to_csv(p, index=False))
    write_text(
        out / "tables" / "contextual_measures.md",
        f"# Contextual measures (Merlo)\n\nPosterior median and 95% interval.{pcv}\n\n"
        + to_markdown(shown)
        + f"\n\n{CONTEXTUAL_LEGEND}\n"
        + "".join(f"\nNote: {note}\n" for note in notes),
    )
    save_figure(contextual_plot(table, shown), out / "figures" / "contextual_measures.png")
    print(to_markdown(shown))
    for note in notes:
        print(f"note: {note}")
