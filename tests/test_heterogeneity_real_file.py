"""A raw 2017-style file through the 2017 codebook and the heterogeneity study's flow.

The file is made from the study's synthetic subgroup sample, written back into raw codes (the
codes of ``data_prep/codebooks/cmds2017.yaml``) under made-up raw names, plus respondents the
flow must exclude: aged 14, aged 60, self-rated health not answered, an unanswered identity
item. The study's own variables (``variables:`` in ``studies/heterogeneity/study.yaml``: age
group, education group, subgroup) are derived from the codebook's. Known truth: exactly the
synthetic respondents are analysed, with the synthetic values of every column the models read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmds_common.analysis_table import read_analysis_table
from cmds_common.provinces import province_table
from cmds_common.study import load_study
from data_prep.codebook import load_codebook
from data_prep.study_data import study_codebook
from data_prep.synthetic_subgroups import generate_subgroup_sample, load_params
from tests.raw_files import ingest_raw

SEED = 20150501
#: Raw codes of the 2017 codebook's items, by the synthetic sample's levels.
CODES = {
    "sex": {"male": 1, "female": 2},
    "education": {"primary_or_below": 2, "junior": 3, "senior_or_above": 4},
    "hukou": {"rural": 1, "urban": 2},
    "self_rated_health": {
        "healthy": 1,
        "basically_healthy": 2,
        "unhealthy_self_caring": 3,
        "cannot_care_for_self": 4,
    },
}
#: Binary synthetic item -> (raw item, code of yes, code of no).
BINARY = {
    "employed": ("employment", 1, 2),
    "home_owner": ("housing", 7, 1),
    "insured_locally": ("insurance_location", 1, 2),
    "union_activity": ("participation_union", 1, 2),
    "volunteer_activity": ("participation_volunteer", 1, 2),
    "hometown_association": ("participation_hometown", 1, 2),
    "speaks_local_dialect": ("dialect_answer", 1, 3),
    "customs_flexible": ("customs_answer", 1, 3),
    "hygiene_similar": ("hygiene_answer", 1, 3),
}
IDENTITY = ("identity_like_city", "identity_integrate", "identity_local")
MODEL_COLUMNS = [
    "self_rated_health",
    "economic_integration",
    "social_participation",
    "cultural_integration",
    "belonging",
    "sex",
    "age_group",
    "education_group",
    "hukou",
    "subgroup",
    "province",
    "city",
]


def raw_rows(coded: pd.DataFrame) -> pd.DataFrame:
    """The synthetic sample in raw 2017 codes (raw names: ``r_<item>`` or the roster's q101)."""
    codes = dict(zip(province_table()["name_en"], province_table()["code"], strict=True))
    raw = pd.DataFrame(
        {
            "q101b1": coded["sex"].map(CODES["sex"]).astype(int),
            "q101c1y": 2017 - coded["age_years"].astype(int),
            "q101c1m": 1,  # born in January: the age in May 2017 is 2017 - birth year
            "q101e1": coded["education"].map(CODES["education"]).astype(int),
            "q101f1": coded["hukou"].map(CODES["hukou"]).astype(int),
            "q101g1": 2,
            "q101j1": 1,
            "q101k1y": 2012,
            "q101k1m": 3,
            "r_province": coded["province"].map(codes).astype(int),
            "r_city": coded["city"].astype(str),
            "r_self_rated_health": coded["self_rated_health"].map(CODES["self_rated_health"]),
            "r_weight": coded["weight"],
        }
    )
    for column, (item, yes, no) in BINARY.items():
        raw[f"r_{item}"] = np.where(coded[column] == "yes", yes, no)
    for item in IDENTITY:
        raw[f"r_{item}"] = coded[item]
    return raw


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    study = load_study("heterogeneity")
    coded = generate_subgroup_sample(load_params(study.path("synthetic")), seed=SEED).table
    raw = raw_rows(coded)
    extra = raw.iloc[:4].copy()
    extra["q101c1y"] = [2017 - 14, 2017 - 60, 1980, 1980]
    extra.loc[extra.index[2], "r_self_rated_health"] = np.nan
    extra.loc[extra.index[3], "r_identity_local"] = np.nan
    folder = tmp_path_factory.mktemp("raw2017")
    # a synthetic run left its truth in the data folder: the real file's data must remove it
    (folder / "data").mkdir()
    (folder / "data" / "subgroup_slope_truth.csv").write_text("subgroup,dimension,slope\n")
    status = ingest_raw(study, raw, pd.concat([raw, extra], ignore_index=True), folder)
    return status, coded, folder / "data"


def test_flow_keeps_exactly_the_working_age_respondents(ingested):
    status, coded, out = ingested
    assert status == 0
    flow = pd.read_csv(out / "inclusion_flow.csv")
    assert flow["step"].tolist() == [
        "respondents in the file",
        "excluded: under 15 in May 2017",
        "excluded: 60 or older in May 2017",
        "excluded: self-rated health not answered",
        "excluded: missing answers the models need",
        "analysed (working-age migrants 15-59)",
    ]
    assert flow["n"].tolist() == [len(coded) + 4, 1, 1, 1, 1, len(coded)]
    assert not (out / "subgroup_slope_truth.csv").exists()
    assert "with the inclusion flow of study heterogeneity" in (out / "source.txt").read_text()


def test_analysed_table_is_the_synthetic_one(ingested):
    _, coded, out = ingested
    table = read_analysis_table(out / "analysis_data.parquet")
    assert len(table) == len(coded)
    assert set(load_study("heterogeneity").required_columns()) <= set(table.columns)
    for column in MODEL_COLUMNS:
        if isinstance(coded[column].dtype, pd.CategoricalDtype):
            np.testing.assert_array_equal(
                table[column].astype(str).to_numpy(), coded[column].astype(str).to_numpy()
            )
        else:
            np.testing.assert_allclose(table[column].to_numpy(float), coded[column], rtol=1e-12)
    srh = table["self_rated_health"].dtype
    assert srh.ordered and list(srh.categories) == list(coded["self_rated_health"].cat.categories)
    assert list(table["age_group"].cat.categories) == ["15_29", "30_44", "45_59"]
    # subgroup levels undeclared: the 12 cells present in the data, sorted
    assert list(table["subgroup"].cat.categories) == sorted(coded["subgroup"].cat.categories)


def test_study_variables_are_added_to_the_codebook_not_declared_in_it():
    study = load_study("heterogeneity")
    shared = load_codebook(study.path("codebook"))
    assert not {"age_group", "education_group", "subgroup"} & set(shared.declarations)
    merged = study_codebook(study, study.path("codebook"))
    assert merged.declarations["age_group"].source.at == (30.0, 45.0)
    assert merged.items_for("subgroup") == ["sex", "birth_year", "birth_month", "education"]
    assert str(study.folder / "study.yaml") in merged.declarations["subgroup"].where()
