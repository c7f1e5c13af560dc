"""The heterogeneity study: generator, (0 + x | g) slopes, subgroup fits and differences."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import special

from analysis.heterogeneity import contrast_weights, difference_table, subgroup_effect_draws
from analysis.heterogeneity_plots import subgroup_forest_plot
from cmds_common.spec import load_spec, parse_formula, spec_from_dict, spec_to_yaml
from data_prep.codebook import load_codebook
from data_prep.ingest import _derive
from data_prep.synthetic_subgroups import (
    DIMENSIONS,
    generate_subgroup_sample,
    load_params,
    subgroup_table,
    true_slopes,
)
from models.design import build_design
from models.hierarchical import build_model, initial_point_is_finite
from models.parameter_names import free_parameter_names
from models.subgroup_frequentist import interaction_fit, stratified_effects

STUDY = Path("studies/heterogeneity")
SPEC = STUDY / "specs/heterogeneity.yaml"


@pytest.fixture(scope="module")
def sample():
    return generate_subgroup_sample(n=2500, seed=7)


def test_zero_intercept_group_term_gives_slopes_only():
    parsed = parse_formula("y ~ a + b + c + (1 | p) + (0 + a + b | g) + (1 + c | h)")
    by_name = {g.name: g for g in parsed.groups}
    assert (by_name["g"].intercept, by_name["g"].slopes) == (False, ("a", "b"))
    assert by_name["h"].intercept and by_name["p"].intercept
    assert by_name["g"].formula == "(0 + a + b | g)"
    assert by_name["h"].formula == "(1 + c | h)"
    spec = load_spec(SPEC)
    assert (
        spec_from_dict({"name": "x", "formula": spec.formula, "family": "cumulative_logit"}).groups
        == spec.groups
    )
    assert "(0 + economic_integration" in spec_to_yaml(spec)
    assert free_parameter_names(spec)[-2:] == ["subgroup_slope_sigma", "subgroup_slope"]
    assert "subgroup_sigma" not in free_parameter_names(spec)


def test_generator_is_seeded_and_scores_follow_the_codebook(sample):
    again = generate_subgroup_sample(n=2500, seed=7)
    pd.testing.assert_frame_equal(sample.table, again.table)
    table = sample.table
    assert table["age_years"].between(15, 59).all()
    assert len(table["subgroup"].cat.categories) == 12
    # The codebook's own derivation engine, fed the decoded items, gives the same scores.
    yes_no = {c: table[c].astype(str) for c in table if str(table[c].dtype) == "category"}
    items = {
        "employment": yes_no["employed"].map({"yes": "employed", "no": "unemployed"}),
        "insurance_location": yes_no["insured_locally"].map(
            {"yes": "inflow_city", "no": "hometown"}
        ),
        "housing": yes_no["home_owner"],
        "participation_union": yes_no["union_activity"],
        "participation_volunteer": yes_no["volunteer_activity"],
        "participation_hometown": yes_no["hometown_association"],
        "dialect_answer": yes_no["speaks_local_dialect"],
        "customs_answer": yes_no["customs_flexible"],
        "hygiene_answer": yes_no["hygiene_similar"],
        **{c: table[c] for c in ("identity_like_city", "identity_integrate", "identity_local")},
    }
    derived = _derive(items, load_codebook(Path("data_prep/codebooks/cmds2017.yaml")))
    for dim in DIMENSIONS:
        np.testing.assert_allclose(derived[dim].to_numpy(float), table[dim].to_numpy(), err_msg=dim)


def test_true_slopes_are_the_documented_sums():
    params = load_params()
    truth = true_slopes(params).set_index(["subgroup", "dimension"])["slope"]
    parts = params["self_rated_health"]["slopes"]["belonging"]
    women_old_senior = parts["base"] + parts["female"] + parts["45_59"] + parts["senior_high"]
    assert truth["female:45_59:senior_high_or_above", "belonging"] == pytest.approx(
        women_old_senior
    )
    assert truth["male:15_29:below_senior_high", "belonging"] == pytest.approx(parts["base"])
    assert len(truth) == 12 * 4


def test_independent_slopes_model_at_a_fixed_draw(sample):
    spec = load_spec(SPEC)
    design = build_design(sample.table, spec)
    model = build_model(design, spec)
    assert initial_point_is_finite(model)
    assert "subgroup_corr" not in model.named_vars and "subgroup_effect" not in model.named_vars
    assert model.named_vars_to_dims["subgroup_slope"] == ("subgroup", "slope_term")
    rng = np.random.default_rng(3)
    point = model.initial_point()
    for name in point:
        point[name] = rng.normal(0, 0.3, size=np.shape(point[name]))
    # The log-likelihood of the outcome at this point, by PyMC and by hand.
    names = ["cutpoints", "beta", "province_effect", "city_effect", "subgroup_slope"]
    outputs = model.replace_rvs_by_values([model[name] for name in names])
    fn = model.compile_fn(
        [model.logp(vars=[model[spec.outcome]], sum=True), *outputs],
        inputs=model.value_vars,
        on_unused_input="ignore",
    )
    logp, cut, beta, province, city, slope = fn(point)
    groups = {g.name: g for g in design.groups}
    sub = groups["subgroup"]
    eta = design.X @ beta + province[groups["province"].idx] + city[groups["city"].idx]
    eta += (design.X[:, sub.slope_columns] * slope[sub.idx]).sum(axis=1)
    below = special.expit(np.r_[-np.inf, cut, np.inf][None, :] - eta[:, None])
    probs = np.diff(below, axis=1)[np.arange(len(eta)), design.y]
    assert logp == pytest.approx(np.log(probs).sum(), rel=1e-9)
    assert slope.shape == (12, 4)


def test_interaction_effects_are_sums_of_coefficients(sample):
    spec = load_spec(STUDY / "specs/heterogeneity_interaction.yaml")
    fit = interaction_fit(sample.table, spec, "subgroup", ["belonging"])
    beta = dict(zip(fit.terms, fit.coefficients, strict=True))
    estimate, se = fit.effect({("female:45_59:senior_high_or_above", "belonging"): 1.0})
    by_hand = (
        beta["belonging"]
        + beta["belonging:sex_female"]
        + beta["belonging:age_group_45_59"]
        + beta["belonging:education_group_senior_high_or_above"]
    )
    assert estimate == pytest.approx(by_hand, rel=1e-10)
    assert se > 0 and fit.converged


def _r_polr_available() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript not found (apt-get install r-base-core)"
    if subprocess.run(["Rscript", "-e", "library(MASS)"], capture_output=True).returncode:
        return "R package MASS not installed (apt-get install r-cran-mass)"
    return None


@pytest.mark.skipif(_r_polr_available() is not None, reason=str(_r_polr_available()))
def test_stratified_regression_matches_r_polr(sample, tmp_path):
    spec = load_spec(SPEC)
    level = "female:30_44:below_senior_high"
    ours = stratified_effects(sample.table, spec, "subgroup", list(DIMENSIONS))
    ours = ours[ours["subgroup"] == level].set_index("term")
    subset = sample.table[sample.table["subgroup"] == level]
    subset[["self_rated_health", *DIMENSIONS, "hukou"]].to_csv(tmp_path / "d.csv", index=False)
    script = textwrap.dedent(
        f"""
        library(MASS)
        d <- read.csv("{tmp_path / "d.csv"}")
        d$self_rated_health <- factor(d$self_rated_health, ordered = TRUE, levels = c(
          "cannot_care_for_self", "unhealthy_self_caring", "basically_healthy", "healthy"))
        d$hukou <- factor(d$hukou, levels = c("rural", "urban"))
        f <- polr(self_rated_health ~ {" + ".join(DIMENSIONS)} + hukou, data = d, Hess = TRUE)
        s <- coef(summary(f))
        write.csv(data.frame(term = rownames(s), estimate = s[, 1], se = s[, 2]),
                  "{tmp_path / "r.csv"}", row.names = FALSE)
        """
    )
    (tmp_path / "fit.R").write_text(script)
    subprocess.run(["Rscript", str(tmp_path / "fit.R")], check=True, capture_output=True)
    theirs = pd.read_csv(tmp_path / "r.csv").set_index("term").loc[list(DIMENSIONS)]
    # polr (BFGS, reltol 1e-8) and statsmodels stop at slightly different optima: 1% of an SE
    np.testing.assert_allclose(ours["estimate"], theirs["estimate"], atol=1e-3)
    np.testing.assert_allclose(ours["se"], theirs["se"], rtol=5e-3)


def _fixed_draws() -> tuple[xr.DataArray, pd.DataFrame]:
    """Effects of four sex x age subgroups on one term in four draws, and their members."""
    subgroups = ["female:a", "female:b", "male:a", "male:b"]
    values = np.array(
        [[[1.0, 2.0, 3.0, 4.0]], [[0.0, 1.0, 1.0, 1.0]], [[0.0, 0.0, 1.0, 1.0]], [[2, 2, 2, 6]]]
    )
    draws = xr.DataArray(
        values,
        dims=("subgroup", "slope_term", "sample"),
        coords={"subgroup": subgroups, "slope_term": ["x"]},
    )
    sizes = {"female:a": 2, "female:b": 1, "male:a": 1, "male:b": 4}  # age a: 3 of 8, b: 5 of 8
    labels = [s for s, n in sizes.items() for _ in range(n)]
    table = pd.DataFrame(
        {
            "subgroup": pd.Categorical(labels, categories=subgroups),
            "sex": [s.split(":")[0] for s in labels],
            "age": [s.split(":")[1] for s in labels],
        }
    )
    return draws, table


def test_difference_table_by_hand():
    draws, table = _fixed_draws()
    weights = contrast_weights(table, "subgroup", ["sex", "age"], "sex", "female", "male")
    assert weights.to_dict() == pytest.approx(
        {"female:a": 3 / 8, "female:b": 5 / 8, "male:a": -3 / 8, "male:b": -5 / 8}
    )
    truth = pd.DataFrame({"subgroup": ["female:a", "female:b", "male:a", "male:b"], "term": "x"})
    truth["slope"] = [0.5, 0.4, 0.0, 0.2]
    contrast = {"name": "women vs men", "variable": "sex", "level": "female", "versus": "male"}
    row = difference_table(draws, table, "subgroup", ["sex", "age"], [contrast], truth=truth).iloc[
        0
    ]
    # like with like: age a (3/8 of the sample) and age b (5/8), women minus men
    delta = 3 / 8 * (values := draws.to_numpy()[:, 0, :])[0] + 5 / 8 * values[1]
    delta = delta - (3 / 8 * values[2] + 5 / 8 * values[3])
    assert row["prob_greater"] == pytest.approx((delta > 0).mean())
    assert row["estimate"] == pytest.approx(np.median(delta))
    assert row["ci_low"] == pytest.approx(np.quantile(delta, 0.025))
    assert row["truth"] == pytest.approx(3 / 8 * 0.5 + 5 / 8 * 0.4 - 5 / 8 * 0.2)


def test_subgroup_effect_draws_add_beta():
    posterior = xr.Dataset(
        {
            "beta": (("chain", "draw", "term"), np.array([[[1.0, 10.0], [2.0, 20.0]]])),
            "g_slope": (("chain", "draw", "g", "slope_term"), np.ones((1, 2, 3, 1))),
        },
        coords={"term": ["z", "x"], "slope_term": ["x"], "g": ["a", "b", "c"]},
    )
    draws = subgroup_effect_draws(posterior, "g")
    assert draws.dims == ("g", "slope_term", "sample")
    np.testing.assert_allclose(draws.sel(g="b", slope_term="x"), [11.0, 21.0])


def test_forest_plot_has_a_row_per_subgroup(sample):
    effects = []
    for method in ("pooled Bayesian (partial pooling)", "separate regressions per subgroup"):
        for cell in subgroup_table()["subgroup"]:
            effects.append((method, cell, "belonging", 0.1, -0.1, 0.3, 0.2))
    effects = pd.DataFrame(
        effects, columns=["method", "subgroup", "term", "estimate", "ci_low", "ci_high", "truth"]
    )
    figure = subgroup_forest_plot(effects, "belonging", "test")
    ax = figure.axes[0]
    assert len(ax.get_yticks()) == 12
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "separate regressions per subgroup",
        "pooled Bayesian (partial pooling)",
        "true effect (synthetic data)",
    ]


def test_data_prep_builds_the_study_sample(tmp_path):
    from data_prep.build_cli import main as data_main

    assert data_main(["--study", "heterogeneity", "--n", "400", "--out", str(tmp_path)]) == 0
    table = pd.read_parquet(tmp_path / "analysis_data.parquet")
    pd.testing.assert_frame_equal(table, generate_subgroup_sample(n=400, seed=20150501).table)
    truth = pd.read_csv(tmp_path / "subgroup_slope_truth.csv")
    assert len(truth) == 48 and set(truth["dimension"]) == set(DIMENSIONS)
