"""Variables are declared, not coded (issue 12): declarations, dictionaries, the 2017 codebook."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from cmds_common.declarations import (
    DeclarationError,
    dump_declarations,
    load_declarations,
    parse_declarations,
    type_table,
)
from cmds_common.provinces import to_province_names
from data_prep.build_cli import main as data_main
from data_prep.codebook import CodebookError, load_codebook
from data_prep.ingest import ingest_survey
from data_prep.readers import read_table
from data_prep.synthetic import generate_synthetic
from data_prep.variables import shipped_declarations

GOOD = """\
variables:
  prov: {type: group, levels: provinces, label: Province}
  health_record: {type: binary, levels: [no, yes]}
  score: {type: ordinal, levels: [low, mid, high], reference: high}
"""

BAD = {
    "unknown type": (GOOD + "  age: {type: number}\n", 5, "unknown type 'number'"),
    "reference not a level": (
        GOOD + "  sex:\n    type: categorical\n    levels: [male, female]\n    reference: man\n",
        8,
        "reference level 'man' is not among the levels",
    ),
    "missing raw item": (
        GOOD + "  sex: {type: categorical, levels: [m, f], source: {item: q_sex}}\n",
        5,
        "comes from item 'q_sex', which is not under 'items:'",
    ),
    "unknown variable": (
        GOOD + "  friends: {type: categorical, levels: [lt3, ge3], "
        "source: {threshold: friend_count, at: 3}}\n",
        5,
        "derived from 'friend_count', which is neither an item nor a declared variable",
    ),
    "duplicate name": (GOOD + "  score: {type: continuous}\n", 5, "'score' is declared twice"),
}


def snapshot(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_declarations_name_file_and_line(case, tmp_path, capsys):
    text, line, fragment = BAD[case]
    path = tmp_path / "dict.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DeclarationError) as caught:
        load_declarations(path)
    message = str(caught.value)
    assert f"{path} line {line}" in message and fragment in message
    # the command line: exit 2, results untouched
    results = tmp_path / "results"
    results.mkdir()
    (results / "keep.txt").write_text("before")
    before = snapshot(results)
    coded = tmp_path / "coded.csv"
    generate_synthetic(n=100)[0].to_csv(coded, index=False)
    code = data_main(["--input", str(coded), "--dictionary", str(path), "--out", str(results)])
    assert code == 2
    assert f"{path} line {line}" in capsys.readouterr().err
    assert snapshot(results) == before


def test_bad_declaration_in_a_codebook_names_its_line(tmp_path):
    text = resources.files("data_prep").joinpath("codebooks", "cmds2015.yaml").read_text("utf-8")
    lines = text.splitlines()
    k = next(i for i, line in enumerate(lines) if line.strip() == "type: binary")
    lines[k] = lines[k].replace("binary", "binomial")
    path = tmp_path / "cb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CodebookError, match=rf"cb.yaml line {k + 1}: health_record: unknown type"):
        load_codebook(path)


def test_shipped_declarations_round_trip():
    declared = shipped_declarations()
    items = set(load_codebook().items)
    again = parse_declarations(dump_declarations(declared, wave=2015), "dumped.yaml", items)
    assert [d.to_dict() for d in again.values()] == [d.to_dict() for d in declared.values()]


def test_type_table_types_each_kind():
    declared = parse_declarations(GOOD + "  n_kids: {type: count}\n", "d.yaml")
    table = pd.DataFrame(
        {
            "prov": ["广西壮族自治区", "XPCC", "44"],
            "health_record": ["yes", "no", "yes"],
            "score": ["low", "high", "mid"],
            "n_kids": [0, 2, 1],
            "undeclared": [1, 2, 3],
        }
    )
    typed = type_table(table, declared)
    assert list(typed.columns) == ["prov", "health_record", "score", "n_kids"]
    assert typed["prov"].tolist() == ["Guangxi", "Xinjiang Corps", "Guangdong"]
    assert typed["health_record"].tolist() == [1, 0, 1]
    assert typed["score"].cat.ordered and list(typed["score"].cat.categories) == [
        "low",
        "mid",
        "high",
    ]
    assert typed["n_kids"].dtype == "int64"


def test_province_aliases():
    names = to_province_names(
        pd.Series(["XPCC", "Bingtuan", "兵团", "广西壮族自治区", "宁夏回族自治区"])
    )
    assert names.tolist() == ["Xinjiang Corps"] * 3 + ["Guangxi", "Ningxia"]


def test_describe_writes_a_dictionary_that_loads_back(tmp_path, capsys):
    coded = generate_synthetic(n=120)[0].assign(
        clinic_visits=range(120), district=["east", "west", "north"] * 40
    )
    path = tmp_path / "mine.csv"
    coded.to_csv(path, index=False)
    assert data_main(["describe", str(path)]) == 0
    out = capsys.readouterr().out
    assert "column 'district' read as categorical with reference level 'east'" in out
    declared = load_declarations(tmp_path / "mine_dictionary.yaml")
    assert declared["district"].levels == ("east", "north", "west")
    assert declared["clinic_visits"].type == "continuous"
    assert declared["province"].is_province


def test_coded_table_with_extra_columns_and_dictionary(tmp_path):
    coded = generate_synthetic(n=200)[0].assign(
        district=["east", "west"] * 100, visits=[0, 1, 2, 3] * 50
    )
    coded["province"] = coded["province"].replace({"Guangxi": "广西壮族自治区"})
    path = tmp_path / "mine.csv"
    coded.to_csv(path, index=False)
    assert data_main(["describe", str(path)]) == 0
    dictionary = tmp_path / "mine_dictionary.yaml"
    text = dictionary.read_text(encoding="utf-8").replace(
        "  visits:\n    type: continuous", "  visits:\n    type: count"
    )
    text += "    reference: west\n" if text.rstrip().endswith("- west") else ""
    dictionary.write_text(text, encoding="utf-8")
    out = tmp_path / "results"
    code = data_main(
        ["--input", str(path), "--dictionary", str(dictionary), "--out", str(out),
         "--spec", "model1"]
    )  # fmt: skip
    assert code == 0
    table = pd.read_parquet(out / "analysis_data.parquet")
    assert {"district", "visits"} <= set(table.columns)
    assert str(table["visits"].dtype) == "int64"
    assert isinstance(table["district"].dtype, pd.CategoricalDtype)
    dictionary_csv = pd.read_csv(out / "data_dictionary.csv")
    assert {"district", "visits"} <= set(dictionary_csv["variable"])


def test_cmds2017_codebook_loads_and_names_fill_in_items(tmp_path):
    codebook = load_codebook(Path("data_prep/codebooks/cmds2017.yaml"))
    assert codebook.wave == 2017 and codebook.survey_month == 5
    srh = codebook.declarations["self_rated_health"]
    assert srh.type == "ordinal" and srh.reference == "healthy"
    assert srh.levels[0] == "cannot_care_for_self"
    assert codebook.declarations["insurance_location"].levels[1:] == (
        "inflow_city",
        "hometown",
        "both",
    )
    path = tmp_path / "survey2017.csv"
    pd.DataFrame({"q101b1": [1, 2], "q101c1y": [1950, 1955], "q101c1m": [3, 4]}).to_csv(
        path, index=False
    )
    with pytest.raises(CodebookError) as caught:
        ingest_survey(read_table(path), codebook, ["family_doctor", "belonging"])
    message = str(caught.value)
    for item in ("family_doctor", "identity_like_city", "province", "health_record"):
        assert f"- {item} (" in message
    assert "cmds2017.yaml line " in message


def test_flow_is_read_from_the_codebook(tmp_path):
    text = resources.files("data_prep").joinpath("codebooks", "cmds2015.yaml").read_text("utf-8")
    text = text.replace("drop: age_years < 60", "drop: age_yeras < 60")
    path = tmp_path / "cb.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CodebookError, match=r"cb.yaml line \d+: the condition"):
        load_codebook(path)
