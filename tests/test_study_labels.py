"""The study pages and the prior-sensitivity table speak in declared labels.

The ma2023 page's OLS, balance and descriptive tables, the heterogeneity page's differences,
AME and prior-sensitivity tables, and the main report's prior-sensitivity table show the
declarations' labels in place of the codes (the code of a parameter stays beside its label);
the CSV files they are read from keep the codes.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from analysis.labelled_tables import parameter_label, sensitivity_display, term_column
from analysis.report import _effects_section, heterogeneity_report
from analysis.study_report import descriptive_display, labelled, study_report_html
from analysis.term_labels import TermLabeller
from cmds_common.atomic import write_text
from cmds_common.constants import DECLARATIONS_FILE
from cmds_common.declarations import dump_declarations
from cmds_common.study import load_study
from data_prep.codebook import load_codebook
from data_prep.variables import synthetic_declarations

MA2023 = "studies/ma2023/study.yaml"
HOST_CITY = "Host city (ref: Hometown)"


@pytest.fixture(scope="module")
def study():
    return load_study(MA2023)


@pytest.fixture(scope="module")
def study_declarations(study):
    return load_codebook(study.path("codebook")).declarations


@pytest.fixture(scope="module")
def labeller() -> TermLabeller:
    return TermLabeller(synthetic_declarations())


def _ols() -> pd.DataFrame:
    terms = ["const", "smi_location_host_city", "age_years", "education_junior"]
    return pd.DataFrame({"model": "ols_full", "term": terms, "estimate": [44.9, 4.3, -0.8, 3.1]})


def test_ols_terms_read_as_labels_with_reference(study_declarations):
    shown = labelled(_ols(), "term", TermLabeller(study_declarations))
    smi, age, junior = shown["term"].iloc[1:]
    assert smi.endswith(f": {HOST_CITY}")
    assert smi.startswith(study_declarations["smi_location"].label)
    assert age.endswith("(per year)")
    assert junior == "Highest education: Junior high (ref: Primary or below)"
    assert shown["term"].iloc[0] == "Intercept"
    assert not set(shown["term"]) & set(_ols()["term"])
    assert shown["estimate"].tolist() == _ols()["estimate"].tolist()


def test_descriptive_table_reads_variables_and_levels(study_declarations):
    table = pd.DataFrame(
        {
            "variable": ["n", "age_years", "education", "education", "smi_location"],
            "level": [None, "mean (SD)", "primary_or_below", "junior", "host_city"],
            "all": ["3333", "65 (5)", "2406", "678", "606"],
        }
    )
    shown = descriptive_display(table, TermLabeller(study_declarations))
    assert shown["level"].tolist()[1:] == [
        "mean (SD)",
        "Primary or below",
        "Junior high",
        "Host city",
    ]
    assert "Highest education" in set(shown["variable"])
    assert not set(shown["variable"]) & {"education", "smi_location", "age_years"}
    assert shown["variable"].iloc[0] == "n"


def test_study_page_shows_labels_not_codes(tmp_path, study, study_declarations):
    # as the data step writes them: what each column is, without the codebook's derivations
    described = {n: replace(d, source=None) for n, d in study_declarations.items()}
    write_text(tmp_path / "data" / DECLARATIONS_FILE, dump_declarations(described))
    tables = tmp_path / "tables"
    tables.mkdir()
    _ols().to_csv(tables / "ols_full.csv", index=False)
    balance = pd.DataFrame({"covariate": ["education_junior", "sex_female"], "smd_before": 0.1})
    balance.to_csv(tables / "matching_balance.csv", index=False)
    text = study_report_html(study, tmp_path, [])
    assert HOST_CITY in text
    assert "Highest education: Junior high (ref: Primary or below)" in text
    assert "Sex: Female (ref: Male)" in text
    for code in ("smi_location_host_city", "education_junior", "sex_female"):
        assert code not in text
    # the CSV files keep the codes
    assert "smi_location_host_city" in (tables / "ols_full.csv").read_text(encoding="utf-8")


def _sensitivity() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "parameter": ["intercept", "beta[local_friends_ge3]", "beta[age_years]"],
            "prior": [0.01, 0.06, 0.02],
            "likelihood": [0.1, 0.1, 0.1],
            "diagnosis": ["✓", "prior-data conflict", "✓"],
            "flagged": [False, True, False],
        }
    )


def test_sensitivity_parameters_read_as_term_labels(labeller):
    predictors = ["local_friends", "age_years"]
    shown = sensitivity_display(_sensitivity(), labeller, predictors)
    friends = "Number of local friends: 3 or more (ref: Fewer than 3)"
    assert shown["parameter"].iloc[1] == friends
    assert shown["parameter"].iloc[2].endswith("(per year)")
    assert shown["parameter"].iloc[0] == "Intercept"
    assert shown["flagged"].tolist() == ["no", "yes", "no"]  # words, not True/False
    assert shown["diagnosis"].tolist() == ["none", "prior-data conflict", "none"]
    assert shown["code"].tolist() == _sensitivity()["parameter"].tolist()
    assert list(shown.columns[:2]) == ["parameter", "code"]
    assert parameter_label("beta[local_friends_ge3]", labeller) == friends  # declared columns
    assert term_column(["const"], labeller) == ["Intercept"]


def test_main_report_sensitivity_and_flags_use_labels(tmp_path, labeller):
    (tmp_path / "tables").mkdir()
    _sensitivity().to_csv(tmp_path / "tables" / "prior_sensitivity_model2.csv", index=False)
    text = _effects_section(tmp_path, "model2", None, labeller, ["local_friends", "age_years"])
    flagged = "Number of local friends: 3 or more (ref: Fewer than 3): prior-data conflict"
    assert flagged in text
    assert ">beta[local_friends_ge3]<" in text  # the code beside the label
    assert "beta[local_friends_ge3]:" not in text


def test_heterogeneity_page_labels_ame_and_sensitivity(tmp_path, labeller):
    tables = tmp_path / "tables"
    tables.mkdir()
    ame = pd.DataFrame(
        {
            "model": "heterogeneity",
            "variable": ["local_friends", "age_years"],
            "contrast": ["ge3 vs lt3", "per unit (derivative)"],
            "outcome": "P(healthy)",
            "estimate": [0.05, -0.01],
            "ci_low": [0.02, -0.02],
            "ci_high": [0.08, 0.0],
        }
    )
    ame.to_csv(tables / "ame_heterogeneity.csv", index=False)
    pd.DataFrame({"comparison": ["women vs men"], "term": ["age_years"], "estimate": [0.1]}).to_csv(
        tables / "subgroup_differences.csv", index=False
    )
    _sensitivity().to_csv(tables / "prior_sensitivity_heterogeneity.csv", index=False)
    text = heterogeneity_report(tmp_path, "Heterogeneity", "heterogeneity", [], labeller)
    assert "Number of local friends: 3 or more" in text
    assert "Number of local friends: Fewer than 3" in text  # the reference level's row
    assert "Age at the survey" in text
    assert ">local_friends<" not in text
    assert ">age_years<" not in text  # the differences table's term
    assert ">ge3 vs lt3<" not in text
    assert ">beta[local_friends_ge3]<" in text  # the code column of the sensitivity table
