"""The embedded default data against the published Tables 1-3 (issue: calibrated default data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmds_common import reference
from cmds_common.analysis_table import data_hash
from cmds_common.provinces import province_table
from cmds_common.spec import load_spec
from data_prep import reference_checks
from data_prep.analysis_dataset import to_analysis_table
from data_prep.synthetic import LATENT_PREDICTORS, generate_synthetic
from models.design import build_design
from models.frequentist import fit_weighted_logit

SHARE_TOLERANCE_PP = 2.0
MOMENT_TOLERANCE = 0.5


def test_every_category_share_within_two_points(default_table):
    shares = reference_checks.category_share_comparison(default_table)
    # 13 variables x 2-4 levels x 3 groups
    assert len(shares) == 3 * len(reference.table1_table2().query("variable != 'all'"))
    worst = shares.loc[shares["difference_pp"].abs().idxmax()]
    assert shares["difference_pp"].abs().max() <= SHARE_TOLERANCE_PP, worst.to_dict()


def test_outcome_rate_matches_published(default_table):
    published = reference.table1_table2().set_index("variable").loc["all", "yes_pct"]
    assert abs(100 * default_table["health_record"].mean() - published) <= SHARE_TOLERANCE_PP


def test_age_and_stay_moments_within_half(default_table):
    moments = reference_checks.continuous_comparison(default_table)
    assert len(moments) == 12  # 2 variables x 3 groups x (mean, sd)
    assert moments["difference"].abs().max() <= MOMENT_TOLERANCE, moments.to_string()


@pytest.mark.parametrize("model", [1, 2])
def test_weighted_logit_inside_published_ci(default_table, model):
    design = build_design(default_table, load_spec(f"model{model}"))
    frequentist = fit_weighted_logit(design)
    comparison = reference_checks.odds_ratio_comparison(frequentist, model)
    expected_terms = reference.table3().query("model == @model")["term"]
    assert set(comparison["term"]) == set(expected_terms)
    outside = comparison.loc[~comparison["inside_published_ci"]]
    assert outside.empty, outside.to_string()


def test_same_seed_same_sample_other_seed_differs():
    first, _ = generate_synthetic(n=800, seed=11)
    again, _ = generate_synthetic(n=800, seed=11)
    other, _ = generate_synthetic(n=800, seed=12)
    pd.testing.assert_frame_equal(first, again)
    assert data_hash(to_analysis_table(first)) == data_hash(to_analysis_table(again))
    assert data_hash(to_analysis_table(first)) != data_hash(to_analysis_table(other))


def test_province_structure(default_sample):
    table, truth = default_sample
    assert list(table["province"].cat.categories) == province_table()["name_en"].tolist()
    sizes = table["province"].value_counts()
    assert len(sizes) == 32 and sizes.min() >= 10
    assert sizes.max() >= 5 * sizes.min()  # unequal province samples
    big_east = ["Beijing", "Shanghai", "Tianjin", "Zhejiang", "Guangdong"]
    inland = province_table().query("region != 'east'")["name_en"]
    inter = table["movement"].eq("interprovincial")
    share_big_east = inter[table["province"].isin(big_east)].mean()
    share_inland = inter[table["province"].isin(inland)].mean()
    assert share_big_east > share_inland + 0.15
    assert len(truth) == 32 and truth["province_effect"].std() > 0.2


def test_weights_positive_mean_one(default_table):
    weights = default_table["weight"]
    assert (weights > 0).all()
    assert weights.mean() == pytest.approx(1.0)
    assert weights.std() > 0.2  # informative, unequal weights


def test_larger_sample_keeps_published_marginals():
    raw, _ = generate_synthetic(n=20_000, seed=3)
    table = to_analysis_table(raw)
    assert len(table) == 20_000 and table["respondent_id"].is_unique
    shares = reference_checks.category_share_comparison(table).query("group == 'all'")
    by_construction = shares["variable"].isin(LATENT_PREDICTORS)
    # model predictors are cut at exact published shares (up to rounding of counts); the others
    # are drawn given the outcome, so they move with this sample's outcome rate
    assert shares.loc[by_construction, "difference_pp"].abs().max() < 0.01
    assert shares["difference_pp"].abs().max() < SHARE_TOLERANCE_PP
    assert np.isclose(table["age_years"].mean(), 66.1, atol=0.2)
