"""The analysis table every stage shares: its Parquet file and its content hash.

``data_prep`` writes the table; ``models`` and ``analysis`` read it and check by hash that a fit
was made from the data they hold.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from cmds_common.atomic import write_with


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
