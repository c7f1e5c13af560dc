"""Tables 1 and 2 of the paper from any analysis data set, beside the published figures.

For each category: n and column % overall; n and row % with and without a health record; the
Pearson chi-square p value of category by record status (no continuity correction). The weighted
columns use sampling weights scaled to sum to the sample size, as SPSS's WEIGHT BY does; that
weighted chi-square treats the weights as frequencies and is not a design-based (Rao-Scott)
test, so read its p value as descriptive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.term_labels import TermLabeller
from cmds_common import reference
from data_prep import variables


def _chi_square_p(counts: np.ndarray) -> float:
    counts = counts[counts.sum(axis=1) > 0]
    if counts.shape[0] < 2 or (counts.sum(axis=0) == 0).any():
        return float("nan")
    return float(stats.chi2_contingency(counts, correction=False)[1])


def category_table(data: pd.DataFrame) -> pd.DataFrame:
    """Unweighted and weighted Tables 1-2 for every Table 1-2 variable present in ``data``.

    Returns
    -------
    pandas.DataFrame
        One row per (variable, level) in the paper's order, with ``n``, ``pct``, ``yes_n``,
        ``yes_pct``, ``no_n``, ``no_pct``, ``p_value``, ``weighted_pct``, ``weighted_yes_pct``,
        ``weighted_p_value`` and the published ``published_n``, ``published_pct``,
        ``published_yes_pct``, ``published_p``.
    """
    published = reference.table1_table2().query("variable != 'all'")
    outcome = data[variables.OUTCOME].to_numpy()
    if variables.WEIGHT in data:
        weights = data[variables.WEIGHT].to_numpy(float)
        weights = weights * len(weights) / weights.sum()
    else:
        weights = np.ones(len(data))
    rows = []
    for variable, spec in published.groupby("variable", sort=False):
        if variable not in data:
            continue
        values = data[variable].astype(str).to_numpy()
        levels = spec["level"].tolist()
        present = np.isin(values, levels)
        counts = np.array(
            [[np.sum((values == lv) & (outcome == y)) for y in (1, 0)] for lv in levels], float
        )
        weighted = np.array(
            [[weights[(values == lv) & (outcome == y)].sum() for y in (1, 0)] for lv in levels]
        )
        p_value, weighted_p = _chi_square_p(counts), _chi_square_p(weighted)
        for k, row in enumerate(spec.itertuples()):
            yes, no = counts[k]
            w_yes, w_no = weighted[k]
            rows.append(
                {
                    "table": row.table,
                    "variable": variable,
                    "level": row.level,
                    "n": int(yes + no),
                    "pct": 100 * (yes + no) / present.sum(),
                    "yes_n": int(yes),
                    "yes_pct": 100 * yes / (yes + no) if yes + no else np.nan,
                    "no_n": int(no),
                    "no_pct": 100 * no / (yes + no) if yes + no else np.nan,
                    "p_value": p_value,
                    "weighted_pct": 100 * (w_yes + w_no) / weighted.sum(),
                    "weighted_yes_pct": 100 * w_yes / (w_yes + w_no) if w_yes + w_no else np.nan,
                    "weighted_p_value": weighted_p,
                    "published_n": row.n,
                    "published_pct": row.pct,
                    "published_yes_pct": row.yes_pct,
                    "published_p": row.p_value if isinstance(row.p_value, str) else "",
                }
            )
    return pd.DataFrame(rows)


def continuous_table(data: pd.DataFrame) -> pd.DataFrame:
    """Mean (SD) of age and years in the inflow area, overall and by record status."""
    outcome = data[variables.OUTCOME].to_numpy()
    published = reference.continuous_summaries().set_index(["variable", "group"])
    rows = []
    for variable in ("age_years", "years_in_inflow_area"):
        if variable not in data:
            continue
        values = data[variable].to_numpy(float)
        for group, mask in (
            ("all", np.ones(len(values), bool)),
            ("health_record_yes", outcome == 1),
            ("health_record_no", outcome == 0),
        ):
            rows.append(
                {
                    "variable": variable,
                    "group": group,
                    "mean": values[mask].mean(),
                    "sd": values[mask].std(ddof=1),
                    "published_mean": published.loc[(variable, group), "mean"],
                    "published_sd": published.loc[(variable, group), "sd"],
                }
            )
    return pd.DataFrame(rows)


def _first_of_group(labels: pd.Series) -> pd.Series:
    """Keep a label on the first row of each run of equal labels (a paper's grouped rows)."""
    return labels.where(labels != labels.shift(), "")


def display_category_table(
    table: pd.DataFrame, labeller: TermLabeller | None = None
) -> pd.DataFrame:
    """Compact version for Markdown and the screen: 'n (%)' cells and p values.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`category_table`'s result.
    labeller : TermLabeller, optional
        Variable and level labels from the declarations; without one the codes are shown.

    Returns
    -------
    pandas.DataFrame
        One row per category; with a labeller the variable's label stands on its first level's
        row only and each level reads as its declared label ("3 or more").
    """

    def p(value: float) -> str:
        return "" if pd.isna(value) else ("<0.001" if value < 0.001 else f"{value:.3f}")

    variable, level = table["variable"], table["level"].astype(str)
    if labeller is not None:
        level = pd.Series(
            [labeller.level(v, lv) for v, lv in zip(variable, level, strict=True)], table.index
        )
        variable = _first_of_group(variable).map(lambda v: labeller.variable(v) if v else "")
    return pd.DataFrame(
        {
            "table": table["table"],
            "variable": variable,
            "level": level,
            "n (%)": [f"{n:.0f} ({pct:.1f})" for n, pct in table[["n", "pct"]].to_numpy()],
            "with record n (row %)": [
                f"{n:.0f} ({pct:.1f})" for n, pct in table[["yes_n", "yes_pct"]].to_numpy()
            ],
            "without record n (row %)": [
                f"{n:.0f} ({pct:.1f})" for n, pct in table[["no_n", "no_pct"]].to_numpy()
            ],
            "p": table["p_value"].map(p),
            "weighted % (row % with record)": [
                f"{a:.1f} ({b:.1f})"
                for a, b in table[["weighted_pct", "weighted_yes_pct"]].to_numpy()
            ],
            "weighted p": table["weighted_p_value"].map(p),
            "published n (%), row % with record": [
                f"{n:.0f} ({a:.1f}), {b:.1f}"
                for n, a, b in table[
                    ["published_n", "published_pct", "published_yes_pct"]
                ].to_numpy()
            ],
            "published p": table["published_p"],
        }
    )


#: The groups of :func:`continuous_table` in words.
GROUP_WORDS = {
    "all": "All respondents",
    "health_record_yes": "With a health record",
    "health_record_no": "Without a health record",
}


def display_continuous_table(
    table: pd.DataFrame, labeller: TermLabeller | None = None
) -> pd.DataFrame:
    """Mean (SD) cells beside the published ones, variables and groups in words.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`continuous_table`'s result.
    labeller : TermLabeller, optional
        Variable labels and units from the declarations; without one the codes are shown.

    Returns
    -------
    pandas.DataFrame
        ``variable`` (its label and unit, on the first row of its group), ``group``,
        ``mean (SD)`` and ``published mean (SD)``.
    """

    def name(variable: str) -> str:
        if not variable or labeller is None:
            return variable
        unit = labeller.declarations.get(variable)
        unit_text = f" ({unit.unit})" if unit is not None and unit.unit else ""
        return labeller.variable(variable) + unit_text

    return pd.DataFrame(
        {
            "variable": _first_of_group(table["variable"]).map(name),
            "group": table["group"].map(lambda g: GROUP_WORDS.get(g, g)),
            "mean (SD)": [f"{m:.1f} ({sd:.1f})" for m, sd in table[["mean", "sd"]].to_numpy()],
            "published mean (SD)": [
                f"{m:.1f} ({sd:.1f})"
                for m, sd in table[["published_mean", "published_sd"]].to_numpy()
            ],
        }
    )
