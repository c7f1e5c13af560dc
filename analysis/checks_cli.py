"""Command line: posterior predictive checks and group variation for each fit, any family.

``python -m analysis ppc --models model1 model2`` writes, per model, ``tables/ppc_<m>.csv``/
``.md`` and ``figures/ppc_overall_<m>.png``, ``ppc_<factor>_<m>.png`` for each grouping factor,
``ppc_categories_<m>.png``; for 0/1 outcomes ``tables/calibration_<m>.csv`` and
``figures/calibration_<m>.png``. For models with grouping factors:
``tables/group_variation_<m>.csv`` (SD, ICC and, for logit links, MOR of every factor),
``tables/group_effects_<m>_<factor>.csv`` and ``figures/caterpillar_<m>_<factor>.png``
(``caterpillar_<m>.png`` for the province); when a factor is the province, also
``tables/province_variation_<m>.csv``, ``figures/tilemap_<m>.png`` and, for 0/1 outcomes,
``tables/province_rates_<m>.csv`` and ``figures/shrinkage_<m>.png``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from analysis.cli_options import add_data, add_fits, add_models, add_out
from analysis.figures import save_figure
from analysis.fit_inputs import LoadedFit, load_fit, usable_fits
from analysis.labelled_tables import check_group_labels, group_words, probability_text
from analysis.ppc import calibration_table, is_percent, predictive_checks
from analysis.ppc_plots import (
    calibration_plot,
    interval_check_plot,
    overall_uptake_plot,
    p_value_histogram,
)
from analysis.province_plots import caterpillar_plot, shrinkage_plot, slopes_plot, tile_map
from analysis.province_variation import group_effects, standardised_rates, variance_summaries
from analysis.term_labels import TermLabeller, declarations_beside, default_language
from cmds_common.atomic import write_text, write_with
from cmds_common.markdown import to_markdown
from cmds_common.provinces import province_names
from data_prep.variables import synthetic_declarations

#: Factors with more levels get a histogram of p values instead of one row per level.
MAX_GROUPS_SHOWN = 40

#: What each family's checks compare, in words (tables and report); ``{outcome}`` is the
#: outcome's label, ``{share}`` its share in words (:meth:`TermLabeller.share`).
CHECK_WORDS = {
    "bernoulli": "{share} (%)",
    "binomial": "proportion of successes of {outcome} (%)",
    "gaussian": "mean and SD of {outcome}",
    "cumulative_logit": "share in each category of {outcome} (%)",
}


#: Headers of the predictive-check tables for readers (the CSV keeps the codes).
CHECK_HEADERS = {
    "label": "group",
    "predicted_median": "predicted (median)",
    "pi_low": "95% interval, low",
    "pi_high": "95% interval, high",
    "bayes_p": "Bayesian p",
}


def fit_labeller(fit: LoadedFit) -> TermLabeller:
    """Return the labeller of a fit: declarations beside its data (else the shipped ones)."""
    declarations = declarations_beside(fit.data_path) if fit.data_path else {}
    return TermLabeller(
        declarations or synthetic_declarations(), default_language(), fit.spec.reference_levels
    )


def _markdown_checks(checks: pd.DataFrame, fit: LoadedFit) -> str:
    shown = checks.assign(label=check_group_labels(checks, fit_labeller(fit)))
    percent = shown["statistic"].map(is_percent).map({True: 100.0, False: 1.0})
    values = {c: percent * shown[c] for c in ("observed", "predicted_median", "pi_low", "pi_high")}
    words = outcome_words(fit)
    statistics = CHECK_WORDS[fit.spec.family].format(**words)
    return (
        f"# Posterior predictive checks: {fit.label}\n\nStatistics: {statistics}; outcome: "
        f"{words['outcome']}. Bayesian p = P(replicated > observed) + "
        "0.5 P(equal).\n\n"
        + to_markdown(
            shown[["label", "statistic", "n"]]
            .assign(**values, bayes_p=shown["bayes_p"].map(probability_text))
            .rename(columns=CHECK_HEADERS)
        )
    )


def outcome_words(fit: LoadedFit) -> dict[str, str]:
    """Return a fit's outcome in words.

    ``outcome`` (its short label), ``share`` (of a 0/1 outcome) and ``effects_on``, what
    group effects act on in a title: "the share who has established a health record ..." for
    a label "1 = has ..., 0 = not", else the short label.
    """
    labeller, outcome = fit_labeller(fit), fit.spec.outcome
    share = labeller.share(outcome)
    on = (
        f"the {share[:1].lower()}{share[1:]}"
        if labeller.variable(outcome).startswith("1 = ")
        else labeller.short(outcome)
    )
    return {"outcome": labeller.short(outcome), "share": share, "effects_on": on}


def factor_words(fit: LoadedFit, factor: str) -> str:
    """Return a grouping factor's label in lower case, for titles ("inflow province")."""
    return group_words(factor, fit_labeller(fit))


