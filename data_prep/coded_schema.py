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
The table above is the shipped 2015 declarations (``data_prep/codebooks/cmds2015.yaml``). A
table may carry any other columns: a dictionary in the same declaration format
(``--dictionary``, :mod:`cmds_common.declarations`) gives their types, levels and references,
and replaces the 2015 declarations. Without one, columns outside the 2015 schema are read as
declared by :func:`cmds_common.declarations.infer_declarations` (0/1 binary, text categorical
with the first level in sorted order as reference, with a warning, numbers continuous) and kept.
``python -m data_prep describe FILE`` writes a starter dictionary. Every violation is reported,
not just the first.
After this schema check, the table goes through the same validation contract as a decoded raw
file (:mod:`data_prep.validation`: weights, province sizes and outcomes, empty levels, duplicate
rows) and the design check of every requested spec (:mod:`data_prep.design_check`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmds_common.declarations import Declaration, infer_declarations, type_table
from cmds_common.provinces import province_key, province_lookup
from data_prep import variables
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


def coded_declarations(
    data: pd.DataFrame, dictionary: dict[str, Declaration] | None = None, source: str = ""
) -> tuple[dict[str, Declaration], list[str]]:
    """Return the declarations of a coded table's columns, and warnings about guessed ones.

    With a dictionary, its declarations (plus a respondent id when it has none). Without one,
    the shipped 2015 declarations for their columns and guessed declarations for the others.
    """
    if dictionary is not None:
        declared = {n: d for n, d in dictionary.items() if d.in_table}
        if not any(d.type == "id" for d in declared.values()):
            declared[variables.RESPONDENT_ID] = Declaration(variables.RESPONDENT_ID, "id")
        return declared, []
    shipped = {n: d for n, d in variables.shipped_declarations().items() if d.in_table}
    extra = data[[c for c in data.columns if c not in shipped]]
    inferred, warnings = infer_declarations(extra, source)
    return {**shipped, **inferred}, warnings


def _check_column(decl: Declaration, column: pd.Series, required: bool) -> list[Violation]:
    name = decl.name
    var = variables.as_variable(decl, with_province_levels=True)
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

    if decl.is_province:
        lookup = province_lookup()
        unknown = ~present.map(lambda v: province_key(v) in lookup)
        flag(
            unknown,
            present,
            "unknown provinces {}",
            "GB/T 2260 codes or Chinese/English/pinyin names (cmds_common/provinces.csv)",
        )
    elif var.kind == "categorical" and var.levels:
        bad = ~present.map(_text).isin(var.levels)
        flag(bad, present, "values {} not allowed", f"one of {list(var.levels)}")
    elif var.kind in ("binary_outcome", "continuous", "weight", "id"):
        words = {lv: k for k, lv in enumerate(decl.levels)}
        if var.kind == "binary_outcome" and words and present.map(_text).isin(list(words)).all():
            present = present.map(lambda v: words[_text(v)])  # all words: the declared levels
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
        elif decl.type == "count":
            flag(~numeric.ge(0) | (numeric % 1 != 0), numeric, "values {} out of range", "counts")
        elif var.kind == "continuous" and name in NUMERIC_RANGES:
            low, high = NUMERIC_RANGES[name]
            flag(
                ~numeric.between(low, high),
                numeric,
                "values {} out of range",
                f"{var.unit} between {low:g} and {high:g}",
            )
    return found


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def validate_coded_table(
    data: pd.DataFrame, required: list[str], declarations: dict[str, Declaration] | None = None
) -> list[Violation]:
    """Check a coded table against the schema.

    Parameters
    ----------
    data
        The table as read from the file.
    required
        Columns the chosen models need.
    declarations
        The columns' declarations (default: :func:`coded_declarations` without a dictionary).

    Returns
    -------
    list of Violation
        Every violation found (empty when the table is valid).
    """
    schema = declarations if declarations is not None else coded_declarations(data)[0]
    found: list[Violation] = []
    for name in required:
        if name not in data.columns:
            close = difflib.get_close_matches(name, list(map(str, data.columns)), n=1, cutoff=0.75)
            hint = f"; found {close[0]!r}, a misspelling?" if close else ""
            found.append(Violation(name, f"column is missing{hint}", "", "a column of that name"))
    for name, decl in schema.items():
        if name in data.columns:
            found.extend(_check_column(decl, data[name], required=name in required))
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


def prepare_coded_table(
    raw: RawTable, required: list[str], declarations: dict[str, Declaration] | None = None
) -> pd.DataFrame:
    """Validate a coded table and type it as the analysis data set (its declared columns).

    Raises
    ------
    CodedDataError
        Naming the file and listing every violation.
    """
    if declarations is None:
        declarations = coded_declarations(raw.data)[0]
    violations = validate_coded_table(raw.data, required, declarations)
    if violations:
        lines = "\n".join(f"  - {v}" for v in violations)
        raise CodedDataError(
            f"{raw.path}: {len(violations)} problem(s) with the coded table "
            f"(schema: data_prep/coded_schema.py, results/data/data_dictionary.md):\n{lines}"
        )
    data = raw.data.copy()
    id_name = next(n for n, d in declarations.items() if d.type == "id")
    if id_name not in data.columns:
        data.insert(0, id_name, np.arange(1, len(data) + 1))
    return type_table(data, declarations).reset_index(drop=True)
