"""Read survey and coded files: SPSS ``.sav``, Stata ``.dta``, ``.csv`` and ``.parquet``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SUPPORTED_SUFFIXES = (".sav", ".dta", ".csv", ".parquet")


class InputFileError(ValueError):
    """An input file that cannot be read, with the file named and what was expected."""


@dataclass
class RawTable:
    """A table as read from disk, with the value labels the file carries (if any).

    Attributes
    ----------
    data
        The values as stored (codes, not labels).
    value_labels
        ``{column: {code: label}}`` from SPSS/Stata files; empty for CSV/Parquet.
    path
        Where the table came from.
    """

    data: pd.DataFrame
    path: Path
    value_labels: dict[str, dict[float, str]] = field(default_factory=dict)


def file_rows(mask: pd.Series, limit: int = 5) -> str:
    """File line numbers of the rows where ``mask`` is true ("2, 7 and 3 more").

    Line 1 is the header, so the first data row is line 2.
    """
    rows = (np.flatnonzero(mask.to_numpy()) + 2).tolist()
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def read_table(path: str | Path, encoding: str | None = None) -> RawTable:
    """Read a ``.sav``, ``.dta``, ``.csv`` or ``.parquet`` file.

    Parameters
    ----------
    path
        The file. Its extension picks the reader.
    encoding
        Text encoding: for CSV (default UTF-8; Chinese files from Windows are often
        ``gb18030``) and to override the encoding stored in a ``.sav``/``.dta`` file.

    Returns
    -------
    RawTable

    Raises
    ------
    InputFileError
        Missing file, unsupported extension, content that does not match the extension,
        undecodable text, or no rows.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputFileError(
            f"{path}: unsupported file type {suffix!r}; expected one of {SUPPORTED_SUFFIXES}"
        )
    if path.stat().st_size == 0:
        raise InputFileError(f"{path}: the file is empty")
    if suffix in (".sav", ".dta"):
        table = _read_labelled(path, suffix, encoding)
    elif suffix == ".csv":
        table = RawTable(_read_csv(path, encoding or "utf-8"), path)
    else:
        try:
            table = RawTable(pd.read_parquet(path), path)
        except Exception as err:  # pyarrow raises several unrelated types
            raise InputFileError(f"{path}: not a readable Parquet file ({err})") from err
    if table.data.empty:
        raise InputFileError(f"{path}: the file has no rows")
    return table


def _read_labelled(path: Path, suffix: str, encoding: str | None) -> RawTable:
    import pyreadstat

    reader = pyreadstat.read_sav if suffix == ".sav" else pyreadstat.read_dta
    kind = "SPSS .sav" if suffix == ".sav" else "Stata .dta"
    try:
        data, meta = reader(str(path), encoding=encoding)
    except pyreadstat.ReadstatError as err:
        raise InputFileError(
            f"{path}: not a readable {kind} file ({err}); is the extension right?"
        ) from err
    except UnicodeDecodeError as err:
        raise InputFileError(
            f"{path}: text in the file is not in its declared encoding ({err.reason}); "
            "pass --encoding (for example gb18030)"
        ) from err
    return RawTable(data, path, dict(meta.variable_value_labels))


def _read_csv(path: Path, encoding: str) -> pd.DataFrame:
    head = path.read_bytes()[:2048]
    if head.startswith((b"PK\x03\x04", b"$FL2", b"PAR1")) or b"\x00" in head:
        raise InputFileError(
            f"{path}: this is a binary file (Excel, SPSS, Parquet?), not CSV text; "
            "export it as CSV or give it its real extension"
        )
    try:
        return pd.read_csv(path, encoding=encoding, low_memory=False)
    except UnicodeDecodeError as err:
        raise InputFileError(
            f"{path}: cannot decode the text as {encoding} (byte {err.start}: {err.reason}); "
            "pass --encoding gb18030 (common for Chinese files from Windows) or save as UTF-8"
        ) from err
    except pd.errors.EmptyDataError as err:
        raise InputFileError(f"{path}: the file has no columns") from err
    except pd.errors.ParserError as err:
        raise InputFileError(f"{path}: not a well-formed CSV file ({err})") from err