def check_fit(fit: LoadedFit, out_dir: Path) -> pd.DataFrame:
    """Write the predictive checks of one fit; return the checks table."""
    tables, figures, name = out_dir / "tables", out_dir / "figures", fit.name
    spec, outcome = fit.spec, fit.spec.outcome
    words = outcome_words(fit)
    about, share = words["outcome"], words["share"]
    heading = about[:1].upper() + about[1:]  # the outcome opening a title
    checks = predictive_checks(fit.idata, fit.data, spec=spec).assign(
        data_hash=fit.idata.posterior.attrs["data_hash"]
    )
    write_with(tables / f"ppc_{name}.csv", lambda p: checks.to_csv(p, index=False))
    write_text(tables / f"ppc_{name}.md", _markdown_checks(checks, fit))
    overall = checks.query("check == 'overall'")
    if spec.family == "bernoulli":
        figure = overall_uptake_plot(fit.idata, f"{fit.label}\n{heading}", outcome, share)
    else:
        rows = overall
        if spec.family == "cumulative_logit":  # one panel, a row per category
            rows = rows.assign(
                level=rows["statistic"].str.removeprefix("share "),
                statistic="share in each category",
            )
        title = f"{fit.label}\n{heading}: whole sample"
        figure = interval_check_plot(rows, title, outcome=about, share=share)
    save_figure(figure, figures / f"ppc_overall_{name}.png")
    for group in spec.groups:
        by_group = checks.query("check == @group.name")
        if by_group.empty:
            continue
        title = f"{fit.label}\n{heading}, by {factor_words(fit, group.factor[-1])}"
        levels = by_group["level"].nunique()
        figure = (
            interval_check_plot(by_group, title, outcome=about, share=share)
            if levels <= MAX_GROUPS_SHOWN
            else p_value_histogram(by_group, f"{title} ({levels} groups)")
        )
        save_figure(figure, figures / f"ppc_{group.name}_{name}.png")
    categories = checks.query("check == 'category'")
    categories = categories.assign(label=check_group_labels(categories, fit_labeller(fit)))
    if not categories.empty:
        save_figure(
            interval_check_plot(
                categories, f"{fit.label}\n{heading}, by category", "label", about, share
            ),
            figures / f"ppc_categories_{name}.png",
        )
    if spec.family == "bernoulli":
        calibration = calibration_table(fit.idata, outcome)
        write_with(tables / f"calibration_{name}.csv", lambda p: calibration.to_csv(p, index=False))
        save_figure(
            calibration_plot(calibration, f"{fit.label}: calibration", share),
            figures / f"calibration_{name}.png",
        )
    return checks


def slope_labels(fit: LoadedFit) -> dict[str, str]:
    """Readable labels of a fit's terms (declarations beside its data, else shipped ones)."""
    labeller = fit_labeller(fit)
    return {term: labeller.term(term, fit.spec.predictors) for term in fit.design.terms}


