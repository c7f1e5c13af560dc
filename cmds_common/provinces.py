"""The 32 provincial units of the survey: 31 provinces + Xinjiang Production and Construction Corps.

Codes are GB/T 2260 two-digit codes; 66 is the survey's code for the Corps.
``sample_share`` (relative sample size) and ``interprovincial_shift`` (latent shift towards
interprovincial movers) are used only by the synthetic data generator.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd


@cache
def province_table() -> pd.DataFrame:
    """Return the province table in the fixed order used everywhere (by GB/T 2260 code).

    Returns
    -------
    pandas.DataFrame
        Columns ``code``, ``name_en``, ``name_zh``, ``name_pinyin``, ``region``,
        ``sample_share``, ``interprovincial_shift``, ``tile_col``, ``tile_row`` (position in
        the tile-grid map); 32 rows.
    """
    with resources.files("cmds_common").joinpath("provinces.csv").open(encoding="utf-8") as f:
        table = pd.read_csv(f)
    return table.sort_values("code").reset_index(drop=True)


def province_covariates() -> pd.DataFrame:
    """Province-level covariates (``province_covariates.csv``) indexed by English name.

    Adds ``log_gdp_per_capita_2015``. Sources and caveats: ``province_covariates.md``.
    """
    with (
        resources.files("cmds_common")
        .joinpath("province_covariates.csv")
        .open(encoding="utf-8") as f
    ):
        table = pd.read_csv(f)
    table["log_gdp_per_capita_2015"] = np.log(table["gdp_per_capita_2015_yuan"])
    return table.set_index("name_en")


def province_names() -> list[str]:
    """English names of the 32 units in their fixed order (the ``province`` coordinate)."""
    return province_table()["name_en"].tolist()


class UnknownProvinceError(ValueError):
    """Province values that match no code, Chinese, English or pinyin name."""


def province_chinese_names() -> dict[str, str]:
    """Return ``{English name: Chinese name}`` of the 32 units ("Beijing" -> "北京")."""
    table = province_table()
    return dict(zip(table["name_en"], table["name_zh"], strict=True))


def province_key(value: object) -> str:
    """Normalise a province code or name for lookup (case, spacing, ``44.0`` -> ``"44"``)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).strip().lower().replace("_", " ").split())


def province_lookup() -> dict[str, str]:
    """Map every accepted spelling of a province (as :func:`province_key`) to its English name.

    Accepted: the GB/T 2260 two-digit code (``"44"``, ``44``, ``44.0``), the six-digit form
    (``"440000"``), the Chinese name with or without its suffix (``"广东"``, ``"广东省"``), the
    English and pinyin names in any case (``"Guangdong"``, ``"nei menggu"``), full names with
    their suffix (``"广西壮族自治区"``) and the aliases of :data:`ALIASES` (``"XPCC"``,
    ``"Bingtuan"``, ``"兵团"`` for the Xinjiang Corps).
    """
    lookup: dict[str, str] = {}
    suffixes = ("省", "市", "自治区", "壮族自治区", "回族自治区", "维吾尔自治区")
    for row in province_table().itertuples():
        spellings = {
            str(row.code),
            f"{row.code}0000",
            row.name_zh,
            row.name_en,
            row.name_pinyin,
            *(row.name_zh + s for s in suffixes),
        }
        for spelling in spellings:
            lookup[province_key(spelling)] = row.name_en
    for alias, name in ALIASES.items():
        lookup[province_key(alias)] = name
    return lookup


#: Other spellings found in survey files and official lists.
ALIASES = {
    "Xinjiang Production and Construction Corps": "Xinjiang Corps",
    "XPCC": "Xinjiang Corps",
    "Bingtuan": "Xinjiang Corps",
    "兵团": "Xinjiang Corps",
    "新疆兵团": "Xinjiang Corps",
    "Inner Mongolia Autonomous Region": "Inner Mongolia",
    "Guangxi Zhuang Autonomous Region": "Guangxi",
    "Ningxia Hui Autonomous Region": "Ningxia",
    "Xinjiang Uygur Autonomous Region": "Xinjiang",
    "Tibet Autonomous Region": "Tibet",
    "Xizang": "Tibet",
}


def to_province_names(values: pd.Series) -> pd.Series:
    """Translate codes or names of provinces to the English names used in the analysis.

    Parameters
    ----------
    values
        Province codes (numbers or strings) or names (Chinese, English, pinyin).

    Returns
    -------
    pandas.Series
        English names; missing values stay missing.

    Raises
    ------
    UnknownProvinceError
        Listing every value that matches no province.
    """
    lookup = province_lookup()
    present = values.dropna()
    mapped = present.map(lambda v: lookup.get(province_key(v)))
    unknown = sorted({str(v) for v in present[mapped.isna()]})
    if unknown:
        raise UnknownProvinceError(
            f"unknown province values {unknown}; expected GB/T 2260 codes (11-65, 66 for the "
            "Xinjiang Corps) or Chinese, English or pinyin names (see cmds_common/provinces.csv)"
        )
    return mapped.reindex(values.index)
