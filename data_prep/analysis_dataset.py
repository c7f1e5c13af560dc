"""Turn a coded table into the typed analysis data set that every later step reads."""

from __future__ import annotations

import pandas as pd

from cmds_common.declarations import type_table
from data_prep import variables


def to_analysis_table(raw: pd.DataFrame, declarations: dict | None = None) -> pd.DataFrame:
    """Type a coded table by its declarations (:func:`type_table`; default: the 2015 codebook's).

    Parameters
    ----------
    raw
        Table with the columns of :data:`data_prep.variables.VARIABLES` (extra columns are
        dropped; missing optional columns are left out).

    Returns
    -------
    pandas.DataFrame
        Categoricals with the reference level first and province in GB/T 2260 order.
    """
    return type_table(raw, declarations or variables.shipped_declarations())
