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
