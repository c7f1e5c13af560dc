"""Field cases (issue 10, data path): each kind of real-data problem, made inside the tests.

Raw files are built from the example survey (``data_prep.raw_example``) and written with
pyreadstat; coded tables from the synthetic sample. Nothing outside ``tests/`` is read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from cmds_common.spec import SpecError, load_spec, spec_from_dict
from cmds_common.yaml_text import as_bool, load_yaml
from data_prep.build_cli import main as data_main
from data_prep.codebook import parse_codebook
from data_prep.design_check import design_findings
from data_prep.quantile_groups import quantile_groups
from data_prep.raw_example import VALUE_LABELS, example_codebook_text, example_raw_survey
from data_prep.readers import InputFileError, read_table
from data_prep.synthetic import generate_synthetic, load_params
from models.fit_cli import check_designs

LABELS = {k: {float(c): v for c, v in m.items()} for k, m in VALUE_LABELS.items()}
BASE_SPEC = {
    "name": "ties",
    "formula": "health_record ~ local_friends + local_medical_insurance + (1 | province)",
}


@pytest.fixture(scope="module")
def example() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The example raw survey rows and the coded sample they reproduce."""
    return example_raw_survey()


@pytest.fixture(scope="module")
def codebook(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("codebook") / "codebook.yaml"
    path.write_text(example_codebook_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def coded() -> pd.DataFrame:
    return generate_synthetic()[0]


def write_sav(raw: pd.DataFrame, path: Path, **options) -> Path:
    pyreadstat.write_sav(raw, str(path), variable_value_labels=LABELS, **options)
    return path


def run(path: Path, out: Path, codebook: Path | None = None, *specs: str) -> int:
    args = ["--input", str(path), "--out", str(out)]
    args += ["--codebook", str(codebook)] if codebook else []
    for spec in specs:
        args += ["--spec", spec]
    return data_main(args)


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- case 1: text not in the declared encoding, every reader --------------------------------------


def test_sav_labels_in_gbk_declared_utf8_name_the_fix(tmp_path):
    path = tmp_path / "gbk_labels.sav"
    frame = pd.DataFrame({"q100_prov": [44.0, 11.0]})
    pyreadstat.write_sav(frame, str(path), variable_value_labels={"q100_prov": {44.0: "Zq01"}})
    # same byte length, so the file stays well formed: GBK bytes under a UTF-8 header
    path.write_bytes(path.read_bytes().replace(b"Zq01", "广东".encode("gbk")))
    with pytest.raises(InputFileError) as caught:
        read_table(path)
    message = str(caught.value)
    assert str(path) in message and "is not in the encoding its header declares" in message
    assert "ENCODING=gb18030" in message and "is the extension right" not in message
    assert read_table(path, encoding="gb18030").value_labels["q100_prov"][44.0] == "广东"


def test_dta_read_with_a_wrong_encoding_names_the_fix(tmp_path):
    path = tmp_path / "labels.dta"
    frame = pd.DataFrame({"q100_prov": [44.0, 11.0]})
    pyreadstat.write_dta(frame, str(path), variable_value_labels={"q100_prov": {44.0: "广东"}})
    with pytest.raises(InputFileError) as caught:
        read_table(path, encoding="ascii")
    assert "is not in ascii" in str(caught.value) and "ENCODING=utf-8" in str(caught.value)


@pytest.mark.parametrize("encoding", ["gb18030", "big5"])
def test_csv_in_another_encoding_names_the_fix(tmp_path, encoding):
    path = tmp_path / "coded.csv"
    path.write_bytes("province,health_record\n廣東,1\n".encode(encoding))
    with pytest.raises(InputFileError) as caught:
        read_table(path)
    assert "is not in UTF-8" in str(caught.value) and "ENCODING=" in str(caught.value)


def test_unknown_encoding_and_bom_csv(tmp_path):
    path = tmp_path / "coded.csv"
    path.write_bytes("province,health_record\n广东,1\n".encode("utf-8-sig"))
    assert list(read_table(path).data.columns) == ["province", "health_record"]
    path.write_bytes("province,health_record\n广东,1\n".encode("utf-16"))
    assert read_table(path).data.iloc[0, 0] == "广东"
    with pytest.raises(InputFileError, match="not a text encoding Python knows"):
        read_table(path, encoding="gbk-typo")


# --- case 2: the file's own missing declarations -------------------------------------------------


def test_codebook_not_file_decides_what_a_declared_missing_code_means(
    example, codebook, tmp_path, capsys
):
    raw = example[0].copy()
    incomes = raw.index[raw["q104_income"].notna()][:25]
    raw.loc[incomes, "q104_income"] = 99999  # declared missing, not in the codebook
    declared = {"q404_record": [4], "q405_exercise": [999], "q104_income": [99999]}
    path = write_sav(raw, tmp_path / "user_missing.sav", missing_ranges=declared)
    out = tmp_path / "data"
    assert run(path, out, codebook) == 0
    flow = pd.read_csv(out / "inclusion_flow.csv").set_index("step")["n"]
    # the same answers with the undeclared 99999 as a blank: the flow must be the same
    plain = write_sav(raw.replace({"q104_income": {99999: np.nan}}), tmp_path / "plain.sav")
    assert run(plain, tmp_path / "plain", codebook) == 0
    plain_flow = pd.read_csv(tmp_path / "plain" / "inclusion_flow.csv").set_index("step")["n"]
    not_clear = "excluded: health-record answer 'not clear'"
    assert flow.to_dict() == plain_flow.to_dict()  # 4 = not clear, per the codebook
    assert flow[not_clear] > 500
    warnings = pd.read_csv(out / "data_warnings.csv")
    found = warnings[warnings["kind"] == "declared_missing"]
    total = int((raw["q404_record"] == 4).sum() + (raw["q405_exercise"] == 999).sum() + 25)
    assert found["n"].tolist() == [total]
    assert f"declares {total} values missing" in found["message"].iloc[0]
    assert "4 -> not_clear" in found["message"].iloc[0]
    capsys.readouterr()


# --- case 3 and 6: one rule for weights and provinces, both paths --------------------------------


def test_zero_weights_dropped_with_a_count_on_the_raw_path(example, codebook, tmp_path, capsys):
    raw = example[0].copy()
    raw.loc[raw.index % 8 == 0, "pweight"] = 0.0
    out = tmp_path / "data"
    assert run(write_sav(raw, tmp_path / "weight_zero.sav"), out, codebook) == 0
    assert "with weight 0 were dropped" in capsys.readouterr().out
    flow = pd.read_csv(out / "inclusion_flow.csv")
    step = flow[flow["step"].str.startswith("excluded: weight 0")]
    assert len(step) == 1 and step["n"].iloc[0] > 0
    assert flow["step"].iloc[-1] == "analysed"
    assert flow["n"].iloc[-1] == 3158 - step["n"].iloc[0]  # 3158 analysed without weight 0
    table = pd.read_parquet(out / "analysis_data.parquet")
    assert (table["weight"] > 0).all() and len(table) == flow["n"].iloc[-1]


def test_zero_weights_same_rule_on_the_coded_path(coded, tmp_path, capsys):
    data = coded.copy()
    data.loc[:149, "weight"] = 0.0
    path = tmp_path / "weight_zero.csv"
    data.to_csv(path, index=False)
    out = tmp_path / "data"
    assert run(path, out) == 0
    assert "150 respondents with weight 0 were dropped" in capsys.readouterr().out
    assert len(pd.read_parquet(out / "analysis_data.parquet")) == len(coded) - 150
    assert pd.read_csv(out / "inclusion_flow.csv")["n"].tolist() == [3158, 150, 3008]


@pytest.mark.parametrize("record", [1, 3])  # 1: never heard (no record), 3: established
def test_province_with_one_outcome_warns_on_the_raw_path(
    example, codebook, tmp_path, capsys, record
):
    raw = example[0].copy()
    raw.loc[raw["q100_prov"] == 63, "q404_record"] = record  # Qinghai
    out = tmp_path / "data"
    assert run(write_sav(raw, tmp_path / "province.sav"), out, codebook) == 0
    words = "every respondent has" if record == 3 else "no respondent has"
    assert f"{words} a health record in provinces ['Qinghai']" in capsys.readouterr().out
    assert "province_outcome" in set(pd.read_csv(out / "data_warnings.csv")["kind"])


def test_one_respondent_province_warns_on_both_paths(example, codebook, coded, tmp_path, capsys):
    raw = example[0].copy()
    raw = raw.drop(raw.index[raw["q100_prov"] == 54][1:])  # Tibet keeps one row
    assert run(write_sav(raw, tmp_path / "tibet.sav"), tmp_path / "raw", codebook) == 0
    data = coded.drop(coded.index[coded["province"] == "Tibet"][1:])
    data.to_csv(tmp_path / "tibet.csv", index=False)
    assert run(tmp_path / "tibet.csv", tmp_path / "coded") == 0
    printed = capsys.readouterr().out
    assert printed.count("Tibet (1)") == 2


# --- case 7: empty levels refused before results/ changes ---------------------------------------


@pytest.fixture
def previous_results(tmp_path) -> Path:
    results = tmp_path / "results"
    assert data_main(["--out", str(results / "data")]) == 0
    (results / "fits").mkdir()
    (results / "fits" / "model1.nc").write_bytes(b"an old fit")
    (results / "fits" / "model1_frequentist.csv").write_text("term,or\n")
    return results


@pytest.mark.parametrize(
    "change, fragment",
    [
        (
            lambda d: d.assign(income_quartile=d["income_quartile"].replace("Q3", "Q2")),
            "model 'model1', term 'income_quartile': level(s) ['Q3'] have no respondents",
        ),
        (
            lambda d: d.assign(occupation="unemployed"),
            "model 'model2', term 'occupation': level(s) ['employed'] have no respondents",
        ),
    ],
)
def test_empty_level_refused_and_results_byte_identical(
    coded, previous_results, tmp_path, capsys, change, fragment
):
    before = snapshot(previous_results)
    path = tmp_path / "empty_level.csv"
    change(coded.copy()).to_csv(path, index=False)
    assert run(path, previous_results / "data", None, "model1", "model2") == 2
    message = capsys.readouterr().err
    assert fragment in message and str(path) in message and "Traceback" not in message
    assert snapshot(previous_results) == before


def test_empty_level_refused_on_the_raw_path(example, codebook, previous_results, tmp_path, capsys):
    raw = example[0].copy()
    raw["q201_work"] = np.where(raw["q201_work"].notna(), 2.0, np.nan)  # all unemployed
    before = snapshot(previous_results)
    path = write_sav(raw, tmp_path / "unemployed.sav")
    assert run(path, previous_results / "data", codebook) == 2
    assert "term 'occupation': level(s) ['employed']" in capsys.readouterr().err
    assert snapshot(previous_results) == before


def test_fit_command_checks_designs_before_fitting(coded, tmp_path):
    from data_prep.analysis_dataset import to_analysis_table

    path = tmp_path / "analysis_data.parquet"
    table = to_analysis_table(
        coded.assign(income_quartile=coded["income_quartile"].replace("Q3", "Q4"))
    )
    table.to_parquet(path)
    with pytest.raises(SpecError, match="level\\(s\\) \\['Q3'\\] have no respondents"):
        check_designs([load_spec("model1")], path)


def test_design_rank_and_single_group(coded):
    from data_prep.analysis_dataset import to_analysis_table

    table = to_analysis_table(coded.assign(years_in_inflow_area=coded["age_years"] - 50))
    spec = spec_from_dict(
        {
            "name": "collinear",
            "formula": "health_record ~ age_years + years_in_inflow_area + (1 | province)",
        }
    )
    found = design_findings(table, spec)
    assert any("['years_in_inflow_area'] are constant or a linear combination" in str(f)
               for f in found)  # fmt: skip
    one = to_analysis_table(coded.assign(province="Beijing"))
    spec = spec_from_dict(
        {"name": "collinear", "formula": "health_record ~ age_years + (1 | province)"}
    )
    assert "needs at least 2 province values" in str(design_findings(one, spec)[0])
    assert design_findings(to_analysis_table(coded), load_spec("model2")) == []


# --- case 8: quantile groups with ties -----------------------------------------------------------


def test_heaped_incomes_give_four_non_empty_quartiles(example, codebook, tmp_path, capsys):
    raw = example[0].copy()
    heaped = raw.index[raw["q104_income"].notna() & (np.arange(len(raw)) % 10 < 6)]
    raw.loc[heaped, "q104_income"] = 3000.0
    out = tmp_path / "data"
    assert run(write_sav(raw, tmp_path / "heaping.sav"), out, codebook) == 0
    table = pd.read_parquet(out / "analysis_data.parquet")
    assert (table["income_quartile"].value_counts() > 0).all()
    warnings = pd.read_csv(out / "data_warnings.csv")
    message = warnings.loc[warnings["kind"] == "quantile_groups", "message"].iloc[0]
    assert "give the same value 3000" in message and "far from equal shares" in message
    capsys.readouterr()


def test_quantile_groups_keep_usual_cuts_without_heavy_ties():
    values = pd.Series(np.random.default_rng(1).normal(5000, 900, 1000).round())
    split = quantile_groups(values, ["Q1", "Q2", "Q3", "Q4"], "income")
    assert split.message == "" and split.groups.value_counts().tolist() == [250] * 4
    few = quantile_groups(pd.Series([1.0, 2.0, 2.0, 2.0, 3.0]), ["Q1", "Q2", "Q3", "Q4"], "x")
    assert "only 3 distinct values" in few.message


# --- case 11: YAML 1.1 booleans stay words ------------------------------------------------------


def test_yaml_words_stay_words(tmp_path):
    assert load_yaml("a: yes\nb: no\nc: on\nd: off\ne: true\n") == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": "off",
        "e": True,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(
        "name: ref_yes\nformula: health_record ~ local_medical_insurance + (1 | province)\n"
        "reference_levels: {local_medical_insurance: yes}\nlabel: no\nweights: weight\n"
        "weighted_likelihood: yes\n"
    )
    spec = load_spec(path)
    assert spec.reference_levels == {"local_medical_insurance": "yes"} and spec.label == "no"
    assert spec.weighted_likelihood is True
    assert as_bool("off", "k", "s") is False
    with pytest.raises(ValueError, match="k must be true or false"):
        as_bool("maybe", "k", "s")
    book = parse_codebook(
        "survey_month: 2015-05\nitems:\n  local_medical_insurance:\n    raw: q\n"
        "    codes: {1: yes, 2: no, on: yes}\n",
        "cb.yaml",
    )
    assert book.items["local_medical_insurance"].codes == {1.0: "yes", 2.0: "no", "on": "yes"}
    assert load_params().coefficients  # synthetic parameters read through the same loader


# --- case 12: sampler keys ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, value, allowed",
    [
        ("tune", -1, "whole number from 0"),
        ("draws", 0, "whole number from 1"),
        ("draws", "2000", "whole number from 1"),
        ("draws", 10.5, "whole number from 1"),
        ("chains", True, "whole number from 1 to 64"),
        ("chains", 1000, "whole number from 1 to 64"),
        ("target_accept", 1.0, "number from 0.5 up to (not including) 1"),
        ("target_accept", "high", "number from 0.5 up to"),
    ],
)
def test_sampler_keys_name_key_and_range(key, value, allowed):
    with pytest.raises(SpecError) as caught:
        spec_from_dict({**BASE_SPEC, "sampler": {key: value}}, "mine.yaml")
    assert f"sampler key {key!r} must be a {allowed}" in str(caught.value)
    assert "mine.yaml" in str(caught.value)


def test_good_sampler_settings_and_unknown_key():
    spec = spec_from_dict({**BASE_SPEC, "sampler": {"draws": 2000, "target_accept": 0.95}})
    assert spec.sampler == {"draws": 2000, "target_accept": 0.95}
    with pytest.raises(SpecError, match="unknown sampler setting 'thin'"):
        spec_from_dict({**BASE_SPEC, "sampler": {"thin": 2}})
    with pytest.raises(SpecError, match="bad priors"):
        spec_from_dict({**BASE_SPEC, "priors": {"coefficient_sd": "wide"}})


# --- case 14: duplicate rows and respondent ids -------------------------------------------------


def test_exact_duplicate_rows_warned_with_rows(coded, tmp_path, capsys):
    data = pd.concat(
        [coded.drop(columns="respondent_id"), coded.drop(columns="respondent_id")[:40]]
    )
    path = tmp_path / "duplicated.csv"
    data.to_csv(path, index=False)
    out = tmp_path / "data"
    assert run(path, out) == 0
    printed = capsys.readouterr().out
    assert "40 rows are exact copies of an earlier row (e.g. lines 2 = 3160" in printed
    assert "rows 3160, 3161" in printed
    assert "duplicate_rows" in set(pd.read_csv(out / "data_warnings.csv")["kind"])


def test_codebook_respondent_id_checked_for_uniqueness(example, codebook, tmp_path, capsys):
    raw = example[0].copy()
    raw["caseid"] = np.arange(1, len(raw) + 1, dtype=float)
    text = codebook.read_text(encoding="utf-8") + "  respondent_id:\n    raw: caseid\n"
    with_id = tmp_path / "codebook_id.yaml"
    with_id.write_text(text, encoding="utf-8")
    out = tmp_path / "data"
    assert run(write_sav(raw, tmp_path / "ids.sav"), out, with_id) == 0
    table = pd.read_parquet(out / "analysis_data.parquet")
    assert table["respondent_id"].is_unique and table["respondent_id"].max() <= len(raw)
    raw.loc[5, "caseid"] = 1.0
    assert run(write_sav(raw, tmp_path / "dup_ids.sav"), tmp_path / "no", with_id) == 2
    message = capsys.readouterr().err
    assert "column 'caseid' (respondent id) repeats ids 1" in message and "rows 2, 7" in message
