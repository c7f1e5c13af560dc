"""Human-facing tables and figures speak in labels and print numbers as a paper would.

The predictive-check axes, the contextual measures, the subgroup differences, the model
comparison, the prior-sensitivity flags and the treatment study's tables show declared labels
(no ``snake_case`` codes), counts as integers, p values as "<0.001", flags as words; forest-plot
rows put the reference level on a line of its own; Chinese labels and fixed words with
``lang="zh"``. The CSV files keep the codes (not checked here: the displays never write).
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from analysis.forest_plot import wrap_term_label
from analysis.heterogeneity_cli import subgroup_labels
from analysis.labelled_tables import (
    CONTEXTUAL_LEGEND,
    check_group_labels,
    comparison_display,
    contextual_display,
    parameter_label,
    study_table_display,
    subgroup_differences_display,
    with_reference_rows,
)
from analysis.ppc_plots import interval_check_plot, statistic_axis_label
from analysis.term_labels import TermLabeller
from cmds_common.study import load_study
from data_prep.codebook import load_codebook
from data_prep.variables import synthetic_declarations

CODE = re.compile(r"\b[a-z]+_[a-z0-9_]+\b")  # a snake_case identifier


@pytest.fixture(scope="module")
def labeller() -> TermLabeller:
    return TermLabeller(synthetic_declarations())


@pytest.fixture(scope="module")
def study_labeller() -> TermLabeller:
    study = load_study("studies/ma2023/study.yaml")
    return TermLabeller(load_codebook(study.path("codebook")).declarations)


TREATMENT = {"variable": "smi_location", "control": "hometown", "treated": "host_city"}


def _codes(frame: pd.DataFrame) -> set[str]:
    text = " ".join(map(str, frame.columns)) + " " + " ".join(map(str, frame.to_numpy().ravel()))
    return set(CODE.findall(text))


def test_income_label_reads_once(labeller):
    label = labeller.term("income_quartile_Q2", ["income_quartile"])
    assert label == "Household monthly income: Q2 (ref: Q1, lowest)"
    zh = TermLabeller(synthetic_declarations(), "zh").term(
        "income_quartile_Q4", ["income_quartile"]
    )
    assert zh == "家庭月收入: 最高四分位 (参照: 最低四分位)"


def test_outcome_share_in_words(labeller):
    share = labeller.share("health_record")
    assert share == "Share who has established a health record in the inflow community"
    assert statistic_axis_label("share", labeller.short("health_record"), share) == f"{share} (%)"
    assert "health_record" not in statistic_axis_label("mean", labeller.short("health_record"))
    zh = TermLabeller(synthetic_declarations(), "zh")
    assert zh.share("health_record") == "在本地建立居民健康档案的比例"


def test_check_figure_axis_names_the_outcome(labeller):
    checks = pd.DataFrame(
        {
            "variable": "province",
            "level": ["Beijing", "Tianjin"],
            "n": [186, 93],
            "observed": [0.2, 0.3],
            "pi_low": [0.1, 0.2],
            "pi_high": [0.3, 0.4],
            "pi50_low": [0.15, 0.25],
            "pi50_high": [0.25, 0.35],
            "bayes_p": [0.5, 0.5],
        }
    )
    share = labeller.share("health_record")
    figure = interval_check_plot(checks, "title", outcome="x", share=share)
    xlabel = figure.axes[0].get_xlabel()
    assert xlabel.replace("\n", " ") == f"{share} (%)"
    assert "health_record" not in xlabel


def test_parameters_and_flags_in_words(labeller):
    assert parameter_label("province_sigma", labeller) == "SD of inflow province intercepts"
    assert parameter_label("intercept", labeller) == "Intercept"


def test_contextual_measures_by_label(labeller):
    table = pd.DataFrame(
        {
            "model": ["model2", "model2", "model2"],
            "measure": ["icc", "mor", "pcv"],
            "factor": ["province", "province", "province"],
            "median": [0.06, 1.55, -0.05],
            "low": [0.03, 1.38, -1.5],
            "high": [0.11, 1.84, 0.5],
        }
    )
    shown = contextual_display(table, labeller, {"model2": "Model 2: social integration"})
    assert shown["model"].unique().tolist() == ["Model 2: social integration"]
    assert shown["measure"].tolist() == ["ICC", "MOR", "PCV"]
    assert shown["grouping factor"].iloc[0] == "Inflow province"
    assert shown["median (95% CrI)"].tolist()[1:] == ["1.55 (1.38-1.84)", "-0.05 (-1.50 to 0.50)"]
    assert "median odds ratio" in CONTEXTUAL_LEGEND
    assert not _codes(shown)


def test_subgroup_differences_by_label(labeller):
    differences = pd.DataFrame(
        {
            "comparison": ["women vs men"],
            "term": ["age_years"],
            "estimate": [0.12],
            "ci_low": [-0.03],
            "ci_high": [0.27],
            "prob_greater": [0.94],
            "stratified_estimate": [0.1],
            "stratified_ci_low": [-0.1],
            "stratified_ci_high": [0.3],
        }
    )
    shown = subgroup_differences_display(differences, labeller)
    assert shown["effect of"].iloc[0] == labeller.short("age_years")
    assert shown["pooled Bayes difference (95% CrI)"].iloc[0] == "+0.12 (-0.03, +0.27)"
    assert "separate regressions (95% CI)" in shown
    assert not _codes(shown)


def test_subgroup_rows_read_level_labels(labeller):
    labels = subgroup_labels(pd.Series(["male:15_29"]), ["sex", "age_group"], labeller)
    assert labels["male:15_29"].startswith("Male | ")


def test_comparison_flags_and_models_in_words(labeller):
    table = pd.DataFrame(
        {
            "model": ["model2", "model2_pooled"],
            "outcome": "health_record",
            "rank": [0, 1],
            "elpd_loo": [-2009.5, -2058.9],
            "pareto_k_good": [3158.0, 3158.0],
            "loo_reliable": [True, False],
            "ranking_reliable": [True, True],
            "data_hash": "abc",
        }
    )
    shown = comparison_display(table, {"model2": "Model 2"}, labeller)
    assert shown["model"].tolist() == ["Model 2", "model2_pooled"]  # no label: the code
    assert shown["LOO reliable"].tolist() == ["yes", "no"]
    assert shown["rank"].tolist() == ["1", "2"]
    assert shown["k good (n)"].tolist() == ["3158", "3158"]
    assert "data_hash" not in shown and "True" not in shown.to_string()
    # one outcome: said once above the table, not in every row (the table fits a page)
    assert "outcome" not in shown
    two = comparison_display(table.assign(outcome=["health_record", "family_doctor"]), {}, labeller)
    assert two["outcome"].iloc[0] == "has established a health record in the inflow community"


def test_comparison_estimates_carry_their_standard_errors(labeller):
    table = pd.DataFrame(
        {
            "model": ["m1", "m2"],
            "elpd_loo": [-2009.54, -2058.91],
            "se": [18.53, 18.6],
            "elpd_diff": [0.0, 49.37],
            "dse": [0.0, 9.12],
            "pareto_k_threshold": [0.7, 0.7],
            "pareto_k_good": [3158, 3158],
        }
    )
    shown = comparison_display(table, {}, labeller)
    assert shown["elpd_loo"].tolist() == ["-2009.5 (18.5)", "-2058.9 (18.6)"]
    assert shown["elpd_diff"].tolist() == ["0.0 (0.0)", "49.4 (9.1)"]
    assert "se" not in shown and "dse" not in shown and "k good, <= 0.70 (n)" in shown


def test_variation_sd_and_rate_tables_in_words(labeller):
    from analysis.labelled_tables import (
        group_sd_display,
        province_rates_display,
        variation_display,
    )

    variation = pd.DataFrame(
        {
            "group": ["province", "province"],
            "measure": ["province_sd", "median_odds_ratio"],
            "median": [0.457, 1.546],
            "low": [0.332, 1.372],
            "high": [0.633, 1.829],
        }
    )
    shown = variation_display(variation, labeller)
    assert shown["Measure"].tolist() == ["SD of the intercepts", "MOR (median odds ratio)"]
    assert shown["Median (95% CrI)"].iloc[0] == "0.457 (0.332 to 0.633)"
    assert shown["Grouping factor"].iloc[0].startswith("Inflow province")  # declared label
    sd = pd.DataFrame(
        {
            "model": ["model2"],
            "parameter": ["province_sigma"],
            "posterior_median": [0.457],
            "cri_low": [0.332],
            "cri_high": [0.633],
            "r_hat": [1.0014],
            "ess_bulk": [2606.9],
        }
    )
    shown = group_sd_display(sd, {"model2": "Model 2"}, labeller)
    assert shown.iloc[0].tolist() == [
        "Model 2", "SD of inflow province intercepts", "0.46 (0.33-0.63)", "1.001", "2607"
    ]  # fmt: skip
    rates = pd.DataFrame(
        {
            "province": ["Beijing", "Tianjin"],
            "n": [186, 93],
            "raw_rate": [0.2258, 0.3441],
            "fitted_rate": [0.2459, 0.3534],
            "fitted_low": [0.1919, 0.2717],
            "fitted_high": [0.3050, 0.4398],
            "standardised_rate": [0.2694, 0.3904],
            "standardised_low": [0.2096, 0.3061],
            "standardised_high": [0.3327, 0.4789],
            "prob_top5": [0.0, 0.0025],
            "prob_bottom5": [0.948, 0.051],
        }
    )
    shown = province_rates_display(rates)
    assert shown["Province"].tolist() == ["Tianjin", "Beijing"]  # highest standardised first
    assert shown["Standardised share (%, 95% CrI)"].iloc[0] == "39.0 (30.6-47.9)"
    assert shown["P(top 5)"].tolist() == ["0.003", "<0.001"]


def test_published_figures_counts_whole_and_labelled(study_labeller):
    table = pd.DataFrame(
        {
            "figure": ["n_insured_analysed", "psm_att"],
            "label": ["Respondents analysed (insured)", "PSM ATT"],
            "group": ["all", "host_city"],
            "published": [3333.0, 6.47],
            "this_data": [3333.0, 6.0123],
            "unit": ["respondents", "index points"],
        }
    )
    shown = study_table_display("published_vs_data", table, study_labeller, TREATMENT)
    assert shown["figure"].tolist() == ["Respondents analysed (insured)", "PSM ATT"]
    assert shown["published"].tolist() == ["3333", "6.47"]
    assert shown["this data"].tolist() == ["3333", "6.01"]
    assert shown["group"].tolist() == ["All", "Host city"]


def test_factor_tables_whole_numbers_and_item_labels(study_labeller):
    adequacy = pd.DataFrame(
        {
            "statistic": ["KMO", "Bartlett chi-square", "Bartlett df", "Bartlett p"],
            "value": [0.851, 26237.53, 105.0, 1e-30],
        }
    )
    shown = study_table_display("factor_adequacy", adequacy, study_labeller)
    assert shown["value"].tolist() == ["0.85", "26237.5", "105", "<0.001"]
    loadings = pd.DataFrame(
        {"item": ["home_owner"], "social_participation": [0.03], "kmo_item": [0.67]}
    )
    shown = study_table_display("factor_loadings", loadings, study_labeller)
    assert shown["item"].iloc[0] == study_labeller.variable("home_owner")
    assert list(shown.columns) == ["item", "Social participation", "KMO of the item"]


def test_stepwise_steps_are_integers(study_labeller):
    stepwise = pd.DataFrame(
        {
            "model": "ols_stepwise",
            "term": ["const", "smi_location_host_city"],
            "estimate": [39.8, 5.6],
            "p": [1e-6, 0.012],
            "n": [3333.0, 3333.0],
            "step_entered": [float("nan"), 1.0],
        }
    )
    shown = study_table_display("ols_stepwise", stepwise, study_labeller, TREATMENT)
    assert shown["step entered"].tolist() == ["", "1"]
    assert shown["p"].tolist() == ["<0.001", "0.012"]
    assert shown["n"].tolist() == ["3333", "3333"]
    assert "model" not in shown
    assert shown["term"].iloc[1].endswith("Host city (ref: Hometown)")


def test_forest_row_puts_the_reference_on_its_own_line():
    wrapped = wrap_term_label("Number of local friends: 3 or more (ref: Fewer than 3)")
    assert wrapped == "Number of local friends: 3 or more\n(ref: Fewer than 3)"
    assert wrap_term_label("Age (per year)") == "Age (per year)"
    assert wrap_term_label("家庭月收入: 第二四分位 (参照: 最低四分位)").endswith(
        "\n(参照: 最低四分位)"
    )


def test_chinese_fixed_words():
    zh = TermLabeller(synthetic_declarations(), "zh")
    display = pd.DataFrame({"term": ["x"], "Bayes OR (95% CrI)": ["1.50 (1.2-1.9)"]})
    shown = with_reference_rows(display, ["local_friends_ge3"], zh, ["local_friends"])
    assert shown["Bayes OR (95% CrI)"].tolist() == ["1 (参照)", "1.50 (1.2-1.9)"]
    checks = pd.DataFrame({"check": ["overall"], "variable": [""], "level": [""]})
    assert check_group_labels(checks, zh).tolist() == ["全样本"]


def test_heterogeneity_sample_has_its_declarations(tmp_path):
    from analysis.term_labels import declarations_beside
    from cmds_common.study import load_study as study_file
    from data_prep.study_data import build_subgroup_synthetic

    path = build_subgroup_synthetic(
        study_file("studies/heterogeneity/study.yaml"), tmp_path, 1, 600
    )
    labeller = TermLabeller(declarations_beside(path))
    labels = subgroup_labels(
        pd.Series(["female:45_59:senior_high_or_above"]),
        ["sex", "age_group", "education_group"],
        labeller,
    )
    assert labels == {"female:45_59:senior_high_or_above": "Female | 45-59 | Senior high or more"}


def test_chinese_province_names():
    zh = TermLabeller(synthetic_declarations(), "zh")
    checks = pd.DataFrame({"check": ["province"], "variable": ["province"], "level": ["Beijing"]})
    assert check_group_labels(checks, zh).iloc[0].endswith(": 北京")
    assert TermLabeller(synthetic_declarations()).level("province", "Beijing") == "Beijing"


def test_tile_map_prints_the_names_given():
    from analysis.province_plots import tile_map
    from cmds_common.provinces import province_chinese_names

    names = province_chinese_names()
    values = pd.Series(1.0, index=list(names))
    figure = tile_map(values, "title", "value", names=names)
    texts = {t.get_text() for t in figure.axes[0].texts}
    assert "北京" in texts and "Beijing" not in texts


def test_declared_binary_predictor_reads_as_its_levels():
    # a binary variable is stored as 0/1: its coefficient and its AME contrast ("1 vs 0") read
    # as the declared second level against the first, and an outcome-style label is cut short
    from analysis.term_labels import TermLabeller
    from data_prep.variables import synthetic_declarations

    labeller = TermLabeller(synthetic_declarations())
    expected = "Received health education in the inflow area in the past year: Yes (ref: No)"
    variables = ["health_education", "age_years"]
    assert labeller.term("health_education", variables) == expected
    assert labeller.term("health_education_1", variables) == expected
    assert labeller.term("health_education:age_years", variables).startswith(expected + " × ")
