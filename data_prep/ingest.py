"""From a raw survey file to the analysis data set: decode, inclusion flow, recode.

Inclusion flow (Jing et al. 2019): aged 60+ at the survey month (May 2015) with complete
answers; in the inflow area 6 months or more; health-record answer not "not clear".

Recodes: record = "established" only (never heard of it / heard of it but not established = 0);
household monthly income in quartiles of the analysed sample (ties stay together, see
:mod:`data_prep.quantile_groups`); 3+ local friends; intends to stay 5+ years (per the codebook's
planned-stay codes); 60+ minutes of daily exercise.

The codebook, not the file, decides what a code means: values an SPSS file declares missing are
read as their codes and go through the codebook like any other; a warning says how many there were.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cmds_common.provinces import UnknownProvinceError, to_province_names
from data_prep import variables
from data_prep.analysis_dataset import to_analysis_table
from data_prep.codebook import FLOW_VARIABLES, ITEMS, ITEMS_FOR_VARIABLE, Codebook
from data_prep.quantile_groups import quantile_groups
from data_prep.readers import RawTable, file_rows
from data_prep.validation import WARNING, Finding, duplicate_ids

MIN_AGE = 60
MIN_YEARS_IN_INFLOW_AREA = 0.5


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
    definition = ITEMS[name]
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
        low, high = definition.valid_range
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


def _derive(items: dict[str, pd.Series], codebook: Codebook) -> dict[str, pd.Series]:
    survey = codebook.survey_year * 12 + codebook.survey_month
    derived: dict[str, pd.Series] = {}
    if {"birth_year", "birth_month"} <= set(items):
        year, month = items["birth_year"], items["birth_month"]
        derived["age_years"] = codebook.survey_year - year - (month > codebook.survey_month)
    if {"arrival_year", "arrival_month"} <= set(items):
        arrived = items["arrival_year"] * 12 + items["arrival_month"]
        derived["years_in_inflow_area"] = (survey - arrived) / 12
    renames = {
        "health_record": "health_record_answer",
        "employment": "occupation",
        "planned_stay": "settlement_intention",
    }
    for name in ITEMS_FOR_VARIABLE:
        item_names = ITEMS_FOR_VARIABLE[name]
        if len(item_names) == 1 and item_names[0] in items:
            derived[renames.get(item_names[0], name)] = items[item_names[0]]
    for item, variable, cut, (below, at_or_above) in (
        ("local_friends_count", "local_friends", 3, ("lt3", "ge3")),
        ("daily_exercise_minutes", "exercise", 60, ("lt60min", "ge60min")),
    ):
        if item in items:
            values = items[item]
            derived[variable] = pd.Series(
                np.where(values >= cut, at_or_above, below), index=values.index
            ).where(values.notna())
    if "household_monthly_income" in items:
        derived["income_quartile"] = items["household_monthly_income"]
    return derived


def flow_table(steps: list[tuple[str, int, int | None]]) -> pd.DataFrame:
    """Inclusion-flow table: step, n, and the published n where the paper gives one."""
    flow = pd.DataFrame(steps, columns=["step", "n", "published_n"])
    flow["published_n"] = flow["published_n"].astype("Int64")
    return flow


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
    needed = list(dict.fromkeys([*FLOW_VARIABLES, *required_variables]))
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
    if "years_in_inflow_area" in derived:
        future = derived["years_in_inflow_area"] < 0
        if future.any():
            problems.append(
                f"{raw.path}: arrival after the survey month in rows {file_rows(future)} "
                f"({codebook.where('arrival_year')})"
            )
    if problems:
        raise IngestError(f"{raw.path}: cannot use the file:\n  - " + "\n  - ".join(problems))

    frame = pd.DataFrame(derived)
    findings = declared_missing_findings(raw, codebook, usable, items)
    if variables.RESPONDENT_ID in frame:
        id_errors = duplicate_ids(
            frame[variables.RESPONDENT_ID], str(raw.path), codebook.items["respondent_id"].raw
        )
        if id_errors:
            raise IngestError("\n".join(str(f) for f in id_errors))
    else:
        frame.insert(0, variables.RESPONDENT_ID, np.arange(1, len(frame) + 1))
    model_columns = ["health_record_answer" if v == "health_record" else v for v in needed]
    steps = [("respondents in the file", len(frame), None)]
    under_age = frame["age_years"] < MIN_AGE
    frame = frame.loc[~under_age]
    steps.append((f"excluded: under {MIN_AGE} at the survey month", int(under_age.sum()), None))
    incomplete = frame[model_columns].isna().any(axis=1)
    frame = frame.loc[~incomplete]
    steps.append(("excluded: missing answers the models need", int(incomplete.sum()), None))
    steps.append((f"aged {MIN_AGE}+ with complete answers", len(frame), 4028))
    short = frame["years_in_inflow_area"] < MIN_YEARS_IN_INFLOW_AREA
    frame = frame.loc[~short]
    steps.append(("excluded: lived in inflow area < 6 months", int(short.sum()), 281))
    unclear = frame["health_record_answer"] == "not_clear"
    frame = frame.loc[~unclear]
    steps.append(("excluded: health-record answer 'not clear'", int(unclear.sum()), 589))
    steps.append(("analysed", len(frame), 3158))
    if frame.empty:
        raise IngestError(f"{raw.path}: no respondent is left after the inclusion flow")

    lines = frame.index.to_numpy() + 2
    frame = frame.reset_index(drop=True)
    frame[variables.OUTCOME] = (frame["health_record_answer"] == "established").astype(int)
    if "income_quartile" in frame:
        split = quantile_groups(
            frame["income_quartile"], ["Q1", "Q2", "Q3", "Q4"], "household_monthly_income"
        )
        frame["income_quartile"] = split.groups
        if split.message:
            findings.append(
                Finding(
                    WARNING,
                    "quantile_groups",
                    str(raw.path),
                    "income_quartile",
                    "",
                    len(frame),
                    "",
                    split.message,
                )
            )
    return IngestResult(
        table=to_analysis_table(frame), flow=flow_table(steps), lines=lines, findings=findings
    )
