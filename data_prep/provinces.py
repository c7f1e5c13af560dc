"""The 32 provincial units of the survey: 31 provinces + Xinjiang Production and Construction Corps.

Codes are GB/T 2260 two-digit codes; 66 is the survey's code for the Corps.
``sample_share`` (relative sample size) and ``interprovincial_shift`` (latent shift towards
interprovincial movers) are used only by the synthetic data generator.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd


@cache
def province_table() -> pd.DataFrame:
    """Return the province table in the fixed order used everywhere (by GB/T 2260 code).

    Returns
    -------
    pandas.DataFrame
        Columns ``code``, ``name_en``, ``name_zh``, ``region``, ``sample_share``,
        ``interprovincial_shift``; 32 rows.
    """
    with resources.files("data_prep").joinpath("provinces.csv").open(encoding="utf-8") as f:
        table = pd.read_csv(f)
    return table.sort_values("code").reset_index(drop=True)


def province_names() -> list[str]:
    """English names of the 32 units in their fixed order (the ``province`` coordinate)."""
    return province_table()["name_en"].tolist()
