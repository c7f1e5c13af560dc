"""Tables for readers: declared labels in place of codes, reference levels as rows.

The CSV files under ``results/tables`` keep the codes (``local_friends``, ``ge3``) so other
programs can join on them; the report and the Markdown tables show them through these
functions as the declarations describe them ("Number of local friends: 3 or more"), with each
categorical predictor's reference level as a row of its own, as a paper's Table 3 does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from analysis.term_labels import TermLabeller

#: The reference row's estimate on a ratio scale (odds ratios) and on an additive one.
REFERENCE_RATIO, REFERENCE_DIFFERENCE = "1 (ref.)", "0 (ref.)"


def reference_text(scale: str) -> str:
    """Return what a reference row reads on a table's scale ("odds ratio" -> ``1 (ref.)``)."""
    return REFERENCE_RATIO if "odds ratio" in scale else REFERENCE_DIFFERENCE


def with_reference_rows(
    display: pd.DataFrame,
    terms: Sequence[str],
    labeller: TermLabeller,
    predictors: Sequence[str],
    reference: str = REFERENCE_RATIO,
) -> pd.DataFrame:
    """Put each categorical predictor's reference level as a row above its first level.

    Parameters
    ----------
    display : pandas.DataFrame
        One row per term, the first column the term's label (as
        :func:`analysis.summarize_cli.display_table` returns it).
    terms : sequence of str
        The terms' codes, row by row (``local_friends_ge3``).
    labeller : TermLabeller
        Labels and reference levels.
    predictors : sequence of str
        The model's predictors, to split term codes into variable and level.
    reference : str
        What the reference row reads in the estimate columns (those naming a 95% interval).

    Returns
    -------
    pandas.DataFrame
        The same columns; a level's row reads "Variable: Level", its reference's row
        "Variable: Reference level" with ``reference`` in the estimate columns and the other
        cells empty. Continuous terms and interactions keep their rows and labels.
    """
    label_column = display.columns[0]
    estimates = [c for c in display.columns[1:] if "95%" in str(c)]
    reference = reference.replace("ref.", labeller.word("ref."))
    rows: list[dict] = []
    seen: set[str] = set()
    for term, row in zip(terms, display.to_dict("records"), strict=True):
        try:
            parts = labeller.split(term, predictors)
        except ValueError:
            parts = []
        if len(parts) == 1 and parts[0].level is not None:
            variable = parts[0].variable
            level_of_reference = labeller.reference(variable)
            if variable not in seen and level_of_reference:
                blank = dict.fromkeys(display.columns, "")
                blank[label_column] = labeller.category(variable, level_of_reference)
                rows.append(blank | dict.fromkeys(estimates, reference))
            seen.add(variable)
            row = row | {label_column: labeller.part(parts[0], with_reference=False)}
        rows.append(row)
    return pd.DataFrame(rows, columns=display.columns)


def check_group_labels(checks: pd.DataFrame, labeller: TermLabeller) -> pd.Series:
    """Return each predictive check's group in words.

    Parameters
    ----------
    checks : pandas.DataFrame
        :func:`analysis.ppc.predictive_checks`'s table (``check``, ``variable``, ``level``).
    labeller : TermLabeller
        Variable and level labels.

    Returns
    -------
    pandas.Series
        "Whole sample" for the overall checks, "Label: Level" for categories ("Number of
        local friends: 3 or more") and groups ("Inflow province: Guangdong", the label's
        first clause).
    """

    def words(check: str, variable: object, level: object) -> str:
        if check == "overall":
            return labeller.word("Whole sample")
        if not isinstance(variable, str) or not variable:
            return str(level)
        if check != "category":  # a grouping factor: its label's first clause, the group's name
            name = labeller.variable(variable).split(" (")[0]
            return f"{name}: {labeller.level(variable, str(level))}"
        return labeller.category(variable, str(level))

    return pd.Series(
        [
            words(*values)
            for values in checks[["check", "variable", "level"]].itertuples(index=False)
        ],
        index=checks.index,
        name="group",
    )


def interval_text(estimate: float, low: float, high: float) -> str:
    """``"1.23 (1.01-1.50)"``, or ``"-2.61 (-4.97 to -0.19)"`` when a bound is negative.

    Two decimals, as a paper prints odds ratios; an empty string for a missing estimate.
    """
    if pd.isna(estimate):
        return ""
    between = "-" if min(low, high) >= 0 else " to "
    return f"{estimate:.2f} ({low:.2f}{between}{high:.2f})"


