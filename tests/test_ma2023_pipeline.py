"""The ma2023 study end to end on a small synthetic sample with short chains (slow).

``python -m data_prep --study ma2023`` then ``python -m analysis study``: every table, figure and
the report are written, the comparison table has the published, frequentist and Bayesian rows,
and, for the model without province-varying slopes (identity link, no interactions), the
g-computation ATT equals the posterior of the host-city coefficient draw by draw.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis.cli import main as analysis_main
from analysis.fit_inputs import load_fit
from analysis.g_computation import att_draws
from data_prep.build_cli import main as data_prep_main

TABLES = [
    "comparison",
    "published_vs_data",
    "factor_adequacy",
    "factor_loadings",
    "factor_variance",
    "eigenvalues",
    "descriptive_by_treatment",
    "anova",
    "ols_full",
    "ols_stepwise",
    "matching_balance",
    "province_effects",
    "ame_index_multilevel",
    "ame_index_province_effects",
]
FIGURES = ["comparison", "scree", "matching_balance", "common_support", "province_effects"]


@pytest.mark.slow
# The slopes model puts its intercept prior at the predictors' means through a pm.Potential;
# posterior predictive draws need only the posterior, so PyMC's notice about it is harmless.
@pytest.mark.filterwarnings("ignore:The effect of Potentials on other parameters:UserWarning")
def test_study_runs_end_to_end(tmp_path):
    data = tmp_path / "data"
    assert data_prep_main(["--study", "ma2023", "--n", "900", "--out", str(data)]) == 0
    status = analysis_main(
        [
            "study", "--study", "ma2023", "--data", str(data / "analysis_data.parquet"),
            "--out", str(tmp_path), "--chains", "2", "--draws", "150", "--tune", "150",
            "--no-progress", "--accept-convergence-failure",
        ]
    )  # fmt: skip
    assert status == 0
    for name in TABLES:
        assert (tmp_path / "tables" / f"{name}.csv").exists(), name
        assert (tmp_path / "tables" / f"{name}.md").exists(), name
    for name in FIGURES:
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 10_000, name
    comparison = pd.read_csv(tmp_path / "tables" / "comparison.csv")
    assert set(comparison["source"]) == {"published", "frequentist", "Bayesian"}
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "published, frequentist, Bayesian" in report and "6.47 index points" in report
    # readers see the declared labels; the CSV files keep the codes
    ols_md = (tmp_path / "tables" / "ols_full.md").read_text(encoding="utf-8")
    assert "Host city (ref: Hometown)" in ols_md and "smi_location_host_city" not in ols_md
    # (convergence messages may name the parameter; no table cell shows the code)
    assert "Host city (ref: Hometown)" in report and ">smi_location_host_city<" not in report
    assert "smi_location_host_city" in set(pd.read_csv(tmp_path / "tables" / "ols_full.csv").term)
    figures_md = (tmp_path / "tables" / "published_vs_data.md").read_text(encoding="utf-8")
    assert "Respondents analysed (insured)" in figures_md and "n_insured_analysed" not in figures_md
    assert not re.search(r"\| \d+\.0+ \| respondents", figures_md)  # counts are whole numbers

    fit = load_fit(
        tmp_path / "fits" / "index_multilevel.nc", tmp_path / "data" / "model_data.parquet"
    )
    treated = (fit.data["smi_location"] == "host_city").to_numpy()
    posterior = fit.idata.posterior.to_dataset()
    draws = att_draws(posterior, fit.design, "smi_location_host_city", treated)
    beta = posterior["beta"].sel(term="smi_location_host_city").stack(s=("chain", "draw"))
    np.testing.assert_allclose(draws, beta.to_numpy(), rtol=1e-9, atol=1e-9)
    by_label = comparison["estimate_label"].str.contains("province and city intercepts")
    row = comparison.loc[by_label].iloc[0]  # index_multilevel, named by its label
    assert row["estimate"] == pytest.approx(float(beta.mean()), rel=1e-9)
    # identity link, no interactions: the AME of host city vs hometown is the coefficient itself
    ame = pd.read_csv(tmp_path / "tables" / "ame_index_multilevel.csv")
    host = ame[(ame["variable"] == "smi_location") & ame["contrast"].str.startswith("host_city")]
    quantiles = np.quantile(beta.to_numpy(), [0.025, 0.5, 0.975])
    np.testing.assert_allclose(
        host[["ci_low", "estimate", "ci_high"]].to_numpy()[0], quantiles, rtol=1e-9, atol=1e-9
    )
    assert "Average marginal effects" in report and "ame-index_multilevel" in report
