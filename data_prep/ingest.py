"""From a raw survey file to the analysis data set: decode, derive, inclusion flow, recode.

Everything study-specific is data in the codebook: the items (raw variables and code maps), the
declared variables with their sources (:mod:`cmds_common.declarations`) and the inclusion flow
(:mod:`data_prep.flow`). For the 2015 codebook that is the flow of Jing et al. (2019): aged 60+
at the survey month (May 2015) with complete answers; in the inflow area 6 months or more;
health-record answer not "not clear"; and its recodes: record = "established" only; household
monthly income in quartiles of the analysed sample (ties stay together, see
:mod:`data_prep.quantile_groups`); 3+ local friends; 60+ minutes of daily exercise.

The codebook, not the file, decides what a code means: values an SPSS file declares missing are
read as their codes and go through the codebook like any other; a warning says how many there were.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cmds_common.declarations import (
    COMBINE_SEPARATOR,
    POST_FLOW_SOURCES,
    Declaration,
    type_table,
)
from cmds_common.provinces import UnknownProvinceError, to_province_names
from data_prep.codebook import Codebook
from data_prep.flow import FlowError, apply_flow, flow_table, flow_variables
from data_prep.quantile_groups import quantile_groups
from data_prep.readers import RawTable, file_rows
from data_prep.validation import WARNING, Finding, duplicate_ids

__all__ = ["IngestError", "IngestResult", "flow_table", "ingest_survey", "raw_columns"]


class IngestError(ValueError):
    """Raw data that cannot be turned into the analysis data set; lists every problem."""


@dataclass
class IngestResult:
    """The analysis table, the inclusion flow that produced it, and what to tell the user.

    Attributes
    ----------
    table
        One row per analysed respondent.
    flow
        The inclusion-flow table.
    lines
        File line of each row of ``table`` (line 1 is the header).
    findings
        Warnings found while decoding (declared-missing values, quantile ties).
    """

    table: pd.DataFrame
    flow: pd.DataFrame
    lines: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    findings: list[Finding] = field(default_factory=list)


def _label(value: object, labels: dict) -> str:
    """Format a raw code as a user would look for it: ``7`` or ``7 (其他)``, not ``7.0``."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    label = labels.get(value)
    return f"{text} ({label})" if label else text


def _decode_item(raw: RawTable, codebook: Codebook, name: str, problems: list[str]) -> pd.Series:
    item = codebook.items[name]
    definition = item.definition
    values = raw.data[item.raw]
    where = f"{item.raw} ({name}, {codebook.where(name)})"
    labels = raw.value_labels.get(item.raw, {})
    keys = values.map(lambda v: float(v) if isinstance(v, int | float | np.number) else str(v))
    missing = keys.isin(item.missing) | values.isna()
    # A value the file declares missing is missing unless the codebook gives its code a meaning.
    named = keys.isin(list(item.codes)) | keys.map(lambda k: labels.get(k) in item.codes)
    missing |= raw.declared_missing_mask(item.raw) & ~named
    if definition.kind == "province":
        try:
            return to_province_names(values.mask(missing))
        except UnknownProvinceError as err:
            problems.append(f"{where}: {err}")
            return pd.Series(np.nan, index=values.index)
    if definition.kind in ("numeric", "id"):
        numeric = pd.to_numeric(values.mask(missing), errors="coerce")
        not_numbers = numeric.isna() & ~missing
        if not_numbers.any():
            bad = sorted({str(v) for v in values[not_numbers]})[:10]
            problems.append(f"{where}: non-numeric values {bad} in rows {file_rows(not_numbers)}")
        low, high = definition.valid_range or (-np.inf, np.inf)
        outside = numeric.notna() & ~numeric.between(low, high)
        if outside.any():
            bad = sorted(set(numeric[outside].tolist()))[:10]
            problems.append(
                f"{where}: values {bad} outside {low:g}-{high:g} in rows {file_rows(outside)}; "
                f"if they are missing-value codes, list them under 'missing:'"
            )
        if definition.kind == "id":
            fractional = numeric.notna() & (numeric % 1 != 0)
            if fractional.any():
                problems.append(
                    f"{where}: ids must be whole numbers (rows {file_rows(fractional)})"
                )
        return numeric.where(~outside)
    if definition.kind == "text" and not item.codes:
        as_text = values.map(lambda v: f"{v:g}" if isinstance(v, float) else str(v))
        return as_text.mask(missing)
    by_label = keys.map(lambda k: item.codes.get(labels.get(k)) if labels.get(k) else None)
    decoded = keys.map(item.codes).fillna(by_label).mask(missing)
    unknown = decoded.isna() & ~missing
    if unknown.any():
        bad = sorted({_label(k, labels) for k in keys[unknown]})[:10]
        problems.append(
            f"{where}: codes {bad} in rows {file_rows(unknown)} are neither under 'codes:' nor "
            f"'missing:' in the codebook"
        )
    return decoded