def weighting_display(
    table: pd.DataFrame, labeller: TermLabeller, predictors: Sequence[str]
) -> pd.DataFrame:
    """Return the survey-weights comparison for readers: one row per level, labels, intervals.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`analysis.weighting.weighting_comparison`'s table (``term``, ``unweighted_or``,
        ``unweighted_low``, ``unweighted_high``, the same for ``weighted``, ``shift_in_sd``,
        ``width_ratio``).
    labeller : TermLabeller
        Labels and reference levels.
    predictors : sequence of str
        The model's predictors.

    Returns
    -------
    pandas.DataFrame
        ``term`` (label), the two odds ratios with their 95% intervals, the shift in
        unweighted SDs and the width ratio; reference levels as rows.
    """
    display = pd.DataFrame(
        {
            "term": [labeller.term(t, predictors) for t in table["term"]],
            **{
                f"{which} OR (95% CrI)": [
                    interval_text(*row)
                    for row in table[[f"{which}_or", f"{which}_low", f"{which}_high"]].to_numpy()
                ]
                for which in ("unweighted", "weighted")
            },
            "shift (unweighted SDs)": table["shift_in_sd"].map("{:.2f}".format),
            "width ratio": table["width_ratio"].map("{:.2f}".format),
        }
    )
    return with_reference_rows(display, table["term"].tolist(), labeller, predictors)


def _difference(estimate: float, low: float, high: float) -> str:
    """Format an effect that may be negative: ``-0.080 (-0.123 to -0.037)``."""
    return "" if pd.isna(estimate) else f"{estimate:.3f} ({low:.3f} to {high:.3f})"


def _outcome_label(shown: str, labeller: TermLabeller, outcome: str | None) -> str:
    """``P(<level>)`` with the outcome's level label; anything else as it is."""
    category = re.fullmatch(r"P\((.+)\)", shown)
    if outcome is None or category is None:
        return shown
    return f"P({labeller.level(outcome, category.group(1))})"


def ame_display(
    table: pd.DataFrame, labeller: TermLabeller, outcome: str | None = None
) -> pd.DataFrame:
    """Return an AME table for readers: labelled contrasts, reference levels as rows.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`analysis.marginal_effects.average_marginal_effects`'s table (``variable``,
        ``contrast`` "L vs R" or "per unit (derivative)", ``outcome``, ``estimate``,
        ``ci_low``, ``ci_high``, optionally ``freq_estimate``, ``freq_ci_low``,
        ``freq_ci_high``).
    labeller : TermLabeller
        Labels and units.
    outcome : str, optional
        The outcome variable: its categories in ``P(<level>)`` (ordinal outcomes) are shown
        with their level labels ("P(Healthy)").

    Returns
    -------
    pandas.DataFrame
        ``term`` ("Number of local friends: 3 or more", "Age (per year)"), ``outcome``, the
        Bayesian AME and, where given, the frequentist one with 95% intervals; each reference
        level as a row reading ``0 (ref.)``.
    """
    terms = [
        variable if " vs " not in contrast else f"{variable}_{contrast.split(' vs ')[0]}"
        for variable, contrast in table[["variable", "contrast"]].itertuples(index=False)
    ]
    predictors = list(dict.fromkeys(table["variable"]))
    columns = {
        "term": [labeller.term(t, predictors) for t in terms],
        "outcome": [_outcome_label(o, labeller, outcome) for o in table["outcome"].astype(str)],
        "AME (95% CrI)": [
            _difference(*row) for row in table[["estimate", "ci_low", "ci_high"]].to_numpy()
        ],
    }
    if "freq_estimate" in table and table["freq_estimate"].notna().any():
        notes = table.get("freq_note", pd.Series("", index=table.index)).fillna("")
        columns["logit AME (95% CI)"] = [
            note or _difference(*row)
            for note, row in zip(
                notes,
                table[["freq_estimate", "freq_ci_low", "freq_ci_high"]].to_numpy(),
                strict=True,
            )
        ]
    return with_reference_rows(
        pd.DataFrame(columns), terms, labeller, predictors, REFERENCE_DIFFERENCE
    )


def model_terms(labeller: TermLabeller, predictors: Sequence[str] | None = None) -> list[str]:
    """Return the variables to split term codes by: the predictors, else the declared columns.

    The longest matching name wins (see :meth:`TermLabeller.split`).
    """
    return list(predictors) if predictors else list(labeller.declarations)


