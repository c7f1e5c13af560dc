"""Raw survey files through the default codebook: inclusion flow, recodes and bad input."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from data_prep.analysis_dataset import to_analysis_table
from data_prep.build_cli import main as data_main
from data_prep.codebook import CodebookError, load_codebook, parse_codebook
from data_prep.ingest import IngestError, ingest_survey
from data_prep.raw_example import VALUE_LABELS, example_raw_survey
from data_prep.readers import InputFileError, read_table

MODEL2_COLUMNS = [
    "province", "health_record", "income_quartile", "occupation", "local_medical_insurance",
    "settlement_intention", "local_friends", "hukou", "age_years", "movement",
    "years_in_inflow_area", "exercise", "weight",
]  # fmt: skip

# The test's own answers to the codebook's FILL_IN items (names of the raw file written below).
FILLED_IN = {
    "province": "q100_prov",
    "health_record": "q404_record",
    "household_monthly_income": "q104_income",
    "employment": "q201_work",
    "local_medical_insurance": "q501_insur",
    "planned_stay": "q306_stay",
    "local_friends_count": "q403_friends",
    "daily_exercise_minutes": "q405_exercise",
    "chronic_disease": "q406_chronic",
    "self_rated_health": "q407_health",
    "weight": "pweight",
}


def shipped_codebook_text() -> str:
    return resources.files("data_prep").joinpath("codebooks", "cmds2015.yaml").read_text("utf-8")


def filled_codebook_text() -> str:
    """Fill the FILL_IN lines of the shipped codebook, item by item, as a user would."""
    lines, current = [], None
    for line in shipped_codebook_text().splitlines():
        header = re.match(r"^  (\w+):\s*(#.*)?$", line)
        if header:
            current = header.group(1)
        if "raw: FILL_IN" in line:
            line = line.replace("FILL_IN", FILLED_IN[current])
            if current == "daily_exercise_minutes":
                line += "\n    missing: [999]"
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def raw_and_coded():
    return example_raw_survey()


@pytest.fixture(scope="module")
def codebook():
    return parse_codebook(filled_codebook_text(), "test-codebook.yaml")


def _labels():
    return {k: {float(c): v for c, v in m.items()} for k, m in VALUE_LABELS.items()}


@pytest.fixture(scope="module", params=["sav", "dta"])
def survey_file(request, tmp_path_factory, raw_and_coded):
    raw, _ = raw_and_coded
    path = tmp_path_factory.mktemp("raw") / f"cmds2015.{request.param}"
    if request.param == "sav":
        pyreadstat.write_sav(
            raw, path, variable_value_labels=_labels(), missing_ranges={"q405_exercise": [999]}
        )
    else:
        pyreadstat.write_dta(raw, path, variable_value_labels=_labels())
    return path


def test_flow_counts_are_exact(survey_file, codebook):
    result = ingest_survey(read_table(survey_file), codebook, MODEL2_COLUMNS)
    assert result.flow["n"].tolist() == [4398, 250, 120, 4028, 281, 589, 3158]
    published = result.flow["published_n"].dropna().astype(int).tolist()
    assert published == [4028, 281, 589, 3158]
    assert len(result.table) == 3158


def test_recodes_reproduce_the_coded_respondents(survey_file, codebook, raw_and_coded):
    _, coded = raw_and_coded
    table = ingest_survey(read_table(survey_file), codebook, MODEL2_COLUMNS).table
    expected = to_analysis_table(coded)
    for column in [c for c in expected.columns if c != "respondent_id"]:
        if expected[column].dtype.kind == "f":
            np.testing.assert_allclose(table[column], expected[column], err_msg=column)
        else:
            assert (table[column].astype(str) == expected[column].astype(str)).all(), column


def test_value_labels_are_read(survey_file):
    raw = read_table(survey_file)
    assert raw.value_labels["q404_record"][4.0] == "不清楚"
    assert raw.value_labels["q100_prov"][44.0] == "广东"


def _hand_rows() -> pd.DataFrame:
    """Boundary cases, one per row; every column as the raw file stores it."""
    base = {
        "q100_prov": 44, "q101b1": 1, "q101c1y": 1950, "q101c1m": 5, "q101e1": 3, "q101f1": 1,
        "q101g1": 2, "q101j1": 1, "q101k1y": 2010, "q101k1m": 5, "q404_record": 3,
        "q104_income": 3000, "q201_work": 2, "q501_insur": 2, "q306_stay": 1, "q403_friends": 5,
        "q405_exercise": 30, "q406_chronic": 2, "q407_health": 1, "pweight": 1.0,
    }  # fmt: skip
    changes = [
        {},  # born May 1950: 65 in May 2015
        {"q101c1y": 1955, "q101c1m": 6},  # born June 1955: still 59 -> excluded
        {"q101c1y": 1955, "q101c1m": 5},  # born May 1955: 60 -> kept
        {"q101k1y": 2014, "q101k1m": 11},  # 6 months exactly -> kept
        {"q101k1y": 2014, "q101k1m": 12},  # 5 months -> excluded
        {"q404_record": 1, "q403_friends": 3, "q405_exercise": 60},  # never heard -> 0
        {"q404_record": 2, "q403_friends": 2, "q405_exercise": 59},  # heard, not set up -> 0
        {"q404_record": 4},  # not clear -> excluded
        {"q306_stay": 3, "q100_prov": "广东省", "q101f1": 5, "q101j1": 3},  # undecided
        {"q104_income": 1000},
        {"q104_income": 8000},
        {"q104_income": 3000, "q101e1": 7, "q101g1": 5},
    ]
    return pd.DataFrame([{**base, **c} for c in changes])


def test_hand_made_rows_recode_exactly(codebook, tmp_path):
    path = tmp_path / "hand.csv"
    _hand_rows().to_csv(path, index=False)
    result = ingest_survey(read_table(path), codebook, MODEL2_COLUMNS)
    assert result.flow["n"].tolist() == [12, 1, 0, 11, 1, 1, 9]
    table = result.table.set_index("respondent_id")
    assert sorted(table.index) == [1, 3, 4, 6, 7, 9, 10, 11, 12]
    assert table.loc[1, "age_years"] == 65 and table.loc[3, "age_years"] == 60
    assert table.loc[4, "years_in_inflow_area"] == pytest.approx(0.5)
    assert table.loc[1, "health_record"] == 1
    assert table.loc[6, "health_record"] == 0 and table.loc[7, "health_record"] == 0
    assert table.loc[6, "local_friends"] == "ge3" and table.loc[7, "local_friends"] == "lt3"
    assert table.loc[6, "exercise"] == "ge60min" and table.loc[7, "exercise"] == "lt60min"
    assert table.loc[9, "settlement_intention"] == "no_or_undecided"
    assert table.loc[1, "settlement_intention"] == "yes"
    assert table.loc[9, "province"] == "Guangdong" and table.loc[9, "hukou"] == "urban"
    assert table.loc[9, "movement"] == "intraprovincial"
    assert table.loc[12, "education"] == "senior_or_above" and table.loc[12, "marital"] == "single"
    # incomes 1000 < 3000 (x6, tied) < 8000: quartile cuts fall on 3000, so ties share Q1
    assert table.loc[10, "income_quartile"] == "Q1"
    assert table.loc[11, "income_quartile"] == "Q4"
    assert set(table.loc[[1, 3, 4, 6, 7, 9, 12], "income_quartile"]) == {"Q1"}


def test_unfilled_items_stop_with_the_line_to_edit(tmp_path):
    lines = shipped_codebook_text().splitlines()
    province_line = 1 + next(
        i for i, line in enumerate(lines) if "raw: FILL_IN" in line and "province" in lines[i - 1]
    )
    path = tmp_path / "hand.csv"
    _hand_rows().to_csv(path, index=False)
    with pytest.raises(CodebookError) as caught:
        ingest_survey(read_table(path), load_codebook(), MODEL2_COLUMNS)
    message = str(caught.value)
    assert (
        "province (Inflow province (code or name)), needed for province: set 'raw:' at " in message
    )
    assert f"cmds2015.yaml line {province_line}" in message
    for item in ("health_record", "household_monthly_income", "daily_exercise_minutes", "weight"):
        assert f"- {item} " in message


def test_model1_does_not_need_model2_items(codebook, tmp_path):
    text = filled_codebook_text().replace("raw: q405_exercise", "raw: FILL_IN")
    path = tmp_path / "hand.csv"
    _hand_rows().to_csv(path, index=False)
    model1 = [c for c in MODEL2_COLUMNS if c not in ("hukou", "movement", "exercise")]
    model1 = [c for c in model1 if c not in ("age_years", "years_in_inflow_area")]
    result = ingest_survey(read_table(path), parse_codebook(text, "cb.yaml"), model1)
    assert "exercise" not in result.table.columns
    with pytest.raises(CodebookError, match="daily_exercise_minutes"):
        ingest_survey(read_table(path), parse_codebook(text, "cb.yaml"), MODEL2_COLUMNS)


@pytest.mark.parametrize(
    "change, fragments",
    [
        ({"drop": "q101b1"}, ["'q101b1' for sex", "not in the file"]),
        ({"rename": ("q501_insur", "q501_insr")}, ["'q501_insur'", "did you mean ['q501_insr']"]),
        ({"set": ("q101b1", 7)}, ["q101b1 (sex", "codes ['7'", "neither under 'codes:'"]),
        ({"set": ("q101c1y", "abc")}, ["q101c1y (birth_year", "non-numeric values ['abc']"]),
        ({"set": ("q101c1m", 13)}, ["q101c1m (birth_month", "values [13] outside 1-12"]),
        ({"set": ("q100_prov", 99)}, ["q100_prov (province", "unknown province values ['99']"]),
        ({"set": ("q101k1y", 2016)}, ["q101k1y (arrival_year", "values [2016] outside"]),
        (
            {"set": [("q101k1y", 2015), ("q101k1m", 9)]},
            ["arrival after the survey month in rows 4"],
        ),
    ],
)
def test_bad_raw_values_are_named(codebook, tmp_path, change, fragments):
    rows = _hand_rows()
    if "drop" in change:
        rows = rows.drop(columns=change["drop"])
    if "rename" in change:
        rows = rows.rename(columns=dict([change["rename"]]))
    sets = change.get("set", [])
    for column, value in [sets] if isinstance(sets, tuple) else sets:
        rows[column] = rows[column].astype(object)
        rows.loc[2, column] = value
    path = tmp_path / "bad.csv"
    rows.to_csv(path, index=False)
    with pytest.raises(IngestError) as caught:
        ingest_survey(read_table(path), codebook, MODEL2_COLUMNS)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_all_problems_are_reported_together(codebook, tmp_path):
    rows = _hand_rows().astype(object)
    rows.loc[0, "q101b1"] = 7
    rows.loc[1, "q101e1"] = 9
    rows.loc[2, "q101c1m"] = 14
    path = tmp_path / "bad.csv"
    rows.to_csv(path, index=False)
    with pytest.raises(IngestError) as caught:
        ingest_survey(read_table(path), codebook, MODEL2_COLUMNS)
    assert str(caught.value).count("\n  - ") == 3


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("empty.sav", b"", "the file is empty"),
        ("text.sav", b"a,b\n1,2\n", "not a readable SPSS .sav file"),
        ("text.dta", b"a,b\n1,2\n", "not a readable Stata .dta file"),
        ("sheet.xlsx", b"PK\x03\x04", "unsupported file type '.xlsx'"),
        ("binary.csv", b"PK\x03\x04\x00\x00", "binary file"),
        ("gbk.csv", "省份,年龄\n广东,65\n".encode("gb18030"), "--encoding gb18030"),
        ("header_only.csv", b"q101b1,q101c1y\n", "has no rows"),
        ("nothing.parquet", b"not parquet", "not a readable Parquet file"),
    ],
)
def test_unreadable_files(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError) as caught:
        read_table(path)
    assert fragment in str(caught.value) and str(path) in str(caught.value)


def test_gbk_csv_reads_with_encoding(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("省份,年龄\n广东,65\n".encode("gb18030"))
    assert read_table(path, encoding="gb18030").data.iloc[0, 0] == "广东"


def test_command_line_writes_flow_and_rejects_without_writing(survey_file, tmp_path):
    codebook_path = tmp_path / "codebook.yaml"
    codebook_path.write_text(filled_codebook_text(), encoding="utf-8")
    out = tmp_path / "data"
    args = ["--input", str(survey_file), "--codebook", str(codebook_path), "--out", str(out)]
    assert data_main(args) == 0
    flow = pd.read_csv(out / "inclusion_flow.csv")
    assert flow["n"].iloc[-1] == 3158
    assert (out / "inclusion_flow.md").exists() and (out / "analysis_data.parquet").exists()

    rejected = tmp_path / "rejected"
    assert data_main(["--input", str(survey_file), "--out", str(rejected)]) == 2
    assert not rejected.exists()


@pytest.mark.parametrize("suffix", ["sav", "dta"])
def test_wide_file_read_in_chunks_with_only_the_codebook_columns(
    suffix, tmp_path, raw_and_coded, codebook, monkeypatch
):
    """40 extra columns, 9 chunks of 500 rows: the same table as one whole read, fewer columns."""
    from data_prep.ingest import raw_columns

    raw, _ = raw_and_coded
    rng = np.random.default_rng(8)
    extra = {f"zz{k:02d}": rng.integers(0, 9, len(raw)).astype(float) for k in range(38)}
    extra["zz_text"] = rng.choice(["甲", "乙", "丙"], len(raw))
    extra["zz_missing"] = np.where(rng.random(len(raw)) < 0.2, np.nan, 1.0)
    wide = pd.concat(
        [pd.DataFrame(extra).iloc[:, :20], raw, pd.DataFrame(extra).iloc[:, 20:]], axis=1
    )
    path = tmp_path / f"wide.{suffix}"
    labels = {**_labels(), "zz00": {1.0: "一"}}
    if suffix == "sav":
        pyreadstat.write_sav(
            wide,
            path,
            variable_value_labels=labels,
            missing_ranges={"q405_exercise": [999], "zz01": [{"lo": 7, "hi": 8}]},
        )
    else:
        pyreadstat.write_dta(wide, path, variable_value_labels=labels)

    whole = read_table(path, chunk_rows=10**6)
    calls = []
    reader_name = "read_sav" if suffix == "sav" else "read_dta"
    original = getattr(pyreadstat, reader_name)

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(pyreadstat, reader_name, spy)
    needed = raw_columns(codebook)
    chunked = read_table(path, columns=[*needed, "not_in_file"], chunk_rows=500)
    monkeypatch.undo()

    data_calls = [c for c in calls if not c.get("metadataonly")]
    assert len(data_calls) == 9  # 4,398 rows
    assert all(
        c["row_limit"] == 500 and c["usecols"] == chunked.data.columns.tolist() for c in data_calls
    )
    assert [c["row_offset"] for c in data_calls] == list(range(0, 4398, 500))
    assert set(chunked.data.columns) == set(needed) and len(needed) < wide.shape[1] - 30
    pd.testing.assert_frame_equal(chunked.data, whole.data[chunked.data.columns])
    assert chunked.value_labels == {k: v for k, v in whole.value_labels.items() if k in needed}
    assert chunked.declared_missing == {
        k: v for k, v in whole.declared_missing.items() if k in needed
    }
    if suffix == "sav":
        assert chunked.declared_missing["q405_exercise"] == [(999.0, 999.0)]
        assert whole.declared_missing["zz01"] == [(7.0, 8.0)]
    from_chunks = ingest_survey(chunked, codebook, MODEL2_COLUMNS)
    from_whole = ingest_survey(whole, codebook, MODEL2_COLUMNS)
    pd.testing.assert_frame_equal(from_chunks.table, from_whole.table)
    pd.testing.assert_frame_equal(from_chunks.flow, from_whole.flow)
    assert [f.message for f in from_chunks.findings] == [f.message for f in from_whole.findings]
