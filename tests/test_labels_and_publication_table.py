"""Labels from the declarations, and the journal-style table of all models.

The labels are checked against hand-written declarations (indicator, continuous, interaction,
a reference level the spec overrides, Chinese); the publication table against the data it is
built from (respondents per level are the data's counts, reference rows read 1 (ref.), every
estimate is the odds-ratio table's, rounded to two decimals) and its four files read back with
the libraries that wrote them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.publication_table import (
    FAILED_MARK,
    REFERENCE_TEXT,
    ModelColumn,
    publication_table,
    write_publication_table,
)
from analysis.term_labels import TermLabeller, TermPart, declarations_beside
from cmds_common.declarations import DeclarationError, parse_declarations

DECLARATIONS = """
variables:
  local_friends:
    type: categorical
    label: Number of local friends
    label_zh: 本地朋友数
    levels: [lt3, ge3]
    level_labels: {lt3: Fewer than 3, ge3: 3 or more}
    level_labels_zh: {lt3: 少于3个, ge3: 3个及以上}
  age_years: {type: continuous, label: Age, label_zh: 年龄, unit: years}
  sex:
    type: categorical
    label: Sex
    levels: [male, female]
    level_labels: {male: Male, female: Female}
  income_quartile: {type: categorical, label: Income quartile, levels: [Q1, Q2, Q3, Q4]}