def term_column(
    terms: Sequence[str], labeller: TermLabeller, predictors: Sequence[str] | None = None
) -> list[str]:
    """Return the labels of term codes (``const`` reads "Intercept"; unknown codes stay)."""
    variables = model_terms(labeller, predictors)
    return [
        labeller.word("Intercept")
        if term in ("const", "Intercept")
        else labeller.term(str(term), variables)
        for term in terms
    ]


def parameter_label(
    parameter: str, labeller: TermLabeller, predictors: Sequence[str] | None = None
) -> str:
    """Return a model parameter in words: ``beta[local_friends_ge3]`` -> the term's label.

    ``intercept`` reads "Intercept", ``sigma`` "Residual SD", ``province_sigma`` "SD of
    inflow province intercepts", ``province_slope_sigma[x]`` "SD of inflow province slopes:
    <label of x>"; other parameters keep their name.
    """
    if parameter.startswith("beta[") and parameter.endswith("]"):
        return term_column([parameter[5:-1]], labeller, predictors)[0]
    if parameter in _PARAMETER_WORDS:
        return _PARAMETER_WORDS[parameter]
    slope = re.fullmatch(r"(\w+)_slope_sigma\[(.+)\]", parameter)
    if slope:
        term = term_column([slope.group(2)], labeller, predictors)[0]
        return f"SD of {group_words(slope.group(1), labeller)} slopes: {term}"
    sigma = re.fullmatch(r"(\w+)_sigma", parameter)
    if sigma:
        return f"SD of {group_words(sigma.group(1), labeller)} intercepts"
    return parameter


_PARAMETER_WORDS = {"intercept": "Intercept", "Intercept": "Intercept", "sigma": "Residual SD"}


def group_words(group: str, labeller: TermLabeller) -> str:
    """Return a grouping factor's short label in lower case, for prose ("inflow province")."""
    label = labeller.short(group)
    return label[:1].lower() + label[1:]


def sensitivity_display(
    table: pd.DataFrame, labeller: TermLabeller, predictors: Sequence[str] | None = None
) -> pd.DataFrame:
    """Return a prior-sensitivity table for readers: each coefficient by its term's label.

    Parameters
    ----------
    table : pandas.DataFrame
        ``python -m analysis effects``'s ``prior_sensitivity_<model>.csv`` (``parameter``,
        ``prior``, ``likelihood``, ``diagnosis``, ``flagged``, ...).
    labeller : TermLabeller
        Labels and reference levels.
    predictors : sequence of str, optional
        The model's predictors (else the declared columns).

    Returns
    -------
    pandas.DataFrame
        ``parameter`` in words ("Number of local friends: 3 or more (ref: Fewer than 3)"),
        ``code`` (``beta[local_friends_ge3]``) beside it, ``flagged`` as "yes"/"no", a
        diagnosis of "✓" as "none"; the other columns as they were, less the model code.
    """
    shown = table.drop(columns=["model"], errors="ignore")  # the section names the model
    codes = shown["parameter"].astype(str)
    shown["parameter"] = [parameter_label(p, labeller, predictors) for p in codes]
    shown.insert(1, "code", codes)
    if "flagged" in shown:
        shown["flagged"] = [flag_text(f) for f in shown["flagged"]]
    if "diagnosis" in shown:
        shown["diagnosis"] = shown["diagnosis"].replace({"✓": "none"})
    return shown


def flag_text(flag: object) -> str:
    """Return a yes/no flag in words: ``True`` (or "True") reads "yes", anything else "no"."""
    return "yes" if flag is True or str(flag).strip().lower() in ("true", "1", "yes") else "no"


#: Merlo's measures by their short names (the CSV's codes -> what a table shows).
CONTEXTUAL_MEASURES = {
    "icc": "ICC",
    "share_of_between_variance": "Share of between-group variance",
    "mor": "MOR",
    "ior80_low": "IOR-80, lower end",
    "ior80_high": "IOR-80, upper end",
    "pcv": "PCV",
}

#: The short names spelled out once, under the table.
CONTEXTUAL_LEGEND = (
    "ICC: intraclass correlation (variance partition coefficient, latent scale); MOR: median "
    "odds ratio; IOR-80: 80% interval odds ratio of a group-level predictor; PCV: proportional "
    "change in the group variance from the reference model."
)


