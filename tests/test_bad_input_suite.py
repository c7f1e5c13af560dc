"""Malformed input: a clear message, a non-zero exit, and results/ left exactly as it was.

Each case writes one bad file, runs ``python -m data_prep --input <file>`` against a results
folder holding a previous good run, and checks the message names the file, the column (where
there is one), the offending values or rows and what was expected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_prep import variables
from data_prep.build_cli import main as data_main
from data_prep.synthetic import generate_synthetic


@pytest.fixture(scope="module")
def coded() -> pd.DataFrame:
    """The default sample as a coded table with the 2015 codebook's columns only."""
    raw = generate_synthetic()[0]
    return raw[[name for name in variables.variable_by_name() if name in raw]]


@pytest.fixture(scope="module")
def previous_results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("results") / "data"
    assert data_main(["--out", str(out)]) == 0
    return out


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def csv_of(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[pd.DataFrame, Path], Path]:
    def write(coded: pd.DataFrame, folder: Path) -> Path:
        path = folder / "coded.csv"
        change(coded.copy()).to_csv(path, index=False)
        return path

    return write


def raw_bytes(name: str, content: bytes) -> Callable[[pd.DataFrame, Path], Path]:
    def write(coded: pd.DataFrame, folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return write


def set_row(column: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(d: pd.DataFrame) -> pd.DataFrame:
        d[column] = d[column].astype(object)
        d.loc[row, column] = value
        return d

    return change


def one_respondent_province(d: pd.DataFrame) -> pd.DataFrame:
    tibet = d.index[d["province"] == "Tibet"]
    return d.drop(tibet[1:])


def all_zero_province(d: pd.DataFrame) -> pd.DataFrame:
    d.loc[d["province"] == "Qinghai", "health_record"] = 0
    return d


CASES = [
    ("missing column", csv_of(lambda d: d.drop(columns="hukou")), ["'hukou'", "column is missing"]),
    ("misspelt column", csv_of(lambda d: d.rename(columns={"occupation": "ocupation"})),
     ["'occupation'", "found 'ocupation', a misspelling?"]),
    ("unknown category", csv_of(set_row("exercise", 9, "daily")),
     ["'exercise'", "['daily'] not allowed", "rows 11", "one of ['lt60min', 'ge60min']"]),
    ("outcome 2", csv_of(set_row("health_record", 0, 2)),
     ["'health_record'", "['2'] out of range", "rows 2", "expected 0 or 1"]),
    ("outcome as words", csv_of(set_row("health_record", 4, "yes")),
     ["'health_record'", "non-numeric values ['yes']", "rows 6"]),
    ("all-missing column", csv_of(lambda d: d.assign(local_friends=np.nan)),
     ["'local_friends'", "all 3158 values are missing"]),
    ("missing predictor values", csv_of(set_row("movement", 17, None)),
     ["'movement'", "1 missing values", "rows 19", "no gaps"]),
    ("negative weight", csv_of(set_row("weight", 3, -0.5)),
     ["'weight'", "['-0.5'] out of range", "rows 5", "finite weights > 0"]),
    ("missing weight", csv_of(set_row("weight", 8, None)),
     ["'weight'", "1 missing values", "rows 10"]),
    ("infinite weight", csv_of(set_row("weight", 8, "inf")), ["'weight'", "['inf'] out of range"]),
    ("only one province", csv_of(lambda d: d.assign(province="Beijing")),
     ["model 'model1'", "(1 | province) needs at least 2 province values", "['Beijing']"]),
    ("empty category level", csv_of(lambda d: d.assign(income_quartile="Q1")),
     ["model 'model1', term 'income_quartile'", "['Q2', 'Q3', 'Q4'] have no respondents"]),
    ("unknown province", csv_of(set_row("province", 2, "Atlantis")),
     ["'province'", "unknown provinces ['Atlantis']", "rows 4"]),
    ("duplicated ids", csv_of(set_row("respondent_id", 5, 1)),
     ["'respondent_id'", "repeats ids 1", "rows 2, 7"]),
    ("age 200", csv_of(set_row("age_years", 12, 200)),
     ["'age_years'", "['200'] out of range", "rows 14", "years between 15 and 110"]),
    ("age as text", csv_of(set_row("age_years", 12, "sixty")), ["'age_years'", "['sixty']"]),
    ("stay longer than life", csv_of(set_row("years_in_inflow_area", 3, 99)),
     ["'years_in_inflow_area'", "longer than the respondent's age", "rows 5"]),
    ("empty file", raw_bytes("coded.csv", b""), ["the file is empty"]),
    ("header only", raw_bytes("coded.csv", b"province,health_record\n"), ["has no rows"]),
    ("CSV named .parquet", raw_bytes("coded.parquet", b"a,b\n1,2\n"), ["not a readable Parquet"]),
    ("CSV named .sav", raw_bytes("survey.sav", b"a,b\n1,2\n"), ["not a readable SPSS .sav"]),
    ("Excel named .csv", raw_bytes("coded.csv", b"PK\x03\x04\x14\x00\x06\x00"), ["binary file"]),
    ("non-UTF-8 text", raw_bytes("coded.csv", "province,health_record\n广东,1\n".encode("gb18030")),
     ["is not in UTF-8", "ENCODING=gb18030", "--encoding gb18030"]),
    ("unsupported type", raw_bytes("coded.xlsx", b"PK\x03\x04"), ["unsupported file type '.xlsx'"]),
]  # fmt: skip


@pytest.mark.parametrize("label, make_file, fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_named_and_changes_nothing(
    label, make_file, fragments, coded, previous_results, tmp_path, capsys
):
    before = snapshot(previous_results.parent)
    path = make_file(coded, tmp_path)
    code = data_main(["--input", str(path), "--out", str(previous_results)])
    message = capsys.readouterr().err
    assert code == 2, label
    assert str(path) in message, f"{label}: the file is not named\n{message}"
    for fragment in fragments:
        assert fragment in message, f"{label}: {fragment!r} missing from\n{message}"
    assert snapshot(previous_results.parent) == before, f"{label}: results/ changed"


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20


def test_missing_file_is_named(previous_results, capsys):
    assert data_main(["--input", "no/such/file.csv", "--out", str(previous_results)]) == 2
    assert "no/such/file.csv: file not found" in capsys.readouterr().err


def test_risky_but_legal_data_gives_warnings_not_errors(coded, tmp_path, capsys):
    small = coded.drop(coded.index[coded["province"] == "Tibet"][5:])  # Tibet keeps 5
    small.loc[small["local_medical_insurance"] == "yes", "health_record"] = 1  # separation
    path = tmp_path / "risky.csv"
    small.to_csv(path, index=False)
    out = tmp_path / "data"
    assert data_main(["--input", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Tibet (5)" in printed
    assert "warning: all 349 respondents with local_medical_insurance = yes" in printed
    warnings = pd.read_csv(out / "data_warnings.csv")
    assert set(warnings["kind"]) == {"small_province", "separation"}
    assert set(warnings["severity"]) == {"warning"}


@pytest.mark.parametrize(
    "change, kind, fragment",
    [
        (one_respondent_province, "small_province", "Tibet (1)"),
        (all_zero_province, "province_outcome", "no respondent has a health record in provinces "
         "['Qinghai']"),
        (set_row("weight", 3, 0.0), "zero_weight", "1 respondents with weight 0 were dropped"),
    ],
)  # fmt: skip
def test_province_and_weight_rules_warn_on_the_coded_path(coded, tmp_path, capsys, change, kind,
                                                          fragment):  # fmt: skip
    path = csv_of(change)(coded, tmp_path)
    out = tmp_path / "data"
    assert data_main(["--input", str(path), "--out", str(out)]) == 0
    assert fragment in capsys.readouterr().out
    warnings = pd.read_csv(out / "data_warnings.csv")
    assert kind in set(warnings["kind"])