"""


@pytest.fixture
def declarations():
    return parse_declarations(DECLARATIONS, "labels.yaml")


def test_term_labels_read_the_declarations(declarations):
    predictors = ["local_friends", "age_years", "sex", "income_quartile", "local"]
    labeller = TermLabeller(declarations)
    assert labeller.term("local_friends_ge3", predictors) == (
        "Number of local friends: 3 or more (ref: Fewer than 3)"
    )
    assert labeller.term("age_years", predictors) == "Age (per year)"
    assert labeller.term("local_friends_ge3:sex_female", predictors) == (
        "Number of local friends: 3 or more (ref: Fewer than 3) × Sex: Female (ref: Male)"
    )
    # the longest variable name wins ("local" is a prefix of "local_friends")
    assert labeller.split("local_friends_ge3", predictors) == [TermPart("local_friends", "ge3")]
    # a level without a label is shown by its code; undeclared columns in words
    assert labeller.term("income_quartile_Q3", predictors) == "Income quartile: Q3 (ref: Q1)"
    assert labeller.term("years_abroad", ["years_abroad"]) == "Years abroad (per unit)"
    # an unknown term keeps its code rather than failing a whole table
    assert labeller.term("unknown_term", predictors) == "unknown_term"


def test_spec_reference_and_chinese(declarations):
    override = TermLabeller(declarations, reference_levels={"income_quartile": "Q4"})
    assert override.term("income_quartile_Q1", ["income_quartile"]).endswith("(ref: Q4)")
    chinese = TermLabeller(declarations, "zh")
    assert (
        chinese.term("local_friends_ge3", ["local_friends"])
        == "本地朋友数: 3个及以上 (参照: 少于3个)"
    )
    assert chinese.term("age_years", ["age_years"]) == "年龄 (每年)"
    assert chinese.level("sex", "female") == "Female"  # no Chinese level label: English
    with pytest.raises(ValueError, match="lang"):
        TermLabeller(declarations, "fr")


def test_level_labels_of_undeclared_levels_are_refused():
    text = "variables:\n  sex:\n    type: categorical\n    levels: [male, female]\n" + (
        "    level_labels: {man: Man}\n"
    )
    with pytest.raises(DeclarationError, match=r"labels\.yaml line 5: sex: .*\['man'\]"):
        parse_declarations(text, "labels.yaml")


def test_declarations_round_trip_beside_the_data(tmp_path, declarations):
    from cmds_common.declarations import dump_declarations

    (tmp_path / "declarations.yaml").write_text(dump_declarations(declarations), "utf-8")
    again = declarations_beside(tmp_path / "analysis_data.parquet")
    assert again["local_friends"].level_labels == declarations["local_friends"].level_labels
    assert declarations_beside(tmp_path / "elsewhere" / "analysis_data.parquet") == {}


def _data(n: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "local_friends": pd.Categorical(rng.choice(["lt3", "ge3"], n), ["lt3", "ge3"]),
            "age_years": rng.normal(65, 5, n),
            "sex": pd.Categorical(rng.choice(["male", "female"], n), ["male", "female"]),
        }
    )


def _estimates(terms: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    median = np.exp(rng.normal(0, 0.3, len(terms)))
    return pd.DataFrame(
        {
            "term": terms,
            "posterior_median_or": median,
            "cri_low": median * 0.8,
            "cri_high": median * 1.25,
        }
    )


@pytest.fixture
def models():
    first = ModelColumn("m1", "Model 1", _estimates(["local_friends_ge3"], 2), ["local_friends"])
    second = ModelColumn(
        "m2",
        "Model 2",
        _estimates(
            ["local_friends_ge3", "age_years", "sex_female", "local_friends_ge3:sex_female"], 3
        ),
        ["local_friends", "age_years", "sex"],
        converged=False,
    )
    return [first, second]


def test_publication_table_rows(declarations, models):
    data = _data()
    table = publication_table(models, TermLabeller(declarations), data)
    friends = table[table["variable"] == "local_friends"]
    assert list(friends["level"]) == ["lt3", "ge3"]  # reference first
    counts = data["local_friends"].value_counts()
    assert list(friends["n"]) == [counts["lt3"], counts["ge3"]]
    assert list(friends["m1"]) == [
        REFERENCE_TEXT,
        models[0].estimates["posterior_median_or"].map("{:.2f}".format).iloc[0]
        + f" ({models[0].estimates['cri_low'].iloc[0]:.2f}–"
        f"{models[0].estimates['cri_high'].iloc[0]:.2f})",
    ]
    age = table[table["variable"] == "age_years"].iloc[0]
    assert age["level_label"] == "(per year)" and age["n"] == len(data)
    assert age["m1"] == ""  # model 1 has no age term
    np.testing.assert_allclose(
        age["m2_estimate"],
        models[1].estimates.set_index("term").loc["age_years", "posterior_median_or"],
    )
    sex = table[table["variable"] == "sex"]
    assert list(sex["m1"]) == ["", ""]  # not in model 1: no reference row either
    interaction = table[table["variable"] == "interactions"].iloc[0]
    assert interaction["level_label"] == "Number of local friends: 3 or more × Sex: Female"


def test_publication_table_files(tmp_path, declarations, models):
    import docx

    paths = write_publication_table(tmp_path, models, TermLabeller(declarations), _data(), "T3")
    assert set(paths) == {"csv", "html", "tex", "docx"}
    csv = pd.read_csv(paths["csv"])
    assert (csv["reference"] == (csv["m2"] == REFERENCE_TEXT)).all()
    html = paths["html"].read_text(encoding="utf-8")
    assert "Number of local friends" in html and "3 or more" in html
    assert f"Model 2{FAILED_MARK}" in html and "did not pass the convergence gate" in html
    assert "\\begin{table}" in paths["tex"].read_text(encoding="utf-8")
    document = docx.Document(str(paths["docx"]))
    cells = [cell.text for row in document.tables[0].rows for cell in row.cells]
    assert "Fewer than 3" in cells and REFERENCE_TEXT in cells
    assert any("did not pass" in p.text for p in document.paragraphs)


def test_separated_estimate_is_marked_with_a_note(declarations, models):
    from analysis.publication_table import SEPARATED_MARK, _notes

    separated = ModelColumn(
        "m1",
        "Model 1",
        models[0].estimates.assign(freq_note=["not estimable (separation): all 90 respondents"]),
        ["local_friends"],
    )
    table = publication_table([separated], TermLabeller(declarations), _data())
    cell = table.loc[table["level"] == "ge3", "m1"].iloc[0]
    assert cell.endswith(SEPARATED_MARK)
    assert any(n.startswith(f"{SEPARATED_MARK} Separation") for n in _notes([separated]))
    assert not any(SEPARATED_MARK in n for n in _notes(models))  # none without separation


def test_intervals_with_negative_bounds_read_with_to():
    from analysis.labelled_tables import interval_text

    assert interval_text(1.234, 1.01, 1.5) == "1.23 (1.01-1.50)"
    assert interval_text(-2.61, -4.97, -0.19) == "-2.61 (-4.97 to -0.19)"
    assert interval_text(float("nan"), 0.0, 1.0) == ""