def _factor_words(factor: str, labeller: TermLabeller) -> str:
    """``all`` -> "All grouping factors"; ``province:gdp`` -> "Inflow province: <gdp label>"."""
    if factor == "all":
        return "All grouping factors"
    group, _, predictor = factor.partition(":")
    words = labeller.short(group)
    return f"{words}: {labeller.short(predictor)}" if predictor else words


def contextual_display(
    table: pd.DataFrame, labeller: TermLabeller, model_labels: dict[str, str]
) -> pd.DataFrame:
    """Return the contextual measures for readers: model labels, measures and factors in words.

    Parameters
    ----------
    table : pandas.DataFrame
        ``tables/contextual_measures.csv`` (``model``, ``measure``, ``factor``, ``median``,
        ``low``, ``high``).
    labeller : TermLabeller
        Labels of the grouping factors (and group-level predictors).
    model_labels : dict
        ``{model code: label}``; a model without one keeps its code.

    Returns
    -------
    pandas.DataFrame
        ``model``, ``measure`` (ICC, MOR, ...; see :data:`CONTEXTUAL_LEGEND`), ``grouping
        factor`` and ``median (95% CrI)``, numbers to 2 decimals.
    """
    return pd.DataFrame(
        {
            "model": [model_labels.get(str(m), str(m)) for m in table["model"]],
            "measure": [CONTEXTUAL_MEASURES.get(str(m), str(m)) for m in table["measure"]],
            "grouping factor": [_factor_words(str(f), labeller) for f in table["factor"]],
            "median (95% CrI)": [
                interval_text(*row) for row in table[["median", "low", "high"]].to_numpy()
            ],
        }
    )


def _signed(estimate: float, low: float, high: float) -> str:
    """``+0.12 (-0.03, +0.27)``: a difference whose sign matters, 2 decimals."""
    return "" if pd.isna(estimate) else f"{estimate:+.2f} ({low:+.2f}, {high:+.2f})"


def subgroup_differences_display(differences: pd.DataFrame, labeller: TermLabeller) -> pd.DataFrame:
    """Return the subgroup comparisons for readers: the term's label, intervals, readable headers.

    Parameters
    ----------
    differences : pandas.DataFrame
        :func:`analysis.heterogeneity.difference_table`'s table (``comparison``, ``term``,
        ``estimate``, ``ci_low``, ``ci_high``, ``prob_greater`` and optionally the same
        bounds prefixed ``stratified_``/``interaction_``, and ``truth``).
    labeller : TermLabeller
        Labels of the terms (continuous variables: "Label (per point)").

    Returns
    -------
    pandas.DataFrame
        ``comparison``, ``effect of`` (the term's label), ``pooled Bayes difference (95%
        CrI)``, ``P(difference > 0)`` (3 decimals), ``separate regressions (95% CI)``,
        ``interaction model (95% CI)`` and ``truth`` where given.
    """
    bounds = ("estimate", "ci_low", "ci_high")
    shown = pd.DataFrame(
        {
            "comparison": differences.get("comparison", ""),
            "effect of": [labeller.short(str(t)) for t in differences.get("term", [])],
        },
        index=differences.index,
    )
    if set(bounds) <= set(differences.columns):
        shown["pooled Bayes difference (95% CrI)"] = [
            _signed(*row) for row in differences[list(bounds)].to_numpy()
        ]
    elif "estimate" in differences:
        shown["pooled Bayes difference"] = differences["estimate"].map("{:+.2f}".format)
    if "prob_greater" in differences:
        shown["P(difference > 0)"] = differences["prob_greater"].map("{:.3f}".format)
    for prefix, name in (
        ("stratified_", "separate regressions"),
        ("interaction_", "interaction model"),
    ):
        columns = [f"{prefix}{k}" for k in bounds]
        if set(columns) <= set(differences.columns):
            shown[f"{name} (95% CI)"] = [_signed(*row) for row in differences[columns].to_numpy()]
    if "truth" in differences:
        shown["truth"] = differences["truth"].map(lambda v: "" if pd.isna(v) else f"{v:+.2f}")
    return shown


#: Headers of the PSIS-LOO comparison for readers (ArviZ's elpd_loo, se, elpd_diff, dse and
#: p_loo keep their names: the text above the table explains them).
COMPARISON_HEADERS = {
    "pareto_k_threshold": "Pareto k threshold",
    "pareto_k_good": "k good (n)",
    "pareto_k_bad": "k bad (n)",
    "pareto_k_very_bad": "k very bad (n)",
    "bad_k_share": "share with bad k",
    "loo_reliable": "LOO reliable",
    "ranking_reliable": "ranking reliable",
}


