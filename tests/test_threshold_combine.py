"""Derived sources: a threshold with several cut points, and cells combined from categoricals.

Known truth: hand-cut ages and hand-joined labels; every bad declaration names its file, line
and what is wrong.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmds_common.declarations import (
    DeclarationError,
    dump_declarations,
    parse_declarations,
    type_table,
)
from data_prep.codebook import CodebookError, load_codebook, with_variables
from data_prep.ingest import combine_levels, threshold_levels

GOOD = """\
variables:
  sex: {type: categorical, levels: [male, female], source: {item: q_sex}}
  age_group:
    type: categorical
    levels: [young, middle, older]
    source: {threshold: age, at: [30, 45]}
  friends: {type: categorical, levels: [lt3, ge3], source: {threshold: n_friends, at: 3}}
  cell: {type: group, source: {combine: [sex, age_group]}}
"""
ITEMS = {"q_sex", "age", "n_friends"}


def test_multi_cut_threshold_and_combine_are_read_and_written_back():
    declared = parse_declarations(GOOD, "d.yaml", ITEMS)
    assert declared["age_group"].source.at == (30.0, 45.0)
    assert declared["friends"].source.at == (3.0,)
    assert declared["cell"].source.kind == "combine"
    assert declared["cell"].source.inputs == ("sex", "age_group")
    assert declared["friends"].source.to_dict() == {"threshold": "n_friends", "at": 3.0}
    assert declared["age_group"].source.to_dict() == {"threshold": "age", "at": [30.0, 45.0]}
    assert declared["cell"].source.to_dict() == {"combine": ["sex", "age_group"]}
    again = parse_declarations(dump_declarations(declared), "dumped.yaml", ITEMS)
    assert [d.to_dict() for d in again.values()] == [d.to_dict() for d in declared.values()]


def test_threshold_cuts_at_each_point():
    ages = pd.Series([14.0, 29.9, 30.0, 44.0, 45.0, 59.0, np.nan, 80.0], index=range(10, 18))
    cut = threshold_levels(ages, (30.0, 45.0), ("young", "middle", "older"))
    expected = ["young", "young", "middle", "middle", "older", "older", np.nan, "older"]
    assert cut.index.tolist() == list(range(10, 18))
    assert cut.tolist()[:6] == expected[:6] and pd.isna(cut.iloc[6]) and cut.iloc[7] == "older"
    one = threshold_levels(pd.Series([2, 3, 4]), (3.0,), ("lt3", "ge3"))
    assert one.tolist() == ["lt3", "ge3", "ge3"]
    with pytest.raises(ValueError, match=r"2 cut points need 3 levels"):
        threshold_levels(ages, (30.0, 45.0), ("young", "older"))


def test_combine_joins_levels_and_keeps_missing_missing():
    sex = pd.Series(["male", "female", np.nan, "female"], index=[5, 6, 7, 8])
    age = pd.Series(["young", "older", "young", np.nan], index=[5, 6, 7, 8])
    cells = combine_levels([sex, age])
    assert cells.index.tolist() == [5, 6, 7, 8]
    assert cells.iloc[:2].tolist() == ["male:young", "female:older"]
    assert cells.iloc[2:].isna().all()
    typed = type_table(pd.DataFrame({"cell": cells}), parse_declarations(GOOD, "d.yaml", ITEMS))
    # no levels declared: the cells present, sorted
    assert list(typed["cell"].cat.categories) == ["female:older", "male:young"]
    assert typed["cell"].isna().tolist() == [False, False, True, True]


BAD = {
    "cuts not increasing": (
        GOOD.replace("at: [30, 45]", "at: [45, 30]"),
        6,
        "age_group: the cut points 'at: [45, 30]' of a 'threshold' source must increase",
    ),
    "equal cuts": (
        GOOD.replace("at: [30, 45]", "at: [30, 30]"),
        6,
        "the cut points 'at: [30, 30]' of a 'threshold' source must increase",
    ),
    "cut not a number": (
        GOOD.replace("at: [30, 45]", "at: [30, old]"),
        6,
        "age_group: a 'threshold' source needs 'at:' a number or a list of increasing numbers",
    ),
    "no cut": (
        GOOD.replace("at: 3}", "}"),
        7,
        "friends: a 'threshold' source needs 'at:' a number or a list",
    ),
    "too few levels": (
        GOOD.replace("[young, middle, older]", "[young, older]"),
        5,
        "age_group: a threshold with 2 cut point(s) at 30, 45 makes 3 levels (below the "
        "first cut, then one from each cut on), but 2 are declared: ['young', 'older']",
    ),
    "too many levels": (
        GOOD.replace("[lt3, ge3]", "[lt3, ge3, ge10]"),
        7,
        "friends: a threshold with 1 cut point(s) at 3 makes 2 levels",
    ),
    "combine of one variable": (
        GOOD.replace("combine: [sex, age_group]", "combine: [sex]"),
        8,
        "cell: a 'combine' source needs a list of two or more categorical variables, got ['sex']",
    ),
    "combine levels of the wrong shape": (
        GOOD.replace("cell: {type: group,", "cell: {type: group, levels: [male:young, female],"),
        8,
        "cell: a 'combine' of 2 variables makes levels of 2 parts joined with ':', but "
        "['female'] are declared",
    ),
    "combine of a number": (
        GOOD + "  years: {type: continuous, source: {item: age}}\n"
        "  cell2: {type: group, source: {combine: [sex, years]}}\n",
        10,
        "cell2 combines 'years', which is continuous; only categorical",
    ),
    "combine of an unknown variable": (
        GOOD.replace("combine: [sex, age_group]", "combine: [sex, age_grp]"),
        8,
        "cell is derived from 'age_grp', which is neither an item nor a declared variable",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_threshold_or_combine_names_file_and_line(case):
    text, line, fragment = BAD[case]
    with pytest.raises(DeclarationError) as caught:
        parse_declarations(text, "d.yaml", ITEMS)
    message = str(caught.value)
    assert "d.yaml: 1 problem(s)" in message
    assert f"d.yaml line {line}: " in message and fragment in message


STUDY = """\
name: toy
variables:
  age_group:
    type: categorical
    levels: ["15_29", "30_44", "45_59"]
    source: {threshold: age_years, at: [30, 45]}
  cell: {type: group, source: {combine: [sex, age_group]}}
