"""Turn a coded table into the typed analysis data set that every later step reads."""

from __future__ import annotations

import pandas as pd

from data_prep import variables


def to_analysis_table(raw: pd.DataFrame) -> pd.DataFrame:
    """Type a coded table: fixed-order categoricals, numeric continuous columns.

    Parameters
    ----------
    raw
        Table with the columns of :data:`data_prep.variables.VARIABLES` (extra columns are
        dropped; missing optional columns are left out).

    Returns
    -------
    pandas.DataFrame
        Categoricals with the reference level first and province in GB/T 2260 order;
        ordinal variables as ordered categoricals (worst level first); grouping factors
        (``kind == "group"``) as categoricals of their sorted observed values.
    """
    schema = variables.variable_by_name()
    typed = {}
    for name, var in schema.items():
        if name not in raw.columns:
            continue
        column = raw[name]
        if var.kind in ("categorical", "ordinal"):
            as_text = column.where(column.isna(), column.astype(str))
            unknown = sorted(set(as_text.dropna()) - set(var.levels))
            if unknown:
                raise ValueError(
                    f"column {name!r} has values {unknown} outside the allowed {list(var.levels)}"
                )
            ordered = var.kind == "ordinal"
            typed[name] = pd.Categorical(as_text, categories=var.levels, ordered=ordered)
        elif var.kind == "group":
            # grouping factors (city, stratum, PSU) take their levels from the data
            as_text = column.where(column.isna(), column.astype(str))
            typed[name] = pd.Categorical(as_text, categories=sorted(as_text.dropna().unique()))
        elif var.kind in ("binary_outcome", "id"):
            typed[name] = column.astype("int64")
        else:
            typed[name] = column.astype("float64")
    return pd.DataFrame(typed)