def comparison_display(
    table: pd.DataFrame, model_labels: dict[str, str], labeller: TermLabeller
) -> pd.DataFrame:
    """Return the PSIS-LOO comparison for readers.

    Parameters
    ----------
    table : pandas.DataFrame
        ``tables/model_comparison.csv`` (``model``, ``outcome``, ``rank``, ``elpd_loo``, ...,
        ``loo_reliable``, ``ranking_reliable``, ``note``, ``data_hash``).
    model_labels : dict
        ``{model code: label}``; a model without one shows its code.
    labeller : TermLabeller
        The outcome's label.

    Returns
    -------
    pandas.DataFrame
        ``model`` (label) with ``code`` beside it, ``outcome`` in words, ``rank`` from 1,
        counts as integers, flags as "yes"/"no", readable headers; no data hash.
    """
    shown = table.drop(columns=["data_hash"], errors="ignore").copy()
    if "model" in shown:
        codes = shown["model"].astype(str)
        shown = shown.rename(columns={"model": "code"})
        shown.insert(0, "model", [model_labels.get(c, c) for c in codes])
    if "outcome" in shown:
        shown["outcome"] = [
            labeller.short(str(o)) if isinstance(o, str) else "" for o in shown["outcome"]
        ]
    if "rank" in shown:
        shown["rank"] = [("" if pd.isna(r) else str(int(r) + 1)) for r in shown["rank"]]
    for column in ("pareto_k_good", "pareto_k_bad", "pareto_k_very_bad"):
        if column in shown:
            shown[column] = [("" if pd.isna(v) else str(int(v))) for v in shown[column]]
    for column in ("loo_reliable", "ranking_reliable"):
        if column in shown:
            shown[column] = [("" if pd.isna(v) else flag_text(v)) for v in shown[column]]
    # one column per estimate with its SE, and the outcome only when there are several, so
    # the table fits a page
    for value, se in (("elpd_loo", "se"), ("elpd_diff", "dse")):
        if {value, se} <= set(shown):
            shown[value] = [
                "" if pd.isna(v) else f"{v:.1f} ({e:.1f})"
                for v, e in zip(shown[value], shown[se], strict=True)
            ]
            shown = shown.drop(columns=se)
    if "outcome" in shown and shown["outcome"].nunique() <= 1:
        shown = shown.drop(columns="outcome")
    if "pareto_k_threshold" in shown and shown["pareto_k_threshold"].nunique() <= 1:
        threshold = shown["pareto_k_threshold"].dropna()
        shown = shown.drop(columns="pareto_k_threshold")
        if len(threshold):
            shown = shown.rename(
                columns={"pareto_k_good": f"k good, <= {threshold.iloc[0]:.2f} (n)"}
            )
    return shown.rename(columns=COMPARISON_HEADERS)


#: Names of the variation measures in ``tables/group_variation_<model>.csv``.
_MEASURE_WORDS = {
    "icc_latent": "ICC (latent scale)",
    "icc": "ICC (observed scale)",
    "median_odds_ratio": "MOR (median odds ratio)",
}


def variation_display(table: pd.DataFrame, labeller: TermLabeller) -> pd.DataFrame:
    """Return a model's variation measures for readers: factor and measure in words.

    ``table`` is ``tables/group_variation_<model>.csv`` (``group``, ``measure``, ``median``,
    ``low``, ``high``); the result has ``Grouping factor``, ``Measure`` and ``Median (95%
    CrI)``; the SD reads "SD of the intercepts".
    """
    measures = [
        "SD of the intercepts" if str(m).endswith("_sd") else _MEASURE_WORDS.get(str(m), str(m))
        for m in table["measure"]
    ]
    factors = [labeller.variable(str(g)) for g in table["group"]]
    return pd.DataFrame(
        {
            "Grouping factor": factors,
            "Measure": measures,
            "Median (95% CrI)": [
                _difference(*row) for row in table[["median", "low", "high"]].to_numpy()
            ],
        }
    )


