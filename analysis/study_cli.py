"""``python -m analysis study``: run a study's analysis on its data (``make fit STUDY=...``).

For a study with ``pipeline: study`` (``studies/ma2023``), on the data written by
``python -m data_prep --study``:

1. the factor-analysis index; the table with it is written to ``<out>/data/model_data.parquet``
   (the Bayesian models' data);
2. descriptive table by treatment, one-way ANOVA, OLS (full, HC3; stepwise, the paper's
   procedure), propensity-score matching with balance;
3. each Bayesian spec fitted through :func:`models.fit_cli.fit_spec` (skipped when its fit key
   is unchanged), its convergence checked, the ATT by posterior g-computation; the
   province-varying spec's province effects;
4. the comparison table, printed and written; figures; ``<out>/report.html``.

Tables go to ``<out>/tables`` (CSV and Markdown), figures to ``<out>/figures``, fits to
``<out>/fits``. Exit status 1 when a fit fails its convergence checks (unless
``--accept-convergence-failure``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.effects_cli import write_ame
from analysis.factor_index import FactorIndex
from analysis.figures import save_figure
from analysis.fit_inputs import load_fit
from analysis.g_computation import att_draws, province_effects, summarise_draws
from analysis.heterogeneity_cli import run_heterogeneity_study
from analysis.labelled_tables import study_table_display
from analysis.study_plots import (
    balance_plot,
    caterpillar_plot,
    common_support_plot,
    comparison_plot,
    scree_plot,
)
from analysis.study_report import descriptive_display, study_labeller, write_study_report
from analysis.treatment_study import (
    build_index,
    comparison_table,
    effect_term,
    frequentist_results,
    index_scale_table,
    published_figures_table,
    treatment_indicator,
)
from cmds_common.analysis_table import read_analysis_table, write_analysis_table
from cmds_common.atomic import write_text, write_with
from cmds_common.constants import DEFAULT_SEED
from cmds_common.markdown import to_markdown
from cmds_common.reference import published_figures
from cmds_common.spec import load_spec
from cmds_common.study import Study, load_study
from models.diagnostics import convergence_checks, failure_messages
from models.fit_cli import fit_spec
from models.fitting import spec_settings
from models.parameter_names import free_parameter_names
from models.sampling import SAMPLERS

MODEL_DATA_FILE = "model_data.parquet"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m analysis study``."""
    parser.add_argument("--study", required=True, help="study name (studies/<name>) or folder")
    parser.add_argument("--data", type=Path, required=True, help="the study's analysis data")
    parser.add_argument("--out", type=Path, required=True, help="results folder of the study")
    parser.add_argument(
        "--sampler", choices=SAMPLERS, default="auto", help="engine of the Bayesian fits"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the sampler and the matching"
    )
    parser.add_argument("--chains", type=int, help="chains per fit (default: the spec's, or 4)")
    parser.add_argument("--draws", type=int, help="draws per chain (default: the spec's, or 1000)")
    parser.add_argument("--tune", type=int, help="warm-up draws (default: the spec's, or 500)")
    parser.add_argument("--refit", action="store_true", help="refit even when a fit matches")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument(
        "--accept-convergence-failure",
        action="store_true",
        help="exit 0 even when a fit fails its convergence checks",
    )


def write_table(
    frame: pd.DataFrame, out: Path, name: str, title: str, shown: pd.DataFrame | None = None
) -> None:
    """Write ``<name>.csv`` and ``<name>.md`` (with a title) under ``out``.

    The CSV file keeps the codes; the Markdown shows ``shown`` (the table with labels) when
    given.
    """
    write_with(out / f"{name}.csv", lambda p: frame.to_csv(p, index=False))
    readable = frame if shown is None else shown
    write_text(out / f"{name}.md", f"# {title}\n\n{to_markdown(readable)}")


def _index_tables(result: FactorIndex, published: pd.DataFrame) -> dict[str, pd.DataFrame]:
    adequacy = result.adequacy
    share = published.loc[published["figure"] == "social_participation_share", "value"]
    variance = result.variance.reset_index().assign(
        published_share_of_explained=lambda v: (
            np.where(v["factor"] == "social_participation", float(share.iloc[0]), np.nan)
            if len(share)
            else np.nan
        )
    )
    return {
        "factor_adequacy": pd.DataFrame(
            {
                "statistic": [
                    "KMO",
                    "Bartlett chi-square",
                    "Bartlett df",
                    "Bartlett p",
                    "factors retained (eigenvalue > 1)",
                ],
                "value": [
                    adequacy["kmo"],
                    adequacy["bartlett_chi2"],
                    adequacy["bartlett_df"],
                    adequacy["bartlett_p"],
                    len(result.variance),
                ],
            }
        ),
        "factor_loadings": result.loadings.reset_index(names="item").assign(
            kmo_item=result.adequacy["kmo_items"].to_numpy()
        ),
        "factor_variance": variance,
        "eigenvalues": result.eigenvalues.rename_axis("factor").reset_index(),
    }


