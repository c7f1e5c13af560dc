"""Already-coded tables: every schema violation reported, and the CLI writes nothing on failure."""

from __future__ import annotations

import pandas as pd
import pytest

from data_prep.build_cli import main as data_main
from data_prep.build_cli import required_columns
from data_prep.coded_schema import validate_coded_table
from data_prep.synthetic import generate_synthetic

MODEL2 = required_columns(["model1", "model2"])


@pytest.fixture
def coded() -> pd.DataFrame:
    data, _ = generate_synthetic()
    return data


def test_valid_table_has_no_violations(coded):
    assert validate_coded_table(coded, MODEL2) == []


def test_required_columns_follow_the_models():
    model1 = required_columns(["model1"])
    assert {"exercise", "age_years"}.isdisjoint(model1)
    assert {"exercise", "age_years", "weight", "province", "health_record"} <= set(MODEL2)


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda d: d.drop(columns="hukou"), "column 'hukou': column is missing"),
        (lambda d: d.rename(columns={"hukou": "hukuo"}), "found 'hukuo', a misspelling?"),
        (
            lambda d: d.assign(hukou=d["hukou"].replace("urban", "city")),
            "values ['city'] not allowed",
        ),
        (
            lambda d: d.assign(health_record=d["health_record"].replace(1, 2)),
            "values ['2'] out of range",
        ),
        (lambda d: d.assign(exercise=None), "column 'exercise': all 3158 values are missing"),
        (
            lambda d: d.assign(weight=d["weight"].where(d.index != 3, -1.0)),
            "values ['-1'] out of range",
        ),
        (
            lambda d: d.assign(weight=d["weight"].where(d.index != 3, float("inf"))),
            "expected finite weights > 0",
        ),
        (
            lambda d: d.assign(age_years=d["age_years"].where(d.index != 5, 200)),
            "values ['200'] out of range (rows 7)",
        ),
        (
            lambda d: d.assign(province=d["province"].replace("Beijing", "Peking")),
            "unknown provinces ['Peking']",
        ),
        (lambda d: d.assign(respondent_id=1), "repeats ids 1"),
        (
            lambda d: d.assign(
                age_years=d["age_years"].astype(object).where(d.index != 0, "sixty")
            ),
            "non-numeric values ['sixty']",
        ),
        (
            lambda d: d.assign(occupation=d["occupation"].where(d.index != 4, None)),
            "column 'occupation': 1 missing values (rows 6)",
        ),
        (
            lambda d: d.assign(years_in_inflow_area=d["age_years"] + 1),
            "longer than the respondent's age",
        ),
    ],
)
def test_each_violation_is_named(coded, mutate, fragment):
    found = "\n".join(map(str, validate_coded_table(mutate(coded), MODEL2)))
    assert fragment in found, found


def test_every_violation_is_reported_not_just_the_first(coded):
    broken = coded.drop(columns="exercise").assign(
        hukou=coded["hukou"].replace("urban", "city"),
        weight=-coded["weight"],
        province=coded["province"].replace("Beijing", "Atlantis"),
    )
    columns = {v.column for v in validate_coded_table(broken, MODEL2)}
    assert columns == {"exercise", "hukou", "weight", "province"}


def test_province_codes_and_chinese_names_accepted(coded, tmp_path):
    codes = {"Beijing": 11, "Guangdong": "广东省", "Xinjiang Corps": 66}
    coded["province"] = coded["province"].map(lambda p: codes.get(p, p))
    path = tmp_path / "coded.csv"
    coded.to_csv(path, index=False)
    out = tmp_path / "out"
    assert data_main(["--input", str(path), "--out", str(out)]) == 0
    table = pd.read_parquet(out / "analysis_data.parquet")
    assert {"Beijing", "Guangdong", "Xinjiang Corps"} <= set(table["province"].astype(str))
    assert len(table["province"].cat.categories) == 32


def test_cli_rejects_and_writes_nothing(coded, tmp_path, capsys):
    results = tmp_path / "results" / "data"
    results.mkdir(parents=True)
    (results / "analysis_data.parquet").write_bytes(b"previous")
    path = tmp_path / "coded.csv"
    coded.assign(health_record=coded["health_record"].replace(1, 2)).to_csv(path, index=False)
    assert data_main(["--input", str(path), "--out", str(results)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "column 'health_record'" in err and "expected 0 or 1" in err
    assert [p.name for p in results.iterdir()] == ["analysis_data.parquet"]
    assert (results / "analysis_data.parquet").read_bytes() == b"previous"


def test_parquet_input(coded, tmp_path):
    path = tmp_path / "coded.parquet"
    coded.to_parquet(path)
    assert data_main(["--input", str(path), "--out", str(tmp_path / "out")]) == 0
