"""Compare an analysis table with the published Tables 1-3 (used to certify the default data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmds_common import reference
from data_prep import variables


def category_share_comparison(data: pd.DataFrame) -> pd.DataFrame:
    """Category shares (%) overall, among those with and without a record, against Table 1-2.

    Returns
    -------
    pandas.DataFrame
        One row per (variable, level, group) with ``observed_pct``, ``published_pct`` and
        ``difference_pp``. Groups: ``all``, ``with_record``, ``without_record``.
    """
    published = reference.table1_table2()
    published = published.loc[published["variable"] != "all"]
    totals = reference.table1_table2().set_index("variable").loc["all"]
    outcome = data[variables.OUTCOME].to_numpy()
    groups = {
        "all": (np.ones(len(data), bool), "n", totals["n"]),
        "with_record": (outcome == 1, "yes_n", totals["yes_n"]),
        "without_record": (outcome == 0, "no_n", totals["no_n"]),
    }
    rows = []
    for row in published.itertuples():
        values = data[row.variable].astype(str).to_numpy()
        for group, (mask, count_column, total) in groups.items():
            rows.append(
                {
                    "variable": row.variable,
                    "level": row.level,
                    "group": group,
                    "observed_pct": 100 * np.mean(values[mask] == row.level),
                    "published_pct": 100 * getattr(row, count_column) / total,
                }
            )
    table = pd.DataFrame(rows)
    table["difference_pp"] = table["observed_pct"] - table["published_pct"]
    return table


def continuous_comparison(data: pd.DataFrame) -> pd.DataFrame:
    """Mean and SD of age and years in the inflow area against the published figures."""
    outcome = data[variables.OUTCOME].to_numpy()
    masks = {
        "all": np.ones(len(data), bool),
        "health_record_yes": outcome == 1,
        "health_record_no": outcome == 0,
    }
    rows = []
    for row in reference.continuous_summaries().itertuples():
        values = data[row.variable].to_numpy(float)[masks[row.group]]
        for statistic, observed, published in (
            ("mean", values.mean(), row.mean),
            ("sd", values.std(ddof=1), row.sd),
        ):
            rows.append(
                {
                    "variable": row.variable,
                    "group": row.group,
                    "statistic": statistic,
                    "observed": observed,
                    "published": published,
                    "difference": observed - published,
                }
            )
    return pd.DataFrame(rows)


def odds_ratio_comparison(frequentist: pd.DataFrame, published_model: int) -> pd.DataFrame:
    """Join frequentist odds ratios with Table 3 and flag those inside the published 95% CI."""
    published = reference.table3()
    published = published.loc[published["model"] == published_model]
    merged = published[["term", "odds_ratio", "ci_low", "ci_high"]].merge(
        frequentist[["term", "odds_ratio"]], on="term", suffixes=("_published", "_observed")
    )
    merged["inside_published_ci"] = merged["odds_ratio_observed"].between(
        merged["ci_low"], merged["ci_high"]
    )
    return merged
