"""Load published figures from ``cmds_common/published/`` (Jing et al. 2019; study files)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

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


def published_figures(path: str | Path) -> pd.DataFrame:
    """Return a study's published figures, one row per figure and group.

    Parameters
    ----------
    path : str or pathlib.Path
        The CSV with columns ``figure,group,value,unit,note`` and optionally ``label`` (e.g.
        ``cmds_common/published/ma2023_abstract.csv``).
    """
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def figure_value(figures: pd.DataFrame, figure: str, group: str | None = None) -> float:
    """Return the value of one published figure (of one group when it has several).

    Raises
    ------
    KeyError
        When there is not exactly one such figure.
    """
    rows = figures[figures["figure"] == figure]
    if group is not None:
        rows = rows[rows["group"] == group]
    if len(rows) != 1:
        raise KeyError(f"{len(rows)} published figures {figure!r} (group {group!r})")
    return float(rows["value"].iloc[0])
