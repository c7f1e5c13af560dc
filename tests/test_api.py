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
