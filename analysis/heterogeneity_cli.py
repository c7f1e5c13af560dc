"""Command line: subgroup effects of a study's heterogeneity model beside the frequentist ones.

``python -m analysis heterogeneity --study studies/heterogeneity/study.yaml --fits F --out O``
reads the study's ``heterogeneity:`` settings (model, interaction model, subgroup column,
named comparisons), the fit ``F/<model>.nc`` and its data, fits the separate regressions per
subgroup and the single-level interaction model, and writes ``O/tables/subgroup_effects.csv``
(three methods, with the truth when the data folder holds ``subgroup_slope_truth.csv``),
``O/tables/subgroup_differences.csv``/``.md`` (posterior probabilities that effects differ) and
``O/figures/subgroup_forest_<term>.png`` (one per varying term), and the fit's convergence
checks, ``O/tables/convergence_<model>.csv`` (failures printed as warnings).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from analysis.checks_cli import fit_labeller
from analysis.cli_options import add_data, add_fits, add_out
from analysis.convergence import convergence_checks, failure_messages
from analysis.figures import save_figure
from analysis.fit_inputs import default_data_path, load_fit
from analysis.heterogeneity import (
    difference_table,
    effects_long,
    slope_group,
    subgroup_effect_draws,
    summarise_draws,
)
from analysis.heterogeneity_plots import subgroup_forest_plot
from analysis.labelled_tables import subgroup_differences_display
from analysis.report import folder_labeller, heterogeneity_report
from analysis.term_labels import TermLabeller, declarations_beside, default_language
from cmds_common.atomic import write_text, write_with
from cmds_common.markdown import to_markdown
from cmds_common.spec import load_spec
from cmds_common.study import Study
from cmds_common.yaml_text import load_yaml
from models.fit_cli import fit_spec
from models.fitting import spec_settings
from models.parameter_names import free_parameter_names
from models.subgroup_frequentist import interaction_effects, interaction_fit, stratified_effects


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``python -m analysis heterogeneity``."""
    parser.add_argument(
        "--study",
        type=Path,
        default=Path("studies/heterogeneity/study.yaml"),
        help="study file with a 'heterogeneity:' section; its specs/ folder holds the models",
    )
    add_fits(parser)
    add_data(parser, beside_fits=True)
    add_out(parser)


def run(args: argparse.Namespace) -> int:
    """Write the subgroup tables and forest plots of a saved fit; return 0 or 1 (convergence)."""
    study = load_yaml(args.study.read_text(encoding="utf-8"))
    data_path = args.data or default_data_path(args.fits)
    failures = subgroup_analysis(
        study["heterogeneity"], args.study.parent / "specs", args.fits, data_path, args.out
    )
    return 0 if not failures else 1


def subgroup_analysis(
    settings: dict, specs: Path, fits: Path, data_path: Path, out: Path
) -> list[str]:
    """Subgroup effects, differences, forest plots and convergence of the heterogeneity fit.

    Parameters
    ----------
    settings
        The study's ``heterogeneity:`` mapping (model, interaction_model, subgroup, factors,
        contrasts).
    specs
        Folder of the study's specs (the interaction model's spec is read from it).
    fits, data_path, out
        Folder of the fit ``<model>.nc``, the data it was fitted to, the results folder.

    Returns
    -------
    list of str
        Convergence failures of the fit (empty when it passed).
    """
    fit = load_fit(fits / f"{settings['model']}.nc", data_path)
    table, by = fit.data, settings["subgroup"]
    group = slope_group(fit.spec)
    draws = subgroup_effect_draws(fit.idata.posterior, group)
    terms = [str(t) for t in draws["slope_term"].values]
    pooled = summarise_draws(draws, group)
    stratified = stratified_effects(table, fit.spec, by, terms)
    interaction_spec = load_spec(specs / f"{settings['interaction_model']}.yaml")
    interaction = interaction_fit(table, interaction_spec, by, terms)
    truth_path = Path(data_path).parent / "subgroup_slope_truth.csv"
    truth = None
    if truth_path.exists():
        truth = pd.read_csv(truth_path).rename(columns={"dimension": "term"})
    effects = effects_long(pooled, stratified, interaction_effects(interaction, terms), truth)
    differences = difference_table(
        draws, table, by, settings["factors"], settings["contrasts"], stratified, interaction, truth
    )
    tables, figures = out / "tables", out / "figures"
    write_with(tables / "subgroup_effects.csv", lambda p: effects.to_csv(p, index=False))
    write_with(tables / "subgroup_differences.csv", lambda p: differences.to_csv(p, index=False))
    labeller = fit_labeller(fit)
    labels = subgroup_labels(effects["subgroup"], settings["factors"], labeller)
    markdown = _differences_markdown(differences, fit.label, labeller)
    write_text(tables / "subgroup_differences.md", markdown)
    for term in terms:
        title = f"{fit.label}\nEffect of {labeller.short(term).lower()}, by subgroup"
        save_figure(
            subgroup_forest_plot(effects, term, title, labels),
            figures / f"subgroup_forest_{term}.png",
        )
    print(markdown)
    checks = convergence_checks(fit.idata, free_parameter_names(fit.spec))
    write_with(tables / f"convergence_{fit.name}.csv", lambda p: checks.to_csv(p, index=False))
    failures = failure_messages(checks)
    for line in failures:
        print(f"warning: [{fit.name}] {line}", file=sys.stderr)
    print(f"[{fit.name}] convergence: {'failed' if failures else 'passed'}")
    return failures