def _source_values(
    name: str, items: dict[str, pd.Series], derived: dict[str, pd.Series], codebook: Codebook
) -> pd.Series | None:
    """Values of a source input: a derived variable, else a decoded item (None if unavailable)."""
    kind, _ = codebook.input_of(name)
    if kind == "variable":
        return derived.get(name)
    return items.get(name)


def _as_numbers(name: str, values: pd.Series, codebook: Codebook) -> pd.Series:
    """Numbers of a sum/mean input: a binary variable's levels count as 0 and 1."""
    decl = codebook.declarations.get(name)
    if decl is not None and decl.type == "binary" and decl.levels:
        return values.map({lv: k for k, lv in enumerate(decl.levels)}).astype(float)
    return pd.to_numeric(values)


def _derive_one(
    decl: Declaration,
    items: dict[str, pd.Series],
    derived: dict[str, pd.Series],
    codebook: Codebook,
) -> pd.Series | None:
    source = decl.source
    if source.kind == "item":
        return items.get(source.inputs[0])
    inputs = [_source_values(n, items, derived, codebook) for n in source.inputs]
    if any(v is None for v in inputs):
        return None
    if source.kind == "map":
        return inputs[0].map(lambda v: source.codes.get(str(v)) if pd.notna(v) else np.nan)
    if source.kind == "threshold":
        return threshold_levels(pd.to_numeric(inputs[0]), source.at, decl.levels)
    if source.kind == "combine":
        return combine_levels(inputs)
    if source.kind in ("sum", "mean"):
        numbers = pd.concat(
            [_as_numbers(n, v, codebook) for n, v in zip(source.inputs, inputs, strict=True)],
            axis=1,
        )
        total = numbers.sum(axis=1, min_count=numbers.shape[1])
        return total if source.kind == "sum" else total / numbers.shape[1]
    year, month = (pd.to_numeric(v) for v in inputs)
    if source.kind == "age_at_survey":
        return codebook.survey_year - year - (month > codebook.survey_month)
    if source.kind == "years_since":
        return (codebook.survey_year * 12 + codebook.survey_month - (year * 12 + month)) / 12
    return None


def threshold_levels(
    values: pd.Series, cuts: tuple[float, ...], levels: tuple[str, ...]
) -> pd.Series:
    """Cut numbers into levels; missing stays missing.

    Below ``cuts[0]`` -> ``levels[0]``; at or above ``cuts[k]`` and below ``cuts[k + 1]``
    -> ``levels[k + 1]``.

    Parameters
    ----------
    values : pandas.Series
        Numbers (missing allowed).
    cuts : tuple of float
        Increasing cut points.
    levels : tuple of str
        One level more than cuts, lowest first.

    Returns
    -------
    pandas.Series
        The level of each value (object dtype, NaN where the value is missing).
    """
    if len(levels) != len(cuts) + 1:
        raise ValueError(f"{len(cuts)} cut points need {len(cuts) + 1} levels, got {levels}")
    position = np.searchsorted(
        np.asarray(cuts, float), values.to_numpy(dtype=float, na_value=np.nan), side="right"
    )
    named = np.asarray(levels, dtype=object)[position]
    return pd.Series(named, index=values.index).where(values.notna())


