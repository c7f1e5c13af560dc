"""Survey design and 2017-style columns of the synthetic default (issue 12, items 8-9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from data_prep.synthetic import DESIGN_COLUMNS, WAVE_2017_COLUMNS, generate_synthetic_sample
from data_prep.synthetic_2017 import SELF_RATED_HEALTH_4_LEVELS, load_2017_params, term_column
from data_prep.synthetic_design import CITY_RANGE, cities_per_province

#: Recovery: an estimate may miss its generating value by this many standard errors (a
#: province-fixed-effect fit leaves the small city intercepts unmodelled: ~1% attenuation).
RECOVERY_SE = 3.5


def test_cities_nested_in_provinces_and_in_range(default_table):
    provinces_of_city = default_table.groupby("city", observed=True)["province"].nunique()
    assert (provinces_of_city == 1).all()
    names = zip(
        default_table["city"].astype(str), default_table["province"].astype(str), strict=True
    )
    assert all(city.startswith(f"{province}-C") for city, province in names)
    per_province = default_table.groupby("province", observed=True)["city"].nunique()
    low, high = CITY_RANGE
    assert per_province.between(low, high).all()
    assert (per_province == cities_per_province()).all()  # every frame city is sampled at n=3158
    assert per_province["Guangdong"] == high and per_province["Tibet"] == low


def test_psus_nested_in_cities_strata_are_provinces(default_table):
    assert (default_table.groupby("psu", observed=True)["city"].nunique() == 1).all()
    assert (default_table["stratum"].astype(str) == default_table["province"].astype(str)).all()
    sizes = default_table.groupby("psu", observed=True).size()
    cities = default_table.groupby("city", observed=True).size()
    multi = cities[cities >= 10].index
    in_big_cities = default_table["city"].isin(multi)
    big_sizes = default_table[in_big_cities].groupby("psu", observed=True).size()
    assert big_sizes.between(10, 30).all() and sizes.max() <= 30
    # weights are nearly constant within a PSU (respondents ordered by weight into PSUs)
    log_w = np.log(default_table["weight"])
    within = log_w - log_w.groupby(default_table["psu"], observed=True).transform("mean")
    assert within.var() < 0.6 * log_w.var()  # most cities are one PSU at n = 3158


def test_new_columns_typed(default_table):
    assert set(DESIGN_COLUMNS + WAVE_2017_COLUMNS) <= set(default_table.columns)
    srh = default_table["self_rated_health_4"]
    assert srh.cat.ordered and tuple(srh.cat.categories) == SELF_RATED_HEALTH_4_LEVELS
    assert set(default_table["family_doctor"].unique()) == {0, 1}
    assert set(default_table["health_education"].unique()) == {0, 1}
    assert default_table["integration_index"].dtype == "float64"


def test_new_outcomes_near_documented_targets(default_table):
    t = default_table
    assert t["family_doctor"].mean() == pytest.approx(0.28, abs=0.04)
    assert t["health_education"].mean() == pytest.approx(0.55, abs=0.05)
    assert t["integration_index"].mean() == pytest.approx(0.0, abs=4.5)
    assert t["integration_index"].std() == pytest.approx(33.0, abs=3.0)
    shares = t["self_rated_health_4"].value_counts(normalize=True)
    expected = {"cannot_self_care": 0.01, "unhealthy_self_care": 0.07}
    expected |= {"basically_healthy": 0.43, "healthy": 0.49}
    for level, share in expected.items():
        assert shares[level] == pytest.approx(share, abs=0.03), level
    location = t["insurance_location"].value_counts(normalize=True)
    assert location["hometown"] == pytest.approx(0.80, abs=0.03)


def test_new_columns_consistent_with_2015_items(default_table):
    t = default_table
    local = t["local_medical_insurance"] == "yes"
    assert t.loc[local, "insurance_location"].isin(["inflow_city", "both"]).all()
    assert t.loc[~local, "insurance_location"].isin(["hometown", "none"]).all()
    top_two = t["self_rated_health_4"].isin(["basically_healthy", "healthy"])
    assert (top_two == (t["self_rated_health"] == "healthy")).all()


def test_city_truth_written(default_sample):
    sample = generate_synthetic_sample()
    truth = sample.city_truth
    assert len(truth) == cities_per_province().sum() == 272
    assert truth["n"].sum() == 3158
    assert truth["family_doctor_city_effect"].std() == pytest.approx(0.25, abs=0.05)
    assert (truth["city_effect"] == 0).all()  # the health record's city intercept is off
    assert {"family_doctor_province_effect"} <= set(sample.province_truth.columns)


def _recovery_fit(table: pd.DataFrame, outcome: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    params = load_2017_params()
    truth = pd.Series(params.outcomes[outcome].coefficients)
    design = pd.DataFrame(
        {term: term_column(table, term, params.centres) for term in truth.index},
        index=table.index,
    )
    provinces = pd.get_dummies(table["province"].astype(str), drop_first=True, dtype=float)
    exog = sm.add_constant(pd.concat([design, provinces], axis=1))
    model = sm.OLS if outcome == "integration_index" else sm.Logit
    fit = model(table[outcome].astype(float), exog).fit(**({} if model is sm.OLS else {"disp": 0}))
    return fit.params[truth.index], fit.bse[truth.index], truth


@pytest.mark.parametrize("outcome", ["integration_index", "family_doctor"])
def test_statsmodels_recovers_generating_coefficients(default_table, outcome):
    estimate, se, truth = _recovery_fit(default_table, outcome)
    z = (estimate - truth) / se
    assert z.abs().max() < RECOVERY_SE, pd.DataFrame({"est": estimate, "truth": truth, "z": z})


@pytest.mark.slow
@pytest.mark.parametrize("outcome", ["integration_index", "family_doctor"])
def test_recovery_at_large_n(outcome):
    from data_prep.analysis_dataset import to_analysis_table
    from data_prep.variables import synthetic_declarations

    sample = generate_synthetic_sample(n=40_000, seed=5).data
    table = to_analysis_table(sample, synthetic_declarations())
    estimate, se, truth = _recovery_fit(table, outcome)
    z = (estimate - truth) / se
    assert z.abs().max() < RECOVERY_SE, pd.DataFrame({"est": estimate, "truth": truth, "z": z})
