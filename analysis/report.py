"""One self-contained HTML report of a run, built from the files under ``results/``.

Every figure is embedded as a base64 PNG, so the single file can be e-mailed or archived. An
inline script records, once the page has loaded, how many images decoded (``data-images-loaded``
on ``<body>``), which the tests read through headless Chromium.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml

from analysis import report_html as page
from analysis.checks_cli import CHECK_HEADERS, CHECK_WORDS
from analysis.contextual import pcv_notes, unconverged_note
from analysis.descriptive_tables import display_category_table, display_continuous_table
from analysis.fit_inputs import FitSelection, usable_fits
from analysis.labelled_tables import (
    CONTEXTUAL_LEGEND,
    ame_display,
    check_group_labels,
    comparison_display,
    contextual_display,
    group_sd_display,
    parameter_label,
    probability_text,
    province_rates_display,
    reference_text,
    sensitivity_display,
    subgroup_differences_display,
    variation_display,
    weighting_display,
    with_reference_rows,
)
from analysis.model_comparison import comparison_warnings
from analysis.ppc import is_percent
from analysis.summarize_cli import display_table, table_notes
from analysis.term_labels import TermLabeller, declarations_beside, default_language
from cmds_common.constants import ANALYSIS_DATA_FILE
from cmds_common.spec import ModelSpec, spec_from_dict
from cmds_common.survey_weights import MAX_MEDIAN_RATIO, MIN_EFFECTIVE_SHARE
from data_prep.variables import synthetic_declarations
from models.fit_cache import fit_attributes


@dataclass
class ReportInputs:
    """Where the report reads from and what it shows."""

    results: Path
    models: list[str]
    main_model: str = "model2"
    selection: FitSelection = field(init=False)

    labeller: TermLabeller = field(init=False)

    def __post_init__(self) -> None:
        """Decide once which fits belong to the run's analysis data; read its declarations."""
        data = self.results / "data" / ANALYSIS_DATA_FILE
        names = list(dict.fromkeys([*self.models, self.main_model]))
        self.selection = usable_fits(self.results / "fits", names, data if data.exists() else None)
        declarations = declarations_beside(data) or synthetic_declarations()
        self.labeller = TermLabeller(declarations, default_language())

    def model_labeller(self, spec: ModelSpec | None) -> TermLabeller:
        """Return the labeller with a model's reference levels (its spec may override them)."""
        if spec is None:
            return self.labeller
        return replace(self.labeller, reference_levels=dict(spec.reference_levels))

    def label(self, name: str) -> str:
        """Return a model's label (its spec's ``label:``; the code when the fit has none)."""
        spec = _fit_spec(self, name)
        return spec.label if spec is not None and spec.label else name

    def heading(self, section: str, name: str) -> str:
        """Return a model's ``<h3>`` in a section: its spec's label, the code in small type."""
        return page.model_heading(f"{section}-{name}", name, self.label(name))

    @property
    def shown(self) -> list[str]:
        """The requested models whose fits belong to this run's data."""
        return [m for m in self.models if m in self.selection.usable]

    def stale_note(self, frame: pd.DataFrame | None, what: str) -> str | None:
        """Return a note when a table comes from other data than this run's (else ``None``)."""
        current = self.selection.data_hash
        if frame is None or current is None or "data_hash" not in frame:
            return None
        hashes = set(frame["data_hash"].dropna().astype(str)) - {""}
        if not hashes or hashes == {current}:
            return None
        return (
            f'<p class="note">{html.escape(what)} was computed from other data than this '
            "run's and is not shown; rerun the step (make fit, or the step's make target).</p>"
        )