def combine_levels(parts: list[pd.Series]) -> pd.Series:
    """Join the levels of several variables into one cell label (``female:30_44``).

    Parameters
    ----------
    parts : list of pandas.Series
        The variables' levels, on one index.

    Returns
    -------
    pandas.Series
        ``level_1:level_2:...`` per row (see
        :data:`cmds_common.declarations.COMBINE_SEPARATOR`); NaN where any part is missing.
    """
    missing = pd.concat(parts, axis=1).isna().any(axis=1)
    joined = parts[0].astype(str)
    for part in parts[1:]:
        joined = joined + COMBINE_SEPARATOR + part.astype(str)
    return joined.where(~missing)


def _derive(items: dict[str, pd.Series], codebook: Codebook) -> dict[str, pd.Series]:
    """Every declared variable that can be derived before the inclusion flow."""
    derived: dict[str, pd.Series] = {}
    pending = [
        d
        for d in codebook.declarations.values()
        if d.source is not None and d.source.kind not in POST_FLOW_SOURCES
    ]
    while pending:
        progress = False
        for decl in list(pending):
            values = _derive_one(decl, items, derived, codebook)
            if values is not None:
                derived[decl.name] = values
                pending.remove(decl)
                progress = True
        if not progress:
            break
    return derived


def income_quartiles(income: pd.Series) -> pd.Series:
    """Quartile (Q1 poorest) of each income; equal incomes always share a quartile."""
    return quantile_groups(income, ["Q1", "Q2", "Q3", "Q4"], "household_monthly_income").groups


def declared_missing_findings(
    raw: RawTable, codebook: Codebook, usable: list[str], items: dict[str, pd.Series]
) -> list[Finding]:
    """Count the values the file declares missing, and say what the codebook made of them."""
    counts: dict[str, int] = {}
    meant: list[str] = []
    used_total = 0
    for name in usable:
        column = codebook.items[name].raw
        mask = raw.declared_missing_mask(column) if column in raw.declared_missing else None
        if mask is None or not mask.any():
            continue
        counts[column] = int(mask.sum())
        used = mask & items[name].notna()
        if used.any():
            codes = pd.to_numeric(raw.data.loc[used, column])
            pairs = sorted({f"{k:g} -> {v}" for k, v in zip(codes, items[name][used], strict=True)})
            meant.append(f"{column} {int(used.sum())} ({', '.join(pairs)})")
            used_total += int(used.sum())
    if not counts:
        return []
    total = sum(counts.values())
    listed = ", ".join(f"{c} {n}" for c, n in counts.items())
    message = (
        f"{raw.path}: the file declares {total} values missing (SPSS user-missing: {listed}); "
        "the codebook decides what a code means"
        + (
            f": {used_total} have a meaning there and are used as such ({'; '.join(meant)})"
            if meant
            else ""
        )
        + f"; the other {total - used_total}, which the codebook does not mention, are treated "
        "as missing (list a code under 'codes:' or 'missing:' to decide otherwise)"
    )
    return [
        Finding(
            WARNING, "declared_missing", str(raw.path), ", ".join(counts), "", total, "", message
        )
    ]


def raw_columns(codebook: Codebook) -> list[str]:
    """Raw variables :func:`ingest_survey` reads: those of every filled-in codebook item.

    Reading only these (``read_table(path, columns=raw_columns(codebook))``) keeps a survey file
    of hundreds of variables to the memory of the few the codebook uses.
    """
    return list(dict.fromkeys(item.raw for item in codebook.items.values() if item.filled_in))