def group_variation(fit: LoadedFit, out_dir: Path) -> pd.DataFrame:
    """Write the variation tables and figures of every grouping factor of a fit."""
    tables, figures, name = out_dir / "tables", out_dir / "figures", fit.name
    spec, family = fit.spec, fit.spec.family
    names = [g.name for g in spec.groups]
    summary = variance_summaries(fit.idata, family=family, groups=names)
    summary = summary.assign(data_hash=fit.idata.posterior.attrs["data_hash"])
    write_with(tables / f"group_variation_{name}.csv", lambda p: summary.to_csv(p, index=False))
    for group in spec.groups:
        effects = group_effects(fit.idata, group.name, family=family)
        write_with(
            tables / f"group_effects_{name}_{group.name}.csv",
            lambda p, e=effects: e.to_csv(p, index=False),
        )
        label = factor_words(fit, group.factor[-1])
        about = outcome_words(fit)["effects_on"]
        shown = effects
        if group.name == "province":  # the provinces' names in the labels' language
            names = province_names_shown(fit)
            shown = effects.assign(province=effects["province"].replace(names))
        figure = caterpillar_plot(
            shown, f"{fit.label}\n{label} effects on {about}", group.name, label
        )
        suffix = "" if group.name == "province" else f"_{group.name}"
        save_figure(figure, figures / f"caterpillar_{name}{suffix}.png")
        if group.slopes and family in ("bernoulli", "binomial"):
            labels = slope_labels(fit)
            save_figure(
                slopes_plot(
                    fit.idata, group.name, labels, f"{fit.label}: {label}-specific odds ratios"
                ),
                figures / f"slopes_{name}{suffix}.png",
            )
        if group.name == "province":
            province_views(fit, effects, summary, out_dir)
    print(f"[{name}] variation by grouping factor:")
    print(summary.drop(columns="data_hash").round(3).to_string(index=False))
    return summary


def province_names_shown(fit: LoadedFit) -> dict[str, str]:
    """Return ``{English name: name shown}`` of the provinces (Chinese with ``LANG=zh``)."""
    labeller = fit_labeller(fit)
    return {name: labeller.level("province", name) for name in province_names()}


def province_views(
    fit: LoadedFit, effects: pd.DataFrame, summary: pd.DataFrame, out_dir: Path
) -> None:
    """Province-only outputs: tile map; for 0/1 outcomes standardised rates and shrinkage."""
    tables, figures, name = out_dir / "tables", out_dir / "figures", fit.name
    words = outcome_words(fit)
    province = summary.query("group == 'province'").drop(columns="group")
    write_with(tables / f"province_variation_{name}.csv", lambda p: province.to_csv(p, index=False))
    if fit.spec.family != "bernoulli" or fit.spec.group != "province":
        scale = str(effects["scale"].iloc[0])
        values = effects.set_index("province")["estimate"]
        number = "{:.1f}" if scale == "outcome units" else "{:.2f}"
        label = f"Province effect ({scale}, posterior median)"
        save_figure(
            tile_map(
                values,
                f"{fit.label}\nprovince effects on {words['effects_on']}",
                label,
                number,
                names=province_names_shown(fit),
            ),
            figures / f"tilemap_{name}.png",
        )
        return
    rates = standardised_rates(fit.idata, fit.design, fit.data, outcome=fit.spec.outcome)
    write_with(tables / f"province_rates_{name}.csv", lambda p: rates.to_csv(p, index=False))
    overall = fit.data[fit.spec.outcome].mean()
    names = province_names_shown(fit)
    save_figure(
        shrinkage_plot(
            rates.assign(province=rates["province"].replace(names)),
            overall,
            f"{fit.label}: partial pooling",
        ),
        figures / f"shrinkage_{name}.png",
    )
    by_province = rates.set_index("province")
    save_figure(
        tile_map(
            by_province["standardised_rate"] * 100,
            f"{fit.label}\n{words['share']}, standardised, by inflow province",
            "Standardised share (%, posterior median)",
            low=by_province["standardised_low"] * 100,
            high=by_province["standardised_high"] * 100,
            n=by_province["n"],
            names=names,
        ),
        figures / f"tilemap_{name}.png",
    )


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
        for group in ("posterior", "log_likelihood", "posterior_predictive"):
            fit.idata[group].load()  # read once: every check below reads them in full
        checks = check_fit(fit, args.out)
        extreme = checks.query("bayes_p < 0.025 or bayes_p > 0.975")
        flagged = ", ".join(
            extreme["variable"] + "=" + extreme["level"] + " " + extreme["statistic"]
        )
        print(
            f"[{name}] {len(checks)} predictive checks, {len(extreme)} outside the 95% range"
            + (f": {flagged}" if flagged and len(extreme) <= 20 else "")
        )
        if fit.spec.groups:
            group_variation(fit, args.out)
    return 0
