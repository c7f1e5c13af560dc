"""Load the published figures of Jing et al. (BMJ Open 2019) from ``cmds_common/published/``."""

from __future__ import annotations

from importlib import resources

import pandas as pd

_PACKAGE = "cmds_common"


def _read(name: str, **kwargs: object) -> pd.DataFrame:
    with (
        resources.files(_PACKAGE).joinpath("published", name).open("r", encoding="utf-8") as handle
    ):
        return pd.read_csv(handle, **kwargs)


def table1_table2() -> pd.DataFrame:
    """Return published Tables 1-2: counts and shares by category, overall and by record status."""
    return _read("jing2019_table1_table2.csv", dtype={"p_value": str, "note": str})


def continuous_summaries() -> pd.DataFrame:
    """Return published means and SDs of age and years in the inflow area."""
    return _read("jing2019_continuous.csv")


def table3() -> pd.DataFrame:
    """Return published Table 3 odds ratios, with the project's term name for each row.

    Returns
    -------
    pandas.DataFrame
        Columns ``model`` (1 or 2), ``published_term``, ``term`` (the project's
        ``variable_level`` name), ``odds_ratio``, ``ci_low``, ``ci_high``, ``p_value``.
    """
    published = _read("jing2019_table3.csv", dtype={"p_value": str, "reference": str})
    published = published.rename(columns={"term": "published_term"})
    term_map = _read("term_map.csv")
    merged = published.merge(term_map, on="published_term", how="left", validate="m:1")
    missing = merged.loc[merged["term"].isna(), "published_term"].tolist()
    if missing:
        raise ValueError(f"term_map.csv lacks published terms: {missing}")
    return merged


def sample_flow() -> pd.DataFrame:
    """Return the published inclusion flow (4,028 - 281 - 589 = 3,158)."""
    return _read("sample_flow.csv")
