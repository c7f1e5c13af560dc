"""A raw 2017-style file through the 2017 codebook and the ma2023 study's inclusion flow.

The file is made from the study's synthetic sample, written back into raw codes (the codes of
``data_prep/codebooks/cmds2017.yaml``) under made-up raw names, plus respondents the flow must
exclude: under 60, urban hukou, insurance held in both places or nowhere, an unanswered item.
Known truth: exactly the synthetic respondents are analysed, with their values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmds_common.analysis_table import read_analysis_table
from cmds_common.provinces import province_table
from cmds_common.study import load_study
from data_prep.synthetic_factor_sample import generate_factor_sample, load_factor_params
from tests.raw_files import ingest_raw

CODES = {
    "sex": {"male": 1, "female": 2},
    "education": {"primary_or_below": 2, "junior": 3, "senior_or_above": 4},
    "marital": {"single": 1, "married": 2},
    "movement": {"interprovincial": 1, "intraprovincial": 2},
    "smi_location": {"host_city": 1, "hometown": 2},
    "occupation": {"employed": 1, "unemployed": 2},
}
INCOME = {"Q1": 1500, "Q2": 3500, "Q3": 6000, "Q4": 12000}
DIRECT = {
    "participation_suggest": "suggest_community",
    "participation_report": "report_government",
    "participation_donate": "donate_volunteer",
    "participation_party": "party_activity",
    "dialect": "local_dialect",
    "identity_customs": "hometown_customs",
    "identity_hygiene": "hygiene_differs",
    "identity_like_city": "like_city",
    "identity_integrate": "willing_to_integrate",
    "identity_local": "feel_local",
    "identity_accepted": "accepted_by_locals",
    "weight": "weight",
}


def raw_rows(coded: pd.DataFrame) -> pd.DataFrame:
    """The coded sample in raw codes (raw names: ``r_<item>`` or the roster's q101 names)."""
    codes = dict(zip(province_table()["name_en"], province_table()["code"], strict=True))
    age = np.floor(coded["age_years"]).astype(int)
    months = np.round(coded["years_in_inflow_area"] * 12).astype(int)
    arrival = 2017 * 12 + 5 - months
    participation = coded["social_participation"].to_numpy()
    raw = pd.DataFrame(
        {
            "q101b1": coded["sex"].map(CODES["sex"]),
            "q101c1y": 2017 - age,
            "q101c1m": 1,
            "q101e1": coded["education"].map(CODES["education"]),
            "q101f1": 1,
            "q101g1": coded["marital"].map(CODES["marital"]),
            "q101j1": coded["movement"].map(CODES["movement"]),
            "q101k1y": (arrival - 1) // 12,
            "q101k1m": (arrival - 1) % 12 + 1,
            "r_province": coded["province"].map(codes),
            "r_city": coded["city"],
            "r_insurance_location": coded["smi_location"].map(CODES["smi_location"]),
            "r_household_monthly_income": coded["income_quartile"].map(INCOME),
            "r_employment": coded["occupation"].map(CODES["occupation"]),
            "r_housing": np.where(coded["home_owner"] == 1, 7, 1),
            "r_participation_union": np.where(participation >= 1, 1, 2),
            "r_participation_volunteer": np.where(participation >= 2, 1, 2),
            "r_participation_hometown": np.where(participation >= 3, 1, 2),
        }
    )
    for item, column in DIRECT.items():
        raw[f"r_{item}"] = coded[column]
    return raw


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    study = load_study("ma2023")
    coded = generate_factor_sample(load_factor_params(study.path("synthetic")), 20150501).data
    raw = raw_rows(coded)
    extra = raw.iloc[:7].copy()
    extra["q101c1y"] = [1960, 1965, 1955, 1955, 1950, 1950, 1950]  # ages 57, 52, then 60+
    extra.loc[extra.index[2], "q101f1"] = 2  # urban
    extra.loc[extra.index[3], "r_insurance_location"] = 3  # both
    extra.loc[extra.index[4], "r_insurance_location"] = 4  # none
    extra.loc[extra.index[5], "r_identity_like_city"] = np.nan  # unanswered item
    extra.loc[extra.index[6], "q101f1"] = 4  # urban (another code)
    folder = tmp_path_factory.mktemp("raw2017")
    status = ingest_raw(study, raw, pd.concat([raw, extra], ignore_index=True), folder)
    return status, coded, folder / "data"


def test_flow_keeps_exactly_the_insured_elderly_rural_migrants(ingested):
    status, coded, out = ingested
    assert status == 0
    flow = pd.read_csv(out / "inclusion_flow.csv")
    assert flow["n"].tolist() == [len(coded) + 7, 2, 2, 2, 1, len(coded)]
    assert flow["published_n"].iloc[-1] == 3333


def test_analysed_values_are_the_coded_ones(ingested):
    _, coded, out = ingested
    table = read_analysis_table(out / "analysis_data.parquet")
    assert (table["smi_location"] == "host_city").sum() == 606
    np.testing.assert_array_equal(table["social_participation"], coded["social_participation"])
    np.testing.assert_array_equal(table["like_city"], coded["like_city"])
    np.testing.assert_array_equal(table["province"].astype(str), coded["province"])
    np.testing.assert_array_equal(table["age_years"], np.floor(coded["age_years"]))
    np.testing.assert_allclose(
        table["years_in_inflow_area"], np.round(coded["years_in_inflow_area"] * 12) / 12
    )
    assert set(load_study("ma2023").required_columns()) <= set(table.columns)
