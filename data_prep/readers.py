"""Read survey and coded files: SPSS ``.sav``, Stata ``.dta``, ``.csv`` and ``.parquet``."""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SUPPORTED_SUFFIXES = (".sav", ".dta", ".csv", ".parquet")

#: How a user sets the encoding: the make variable and the command-line option.
ENCODING_FIX = "ENCODING={0} (make) or --encoding {0} (python -m data_prep)"
#: Encodings tried, in order, to suggest a fix when text does not decode (UTF-8 first: it
#: rarely decodes text that is not UTF-8, while gb18030 decodes almost any bytes).
LIKELY_ENCODINGS = ("utf-8", "gb18030", "big5", "latin-1")
#: Rows of a ``.sav``/``.dta`` file read at a time.
CHUNK_ROWS = 100_000


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
    declared_missing
        ``{column: [(low, high), ...]}``: values an SPSS file declares missing. They are kept
        as their codes (not blanked), so that the codebook decides what they mean.
    """

    data: pd.DataFrame
    path: Path
    value_labels: dict[str, dict[float, str]] = field(default_factory=dict)
    declared_missing: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def declared_missing_mask(self, column: str) -> pd.Series:
        """Rows whose value in ``column`` the file itself declares missing (SPSS user-missing)."""
        values = pd.to_numeric(self.data[column], errors="coerce")
        mask = pd.Series(False, index=self.data.index)
        for low, high in self.declared_missing.get(column, []):
            mask |= values.between(low, high)
        return mask


def file_rows(mask: pd.Series, limit: int = 5) -> str:
    """File line numbers of the rows where ``mask`` is true ("2, 7 and 3 more").

    Line 1 is the header, so the first data row is line 2.
    """
    rows = (np.flatnonzero(mask.to_numpy()) + 2).tolist()
    shown = ", ".join(map(str, rows[:limit]))
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def read_table(
    path: str | Path,
    encoding: str | None = None,
    columns: list[str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> RawTable:
    """Read a ``.sav``, ``.dta``, ``.csv`` or ``.parquet`` file.

    Parameters
    ----------
    path
        The file. Its extension picks the reader.
    encoding
        Text encoding: for CSV (default UTF-8, with or without a byte-order mark; Chinese
        files from Windows are often ``gb18030``) and to override the encoding stored in a
        ``.sav``/``.dta`` file. Text that does not decode gives an error that names the
        encoding that does (``ENCODING=gb18030``).
    columns
        ``.sav``/``.dta`` only: read just these columns (those the file has; the others are
        left for the caller to report), so a survey file with hundreds of variables costs the
        memory of the few a codebook uses. ``None``: every column. CSV and Parquet files (coded
        tables) are always read whole.
    chunk_rows
        ``.sav``/``.dta`` files are read this many rows at a time (pyreadstat's
        ``row_offset``/``row_limit``), with a progress bar when there is more than one chunk;
        the table is the same as one read in a single piece.

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
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError as err:
            raise InputFileError(
                f"{path}: {encoding!r} is not a text encoding Python knows; use one such as "
                + ENCODING_FIX.format("gb18030")
            ) from err
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    if suffix in (".sav", ".dta"):
        table = _read_labelled(path, suffix, encoding, columns, chunk_rows)
    elif suffix == ".csv":
        table = RawTable(_read_csv(path, encoding), path)
    else:
        try:
            table = RawTable(pd.read_parquet(path), path)
        except Exception as err:  # pyarrow raises several unrelated types
            raise InputFileError(f"{path}: not a readable Parquet file ({err})") from err
    if table.data.empty:
        raise InputFileError(f"{path}: the file has no rows")
    return table


def _encoding_message(path: Path, tried: str, works: str | None) -> str:
    fix = (
        f"it reads as {works}: rerun with " + ENCODING_FIX.format(works)
        if works
        else "set the file's real encoding with "
        + ENCODING_FIX.format("<encoding>")
        + f" (Chinese files are often gb18030; tried {', '.join(LIKELY_ENCODINGS)})"
    )
    return f"{path}: text in the file (labels or values) is not in {tried}; {fix}"


def _encoding_error(err: Exception) -> bool:
    text = str(err).lower()
    return isinstance(err, UnicodeError) or "encoding" in text or "byte sequence" in text