def _csv(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.exists() else None


def _left_out_section(inputs: ReportInputs) -> str:
    """Which requested fits are not in the report, and why (stale, missing, ...)."""
    left_out = inputs.selection.left_out
    if not left_out:
        return ""
    items = "".join(
        f"<li><b>{html.escape(name)}</b>: {html.escape(reason)}</li>"
        for name, reason in left_out.items()
    )
    return (
        '<div class="note"><b>Not in this report</b> (every result shown comes from the data '
        f"named under Data): <ul>{items}</ul></div>"
    )


#: The sentence each section opens with: what it shows and how to read it.
SECTION_LEADS = {
    "data": "Who is analysed: the data source, the inclusion flow and Tables 1-2 beside the "
    "published figures.",
    "odds-ratios": "How each predictor goes with the outcome: odds ratios above 1 mean higher "
    "odds, below 1 lower; the Bayesian, weighted-logit and published columns should agree.",
    "checks": "Whether data simulated from each fitted model look like the observed data: a "
    "Bayesian p near 0.5 is good, below 0.025 or above 0.975 flags a misfit.",
    "variation": "How much the outcome differs between provinces (and other groups) once the "
    "predictors are accounted for: SD, ICC and median odds ratio.",
    "comparison": "Which model would predict new respondents best (PSIS-LOO); differences "
    "smaller than about two standard errors are not clear differences.",
    "weights": "How using the survey weights in the likelihood moves each estimate.",
    "convergence": "Whether the sampler explored each posterior well enough for its numbers "
    "to be trusted.",
    "metadata": "What produced this report: data hash, seeds, sampler settings and package "
    "versions.",
    "effects": "How much each predictor changes the probability itself, how much the place "
    "matters (Merlo's measures), and what the priors alone imply.",
    "heterogeneity": "Whether the effect of integration on self-rated health differs by sex, "
    "age and education (the third study, make fit STUDY=heterogeneity).",
}


def _section(anchor: str, title: str, body: str) -> str:
    return page.section(anchor, title, body, SECTION_LEADS.get(anchor))


def _data_section(inputs: ReportInputs) -> str:
    data_dir = inputs.results / "data"
    source = data_dir / "source.txt"
    parts = []
    if source.exists():
        parts.append(f"<p>Data source: <code>{html.escape(source.read_text().strip())}</code></p>")
    warnings = _csv(data_dir / "data_warnings.csv")
    if warnings is not None and len(warnings):
        items = "".join(f"<li>{html.escape(m)}</li>" for m in warnings["message"])
        parts.append(f'<div class="note"><b>Data warnings</b><ul>{items}</ul></div>')
    elif warnings is not None:
        parts.append("<p>Data warnings: none (no tiny provinces, no separation).</p>")
    weights = _csv(data_dir / "weight_summary.csv")
    if weights is not None and len(weights):
        row = weights.iloc[0]
        parts.append(
            f"<p>Survey weights: Kish effective sample size {row['kish_n_eff']:.0f} of "
            f"{row['n']:.0f} respondents; largest weight {row['max_median_ratio']:.3g} x the "
            "median. Weighted estimates are flagged as unreliable when the effective sample "
            f"size is below {MIN_EFFECTIVE_SHARE:.0%} of the respondents or the largest weight "
            f"exceeds {MAX_MEDIAN_RATIO:g} x the median.</p>"
        )
    flow = _csv(data_dir / "inclusion_flow.csv")
    if flow is not None:
        parts.append("<h3>Inclusion flow</h3>" + page.table(flow, "{:.0f}"))
    tables = _csv(inputs.results / "tables" / "table1_table2.csv")
    if tables is not None:
        parts.append(
            "<h3>Tables 1-2 against the published figures</h3><p>Row % = share with a health "
            "record. p: Pearson chi-square; weighted p treats weights as frequencies (descriptive)."
            "</p>"
            + page.details(
                f"{len(tables)} categories of {tables['variable'].nunique()} variables (table)",
                page.table(display_category_table(tables, inputs.labeller)),
            )
        )
    continuous = _csv(inputs.results / "tables" / "table1_continuous.csv")
    if continuous is not None:
        parts.append(
            "<h3>Age and years in the inflow area</h3>"
            + page.table(display_continuous_table(continuous, inputs.labeller))
        )
    return _section("data", "Data and inclusion flow", "".join(parts))


def _odds_ratio_section(inputs: ReportInputs) -> str:
    parts = [
        '<p class="note">Bayesian: posterior median with equal-tailed 95% credible interval '
        "from the multilevel model, on each family's scale: odds ratios for 0/1 and binomial "
        "outcomes, cumulative odds ratios (of a higher category) for ordinal ones, coefficients "
        "in outcome units for continuous ones. Weighted logit (frequentist for the other "
        "families): the single-level weighted regression on the same data, design-based "
        "standard errors (with strata and PSUs where the spec names them). Published: Jing et "
        "al., BMJ Open 2019, Table 3, for the models that reproduce it.</p>"
    ]
    publication = inputs.results / "tables" / "publication_table.html"
    if publication.exists():
        parts.append(
            "<h3>All models, as a paper's table</h3>"
            '<p class="note">One row per level, the reference level as 1 (ref.), respondents per '
            "level; also as <code>tables/publication_table.docx</code> (Word) and "
            "<code>.tex</code> (LaTeX) for a manuscript.</p>"
            f'<div style="overflow-x:auto">{publication.read_text(encoding="utf-8")}</div>'
        )
    for name in inputs.shown:
        table = _csv(inputs.results / "tables" / f"odds_ratios_{name}.csv")
        if table is None:
            continue
        heading = inputs.heading("odds-ratios", name)
        stale = inputs.stale_note(table, f"The odds-ratio table of {name}")
        if stale:
            parts.append(heading + stale)
            continue
        parts.append(heading + _gate_failure(inputs, name) + page.warnings_box(table_notes(table)))
        parts.append(page.table(_estimates_display(inputs, name, table)))
        caption = (
            f"{inputs.label(name)}: Bayesian and frequentist estimates (and published ones "
            "where given)"
        )
        parts.append(page.image(inputs.results / "figures" / f"forest_{name}.png", caption))
    sd = _csv(inputs.results / "tables" / "province_sd.csv")
    if sd is not None:
        parts.append(
            "<h3>SD of each model's first grouping factor</h3><p>Log-odds scale (latent "
            "scale for ordinal outcomes, outcome units for continuous ones); every factor is "
            'under <a href="#variation">Variation between groups</a>.</p>'
            + page.table(
                group_sd_display(
                    sd, {str(m): inputs.label(str(m)) for m in sd["model"]}, inputs.labeller
                )
            )
        )
    return _section("odds-ratios", "Estimates (Table 3: odds ratios)", "".join(parts))


def _gate_failure(inputs: ReportInputs, name: str) -> str:
    """Return a red line for a model's own table when its fit failed the convergence gate."""
    checks = _csv(inputs.results / "tables" / f"convergence_{name}.csv")
    if checks is None or "passed" not in checks or bool(checks["passed"].astype(bool).all()):
        return ""
    failed = int((~checks["passed"].astype(bool)).sum())
    return (
        f'<p class="fail">{html.escape(inputs.label(name))} FAILED the convergence checks '
        f"({failed} check{'s' if failed > 1 else ''}, listed under "
        '<a href="#convergence">Convergence diagnostics</a>): do not interpret these '
        "estimates; refit with more draws.</p>"
    )


def _estimates_display(inputs: ReportInputs, name: str, table: pd.DataFrame) -> pd.DataFrame:
    """Return a model's estimates for readers: declared labels, reference levels as rows."""
    display = display_table(table)
    spec = _fit_spec(inputs, name)
    if spec is None:
        return display
    scale = str(table["scale"].iloc[0]) if "scale" in table and len(table) else "odds ratio"
    return with_reference_rows(
        display,
        table["term"].tolist(),
        inputs.model_labeller(spec),
        spec.predictors,
        reference_text(scale),
    )


def _unavailable(inputs: ReportInputs, anchor: str, title: str) -> str | None:
    """Return a section saying why the main model's part is missing (None when usable)."""
    name = inputs.main_model
    if name in inputs.selection.usable:
        return None
    reason = inputs.selection.left_out.get(name, "")
    return _section(
        anchor, title, f"<p>Not available for {html.escape(name)}: {html.escape(reason)}</p>"
    )


def _report_models(inputs: ReportInputs) -> list[str]:
    """Models whose checks and variation the report shows: the main model first."""
    usable = inputs.selection.usable
    return [m for m in dict.fromkeys([inputs.main_model, *inputs.models]) if m in usable]


def _fit_spec(inputs: ReportInputs, name: str) -> ModelSpec | None:
    """Return the spec stored with a fit (``None`` when the fit has none)."""
    return stored_spec(inputs.results / "fits", name)


def stored_spec(fits: Path, name: str) -> ModelSpec | None:
    """Return the spec stored with the fit ``fits/<name>.nc`` (``None`` without one)."""
    path = fits / f"{name}.nc"
    spec_yaml = fit_attributes(path).get("spec_yaml") if path.exists() else None
    return spec_from_dict(yaml.safe_load(spec_yaml), name) if spec_yaml else None


#: Above this many rows the checks table shows the overall checks and the flagged ones only.
MAX_CHECK_ROWS = 120


def _checks_table(checks: pd.DataFrame, labeller: TermLabeller) -> str:
    extreme = checks.query("bayes_p < 0.025 or bayes_p > 0.975")
    shown = checks
    note = f"<p>{len(checks)} checks; <b>{len(extreme)}</b> outside the 95% range.</p>"
    if len(checks) > MAX_CHECK_ROWS:
        shown = checks.loc[(checks["check"] == "overall") | checks.index.isin(extreme.index)]
        note = note[:-4] + " The table lists the whole-sample checks and those outside.</p>"
    statistic = shown["statistic"] if "statistic" in shown else pd.Series("share", shown.index)
    percent = statistic.map(is_percent).map({True: 100.0, False: 1.0})
    columns = ["observed", "predicted_median", "pi_low", "pi_high"]
    shown = shown.assign(
        group=check_group_labels(shown, labeller),
        statistic=statistic,
        **{c: percent * shown[c] for c in columns},
    )
    table = page.table(
        shown[["group", "statistic", "n", *columns, "bayes_p"]]
        .assign(bayes_p=shown["bayes_p"].map(probability_text))
        .rename(columns=CHECK_HEADERS)
    )
    return page.details(note.removeprefix("<p>").removesuffix("</p>") + " (table)", table)


def _model_checks(inputs: ReportInputs, name: str) -> str:
    figures, spec = inputs.results / "figures", _fit_spec(inputs, name)
    checks = _csv(inputs.results / "tables" / f"ppc_{name}.csv")
    heading, label = inputs.heading("checks", name), inputs.label(name)
    stale = inputs.stale_note(checks, f"The predictive-check table of {name}")
    if stale or checks is None or spec is None:
        return heading + (stale or "<p>Not run (make ppc).</p>")
    labeller = inputs.model_labeller(spec)
    words = CHECK_WORDS[spec.family].format(
        outcome=labeller.short(spec.outcome), share=labeller.share(spec.outcome)
    )
    parts = [
        heading,
        f"<p>Statistic: {html.escape(words)}.</p>",
        _checks_table(checks, labeller),
    ]
    images = [("ppc_overall", "Whole sample: observed against replicated")]
    images += [
        (
            f"ppc_{g.name}",
            f"By {labeller.short(g.factor[-1]).lower()}: observed against predictive intervals",
        )
        for g in spec.groups
    ]
    images += [("ppc_categories", "By category of Tables 1-2 and the model's predictors")]
    if spec.family == "bernoulli":
        images.append(("calibration", "Calibration: observed share by decile of prediction"))
    for stem, caption in images:
        parts.append(page.image(figures / f"{stem}_{name}.png", f"{label}: {caption}"))
    return "".join(parts)


def _ppc_section(inputs: ReportInputs) -> str:
    title = "Posterior predictive checks"
    models = _report_models(inputs)
    if not models and (missing := _unavailable(inputs, "checks", title)) is not None:
        return missing
    intro = (
        "<p>Each check compares a statistic of the observed data in a group (share with the "
        "outcome for 0/1 outcomes, proportion for binomial ones, mean and SD for continuous "
        "ones, the share in each category for ordinal ones) with its distribution over data "
        "sets replicated from the posterior; Bayesian p = P(replicated &gt; observed) + 0.5 "
        "P(equal); values below 0.025 or above 0.975 flag groups the model does not "
        "reproduce.</p>"
    )
    return _section("checks", title, intro + "".join(_model_checks(inputs, m) for m in models))


def _model_variation(inputs: ReportInputs, name: str) -> str:
    tables, figures = inputs.results / "tables", inputs.results / "figures"
    spec = _fit_spec(inputs, name)
    if spec is None or not spec.groups:
        return ""
    heading, label = inputs.heading("variation", name), inputs.label(name)
    summary = _csv(tables / f"group_variation_{name}.csv")
    stale = inputs.stale_note(summary, f"The variation table of {name}")
    if stale or summary is None:
        return heading + (stale or "<p>Not run (make ppc).</p>")
    parts = [heading, page.table(variation_display(summary, inputs.model_labeller(spec)))]
    for group in spec.groups:
        suffix = "" if group.name == "province" else f"_{group.name}"
        parts.append(
            page.image(
                figures / f"caterpillar_{name}{suffix}.png", f"{label}: {group.name} effects"
            )
        )
    if any(g.name == "province" for g in spec.groups):
        for stem, caption in (
            ("shrinkage", "raw against partially pooled shares by province"),
            ("tilemap", "by inflow province"),
        ):
            path = figures / f"{stem}_{name}.png"
            if path.exists():
                parts.append(page.image(path, f"{label}: {caption}"))
    rates = _csv(tables / f"province_rates_{name}.csv")
    if rates is not None and spec.family == "bernoulli" and spec.group == "province":
        parts.append(
            "<h4>Standardised shares (%) and rank probabilities</h4>"
            + page.table(province_rates_display(rates))
        )
    return "".join(parts)


def _variation_section(inputs: ReportInputs) -> str:
    title = "Variation between groups"
    models = _report_models(inputs)
    if not models and (missing := _unavailable(inputs, "variation", title)) is not None:
        return missing
    intro = (
        "<p>For each grouping factor: SD, the between-group standard deviation of the intercept "
        "(log-odds for logit links, latent scale for ordinal outcomes, outcome units for "
        "continuous ones). ICC: the factor's share of the total variation, "
        "&sigma;&sup2;<sub>g</sub>/(&Sigma; &sigma;&sup2; + s&sup2;), on the latent scale "
        "(icc_latent, s&sup2; = &pi;&sup2;/3) for logit links and on the observed scale (icc, "
        "s&sup2; the residual variance) for continuous outcomes. MOR (logit links): median odds "
        "ratio between like respondents in two random groups. For 0/1 outcomes by province, "
        "standardised shares give each province's expected share with the whole sample's mix "
        "of predictors; the tile map appears when a grouping factor is the province.</p>"
    )
    return _section(
        "variation", title, intro + "".join(_model_variation(inputs, m) for m in models)
    )


def _weights_sentence(table: pd.DataFrame) -> str:
    """One paragraph on the weights and the design the weighted fit used (empty if unknown)."""
    if not {"n", "kish_n_eff", "max_median_ratio"} <= set(table) or not len(table):
        return ""
    row = table.iloc[0]
    design = f"; survey design: {row['survey_design']}" if "survey_design" in table else ""
    return html.escape(
        f"{row['n']:.0f} respondents; Kish effective sample size of the weights "
        f"{row['kish_n_eff']:.0f}; largest weight {row['max_median_ratio']:.3g} x the "
        f"median{design}."
    ).join(("<p>", "</p>"))


def _weights_section(inputs: ReportInputs) -> str:
    table = _csv(inputs.results / "tables" / "weighting_comparison.csv")
    if table is None:
        return ""
    stale = inputs.stale_note(table, "The weighting comparison")
    if stale:
        return _section("weights", "Survey weights", stale)
    spec = _fit_spec(inputs, "model2_weighted") or _fit_spec(inputs, inputs.main_model)
    predictors = spec.predictors if spec is not None else []
    sample = _weights_sentence(table)
    notes = []
    if "weights_unreliable" in table and bool(table["weights_unreliable"].any()):
        row = table.iloc[0]
        notes.append(
            f"Survey weights very unequal: Kish effective sample size {row['kish_n_eff']:.0f} of "
            f"{row['n']:.0f} respondents (largest weight {row['max_median_ratio']:.3g} x the "
            "median). The weighted posterior rests on a handful of respondents; do not trust it."
        )
    return _section(
        "weights",
        "Survey weights: weighted against unweighted posterior",
        "<p>The weighted fit multiplies each respondent's log-likelihood by the sampling weight "
        "(scaled to sum to n): a pseudo-likelihood whose estimates target the weighted "
        "population, as the paper's weighted regression does. Its intervals are not "
        "design-based (no strata or clustering), so treat it as a sensitivity analysis. "
        "Shift: change of the posterior mean (log-odds) in unweighted posterior SDs; width "
        "ratio: weighted over unweighted interval width (log scale).</p>"
        + sample
        + page.warnings_box(notes)
        + page.table(weighting_display(table, inputs.model_labeller(spec), predictors))
        + page.image(
            inputs.results / "figures" / "weighting_comparison.png",
            "Odds ratios with and without survey weights",
        ),
    )


def _labelled_models(frame: pd.DataFrame, inputs: ReportInputs) -> pd.DataFrame:
    """Show each model by its spec's label, with the code in a ``code`` column beside it."""
    if "model" not in frame or frame.empty:
        return frame
    shown = frame.rename(columns={"model": "code"})
    shown.insert(0, "model", [inputs.label(str(name)) for name in frame["model"]])
    return shown


def _comparison_section(inputs: ReportInputs) -> str:
    table = _csv(inputs.results / "tables" / "model_comparison.csv")
    if table is None:
        return _section("comparison", "Model comparison", "<p>Not run (make compare).</p>")
    stale = inputs.stale_note(table, "The model comparison")
    if stale:
        return _section("comparison", "Model comparison (PSIS-LOO)", stale)
    ranked = table.dropna(subset=["elpd_loo"]) if "elpd_loo" in table else table.iloc[0:0]
    messages = comparison_warnings(ranked) if len(ranked) else []
    if not len(ranked):
        messages.append("No ranking: fewer than two fits could be compared (reasons below).")
    return _section(
        "comparison",
        "Model comparison (PSIS-LOO)",
        "<p>Higher elpd_loo is better (its standard error in brackets). elpd_diff: difference "
        "from the best model, with the standard error of the difference in brackets (less "
        "than about 2 of those is no clear difference). Pareto k: counts of "
        "respondents whose leave-one-out approximation is good (at or below the threshold "
        "min(1 - 1/log10(draws), 0.7)), bad, and very bad (&gt; 1). Fits with survey weights in "
        "the likelihood are not ranked.</p>"
        + page.warnings_box(messages)
        + page.table(
            comparison_display(
                table,
                {str(m): inputs.label(str(m)) for m in table.get("model", [])},
                inputs.labeller,
            )
        ),
    )


def extra_batch_sentence(name: str, attrs: dict) -> str:
    """One sentence on the extra batches a fit drew (empty when it drew none)."""
    extra = int(attrs.get("extra_batches", 0) or 0)
    if not extra:
        return ""
    chains, draws = attrs.get("chains"), attrs.get("draws")
    sentence = (
        f"{name}: effective sample sizes fell short after the first {chains} chains x {draws} "
        f"draws, so {extra} extra batch{'es' if extra > 1 else ''} of {chains} chains were drawn "
        f"({attrs.get('total_chains')} chains, {attrs.get('total_draws')} draws in all)."
    )
    if attrs.get("batches_interrupted"):
        sentence += " A further batch was interrupted; the complete batches were kept."
    return sentence


def _minute(stamp: object) -> object:
    """Return an ISO time stamp to the minute ("2026-11-29 20:51"), other values unchanged."""
    if not isinstance(stamp, str) or len(stamp) < 16 or stamp[10] != "T":
        return stamp
    return stamp[:16].replace("T", " ")


def _convergence_and_metadata(inputs: ReportInputs) -> tuple[str, str, bool]:
    """Convergence and metadata sections, and whether any fit failed its checks."""
    rows, meta_rows, formulas, versions, batch_notes = [], [], [], {}, []
    for name in inputs.shown:
        checks = _csv(inputs.results / "tables" / f"convergence_{name}.csv")
        netcdf = inputs.results / "fits" / f"{name}.nc"
        if checks is None or not netcdf.exists():
            continue
        failed = checks.loc[~checks["passed"]]
        rhat = checks.query("check == 'r_hat'")["value"]
        ess = checks.query("check == 'ess_bulk'")["value"]
        tail = checks.query("check == 'ess_tail'")["value"]
        bfmi = checks.query("check == 'e_bfmi'")["value"]
        divergences = checks.query("check == 'divergences'")["value"]
        status = (
            "passed"
            if failed.empty
            else f"FAILED ({len(failed)} check{'' if len(failed) == 1 else 's'})"
        )
        rows.append(
            {
                "model": name,
                "status": status,
                "max R-hat": rhat.max(),
                "min bulk ESS": ess.min(),
                "min tail ESS": tail.min(),
                "min E-BFMI": bfmi.min() if len(bfmi) else float("nan"),
                "divergences": int(divergences.sum()),
            }
        )
        attrs = fit_attributes(netcdf)
        versions = json.loads(attrs.get("package_versions", "{}"))
        note = extra_batch_sentence(name, attrs)
        if note:
            batch_notes.append(f"<p>{html.escape(note)}</p>")
        meta_rows.append(
            {
                "model": name,
                "data hash": attrs.get("data_hash"),
                "n": attrs.get("n_obs"),
                "sampler": attrs.get("sampler"),
                "chains x draws (warm-up)": f"{attrs.get('chains')} x {attrs.get('draws')} "
                f"({attrs.get('tune')})",
                "extra batches": int(attrs.get("extra_batches", 0) or 0),
                "total draws": attrs.get("total_draws"),
                "target accept": attrs.get("target_accept"),
                "seed": attrs.get("seed"),
                "sampling time (s)": attrs.get("sampling_seconds"),
                "fitted (UTC)": _minute(attrs.get("created_utc")),
            }
        )
        formulas.append({"model": name, "formula": attrs.get("formula")})
    table = pd.DataFrame(rows)
    for column in ("min bulk ESS", "min tail ESS"):  # an effective number of draws: a count
        if column in table:
            table[column] = table[column].round().astype("Int64")
    convergence = _section(
        "convergence",
        "Convergence diagnostics",
        "<p>Every fit must have R-hat &le; 1.01 and bulk and tail ESS &ge; 400 for the "
        "intercept, coefficients, province SD(s) and effects, no divergent transitions, and "
        "E-BFMI &ge; 0.3 in every chain.</p>"
        + (
            page.details(
                f"{len(table)} fits: {int((table['status'] == 'passed').sum())} passed, "
                f"{int((table['status'] != 'passed').sum())} failed (table)",
                page.table(_labelled_models(table, inputs), "{:.3f}"),
            )
            if not table.empty
            else "<p>No fits found.</p>"
        )
        + "".join(batch_notes),
    )
    metadata = _section(
        "metadata",
        "Run metadata",
        page.details(
            f"Settings of {len(meta_rows)} fits (table)",
            page.table(_labelled_models(pd.DataFrame(meta_rows), inputs)),
        )
        + page.details(
            f"Formulas of {len(formulas)} fits (table)",
            page.table(_labelled_models(pd.DataFrame(formulas), inputs)),
        )
        + page.details(
            "Package versions (table)",
            page.table(pd.DataFrame(sorted(versions.items()), columns=["package", "version"])),
        ),
    )
    any_failed = bool(len(table)) and bool((table["status"] != "passed").any())
    return convergence, metadata, any_failed


def _fails_gate(tables: Path, name: str) -> bool:
    """Whether ``tables/convergence_<name>.csv`` records a failed check (absent: no)."""
    checks = _csv(tables / f"convergence_{name}.csv")
    return checks is not None and not checks["passed"].all()


def _effects_section(
    results: Path,
    main_model: str,
    model_label: str | None = None,
    labeller: TermLabeller | None = None,
    predictors: list[str] | None = None,
) -> str:
    """AMEs of the main model and the contextual measures of every multilevel logit fit.

    ``model_label`` (the main model's spec label) heads its AMEs, with the code in small type;
    ``labeller`` gives its contrasts' and prior-sensitivity parameters' labels (codes in words
    without one); ``predictors`` (the model's) split the parameters' terms (else the declared
    columns do).
    """
    labeller = labeller or TermLabeller()
    tables, figures = results / "tables", results / "figures"
    parts = [
        "<p>Average marginal effect (AME): the change in the predicted probability, averaged "
        "over the respondents as they are, when everyone has the level instead of the "
        "reference (or per unit of a continuous predictor). Contextual measures (Merlo): ICC, "
        "each grouping factor's share of the between-group variance, MOR (median odds ratio "
        "between like people in two random groups; 1 = place does not matter), IOR-80 for "
        "province-level predictors, PCV (proportional change in the between-province variance "
        "from the empty model).</p>"
    ]
    ame = _csv(tables / f"ame_{main_model}.csv")
    if ame is not None:
        heading = page.model_heading(
            f"effects-{main_model}", main_model, model_label or "", prefix="AMEs: "
        )
        parts.append(heading + page.table(ame_display(ame, labeller)))
    sensitivity = _csv(tables / f"prior_sensitivity_{main_model}.csv")
    if sensitivity is not None:
        flagged = sensitivity[sensitivity["flagged"]]
        words = (
            "none: every prior sensitivity is below 0.05."
            if flagged.empty
            else "; ".join(
                parameter_label(p, labeller, predictors) + ": " + d
                for p, d in zip(flagged["parameter"], flagged["diagnosis"], strict=True)
            )
        )
        parts.append(
            "<h3>Prior sensitivity (power scaling)</h3><p>Parameters flagged: "
            f"{html.escape(words)}</p>"
            + page.table(sensitivity_display(sensitivity, labeller, predictors), "{:.3f}")
        )
    prior = figures / f"prior_uptake_{main_model}.png"
    if prior.exists():
        parts.append(page.image(prior, "Uptake implied by the priors alone"))
    contextual = _csv(tables / "contextual_measures.csv")
    if contextual is not None:
        labels = {}
        for name in dict.fromkeys(contextual["model"].astype(str)):
            spec = stored_spec(results / "fits", name)
            labels[name] = spec.label if spec is not None and spec.label else name
        parts.append(
            "<h3>Contextual measures</h3>"
            + page.table(contextual_display(contextual, labeller, labels))
            + f"<p>{html.escape(CONTEXTUAL_LEGEND)}</p>"
            + "".join(
                f'<p class="note">{html.escape(note)}</p>'
                for note in [
                    *(unconverged_note(labels[n]) for n in labels if _fails_gate(tables, n)),
                    *pcv_notes(contextual, labels),
                ]
            )
        )
        parts.append(page.image(figures / "contextual_measures.png", "MOR and ICC per model"))
    if len(parts) == 1:
        parts.append('<p class="note">Not available: run make effects.</p>')
    return _section(
        "effects", "Effects on the probability scale; contextual measures", "".join(parts)
    )


def folder_labeller(folder: Path) -> TermLabeller:
    """Return the labeller of a study's results folder (declarations beside its data)."""
    declarations = declarations_beside(folder / "data" / ANALYSIS_DATA_FILE)
    return TermLabeller(declarations or synthetic_declarations(), default_language())


def _heterogeneity_section(folder: Path, labeller: TermLabeller | None = None) -> str:
    """Show the third study's subgroup differences and forest plots (its results folder).

    ``labeller`` labels the terms of the tables and captions (by default the declarations
    beside the folder's data).
    """
    differences = _csv(folder / "tables" / "subgroup_differences.csv")
    if differences is None:
        body = '<p class="note">Not available: run make fit STUDY=heterogeneity.</p>'
        return _section("heterogeneity", "Heterogeneity by sex, age and education", body)
    labeller = labeller or folder_labeller(folder)
    parts = [
        "<p>Does the effect of each integration dimension on self-rated health differ between "
        "women and men, 45-59 and 15-29, senior high school or more and less? Differences of "
        "the effect per point (log cumulative odds ratio), like compared with like; "
        "P(difference &gt; 0) is the posterior probability that the effect is larger in the "
        "first group. Beside them the separate regressions per subgroup and the interaction "
        "model, and the truth on synthetic data.</p>",
        page.table(subgroup_differences_display(differences, labeller)),
    ]
    for path in sorted((folder / "figures").glob("subgroup_forest_*.png")):
        term = labeller.short(path.stem.removeprefix("subgroup_forest_"))
        parts.append(page.image(path, f"Effect of {term} by subgroup, three methods"))
    ame = _csv(folder / "tables" / "ame_heterogeneity.csv")
    if ame is not None:
        spec = stored_spec(folder / "fits", "heterogeneity")
        shown = ame_display(ame, labeller, spec.outcome if spec else None)
        parts.append("<h3>AMEs on the health categories</h3>" + page.table(shown))
    return _section("heterogeneity", "Heterogeneity by sex, age and education", "".join(parts))


def build_report(inputs: ReportInputs) -> str:
    """Assemble the report's HTML from the files of a finished run."""
    convergence, metadata, any_failed = _convergence_and_metadata(inputs)
    banner = (
        '<p class="fail">Some fits failed the convergence checks: '
        "read their estimates with care.</p>"
        if any_failed
        else '<p class="pass">All fits passed the convergence checks.</p>'
    )
    main_spec = _fit_spec(inputs, inputs.main_model)
    sections = [
        _data_section(inputs),
        _odds_ratio_section(inputs),
        _ppc_section(inputs),
        _variation_section(inputs),
        _comparison_section(inputs),
        _weights_section(inputs),
        _effects_section(
            inputs.results,
            inputs.main_model,
            main_spec.label if main_spec else None,
            inputs.model_labeller(main_spec),
            list(main_spec.predictors) if main_spec else None,
        ),
        convergence,
        metadata,
    ]
    # the third study's section joins the page once its results exist (no empty section)
    third = inputs.results / "heterogeneity"
    heterogeneity = (
        _heterogeneity_section(third)
        if (third / "tables" / "subgroup_differences.csv").exists()
        else ""
    )
    studies = [("Health records (Jing et al. 2019)", sections)]
    if heterogeneity:
        studies.append(("Heterogeneity by sex, age and education (third study)", [heterogeneity]))
    nav = page.contents(studies)
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Health records among elderly internal migrants: multilevel analysis</title>"
        f"<style>{page.STYLE}</style><script>{page.SCRIPT}</script></head><body>"
        "<h1>Health records among China's elderly internal migrants: "
        "Bayesian multilevel analysis</h1>"
        f"<p>Reproduction and multilevel extension of Jing et al., BMJ Open 2019;9:e034255. "
        f"Report written {created}.</p>{banner}{_left_out_section(inputs)}{nav}"
        + "".join(sections)
        + heterogeneity
        + "</body></html>"
    )


def heterogeneity_report(
    results: Path,
    title: str,
    model: str,
    failures: list[str],
    labeller: TermLabeller | None = None,
) -> str:
    """Build the heterogeneity study's own page: subgroup differences, forest plots, effects.

    ``labeller`` labels its terms (by default the declarations beside ``results/data``).
    """
    labeller = labeller or folder_labeller(results)
    spec = stored_spec(results / "fits", model)
    if spec is not None:
        labeller = replace(labeller, reference_levels=dict(spec.reference_levels))
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    banner = (
        '<p class="fail">The fit failed its convergence checks: '
        + html.escape("; ".join(failures))
        + "</p>"
        if failures
        else '<p class="pass">The fit passed the convergence checks.</p>'
    )
    sections = [
        _heterogeneity_section(results, labeller),
        _effects_section(
            results, model, labeller=labeller, predictors=spec.predictors if spec else None
        ),
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{page.STYLE}</style>"
        f"<script>{page.SCRIPT}</script></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Report written {created}.</p>{banner}"
        + page.contents([(title, sections)])
        + "".join(sections)
        + "</body></html>"
    )