def _bayesian(
    study: Study, args: argparse.Namespace, data_path: Path, fits: Path, treated: np.ndarray
) -> tuple[dict, pd.DataFrame | None, list[str]]:
    """Fit every spec; ATT summaries, province effects and convergence failures.

    Each fit's average marginal effects (index points per level or unit) go to
    ``<out>/tables/ame_<spec>.csv``/``.md`` (:func:`analysis.effects_cli.write_ame`).
    """
    explicit = {k: getattr(args, k) for k in ("chains", "draws", "tune") if getattr(args, k)}
    summaries, effects, failures = {}, None, []
    term = effect_term(study)
    for path in study.spec_paths:
        spec = load_spec(path)
        settings = spec_settings(
            spec, args.sampler, explicit, seed=args.seed, progress=not args.no_progress
        )
        _, netcdf = fit_spec(spec, data_path, fits, settings, refit=args.refit)
        fit = load_fit(netcdf, data_path)
        posterior = fit.idata.posterior.to_dataset()
        checks = convergence_checks(fit.idata, free_parameter_names(spec))
        failures += [f"{spec.name}: {m}" for m in failure_messages(checks)]
        write_ame(fit, args.out)
        summaries[spec.label or spec.name] = summarise_draws(
            att_draws(posterior, fit.design, term, treated.astype(bool)), f"ATT {spec.name}"
        )
        if spec.name == study.raw.get("province_effects_spec"):
            effects = province_effects(posterior, spec.group, term)
    return summaries, effects, failures


def run(args: argparse.Namespace) -> int:
    """Run the study's analysis with the runner its ``analysis:`` names; the exit status."""
    study = load_study(args.study)
    kind = study.raw.get("analysis")
    if kind not in RUNNERS:
        print(
            f"error: study {study.name} names analysis {kind!r}; known: {sorted(RUNNERS)}",
            file=sys.stderr,
        )
        return 2
    return RUNNERS[kind](study, args)


def run_treatment_index(study: Study, args: argparse.Namespace) -> int:
    """Run a treatment study with a factor-analysis index (steps in the module docstring)."""
    tables, figures = args.out / "tables", args.out / "figures"
    published = published_figures(study.path("published"))
    table, index = build_index(study, read_analysis_table(args.data))
    data_path = write_analysis_table(table, args.out / "data" / MODEL_DATA_FILE)
    labeller = study_labeller(args.out)

    def readable(name: str, frame: pd.DataFrame) -> pd.DataFrame:
        return study_table_display(name, frame, labeller, study.raw["treatment"])

    for name, frame in _index_tables(index, published).items():
        title = name.replace("_", " ").capitalize()
        write_table(frame, tables, name, title, readable(name, frame))
    save_figure(scree_plot(index.eigenvalues), figures / "scree.png")
    scales = index_scale_table(study, published, table, index)
    write_table(
        scales,
        tables,
        "index_scales",
        "Index group means and SDs on candidate scales",
        readable("index_scales", scales),
    )

    freq = frequentist_results(study, table)
    treated = treatment_indicator(study, table)
    write_table(
        freq.descriptive,
        tables,
        "descriptive_by_treatment",
        "Descriptive statistics",
        readable("descriptive_by_treatment", descriptive_display(freq.descriptive, labeller)),
    )
    anova_title = "One-way ANOVA of the index"
    write_table(freq.anova, tables, "anova", anova_title, readable("anova", freq.anova))
    for frame, name, title in (
        (freq.ols_full, "ols_full", "OLS, full model, HC3 SEs"),
        (freq.ols_stepwise, "ols_stepwise", "OLS, stepwise (paper's procedure)"),
    ):
        write_table(frame, tables, name, title, readable(name, frame))
    shown = readable("matching_balance", freq.balance)
    write_table(freq.balance, tables, "matching_balance", "Covariate balance", shown)
    balance = freq.balance.assign(covariate=shown["covariate"].to_numpy())
    treatment = study.raw["treatment"]
    labels = tuple(
        labeller.level(treatment["variable"], treatment[k]) for k in ("control", "treated")
    )
    difference = f"{labels[1]} - {labels[0].lower()}"
    save_figure(balance_plot(balance, difference), figures / "matching_balance.png")
    used = freq.matching.control_weight > 0
    save_figure(
        common_support_plot(freq.matching.propensity, treated, used, labels),
        figures / "common_support.png",
    )

    summaries, effects, failures = _bayesian(study, args, data_path, args.out / "fits", treated)
    if effects is not None:
        shown = readable("province_effects", effects)
        write_table(effects, tables, "province_effects", "Province-specific effects", shown)
        save_figure(
            caterpillar_plot(effects, "province", effects.attrs["national"], "index points"),
            figures / "province_effects.png",
        )
    figures_table = published_figures_table(study, published, table, freq, index.variance)
    shown = readable("published_vs_data", figures_table)
    write_table(
        figures_table, tables, "published_vs_data", "Published figures and this data", shown
    )
    comparison = comparison_table(study, published, freq, summaries)
    shown = readable("comparison", comparison)
    write_table(comparison, tables, "comparison", "Published, frequentist and Bayesian", shown)
    contrast = f"{labels[1]} minus {labels[0].lower()}"
    save_figure(comparison_plot(comparison, "index points", contrast), figures / "comparison.png")
    write_study_report(study, args.out, failures)
    print(f"=== {study.name}: host-city minus hometown SMI, integration index points ===")
    shown = comparison[["estimate_label", "estimate", "low", "high"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print("(the abstract's '647%' reads the ATT as a percentage: it is 6.47 index points)")
    for failure in failures:
        print(f"convergence: {failure}")
    print(f"convergence: {'FAILED' if failures else 'passed'}")
    print(f"wrote {tables}, {figures} and {args.out / 'report.html'}")
    return 1 if failures and not args.accept_convergence_failure else 0


#: ``analysis:`` of a study -> the function that runs it.
RUNNERS = {"treatment_index": run_treatment_index, "heterogeneity": run_heterogeneity_study}
