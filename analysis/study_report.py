"""The HTML report of a treatment study (``<out>/report.html``), from the files it wrote.

Laid out like the first study's report (:mod:`analysis.report`, whose page style and helpers
it reuses): the published, frequentist and Bayesian estimates side by side in one table and
one forest-style plot, then the index, the frequentist steps and the province effects.
Terms and covariates show the declared labels of the study's data ("Where the social medical
insurance (SMI) is held ...: Host city (ref: Hometown)"); the CSV files keep the codes.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from analysis import report_html as page
from analysis.labelled_tables import ame_display, study_table_display, term_column
from analysis.term_labels import TermLabeller, declarations_beside, default_language
from cmds_common.atomic import write_text
from cmds_common.spec import load_spec
from cmds_common.study import Study


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.exists() else pd.DataFrame({"missing": [str(path)]})


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


#: Data of the study's models, beside the declarations the data step wrote.
MODEL_DATA = ("data", "model_data.parquet")


def study_labeller(out: Path) -> TermLabeller:
    """Return the labeller of a study's results folder (codes stay without declarations)."""
    return TermLabeller(declarations_beside(out.joinpath(*MODEL_DATA)), default_language())


def labelled(frame: pd.DataFrame, column: str, labeller: TermLabeller) -> pd.DataFrame:
    """Return ``frame`` with its term codes in ``column`` as labels (other tables unchanged)."""
    if column not in frame:
        return frame
    return frame.assign(**{column: term_column(frame[column].astype(str).tolist(), labeller)})


def descriptive_display(frame: pd.DataFrame, labeller: TermLabeller) -> pd.DataFrame:
    """Return the descriptive table by treatment with variables and levels as labels."""
    if not {"variable", "level"} <= set(frame.columns):
        return frame
    shown = frame.copy()
    declared = labeller.declarations
    variables = shown["variable"].astype(str)
    levels = shown["level"]
    shown["level"] = [
        labeller.level(v, str(lv)) if v in declared and declared[v].levels else lv
        for v, lv in zip(variables, levels, strict=True)
    ]
    shown["variable"] = [labeller.variable(v) if v in declared else v for v in variables]
    return shown


def ame_section(study: Study, out: Path, labeller: TermLabeller) -> str:
    """Return the section with the average marginal effects of each Bayesian fit of the study.

    Reads ``<out>/tables/ame_<spec>.csv`` (written by :func:`analysis.effects_cli.write_ame`);
    a spec without one is named as not available.
    """
    parts = [
        _p(
            "Average marginal effect (AME): the change in the predicted outcome (index points "
            "for the integration index), averaged over the respondents as they are, when "
            "everyone has the level instead of the reference, or per unit of a continuous "
            "predictor; posterior median and 95% interval. Reference levels read 0 (ref.)."
        )
    ]
    for path in study.spec_paths:
        spec = load_spec(path)
        tables_path = out / "tables" / f"ame_{spec.name}.csv"
        if not tables_path.exists():
            parts.append(page.model_heading(f"ame-{spec.name}", spec.name, spec.label))
            parts.append('<p class="note">Not available: the fit has not been summarised.</p>')
            continue
        ame = ame_display(pd.read_csv(tables_path), labeller, spec.outcome)
        parts.append(
            page.model_heading(f"ame-{spec.name}", spec.name, spec.label) + page.table(ame)
        )
    return page.section("study-ame", "Average marginal effects (index points)", "".join(parts))


def study_report_html(study: Study, out: Path, failures: list[str]) -> str:
    """Return the report's HTML text (see the module docstring)."""
    tables, figures = out / "tables", out / "figures"
    labeller = study_labeller(out)

    def shown(name: str, frame: pd.DataFrame | None = None) -> str:
        """Return a table of the study for readers (labels, whole counts, p as in a paper)."""
        frame = _csv(tables / f"{name}.csv") if frame is None else frame
        return page.table(study_table_display(name, frame, labeller, study.raw.get("treatment")))

    comparison = _csv(tables / "comparison.csv")
    sections = [
        page.section(
            "study-comparison",
            "Host-city SMI and the integration index: published, frequentist, Bayesian",
            _p(
                "All estimates are in index points (host-city minus hometown SMI). The abstract "
                "reads its ATT of 6.47 as 'increased the probability by 647%': it is a "
                "difference of 6.47 index points. Its printed T = 5.32 and SE = 1.48 disagree "
                "(6.47 / 1.48 = 4.37); the published interval below uses the printed SE."
            )
            + page.warnings_box(failures)
            + shown("comparison", comparison)
            + page.image(
                figures / "comparison.png", "Published, frequentist and Bayesian estimates"
            ),
        ),
        page.section(
            "study-data",
            "Data",
            page.table(_csv(out / "data" / "inclusion_flow.csv"), "{:.0f}")
            + "<h3>The published figures and the same figures on this data</h3>"
            + shown("published_vs_data")
            + _p(
                (out / "data" / "source.txt").read_text(encoding="utf-8").strip()
                if (out / "data" / "source.txt").exists()
                else ""
            ),
        ),
        page.section(
            "index",
            "Integration index by factor analysis",
            _p(
                "Principal-axis factoring of the items (statsmodels), factors with eigenvalue > 1, "
                "varimax rotation. Index = sum over factors of (percent of the total item "
                "variance the factor explains) x (standardised regression factor score): our "
                "reading of the paper's scale, which reproduces its means and SDs (mean near 0, "
                "SD near 33)."
            )
            + shown("index_scales")
            + shown("factor_adequacy")
            + shown("factor_variance")
            + shown("factor_loadings")
            + page.image(figures / "scree.png", "Scree plot"),
        ),
        page.section(
            "frequentist",
            "Frequentist analysis (the paper's steps)",
            shown(
                "descriptive_by_treatment",
                descriptive_display(_csv(tables / "descriptive_by_treatment.csv"), labeller),
            )
            + shown("anova")
            + "<h3>OLS, full model, HC3 robust SEs</h3>"
            + shown("ols_full")
            + "<h3>OLS, stepwise: the paper's procedure (selection ignored by its SEs)</h3>"
            + shown("ols_stepwise")
            + "<h3>Propensity-score matching: balance</h3>"
            + shown("matching_balance")
            + page.image(figures / "matching_balance.png", "Standardised mean differences")
            + page.image(figures / "common_support.png", "Common support"),
        ),
        page.section(
            "provinces",
            "Where the host-city advantage is largest (province-varying effect)",
            page.image(figures / "province_effects.png", "Province-specific host-city effects")
            + shown("province_effects"),
        ),
        ame_section(study, out, labeller),
    ]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(study.raw.get('title', study.name))}</title>"
        f"<style>{page.STYLE}</style><script>{page.SCRIPT}</script></head><body>"
        f"<h1>{html.escape(study.raw.get('title', study.name))}</h1>"
        f"<p>{html.escape(str(study.raw.get('reference', '')))}. Report written {stamp}.</p>"
        + page.contents([(study.raw.get("title", study.name), sections)])
        + "".join(sections)
        + "</body></html>"
    )


def write_study_report(study: Study, out: Path, failures: list[str]) -> Path:
    """Write ``<out>/report.html`` atomically; return its path."""
    return write_text(out / "report.html", study_report_html(study, out, failures))