def group_sd_display(
    table: pd.DataFrame, model_labels: dict[str, str], labeller: TermLabeller
) -> pd.DataFrame:
    """Return ``tables/province_sd.csv`` for readers: models by label, SD in words.

    Columns: ``Model``, ``Parameter`` (e.g. "SD of inflow province intercepts"),
    ``SD (95% CrI)``, ``R-hat`` (3 decimals) and ``ESS bulk`` (whole draws).
    """
    return pd.DataFrame(
        {
            "Model": [model_labels.get(str(m), str(m)) for m in table["model"]],
            "Parameter": [parameter_label(str(p), labeller) for p in table["parameter"]],
            "SD (95% CrI)": [
                interval_text(*row)
                for row in table[["posterior_median", "cri_low", "cri_high"]].to_numpy()
            ],
            "R-hat": [f"{v:.3f}" for v in table["r_hat"]],
            "ESS bulk": [f"{v:.0f}" for v in table["ess_bulk"]],
        }
    )


def province_rates_display(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``tables/province_rates_<model>.csv`` for readers, highest standardised first.

    Shares in %, each with its 95% credible interval in one column; rank probabilities as
    P(top 5) and P(bottom 5).
    """
    shown = table.sort_values("standardised_rate", ascending=False)

    def percent(stem: str) -> list[str]:
        return [
            f"{100 * v:.1f} ({100 * lo:.1f}-{100 * hi:.1f})"
            for v, lo, hi in shown[[f"{stem}_rate", f"{stem}_low", f"{stem}_high"]].to_numpy()
        ]

    return pd.DataFrame(
        {
            "Province": shown["province"].astype(str),
            "n": [f"{v:.0f}" for v in shown["n"]],
            "Raw share (%)": [f"{100 * v:.1f}" for v in shown["raw_rate"]],
            "Fitted share (%, 95% CrI)": percent("fitted"),
            "Standardised share (%, 95% CrI)": percent("standardised"),
            "P(top 5)": [probability_text(v) for v in shown["prob_top5"]],
            "P(bottom 5)": [probability_text(v) for v in shown["prob_bottom5"]],
        }
    )


def probability_text(value: float) -> str:
    """Return a posterior probability to 3 decimals, "<0.001" or ">0.999" at the ends.

    4,000 draws cannot tell 0 from 0.0002: the bound is printed, not a false zero.
    """
    if pd.isna(value):
        return ""
    if value < 0.001:
        return "<0.001"
    if value > 0.999:
        return ">0.999"
    return f"{value:.3f}"


def p_text(value: object) -> str:
    """Return a p value as a paper prints it: "<0.001", else 3 decimals (empty when missing)."""
    if value is None or isinstance(value, str) or pd.isna(value):
        return "" if value is None or not isinstance(value, str) else value
    return "<0.001" if float(value) < 0.001 else f"{float(value):.3f}"


def _whole(value: object) -> str:
    """Return a count as an integer ("105", not "105.000"); text and missing values as they are."""
    if value is None or isinstance(value, str):
        return value or ""
    return "" if pd.isna(value) else f"{float(value):.0f}"


def _words(code: str) -> str:
    text = str(code).replace("_", " ")
    return text[:1].upper() + text[1:]


#: Headers of a treatment study's tables for readers (other codes: underscores as spaces).
STUDY_HEADERS = {
    "se": "SE",
    "low": "95% interval, low",
    "high": "95% interval, high",
    "se_type": "SE type",
    "r_squared": "R²",
    "step_entered": "step entered",
    "f": "F",
    "df_between": "df between groups",
    "df_within": "df within groups",
    "ss_loadings": "sum of squared loadings",
    "percent_of_total": "% of total item variance",
    "share_of_explained": "% of explained variance",
    "published_share_of_explained": "published % of explained variance",
    "kmo_item": "KMO of the item",
    "smd_before": "SMD before matching",
    "smd_after": "SMD after matching",
    "this_data": "this data",
    "estimate_label": "method",
    "p_above_national": "P(above national)",
}

#: Columns that hold counts (shown as integers) and p values (shown as a paper prints them).
_COUNT_COLUMNS = ("n", "step_entered", "df_between", "df_within", "factor_number")
_P_COLUMNS = ("p", "p_value")


def _figure_text(value: object, unit: object) -> str:
    """Return a published figure at a paper's precision: counts whole, percent 1 dp, others 2."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if unit == "respondents":
        return _whole(value)
    return f"{float(value):.1f}" if str(unit).startswith("percent") else f"{float(value):.2f}"


def _adequacy_text(statistic: str, value: object) -> str:
    """Return a factor-adequacy statistic in words: df and counts whole, p as a paper prints it."""
    if "df" in statistic or "factors" in statistic:
        return _whole(value)
    if statistic.endswith(" p"):
        return p_text(value)
    return f"{float(value):.1f}" if "chi-square" in statistic else f"{float(value):.2f}"


def study_table_display(
    name: str,
    frame: pd.DataFrame,
    labeller: TermLabeller,
    treatment: dict | None = None,
    names: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Return one of a treatment study's tables for readers (the CSV keeps the codes).

    Parameters
    ----------
    name : str
        The table's file stem (``published_vs_data``, ``factor_loadings``, ``ols_stepwise``, ...).
    frame : pandas.DataFrame
        The table as written to CSV.
    labeller : TermLabeller
        Labels of variables (index items, covariates) and of the treatment's levels.
    treatment : dict, optional
        The study's ``treatment:`` (``variable``, ``control``, ``treated``): its levels in
        headers and groups ("mean_host_city" -> "mean, Host city").
    names : dict, optional
        Labels of other codes the study defines (the index: ``{"integration_index":
        "Integration index"}``).

    Returns
    -------
    pandas.DataFrame
        Terms, items, covariates and figures by their labels; factors in words; counts as
        integers, p values as "<0.001" or 3 decimals, other numbers to 2 decimals (a
        published figure at its unit's precision); readable headers; the constant ``model``
        code of the regression tables dropped.
    """
    shown = frame.copy()
    names = names or {}
    treatment = treatment or {}
    variable = treatment.get("variable", "")
    levels = [lv for lv in (treatment.get("control"), treatment.get("treated")) if lv]

    def level(code: object) -> str:
        if code == "all":
            return "All"
        if code in levels:
            return labeller.level(variable, str(code))
        return _words(str(code))

    def label(code: object, item: bool = False) -> str:
        code = str(code)
        if code in names:
            return names[code]
        if item and code in labeller.declarations:
            return labeller.variable(code)
        found = term_column([code], labeller)[0]
        return _words(found) if found == code else found

    if name == "published_vs_data" and {"published", "this_data", "unit"} <= set(shown):
        for column in ("published", "this_data"):
            shown[column] = [
                _figure_text(v, u) for v, u in zip(shown[column], shown["unit"], strict=True)
            ]
        if "label" in shown:
            shown["figure"] = shown.pop("label")
        shown["group"] = [level(g) for g in shown["group"]]
    if name == "factor_adequacy" and {"statistic", "value"} <= set(shown):
        shown["value"] = [
            _adequacy_text(str(s), v)
            for s, v in zip(shown["statistic"], shown["value"], strict=True)
        ]
    if "model" in shown and shown["model"].nunique() == 1 and name.startswith("ols"):
        shown = shown.drop(columns="model")
    for column in ("item", "covariate", "term"):
        if column in shown:
            shown[column] = [label(c, item=column == "item") for c in shown[column]]
    if "scale" in shown:
        shown["scale"] = [_words(str(s)) for s in shown["scale"]]
    if "variable" in shown:
        shown["variable"] = [label(v, item=True) for v in shown["variable"]]
    if "factor" in shown and name != "eigenvalues":
        shown["factor"] = [_words(str(f)) for f in shown["factor"]]
    for column in shown.columns:
        if column in _COUNT_COLUMNS:
            shown[column] = [_whole(v) for v in shown[column]]
        elif column in _P_COLUMNS:
            shown[column] = [p_text(v) for v in shown[column]]
        elif column == "p_above_national":
            shown[column] = [probability_text(v) for v in shown[column]]
    headers = {}
    for column in shown.columns:
        text = str(column)
        prefix, _, rest = text.partition("_")
        if text in STUDY_HEADERS:
            headers[column] = STUDY_HEADERS[text]
        elif text in levels or text == "all":
            headers[column] = level(text)
        elif prefix in ("mean", "sd") and rest in levels:
            headers[column] = f"{'SD' if prefix == 'sd' else 'mean'}, {level(rest)}"
        elif text.startswith(("mean_treated", "mean_control")):
            group = level(treatment.get("treated" if "treated" in text else "control", ""))
            headers[column] = f"mean, {group}" + (", matched" if text.endswith("matched") else "")
        elif name == "factor_loadings" and text != "item":
            headers[column] = _words(text)  # a factor (its dimension's name)
        elif "_" in text:
            headers[column] = text.replace("_", " ")
    return shown.rename(columns=headers)
