"""Schema of an already-coded analysis table, checked before any fitting.

A coded table (CSV or Parquet) has one row per respondent and the columns of the data
dictionary (``data_prep/variables.py``):

=======================  ===========  ===================================================
column                   type         allowed values
=======================  ===========  ===================================================
respondent_id            integer      unique (optional)
province                 text/number  GB/T 2260 code, Chinese, English or pinyin name
health_record            0/1          1 = has a health record
income_quartile          text         Q1, Q2, Q3, Q4
occupation               text         unemployed, employed
local_medical_insurance  text         no, yes
settlement_intention     text         no_or_undecided, yes
local_friends            text         lt3, ge3
hukou                    text         rural, urban
movement                 text         intraprovincial, interprovincial
exercise                 text         lt60min, ge60min
age_years                number       15-110 (years, at the survey)
years_in_inflow_area     number       0-100 (years), not more than age
weight                   number       >= 0 (weight-0 rows are dropped with a warning)
sex, education, marital,
chronic_disease,
self_rated_health        text         as in the data dictionary (Tables 1-2 only)
=======================  ===========  ===================================================

Model 1 needs ``province``, ``health_record``, ``weight`` and the five integration columns;
Model 2 adds ``hukou``, ``age_years``, ``movement``, ``years_in_inflow_area``, ``exercise``.
Columns outside the schema are ignored. Every violation is reported, not just the first.
After this schema check, the table goes through the same validation contract as a decoded raw
file (:mod:`data_prep.validation`: weights, province sizes and outcomes, empty levels, duplicate
rows) and the design check of every requested spec (:mod:`data_prep.design_check`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmds_common.provinces import province_key, province_lookup, to_province_names
from data_prep import variables
from data_prep.analysis_dataset import to_analysis_table
from data_prep.readers import RawTable, file_rows
from data_prep.validation import bad_weights, duplicate_ids

NUMERIC_RANGES = {"age_years": (15.0, 110.0), "years_in_inflow_area": (0.0, 100.0)}


class CodedDataError(ValueError):
    """A coded table that violates the schema; the message lists every violation."""


@dataclass(frozen=True)
class Violation:
    """One schema violation: which column, what is wrong, where, and what was expected."""

    column: str
    problem: str
    rows: str
    expected: str

    def __str__(self) -> str:
        where = f" (rows {self.rows})" if self.rows else ""
        return f"column {self.column!r}: {self.problem}{where}; expected {self.expected}"


def _values(series: pd.Series, limit: int = 8) -> str:
    unique = sorted({f"{v:g}" if isinstance(v, float) else str(v) for v in series})
    return str(unique[:limit]) + (f" and {len(unique) - limit} more" if len(unique) > limit else "")


def _check_column(name: str, column: pd.Series, required: bool) -> list[Violation]:
    var = variables.variable_by_name()[name]
    found: list[Violation] = []
    missing = column.isna()
    if missing.all():
        return [Violation(name, f"all {len(column)} values are missing", "", "values")]
    if required and missing.any():
        found.append(
            Violation(name, f"{int(missing.sum())} missing values", file_rows(missing), "no gaps")
        )
    present = column[~missing]

    def flag(bad: pd.Series, values: pd.Series, problem: str, expected: str) -> None:
        if bad.any():
            rows = file_rows(bad.reindex(column.index, fill_value=False))
            found.append(Violation(name, problem.format(_values(values[bad])), rows, expected))

    if name == variables.PROVINCE:
        lookup = province_lookup()
        unknown = ~present.map(lambda v: province_key(v) in lookup)
        flag(
            unknown,
            present,
            "unknown provinces {}",
            "GB/T 2260 codes or Chinese/English/pinyin names (cmds_common/provinces.csv)",
        )
    elif var.kind == "categorical":
        bad = ~present.astype(str).isin(var.levels)
        flag(bad, present, "values {} not allowed", f"one of {list(var.levels)}")
    elif var.kind in ("binary_outcome", "continuous", "weight", "id"):
        numeric = pd.to_numeric(present, errors="coerce")
        flag(numeric.isna(), present, "non-numeric values {}", "numbers")
        numeric = numeric.dropna()
        if var.kind == "binary_outcome":
            flag(~numeric.isin([0, 1]), numeric, "values {} out of range", "0 or 1")
        elif var.kind == "weight":
            flag(
                pd.Series(bad_weights(numeric.to_numpy(dtype=float)), index=numeric.index),
                numeric,
                "values {} out of range",
                "finite weights > 0 (weight-0 rows are dropped with a warning)",
            )
        elif var.kind == "continuous":
            low, high = NUMERIC_RANGES[name]
            flag(
                ~numeric.between(low, high),
                numeric,
                "values {} out of range",
                f"{var.unit} between {low:g} and {high:g}",
            )
    return found


def validate_coded_table(data: pd.DataFrame, required: list[str]) -> list[Violation]:
    """Check a coded table against the schema.

    Parameters
    ----------
    data
        The table as read from the file.
    required
        Columns the chosen models need.

    Returns
    -------
    list of Violation
        Every violation found (empty when the table is valid).
    """
    schema = variables.variable_by_name()
    found: list[Violation] = []
    for name in required:
        if name not in data.columns:
            close = difflib.get_close_matches(name, list(map(str, data.columns)), n=1, cutoff=0.75)
            hint = f"; found {close[0]!r}, a misspelling?" if close else ""
            found.append(Violation(name, f"column is missing{hint}", "", "a column of that name"))
    for name in schema:
        if name in data.columns:
            found.extend(_check_column(name, data[name], required=name in required))
    if variables.RESPONDENT_ID in data.columns:
        for finding in duplicate_ids(data[variables.RESPONDENT_ID], "", variables.RESPONDENT_ID):
            problem = finding.message.split("respondent id) ", 1)[-1]
            found.append(
                Violation(variables.RESPONDENT_ID, problem, finding.rows, "unique, non-empty ids")
            )
    if {"age_years", "years_in_inflow_area"} <= set(data.columns):
        age = pd.to_numeric(data["age_years"], errors="coerce")
        stay = pd.to_numeric(data["years_in_inflow_area"], errors="coerce")
        longer = stay > age
        if longer.any():
            found.append(
                Violation(
                    "years_in_inflow_area",
                    "longer than the respondent's age",
                    file_rows(longer),
                    "years in the inflow area <= age",
                )
            )
    return found


def prepare_coded_table(raw: RawTable, required: list[str]) -> pd.DataFrame:
    """Validate a coded table and type it as the analysis data set.

    Raises
    ------
    CodedDataError
        Naming the file and listing every violation.
    """
    violations = validate_coded_table(raw.data, required)
    if violations:
        lines = "\n".join(f"  - {v}" for v in violations)
        raise CodedDataError(
            f"{raw.path}: {len(violations)} problem(s) with the coded table "
            f"(schema: data_prep/coded_schema.py, results/data/data_dictionary.md):\n{lines}"
        )
    data = raw.data.copy()
    data[variables.PROVINCE] = to_province_names(data[variables.PROVINCE])
    if variables.RESPONDENT_ID not in data.columns:
        data[variables.RESPONDENT_ID] = np.arange(1, len(data) + 1)
    return to_analysis_table(data)
