"""Turn a coded table into the typed analysis data set that every later step reads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from cmds_common.atomic import write_with
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
        Categoricals with the reference level first and province in GB/T 2260 order.
    """
    schema = variables.variable_by_name()
    typed = {}
    for name, var in schema.items():
        if name not in raw.columns:
            continue
        column = raw[name]
        if var.kind == "categorical":
            as_text = column.where(column.isna(), column.astype(str))
            unknown = sorted(set(as_text.dropna()) - set(var.levels))
            if unknown:
                raise ValueError(
                    f"column {name!r} has values {unknown} outside the allowed {list(var.levels)}"
                )
            typed[name] = pd.Categorical(as_text, categories=var.levels, ordered=False)
        elif var.kind in ("binary_outcome", "id"):
            typed[name] = column.astype("int64")
        else:
            typed[name] = column.astype("float64")
    return pd.DataFrame(typed)


def data_hash(table: pd.DataFrame) -> str:
    """Stable SHA-256 (first 16 hex digits) of a table's content, column names and order."""
    hashed = pd.util.hash_pandas_object(table, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update("|".join(map(str, table.columns)).encode())
    return digest.hexdigest()[:16]


def write_analysis_table(table: pd.DataFrame, path: Path) -> Path:
    """Write the typed table as Parquet (categoricals and their order are kept).

    An existing file with the same content (same :func:`data_hash`) is left untouched, so its
    modification time, and with it every fit made from it, stays valid for ``make``.
    """
    path = Path(path)
    if path.exists():
        try:
            unchanged = data_hash(read_analysis_table(path)) == data_hash(table)
        except Exception:  # an unreadable old file is simply replaced
            unchanged = False
        if unchanged:
            return path
    return write_with(path, lambda tmp: table.to_parquet(tmp, index=False))


def read_analysis_table(path: Path) -> pd.DataFrame:
    """Read an analysis table written by :func:`write_analysis_table`."""
    return pd.read_parquet(path)