def ingest_survey(raw: RawTable, codebook: Codebook, required_variables: list[str]) -> IngestResult:
    """Turn a raw survey file into the analysis data set, following the paper's inclusion flow.

    Parameters
    ----------
    raw
        The survey file as read by :func:`data_prep.readers.read_table`.
    codebook
        How raw variables and codes map to the analysis variables.
    required_variables
        Analysis variables the chosen models need (the flow's own variables are always needed).

    Returns
    -------
    IngestResult
        The typed analysis table (one row per analysed respondent) and the flow table.

    Raises
    ------
    CodebookError
        When a needed item is not filled in.
    IngestError
        Listing every missing column, unknown code and impossible value found.
    """
    needed = list(dict.fromkeys([*flow_variables(codebook.flow), *required_variables]))
    codebook.require(needed)
    usable = [name for name, item in codebook.items.items() if item.filled_in]
    problems: list[str] = []
    for name in usable:
        column = codebook.items[name].raw
        if column not in raw.data.columns:
            close = difflib.get_close_matches(column, list(map(str, raw.data.columns)), n=3)
            hint = f" (did you mean {close}?)" if close else ""
            problems.append(
                f"{raw.path}: column {column!r} for {name} ({codebook.where(name)}) is not in the "
                f"file{hint}"
            )
    if problems:
        raise IngestError("\n".join(problems))
    items = {name: _decode_item(raw, codebook, name, problems) for name in usable}
    derived = _derive(items, codebook)
    for decl in codebook.declarations.values():
        if decl.source is not None and decl.source.kind == "years_since" and decl.name in derived:
            future = derived[decl.name] < 0
            if future.any():
                problems.append(
                    f"{raw.path}: arrival after the survey month in rows {file_rows(future)} "
                    f"({codebook.where(decl.source.inputs[0])})"
                )
    if problems:
        raise IngestError(f"{raw.path}: cannot use the file:\n  - " + "\n  - ".join(problems))

    frame = pd.DataFrame(derived, index=raw.data.index)
    findings = declared_missing_findings(raw, codebook, usable, items)
    frame, id_errors = _respondent_ids(frame, items, codebook, str(raw.path))
    if id_errors:
        raise IngestError("\n".join(str(f) for f in id_errors))
    needed_items = list(dict.fromkeys(i for v in needed for i in codebook.items_for(v)))
    incomplete = pd.DataFrame({i: items[i] for i in needed_items}, index=frame.index)
    space = pd.DataFrame({k: v for k, v in items.items() if k not in frame}, index=frame.index)
    space = pd.concat([space, frame], axis=1)
    try:
        kept, flow = apply_flow(space, codebook.flow, incomplete.isna().any(axis=1))
    except FlowError as err:
        raise IngestError(str(err)) from err
    frame = frame.loc[kept]
    if frame.empty:
        raise IngestError(f"{raw.path}: no respondent is left after the inclusion flow")

    lines = frame.index.to_numpy() + 2
    frame = frame.reset_index(drop=True)
    findings += _post_flow(frame, kept, items, derived, codebook, str(raw.path))
    table = type_table(frame, codebook.declarations)
    return IngestResult(table=table, flow=flow, lines=lines, findings=findings)


def _respondent_ids(
    frame: pd.DataFrame, items: dict[str, pd.Series], codebook: Codebook, source: str
) -> tuple[pd.DataFrame, list[Finding]]:
    """Take the declared id from its item when the codebook has one, else numbers in file order."""
    id_name = next((d.name for d in codebook.declarations.values() if d.type == "id"), None)
    if id_name is None:
        return frame, []
    if id_name not in frame and id_name in items:
        frame[id_name] = items[id_name]
    if id_name in frame:
        id_item = codebook.items_for(id_name)
        column = codebook.items[id_item[0]].raw if id_item else id_name
        return frame, duplicate_ids(frame[id_name], source, column)
    frame.insert(0, id_name, np.arange(1, len(frame) + 1))
    return frame, []


def _post_flow(
    frame: pd.DataFrame,
    kept: pd.Index,
    items: dict[str, pd.Series],
    derived: dict[str, pd.Series],
    codebook: Codebook,
    source: str,
) -> list[Finding]:
    """Add the variables derived from the analysed sample (quantile groups); their warnings."""
    findings = []
    for decl in codebook.declarations.values():
        if decl.source is None or decl.source.kind not in POST_FLOW_SOURCES:
            continue
        values = _source_values(decl.source.inputs[0], items, derived, codebook)
        if values is None:
            continue
        split = quantile_groups(
            values.loc[kept].reset_index(drop=True), list(decl.levels), decl.source.inputs[0]
        )
        frame[decl.name] = split.groups
        if split.message:
            findings.append(
                Finding(
                    WARNING,
                    "quantile_groups",
                    source,
                    decl.name,
                    "",
                    len(frame),
                    "",
                    split.message,
                )
            )
    return findings
