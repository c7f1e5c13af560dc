"""Design matrices are what the spec says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmds_common.spec import SpecError, load_spec, spec_from_dict
from models.design import build_design


@pytest.fixture
def tiny_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "health_record": [1, 0, 1, 0],
            "income_quartile": pd.Categorical(
                ["Q1", "Q2", "Q4", "Q3"], categories=["Q1", "Q2", "Q3", "Q4"]
            ),
            "hukou": pd.Categorical(
                ["rural", "urban", "urban", "rural"], categories=["rural", "urban"]
            ),
            "age_years": [60.0, 62.0, 70.0, 68.0],
            "province": pd.Categorical(["B", "A", "B", "C"], categories=["A", "B", "C"]),
            "weight": [1.0, 2.0, 3.0, 2.0],
        }
    )


def test_design_matches_hand_construction(tiny_table):
    spec = spec_from_dict(
        {
            "name": "t",
            "formula": "health_record ~ income_quartile + hukou + age_years + (1 | province)",
            "weights": "weight",
        }
    )
    design = build_design(tiny_table, spec)
    assert design.terms == [
        "income_quartile_Q2",
        "income_quartile_Q3",
        "income_quartile_Q4",
        "hukou_urban",
        "age_years",
    ]
    expected = np.array(
        [
            [0, 0, 0, 0, -5.0],
            [1, 0, 0, 1, -3.0],
            [0, 0, 1, 1, 5.0],
            [0, 1, 0, 0, 3.0],
        ]
    )
    np.testing.assert_array_equal(design.X, expected)
    assert design.continuous_centres == {"age_years": 65.0}
    np.testing.assert_allclose(design.term_scales, [1, 1, 1, 1, np.std([60, 62, 70, 68])])
    np.testing.assert_array_equal(design.group_idx, [1, 0, 1, 2])
    assert design.group_levels == ["A", "B", "C"]
    np.testing.assert_allclose(design.weights, [0.5, 1.0, 1.5, 1.0])


def test_reference_level_override(tiny_table):
    spec = spec_from_dict(
        {"name": "t", "formula": "health_record ~ hukou", "reference_levels": {"hukou": "urban"}}
    )
    design = build_design(tiny_table, spec)
    assert design.terms == ["hukou_rural"]
    np.testing.assert_array_equal(design.X[:, 0], [1, 0, 0, 1])
    np.testing.assert_array_equal(design.weights, np.ones(4))


def test_unknown_reference_level(tiny_table):
    spec = spec_from_dict(
        {"name": "t", "formula": "health_record ~ hukou", "reference_levels": {"hukou": "city"}}
    )
    with pytest.raises(SpecError, match="reference level 'city' of 'hukou'"):
        build_design(tiny_table, spec)


def test_missing_column_is_named(tiny_table):
    with pytest.raises(SpecError, match=r"needs columns \['occupation'"):
        build_design(tiny_table, load_spec("model1"))


def test_outcome_must_be_binary(tiny_table):
    tiny_table["health_record"] = [1, 2, 0, 0]
    spec = spec_from_dict({"name": "t", "formula": "health_record ~ hukou"})
    with pytest.raises(SpecError, match="must be 0/1"):
        build_design(tiny_table, spec)


def test_model2_design_on_default_data(default_table):
    design = build_design(default_table, load_spec("model2"))
    assert design.X.shape == (3158, 12)
    assert len(design.group_levels) == 32
    indicator = design.term_scales == 1
    assert set(np.unique(design.X[:, indicator])) == {0.0, 1.0}
    np.testing.assert_allclose(design.X[:, ~indicator].mean(axis=0), 0, atol=1e-9)


def test_interaction_columns_match_hand_construction(tiny_table):
    spec = spec_from_dict(
        {"name": "t", "formula": "health_record ~ hukou * income_quartile + hukou:age_years"}
    )
    design = build_design(tiny_table, spec)
    urban = np.array([0, 1, 1, 0.0])
    q2, q3, q4 = np.array([0, 1, 0, 0.0]), np.array([0, 0, 0, 1.0]), np.array([0, 0, 1, 0.0])
    age = np.array([-5, -3, 5, 3.0])
    assert design.terms == [
        "hukou_urban",
        "income_quartile_Q2",
        "income_quartile_Q3",
        "income_quartile_Q4",
        "hukou_urban:income_quartile_Q2",
        "hukou_urban:income_quartile_Q3",
        "hukou_urban:income_quartile_Q4",
        "hukou_urban:age_years",
    ]
    expected = np.column_stack([urban, q2, q3, q4, urban * q2, urban * q3, urban * q4, urban * age])
    np.testing.assert_array_equal(design.X, expected)
    # indicator products keep scale 1; a product with a continuous column is scaled by its SD
    np.testing.assert_allclose(design.term_scales, [1] * 7 + [np.std(urban * age)])


def test_interaction_respects_reference_levels(tiny_table):
    spec = spec_from_dict(
        {
            "name": "t",
            "formula": "health_record ~ hukou:income_quartile",
            "reference_levels": {"hukou": "urban", "income_quartile": "Q4"},
        }
    )
    design = build_design(tiny_table, spec)
    assert design.terms == [f"hukou_rural:income_quartile_{q}" for q in ("Q1", "Q2", "Q3")]
    np.testing.assert_array_equal(design.X[:, 0], [1, 0, 0, 0])  # rural and Q1: row 0


def test_several_and_nested_grouping_factors(tiny_table):
    tiny_table["city"] = pd.Categorical(["b1", "a1", "b2", "c1"])
    spec = spec_from_dict(
        {"name": "t", "formula": "health_record ~ hukou + (1 | province/city) + (1 | hukou)"}
    )
    design = build_design(tiny_table, spec)
    names = [g.name for g in design.groups]
    assert names == ["province", "province_city", "hukou"]
    nested = design.groups[1]
    assert nested.levels == ["A:a1", "B:b1", "B:b2", "C:c1"]
    np.testing.assert_array_equal(nested.idx, [1, 0, 2, 3])
    np.testing.assert_array_equal(design.groups[2].idx, [0, 1, 1, 0])
    assert design.group_levels == ["A", "B", "C"]  # the first factor, as before


def test_missing_interaction_column_names_file_and_term(tiny_table):
    spec = spec_from_dict(
        {"name": "t", "formula": "health_record ~ hukou + hukou:sex"}, "specs/mine.yaml"
    )
    with pytest.raises(SpecError, match=r"specs/mine.yaml: .*\['sex'\] \(used by hukou:sex\)"):
        build_design(tiny_table, spec)


def test_pre_fit_check_names_file_and_term_of_a_missing_column(tiny_table):
    # the check `make fit` runs before any fit (data_prep.design_check) says the same
    from data_prep.design_check import design_findings

    spec = spec_from_dict(
        {"name": "t", "formula": "health_record ~ hukou + hukou:sex"}, "specs/mine.yaml"
    )
    (finding,) = design_findings(tiny_table, spec)
    assert "specs/mine.yaml: model 't' needs columns ['sex'] (used by hukou:sex)" in str(finding)


def test_grouping_factor_with_one_level_is_refused(tiny_table):
    tiny_table["city"] = pd.Categorical(["x"] * 4)
    spec = spec_from_dict(
        {"name": "t", "formula": "health_record ~ hukou + (1 | city)"}, "specs/mine.yaml"
    )
    with pytest.raises(SpecError, match=r"specs/mine.yaml: the group term \(1 \| city\)"):
        build_design(tiny_table, spec)
