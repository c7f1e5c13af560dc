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
            return "Whole sample"
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
        columns["logit AME (95% CI)"] = [
            _difference(*row)
            for row in table[["freq_estimate", "freq_ci_low", "freq_ci_high"]].to_numpy()
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
        "Intercept" if term in ("const", "Intercept") else labeller.term(str(term), variables)
        for term in terms
    ]


def parameter_label(
    parameter: str, labeller: TermLabeller, predictors: Sequence[str] | None = None
) -> str:
    """Return a model parameter in words: ``beta[local_friends_ge3]`` -> the term's label.

    Parameters other than a coefficient (``intercept``, ``province_sigma``) keep their name.
    """
    if parameter.startswith("beta[") and parameter.endswith("]"):
        return term_column([parameter[5:-1]], labeller, predictors)[0]
    return parameter


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
        ``code`` (``beta[local_friends_ge3]``) beside it, the other columns as they were.
    """
    shown = table.copy()
    codes = shown["parameter"].astype(str)
    shown["parameter"] = [parameter_label(p, labeller, predictors) for p in codes]
    shown.insert(1, "code", codes)
    return shown
