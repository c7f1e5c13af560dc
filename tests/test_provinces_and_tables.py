"""Province table and lookups; Tables 1-2 against published counts and an independent test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import Table

from analysis.descriptive_tables import category_table, continuous_table
from cmds_common import reference
from cmds_common.provinces import UnknownProvinceError, province_table, to_province_names


def test_thirty_two_units_with_codes():
    table = province_table()
    assert len(table) == 32
    assert table["code"].tolist()[:3] == [11, 12, 13] and table["code"].iloc[-1] == 66
    assert table["name_zh"].iloc[-1] == "新疆生产建设兵团"
    assert table[["code", "name_en", "name_zh", "name_pinyin"]].notna().all().all()
    assert table["name_en"].is_unique and table["code"].is_unique


def test_every_code_and_name_maps_back():
    table = province_table()
    for column in ("code", "name_en", "name_zh", "name_pinyin"):
        mapped = to_province_names(table[column])
        assert mapped.tolist() == table["name_en"].tolist(), column
    assert to_province_names(pd.Series(["440000", 44.0, "GUANGDONG", "广东省"])).nunique() == 1


def test_unknown_provinces_listed():
    with pytest.raises(UnknownProvinceError, match=r"\['67', 'Narnia'\]"):
        to_province_names(pd.Series([11, "Narnia", 67, "Narnia"]))


def test_table12_reproduces_published_counts_of_non_model_variables(default_table):
    table = category_table(default_table).set_index(["variable", "level"])
    # sex, education, marital, chronic disease and self-rated health are drawn with the
    # published counts by record status, so Tables 1-2 must give them back exactly
    for variable in ("sex", "education", "marital", "chronic_disease", "self_rated_health"):
        rows = table.loc[variable]
        published = reference.table1_table2().query("variable == @variable").set_index("level")
        assert (rows["yes_n"] == published["yes_n"]).all(), variable
        assert (rows["no_n"] == published["no_n"]).all(), variable


def test_chi_square_matches_statsmodels(default_table):
    table = category_table(default_table)
    for variable, rows in table.groupby("variable"):
        counts = rows[["yes_n", "no_n"]].to_numpy(float)
        independent = Table(counts).test_nominal_association().pvalue
        assert rows["p_value"].iloc[0] == pytest.approx(independent, rel=1e-9), variable


def test_weighted_equals_unweighted_with_equal_weights(default_table):
    table = category_table(default_table.assign(weight=1.0))
    np.testing.assert_allclose(table["weighted_pct"], table["pct"])
    np.testing.assert_allclose(table["weighted_p_value"], table["p_value"])


def test_continuous_table(default_table):
    table = continuous_table(default_table)
    assert len(table) == 6
    assert (table["mean"] - table["published_mean"]).abs().max() < 0.5