"""


def test_study_variables_are_added_to_a_codebook(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(STUDY, encoding="utf-8")
    shared = load_codebook("data_prep/codebooks/cmds2017.yaml")
    merged = with_variables(shared, path)
    assert list(merged.declarations)[-2:] == ["age_group", "cell"]
    assert list(merged.declarations)[:-2] == list(shared.declarations)
    assert merged.declarations["cell"].where() == f"{path} line 7"
    assert merged.items_for("cell") == ["sex", "birth_year", "birth_month"]
    assert merged.items == shared.items and merged.flow == shared.flow


@pytest.mark.parametrize(
    ("addition", "line", "fragment"),
    [
        (
            "  sex: {type: categorical, levels: [male, female], source: {item: sex}}\n",
            8,
            "'sex' is already declared in data_prep/codebooks/cmds2017.yaml (line ",
        ),
        (
            "  grown: {type: categorical, levels: [no, yes], source: {item: age_years}}\n",
            8,
            "grown comes from item 'age_years', which is not under 'items:' in "
            "data_prep/codebooks/cmds2017.yaml",
        ),
        (
            "  band: {type: categorical, levels: [a, b], "
            "source: {map: sex, codes: {male: a, female: c}}}\n",
            8,
            "band: its 'map' codes give levels ['c'] that are not among its declared levels",
        ),
        (
            "  cell2: {type: group, source: {combine: [sex, belonging]}}\n",
            8,
            "cell2 combines 'belonging', which is continuous",
        ),
    ],
)
def test_bad_study_variables_name_the_study_file_and_line(tmp_path, addition, line, fragment):
    path = tmp_path / "study.yaml"
    path.write_text(STUDY + addition, encoding="utf-8")
    with pytest.raises(CodebookError) as caught:
        with_variables(load_codebook("data_prep/codebooks/cmds2017.yaml"), path)
    message = str(caught.value)
    assert f"{path}: 1 problem(s) with the variables it adds to" in message
    assert f"{path} line {line}: " in message and fragment in message