def subgroup_labels(
    subgroups: pd.Series, factors: list[str], labeller: TermLabeller
) -> dict[str, str]:
    """Return ``{"female:45_59:...": "Female | 45-59 | ..."}``: each factor's level label."""
    labels = {}
    for code in dict.fromkeys(subgroups.astype(str)):
        levels = code.split(":")
        if len(levels) == len(factors):
            labels[code] = " | ".join(
                labeller.level(f, lv) for f, lv in zip(factors, levels, strict=True)
            )
    return labels


def _differences_markdown(
    differences: pd.DataFrame, label: str, labeller: TermLabeller | None = None
) -> str:
    """Write the comparisons as a Markdown table (log cumulative odds ratios, 2 decimals)."""
    shown = subgroup_differences_display(differences, labeller or TermLabeller())
    return (
        f"# Do the effects differ between subgroups? {label}\n\n"
        "Differences of the effect per point (log cumulative odds ratio of better self-rated "
        "health), between like subgroups (same levels of the other factors), weighted by the "
        "sample's mix of those levels.\n\n" + to_markdown(shown)
    )


def run_heterogeneity_study(study: Study, args: argparse.Namespace) -> int:
    """``make fit STUDY=heterogeneity``: fit, subgroup analysis, effects, report.

    The study's specs are fitted through :func:`models.fit_cli.fit_spec` (skipped when the fit
    key is unchanged); then :func:`subgroup_analysis`, ``python -m analysis effects`` on the
    model (AMEs, contextual measures, prior sensitivity) and ``<out>/report.html``. Exit status
    1 when the fit fails its convergence checks (unless ``--accept-convergence-failure``).
    """
    from analysis import effects_cli

    settings = study.raw["heterogeneity"]
    fits = args.out / "fits"
    explicit = {k: getattr(args, k) for k in ("chains", "draws", "tune") if getattr(args, k)}
    for path in study.spec_paths:
        spec = load_spec(path)
        sampler = spec_settings(
            spec, args.sampler, explicit, seed=args.seed, progress=not args.no_progress
        )
        fit_spec(spec, args.data, fits, sampler, refit=args.refit)
    failures = subgroup_analysis(settings, study.folder / "specs", fits, args.data, args.out)
    effects_cli.run(
        argparse.Namespace(
            fits=fits,
            data=args.data,
            out=args.out,
            models=[settings["model"]],
            pcv=[],
            profiles=None,
        )
    )
    declarations = declarations_beside(args.data)
    labeller = (
        TermLabeller(declarations, default_language())
        if declarations
        else folder_labeller(args.out)
    )
    title = str(study.raw["title"])
    page = heterogeneity_report(args.out, title, settings["model"], failures, labeller)
    write_text(args.out / "report.html", page)
    print(f"wrote {args.out / 'tables'}, {args.out / 'figures'} and {args.out / 'report.html'}")
    return 1 if failures and not args.accept_convergence_failure else 0
