"""The ma2023 study's synthetic default sample against the published abstract figures.

Each figure of ``cmds_common/published/ma2023_abstract.csv`` that the issue names is checked with
the tolerance the issue sets: 606 host-city holders of 3,333 (share within 1 percentage point),
the index's group means and SDs within 1 index point, the one-way ANOVA F within 20% of 28.311,
and the PSM ATT inside 6.47 +- 1.96 x 1.48. The factor analysis must also recover the
generating structure (each item loads most on the factor of its own dimension).
"""

from __future__ import annotations

import numpy as np
import pytest

from analysis.treatment_study import (
    build_index,
    frequentist_results,
    index_scale_table,
    published_figures_table,
    treatment_indicator,
)
from cmds_common.declarations import type_table
from cmds_common.reference import figure_value, published_figures
from cmds_common.study import load_study
from data_prep.codebook import load_codebook
from data_prep.synthetic_factor_sample import generate_factor_sample, load_factor_params


@pytest.fixture(scope="module")
def study():
    return load_study("ma2023")


@pytest.fixture(scope="module")
def published(study):
    return published_figures(study.path("published"))


@pytest.fixture(scope="module")
def sample(study):
    params = load_factor_params(study.path("synthetic"))
    raw = generate_factor_sample(params, seed=20150501)
    table = type_table(raw.data, load_codebook(study.path("codebook")).declarations)
    return raw, table


@pytest.fixture(scope="module")
def indexed(study, sample):
    return build_index(study, sample[1])


@pytest.fixture(scope="module")
def frequentist(study, indexed):
    return frequentist_results(study, indexed[0])


def test_sample_size_and_host_city_share(study, sample, published):
    table = sample[1]
    treated = treatment_indicator(study, table)
    assert len(table) == figure_value(published, "n_insured_analysed")
    assert treated.sum() == figure_value(published, "n_host_city_smi")
    share = 100 * treated.mean()
    assert abs(share - figure_value(published, "share_host_city_smi")) <= 1.0
    assert (table["hukou"] == "rural").all() and (table["age_years"] >= 60).all()


@pytest.mark.parametrize("group", ["hometown", "host_city"])
def test_index_means_and_sds_within_one_point(study, indexed, published, group):
    table = indexed[0]
    values = table.loc[table["smi_location"] == group, "integration_index"]
    assert abs(values.mean() - figure_value(published, "integration_index_mean", group)) <= 1.0
    assert abs(values.std() - figure_value(published, "integration_index_sd", group)) <= 1.0


def test_anova_f_within_20_percent(frequentist, published):
    f = frequentist.anova["f"].iloc[0]
    assert abs(f / figure_value(published, "anova_f") - 1) <= 0.20
    assert frequentist.anova["p"].iloc[0] <= 0.01


def test_psm_att_inside_published_interval(frequentist, published):
    att = figure_value(published, "psm_att", "host_city")
    se = figure_value(published, "psm_att_se", "host_city")
    assert att - 1.96 * se <= frequentist.matching.att <= att + 1.96 * se
    assert frequentist.balance["smd_after"].abs().max() < 0.1


def test_factor_analysis_recovers_the_dimensions(study, indexed):
    result = indexed[1]
    dimensions = study.raw["index"]["dimensions"]
    assert list(result.variance.index) == [
        "social_participation",
        "psychological_identity",
        "cultural",
        "economic",
    ]
    for dimension, items in dimensions.items():
        for item in items:
            assert result.loadings.loc[item].idxmax() == dimension, item
    # eigenvalue > 1 retains as many factors as there are dimensions
    assert (result.eigenvalues > 1).sum() == len(dimensions)
    assert result.adequacy["kmo"] > 0.8 and result.adequacy["bartlett_p"] < 1e-10
    # the largest factor's share of explained variance is beside the published 45.42%
    assert abs(result.variance["share_of_explained"].iloc[0] - 45.42) < 5


def test_index_scale_is_the_stated_one(indexed):
    result = indexed[1]
    z = result.scores.to_numpy()
    np.testing.assert_allclose(z.std(axis=0, ddof=1), 1.0, rtol=1e-12)
    expected = z @ result.variance["percent_of_total"].to_numpy()
    np.testing.assert_allclose(result.index.to_numpy(), expected, rtol=1e-12)
    p = len(result.loadings)
    np.testing.assert_allclose(
        result.variance["percent_of_total"], 100 * (result.loadings**2).sum().to_numpy() / p
    )


def test_province_truth_is_centred_over_the_treated(study, sample):
    raw, _ = sample
    truth = raw.truth
    params = load_factor_params(study.path("synthetic"))
    weighted = np.average(truth["true_effect_sd_units"], weights=truth["n_treated"])
    assert weighted == pytest.approx(params["integration"]["effect"], abs=1e-12)


def test_every_published_figure_has_its_counterpart(study, published, indexed, frequentist):
    table = published_figures_table(study, published, indexed[0], frequentist, indexed[1].variance)
    assert len(table) == len(published) and table["this_data"].notna().all()
    row = table.set_index(["figure", "group"]).loc[("psm_att", "host_city")]
    assert row["this_data"] == pytest.approx(frequentist.matching.att)


def test_only_the_stated_scale_reproduces_the_published_spread(study, published, indexed):
    scales = index_scale_table(study, published, *indexed).set_index("scale")
    sds = ["sd_hometown", "sd_host_city"]
    gap = (scales[sds] - scales.loc["published", sds]).abs().max(axis=1)
    assert gap["percent_of_total"] <= 1.0
    assert gap["share_of_explained"] > 10 and gap["unit_weights"] > 10