def _read_labelled(
    path: Path, suffix: str, encoding: str | None, columns: list[str] | None, chunk_rows: int
) -> RawTable:
    import pyreadstat

    kind = "SPSS .sav" if suffix == ".sav" else "Stata .dta"
    reader = pyreadstat.read_sav if suffix == ".sav" else pyreadstat.read_dta
    # user_missing=True keeps SPSS user-missing values as their codes: the codebook, not the
    # file's missing declarations, decides what a code means.
    options = {"user_missing": True} if suffix == ".sav" else {}

    def read(text_encoding: str | None) -> tuple[pd.DataFrame, object]:
        _, header = reader(str(path), encoding=text_encoding, metadataonly=True, **options)
        usecols = None
        if columns is not None:
            wanted = set(columns)
            # at least one column, so that a file without any wanted column still shows its
            # rows and the caller can name every missing column
            usecols = [c for c in header.column_names if c in wanted] or header.column_names[:1]
        return _read_in_chunks(
            reader, path, header, usecols, chunk_rows, encoding=text_encoding, **options
        )

    try:
        data, meta = read(encoding)
    except (pyreadstat.ReadstatError, UnicodeError) as err:
        if "unsupported character set" in str(err).lower():
            raise InputFileError(
                f"{path}: the {kind} reader does not support the encoding {encoding!r}; use "
                "one such as " + ENCODING_FIX.format("gb18030")
            ) from err
        if not _encoding_error(err):
            raise InputFileError(
                f"{path}: not a readable {kind} file ({err}); is the extension right?"
            ) from err
        declared = encoding or "the encoding its header declares"
        works = None
        for candidate in LIKELY_ENCODINGS:
            if candidate == encoding:
                continue
            try:
                read(candidate)
            except Exception:
                continue
            works = candidate
            break
        raise InputFileError(_encoding_message(path, declared, works)) from err
    declared_missing = {
        column: [(float(r["lo"]), float(r["hi"])) for r in ranges]
        for column, ranges in (getattr(meta, "missing_ranges", None) or {}).items()
        if all(isinstance(r.get("lo"), int | float) for r in ranges)
    }
    for column, values in (getattr(meta, "missing_user_values", None) or {}).items():
        numbers = [float(v) for v in values if isinstance(v, int | float)]
        declared_missing.setdefault(column, []).extend((v, v) for v in numbers)
    return RawTable(data, path, dict(meta.variable_value_labels), declared_missing)


def _read_in_chunks(
    reader: Callable,
    path: Path,
    header: object,
    usecols: list[str] | None,
    chunk_rows: int,
    **options: object,
) -> tuple[pd.DataFrame, object]:
    """Read ``usecols`` of a labelled file ``chunk_rows`` rows at a time; data and metadata."""
    total = int(getattr(header, "number_rows", None) or 0)  # 0: not stored in the file
    chunks = []
    meta = header
    with _row_progress(path, total, chunk_rows) as advance:
        while not chunks or len(chunks[-1]) == chunk_rows:
            offset = sum(len(c) for c in chunks)
            if total and offset >= total:
                break
            # pyreadstat.read_file_in_chunks would read the header again without the encoding
            chunk, meta = reader(
                str(path), row_offset=offset, row_limit=chunk_rows, usecols=usecols, **options
            )
            chunks.append(chunk)
            advance(len(chunk))
    data = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    return data, meta


@contextlib.contextmanager
def _row_progress(path: Path, total: int, chunk_rows: int) -> Iterator[Callable[[int], None]]:
    """Show a progress bar of rows read, for files of more than one chunk; yield ``advance``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn(f"reading {path.name}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        disable=0 < total <= chunk_rows,
    ) as progress:
        bar = progress.add_task("read", total=total or None)
        yield lambda rows: progress.update(bar, advance=rows)


def _read_csv(path: Path, encoding: str | None) -> pd.DataFrame:
    head = path.read_bytes()[:2048]
    if encoding is None and head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"  # Excel's "Unicode text" export: its byte-order mark says so
    if encoding is None or encoding.lower().replace("-", "").replace("_", "") == "utf8":
        encoding = "utf-8-sig"  # also strips the byte-order mark Excel writes
    if not encoding.lower().startswith("utf-16") and (
        head.startswith((b"PK\x03\x04", b"$FL2", b"PAR1")) or b"\x00" in head
    ):
        raise InputFileError(
            f"{path}: this is a binary file (Excel, SPSS, Parquet?), not CSV text; "
            "export it as CSV or give it its real extension"
        )
    try:
        return pd.read_csv(path, encoding=encoding, low_memory=False)
    except UnicodeError as err:
        works = None
        for candidate in LIKELY_ENCODINGS:
            if candidate.replace("-", "") in encoding.lower().replace("-", ""):
                continue
            try:
                path.read_bytes().decode(candidate)
            except UnicodeError:
                continue
            works = candidate
            break
        tried = "UTF-8" if encoding == "utf-8-sig" else encoding
        raise InputFileError(
            _encoding_message(path, tried, works)
            + (f" (first bad byte at {err.start}: {err.reason})" if hasattr(err, "start") else "")
        ) from err
    except pd.errors.EmptyDataError as err:
        raise InputFileError(f"{path}: the file has no columns") from err
    except pd.errors.ParserError as err:
        raise InputFileError(f"{path}: not a well-formed CSV file ({err})") from err
