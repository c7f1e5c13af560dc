"""Describe an outcome and covariates by treatment group; one-way ANOVA of the outcome.

The paper's first steps (Ma et al. 2023): descriptive statistics by where social medical
insurance is held and a one-way ANOVA of the integration index between the two groups
(``scipy.stats.f_oneway``; with two groups ``F`` is the square of the pooled-variance t).
Categorical covariates get n (%) per group with a chi-square test, continuous ones mean (SD)
with the same ANOVA.
"""

from __future__ import annotations

import pandas as pd
from scipy import stats


def one_way_anova(outcome: pd.Series, group: pd.Series) -> dict:
    """F statistic, degrees of freedom and p-value of a one-way ANOVA.

    Parameters
    ----------
    outcome : pandas.Series
        Numeric outcome.
    group : pandas.Series
        Group of each row (categorical or text).

    Returns
    -------
    dict
        ``f``, ``df_between``, ``df_within``, ``p``.
    """
    samples = [outcome[group == level].to_numpy(float) for level in pd.unique(group.dropna())]
    result = stats.f_oneway(*samples)
    return {
        "f": float(result.statistic),
        "df_between": len(samples) - 1,
        "df_within": int(sum(len(s) for s in samples) - len(samples)),
        "p": float(result.pvalue),
    }


def _count_share(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.1f}%)"


def _mean_sd(values: pd.Series) -> str:
    return f"{values.mean():.2f} ({values.std():.2f})"  # as a paper prints them


def descriptive_by_group(
    table: pd.DataFrame, group: str, outcome: str, covariates: list[str]
) -> pd.DataFrame:
    """One row per statistic: the outcome and every covariate, overall and by group.

    Parameters
    ----------
    table : pandas.DataFrame
        Typed analysis table with the outcome.
    group : str
        Grouping (treatment) column.
    outcome : str
        Continuous outcome column.
    covariates : list of str
        Covariates: categoricals give n (%) per level, numbers mean (SD).

    Returns
    -------
    pandas.DataFrame
        ``variable``, ``level``, ``all``, one column per group, ``test``, ``p``.
    """
    levels = [lv for lv in table[group].cat.categories if (table[group] == lv).any()]
    rows = [
        {"variable": "n", "level": "", "all": f"{len(table)}"}
        | {lv: f"{int((table[group] == lv).sum())}" for lv in levels}
        | {"test": "", "p": None}
    ]
    for name in [outcome, *covariates]:
        column = table[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            counts = pd.crosstab(column, table[group])[levels]
            chi2 = stats.chi2_contingency(counts.loc[counts.sum(axis=1) > 0])
            for k, level in enumerate(counts.index):
                total = int(counts.loc[level].sum())
                cells = {lv: _count_share(counts.loc[level, lv], counts[lv].sum()) for lv in levels}
                rows.append(
                    {
                        "variable": name,
                        "level": str(level),
                        "all": f"{total} ({100 * total / len(table):.1f}%)",
                    }
                    | cells
                    | {"test": "chi-square" if k == 0 else "", "p": chi2.pvalue if k == 0 else None}
                )
        else:
            values = pd.to_numeric(column)
            cells = {lv: _mean_sd(values[table[group] == lv]) for lv in levels}
            anova = one_way_anova(values, table[group])
            rows.append(
                {
                    "variable": name,
                    "level": "mean (SD)",
                    "all": _mean_sd(values),
                }
                | cells
                | {"test": f"ANOVA F = {anova['f']:.2f}", "p": anova["p"]}
            )
    return pd.DataFrame(rows)
