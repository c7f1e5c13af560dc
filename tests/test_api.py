"""The notebook API (``cmds``): the same fit as the pipeline, predictions by hand, round trips."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

import cmds

ROOT = Path(__file__).resolve().parents[1]
FORMULA = "health_record ~ local_medical_insurance + hukou + age_years + (1 | province)"


@pytest.fixture(scope="module")
def small_fit():
    data = cmds.load_data()  # carries the synthetic sample's declarations (labels)
    return cmds.fit(FORMULA, data, name="api_test", draws=200, tune=200, seed=3)


def test_load_data_is_the_pipeline_table(default_table):
    from cmds_common.analysis_table import data_hash

    assert data_hash(cmds.load_data()) == data_hash(default_table)


def test_load_data_reads_a_coded_table_with_its_declarations(default_table, tmp_path):
    path = tmp_path / "coded.csv"
    default_table.to_csv(path, index=False)
    table = cmds.load_data(path)
    assert len(table) == len(default_table)
    assert table["province"].nunique() == default_table["province"].nunique()
    assert "province" in table.attrs[cmds.api.DECLARATIONS_ATTR]


def test_fit_is_labelled_and_summarised(small_fit):
    assert small_fit.idata.posterior.attrs["model_name"] == "api_test"
    summary = small_fit.summary()
    assert list(summary["term"]) == ["local_medical_insurance_yes", "hukou_urban", "age_years"]
    assert list(summary["label"]) == [
        "Has medical insurance in the inflow area: Yes (ref: No)",
        "Hukou (household registration) type: Urban (ref: Rural)",
        "Age at the survey (May 2015) (per year)",
    ]
    assert {"posterior_median_or", "cri_low", "cri_high", "r_hat", "ess_bulk"} <= set(summary)
    assert (summary["cri_low"] < summary["posterior_median_or"]).all()
    checks = small_fit.convergence()
    assert {"r_hat", "ess_bulk", "divergences"} <= set(checks["check"])


def test_predict_matches_a_hand_computation(small_fit, default_table):
    rows = default_table.iloc[[0, 5, 9]]
    predicted = small_fit.predict(rows)
    posterior = small_fit.idata.posterior
    alpha = posterior["intercept"].to_numpy().ravel()
    beta = posterior["beta"].to_numpy().reshape(-1, 3)
    effect = posterior["province_effect"].to_numpy().reshape(len(alpha), -1)
    design = small_fit.design
    for position, row in enumerate([0, 5, 9]):
        eta = alpha + beta @ design.X[row] + effect[:, design.group_idx[row]]
        assert predicted["probability"].iloc[position] == pytest.approx(
            special.expit(eta).mean(), rel=1e-10
        )
    assert not predicted["new_group"].any()


def test_predict_new_rows_and_an_unseen_province(small_fit):
    rows = pd.DataFrame(
        {
            "local_medical_insurance": ["no", "yes"],
            "hukou": ["rural", "rural"],
            "age_years": [70.0, 70.0],
            "province": ["Guangdong", "Atlantis"],
        }
    )
    predicted = small_fit.predict(rows)
    assert list(predicted["new_group"]) == [False, True]
    assert ((predicted["low"] < predicted["probability"]) & (predicted["probability"] < 1)).all()
    with pytest.raises(ValueError, match=r"levels \[.martian.\] outside"):
        small_fit.predict(rows.assign(hukou=["rural", "martian"]))


def test_update_save_and_load_round_trip(small_fit, default_table, tmp_path):
    longer = small_fit.update(draws=300)
    assert longer.idata.posterior.sizes["draw"] == 300 and longer.settings.seed == 3
    path = longer.save(tmp_path / "api_test.nc")
    again = cmds.load(path, default_table)
    np.testing.assert_array_equal(
        again.idata.posterior["beta"].to_numpy(), longer.idata.posterior["beta"].to_numpy()
    )
    pd.testing.assert_frame_equal(again.summary(), longer.summary(), check_dtype=False)
    with pytest.raises(ValueError, match="hash"):
        cmds.load(path, default_table.iloc[:-1])


def test_shipped_spec_by_name_gives_the_published_column(default_table):
    fit = cmds.fit("model1", default_table, draws=150, tune=150, seed=5)
    assert fit.summary()["published_or"].notna().any()


@pytest.mark.slow
def test_quickstart_notebook_runs():
    namespace = runpy.run_path(str(ROOT / "notebooks" / "quickstart.py"))
    comparison = namespace["fit"].compare(namespace["pooled"])
    assert set(comparison["model"]) == {"insurance_hukou", "insurance_hukou_pooled"}
    assert namespace["checks"]["check"].iloc[0] == "overall"


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## From Python (notebooks)", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)  # fit.save writes my_model.nc here
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert (tmp_path / "my_model.nc").exists()
    assert namespace["longer"].idata.posterior.sizes["draw"] == 2000


def _quick_fit(formula: str, data: pd.DataFrame, **options) -> cmds.Fit:
    """A short fit (2 chains x 100 draws): predictions are checked against its own draws."""
    return cmds.fit(formula, data, draws=100, tune=150, chains=2, seed=4, **options)


def _posterior_draws(fit) -> dict[str, np.ndarray]:
    stacked = fit.idata.posterior.to_dataset().stack(sample=("chain", "draw"))
    return {k: v.transpose("sample", ...).to_numpy() for k, v in stacked.data_vars.items()}


@pytest.fixture(scope="module")
def other_outcomes(default_table):
    """A 600-respondent table with a made-up 3-level ordinal outcome and a continuous one."""
    rng = np.random.default_rng(8)
    table = default_table.sample(600, random_state=8).reset_index(drop=True)
    latent = (table["hukou"] == "urban") * 0.8 + rng.logistic(size=len(table))
    table["health3"] = pd.Categorical(
        np.array(["poor", "fair", "good"])[np.searchsorted([-0.5, 1.0], latent)],
        categories=["poor", "fair", "good"],
        ordered=True,
    )
    table["score"] = 50 + 5 * (table["hukou"] == "urban") + rng.normal(0, 10, len(table))
    return table


@pytest.mark.slow
def test_predict_ordinal_category_probabilities_by_hand(other_outcomes):
    fit = _quick_fit("health3 ~ hukou + (1 | province)", other_outcomes, family="cumulative_logit")
    rows = other_outcomes.iloc[[0, 1]]
    predicted = fit.predict(rows)
    draws = _posterior_draws(fit)
    for position in range(2):
        eta = (
            draws["beta"] @ fit.design.X[position]
            + draws["province_effect"][:, fit.design.group_idx[position]]
        )
        below = special.expit(draws["cutpoints"] - eta[:, None])  # P(Y <= k), k = 1, 2
        hand = {"poor": below[:, 0], "fair": below[:, 1] - below[:, 0], "good": 1 - below[:, 1]}
        for level, values in hand.items():
            assert predicted[f"P({level})"].iloc[position] == pytest.approx(values.mean(), 1e-10)
            assert predicted[f"P({level}) low"].iloc[position] == pytest.approx(
                np.quantile(values, 0.025), 1e-10
            )
    totals = predicted[["P(poor)", "P(fair)", "P(good)"]].sum(axis=1)
    np.testing.assert_allclose(totals, 1.0)


@pytest.mark.slow
def test_predict_gaussian_mean_and_random_slopes_by_hand(other_outcomes):
    gaussian = _quick_fit("score ~ hukou + (1 | province)", other_outcomes, family="gaussian")
    draws = _posterior_draws(gaussian)
    predicted = gaussian.predict(other_outcomes.iloc[[3]])
    eta = (
        draws["intercept"]
        + draws["beta"] @ gaussian.design.X[3]
        + draws["province_effect"][:, gaussian.design.group_idx[3]]
    )
    assert predicted["mean"].iloc[0] == pytest.approx(eta.mean(), rel=1e-10)
    assert predicted["high"].iloc[0] == pytest.approx(np.quantile(eta, 0.975), rel=1e-10)

    slopes = _quick_fit("health_record ~ hukou + (1 + hukou | province)", other_outcomes)
    draws = _posterior_draws(slopes)
    row = int(np.flatnonzero(other_outcomes["hukou"] == "urban")[0])
    g = slopes.design.group_idx[row]
    eta = (
        draws["intercept"]
        + draws["beta"] @ slopes.design.X[row]
        + draws["province_effect"][:, g]
        + draws["province_slope"][:, g, 0]  # the hukou_urban slope: X = 1 for this row
    )
    predicted = slopes.predict(other_outcomes.iloc[[row]])
    assert predicted["probability"].iloc[0] == pytest.approx(special.expit(eta).mean(), 1e-10)
