"""The whole pipeline (data -> fits -> summaries), and recovery of the generator's truth."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis.checks_cli import main as checks_main
from analysis.cli import main as analysis_main
from analysis.compare_cli import main as compare_main
from analysis.report_cli import main as report_main
from analysis.summarize_cli import main as summarize_main
from cmds_common.analysis_table import read_analysis_table
from cmds_common.spec import load_spec
from data_prep.build_cli import main as data_main
from data_prep.synthetic import load_params
from models.design import build_design
from models.fit_cli import main as fit_main

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory) -> Path:
    """Run data -> model1 (few draws) and model2 (default draws) -> summaries once."""
    root = tmp_path_factory.mktemp("pipeline")
    assert data_main(["--out", str(root / "data")]) == 0
    data = str(root / "data" / "analysis_data.parquet")
    quick = ["--draws", "300", "--tune", "300", "--no-progress"]
    assert fit_main(["--data", data, "--spec", "model1", "--out", str(root / "fits"), *quick]) == 0
    assert (
        fit_main(["--data", data, "--spec", "model2", "--out", str(root / "fits"), "--no-progress"])
        == 0
    )
    code = summarize_main(
        [
            "--fits",
            str(root / "fits"),
            "--out",
            str(root),
            "--accept-convergence-failure",
            "--data",
            data,
        ]
    )
    assert code == 0
    assert checks_main(["--fits", str(root / "fits"), "--data", data, "--out", str(root)]) == 0
    models = ["--models", "model1", "model2"]
    assert (
        compare_main(["--fits", str(root / "fits"), "--data", data, "--out", str(root), *models])
        == 0
    )
    assert report_main(["--results", str(root), *models]) == 0
    return root


def test_outputs_exist(pipeline_dir):
    for name in ("model1", "model2"):
        assert (pipeline_dir / "fits" / f"{name}.nc").stat().st_size > 0
        assert (pipeline_dir / "fits" / f"{name}_frequentist.csv").exists()
        assert (pipeline_dir / "tables" / f"odds_ratios_{name}.csv").exists()
        markdown = (pipeline_dir / "tables" / f"odds_ratios_{name}.md").read_text()
        assert "published OR (95% CI)" in markdown and "Convergence:" in markdown
        png = (pipeline_dir / "figures" / f"forest_{name}.png").read_bytes()
        assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000
    assert (pipeline_dir / "data" / "data_dictionary.csv").exists()
    assert not list(pipeline_dir.rglob(".*.tmp*")), "temporary files left behind"


def test_netcdf_groups_labels_and_provenance(pipeline_dir):
    idata = az.from_netcdf(pipeline_dir / "fits" / "model2.nc")
    for group in (
        "posterior",
        "log_likelihood",
        "posterior_predictive",
        "observed_data",
        "sample_stats",
        "prior",
        "prior_predictive",
    ):
        assert group in idata.children
    assert idata.prior_predictive["health_record"].shape == (1, 500, 3158)
    posterior = idata.posterior
    assert posterior.sizes["chain"] == 4 and posterior.sizes["draw"] == 1000
    assert "local_medical_insurance_yes" in posterior["beta"].coords["term"].values
    assert posterior["province_effect"].coords["province"].values[0] == "Beijing"
    assert idata.log_likelihood["health_record"].shape == (4, 1000, 3158)
    attrs = posterior.attrs
    assert attrs["model_name"] == "model2" and attrs["seed"] == 20150501
    assert len(attrs["data_hash"]) == 16
    assert json.loads(attrs["package_versions"])["pymc"].startswith("6.")
    assert attrs["sampler"] == "compiled"  # the compiled log-density, no silent fallback


def test_odds_ratio_table_joins_three_sources(pipeline_dir):
    table = pd.read_csv(pipeline_dir / "tables" / "odds_ratios_model2.csv")
    assert len(table) == 12
    for column in (
        "posterior_median_or",
        "freq_or",
        "published_or",
        "prob_or_gt_1",
        "r_hat",
        "ess_bulk",
    ):
        assert table[column].notna().all(), column
    assert (table["cri_low"] < table["posterior_median_or"]).all()
    assert (table["posterior_median_or"] < table["cri_high"]).all()
    assert table["prob_or_gt_1"].between(0, 1).all()


def test_default_fit_passes_convergence_gate(pipeline_dir):
    checks = pd.read_csv(pipeline_dir / "tables" / "convergence_model2.csv")
    failed = checks.loc[~checks["passed"]]
    assert failed.empty, failed.to_string()
    assert {"r_hat", "ess_bulk", "divergences"} <= set(checks["check"])


def test_posterior_agrees_with_province_fixed_effects_glm(pipeline_dir):
    """Independent implementation: statsmodels GLM with one dummy per province.

    With 3,158 respondents and weak priors, conditioning on province by fixed or by random
    intercepts changes the coefficients by a small fraction of their SE (shrinkage of the
    province effects is mild). Tolerance: 0.5 posterior SD per coefficient; Monte Carlo error
    of the median is about 0.03 SD at the ESS reached.
    """
    idata = az.from_netcdf(pipeline_dir / "fits" / "model2.nc")
    table = read_analysis_table(pipeline_dir / "data" / "analysis_data.parquet")
    design = build_design(table, load_spec("model2"))
    dummies = pd.get_dummies(table["province"]).to_numpy(float)
    fixed = sm.GLM(
        design.y, np.column_stack([design.X, dummies]), family=sm.families.Binomial()
    ).fit()
    beta = idata.posterior["beta"]
    gap = (beta.median(("chain", "draw")).values - fixed.params[: len(design.terms)]) / beta.std(
        ("chain", "draw")
    ).values
    assert np.abs(gap).max() < 0.5, dict(zip(design.terms, gap.round(2), strict=True))


def test_recovers_generating_parameters(pipeline_dir):
    idata = az.from_netcdf(pipeline_dir / "fits" / "model2.nc")
    truth = load_params()
    beta = idata.posterior["beta"]
    inside_95 = inside_999 = 0
    for term in beta["term"].values:
        draws = beta.sel(term=term).values.ravel()
        value = truth.coefficients[str(term)]
        inside_95 += np.quantile(draws, 0.025) <= value <= np.quantile(draws, 0.975)
        inside_999 += np.quantile(draws, 0.0005) <= value <= np.quantile(draws, 0.9995)
    # 12 intervals at 95%: a calibrated fit misses at most one with probability 0.88
    assert inside_95 >= 11 and inside_999 == 12
    sigma = idata.posterior["province_sigma"].values.ravel()
    assert np.quantile(sigma, 0.025) <= truth.province_sd <= np.quantile(sigma, 0.975)
    effects = idata.posterior["province_effect"].mean(("chain", "draw")).values
    true_effects = pd.read_csv(pipeline_dir / "data" / "synthetic_truth.csv")["province_effect"]
    assert np.corrcoef(effects, true_effects)[0, 1] > 0.7


def test_checks_variation_and_comparison_outputs(pipeline_dir):
    tables, figures = pipeline_dir / "tables", pipeline_dir / "figures"
    checks = pd.read_csv(tables / "ppc_model2.csv")
    assert set(checks["check"]) == {"overall", "province", "category"}
    assert (checks.query("check == 'province'")["n"].sum()) == 3158
    assert checks["bayes_p"].between(0, 1).all()
    variation = pd.read_csv(tables / "province_variation_model2.csv").set_index("measure")
    assert 1 < variation.loc["median_odds_ratio", "median"] < 3
    rates = pd.read_csv(tables / "province_rates_model2.csv")
    assert len(rates) == 32 and rates["prob_top5"].sum() == pytest.approx(5)
    assert rates["prob_bottom5"].sum() == pytest.approx(5)
    comparison = pd.read_csv(tables / "model_comparison.csv")
    assert set(comparison["model"]) == {"model1", "model2"}
    assert (
        comparison[["pareto_k_good", "pareto_k_bad", "pareto_k_very_bad"]].sum(axis=1) == 3158
    ).all()
    for stem in (
        "ppc_overall",
        "ppc_province",
        "ppc_categories",
        "calibration",
        "caterpillar",
        "shrinkage",
        "tilemap",
    ):
        assert (figures / f"{stem}_model2.png").read_bytes().startswith(PNG_SIGNATURE), stem


def test_parallel_lanes_write_the_same_files_as_the_serial_steps(pipeline_dir, tmp_path):
    """`python -m analysis --jobs 2 summarize --then ppc --then compare --then effects` (make
    fit's form): the gate first, then the steps in two processes, gives the tables and figures
    of the steps run one by one (the fixture's, and effects run here): the same figures and
    Markdown tables, byte for byte, and the same CSV tables to 1e-12 (a sum computed in another
    process may differ in its last bit)."""
    fits, data = pipeline_dir / "fits", pipeline_dir / "data" / "analysis_data.parquet"
    serial, lanes = tmp_path / "serial", tmp_path / "lanes"
    effects = ["--models", "model1", "model2", "--pcv", "model1", "model2"]
    profiles = ["--profiles", str(ROOT / "studies" / "jing2019" / "profiles.yaml")]
    inputs = ["--fits", str(fits), "--data", str(data)]
    assert analysis_main(["effects", *inputs, "--out", str(serial), *effects, *profiles]) == 0
    common = [*inputs, "--out", str(lanes)]
    command = [
        sys.executable, "-m", "analysis", "--jobs", "2",
        "summarize", *common, "--accept-convergence-failure",
        "--then", "ppc", *common,
        "--then", "compare", *common, "--models", "model1", "model2",
        "--then", "effects", *common, *effects, *profiles,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "predictive checks" in done.stdout and "model comparison" in done.stdout
    written = sorted(
        p.relative_to(lanes)
        for p in lanes.rglob("*")
        if p.is_file() and p.suffix not in (".html", ".docx")
    )
    names = {p.name for p in written}
    assert {"model_comparison.csv", "ame_model2.csv", "ppc_model2.csv"} <= names
    for path in written:
        reference = serial / path if (serial / path).exists() else pipeline_dir / path
        if path.suffix == ".csv":
            pd.testing.assert_frame_equal(
                pd.read_csv(lanes / path), pd.read_csv(reference), rtol=1e-12, atol=1e-15
            )
        else:
            assert (lanes / path).read_bytes() == reference.read_bytes(), path


def test_report_renders_with_every_figure(pipeline_dir, chromium, rendered_dom, page_overflow):
    report = pipeline_dir / "report.html"
    text = report.read_text(encoding="utf-8")
    n_images = text.count("<img ")
    # per model: a forest plot, 4 predictive-check figures, 3 province-variation figures
    assert n_images == 2 * (1 + 4 + 3) and "Figure not produced" not in text
    assert "http://" not in text and "https://" not in text  # self-contained
    for section in (
        "Inclusion flow",
        "Tables 1-2",
        "Table 3",
        "Posterior predictive checks",
        "Variation between groups",
        "Model comparison",
        "Convergence diagnostics",
        "Run metadata",
        "Package versions",
    ):
        assert section in text, section
    dom = rendered_dom(report)
    loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert loaded, "the page's load script did not run"
    assert loaded.group(1) == loaded.group(2) == str(n_images)
    screenshot = pipeline_dir / "report.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                *chromium,
                f"--user-data-dir={profile}",
                "--window-size=1300,3000",
                f"--screenshot={screenshot}",
                report.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
    assert screenshot.read_bytes().startswith(PNG_SIGNATURE)
    # at a laptop's width the page never scrolls sideways, even with every table expanded
    assert page_overflow(report, 1280) == 0


def test_report_speaks_in_labels(pipeline_dir):
    text = (pipeline_dir / "report.html").read_text(encoding="utf-8")
    # Tables 1-2, the odds-ratio tables and the predictive checks: declared labels and levels
    for label in ("Number of local friends", "3 or more", "Fewer than 3", "With a health record"):
        assert label in text, label
    codes = ("local_friends_ge3", "income_quartile_Q4", "health_record_yes", "primary_or_below")
    for code in codes:
        assert code not in text, code
    assert "<td>Whole sample</td>" in text and "1 (ref.)" in text
    # the predictive checks name the outcome by its label; the comparison flags read yes/no
    assert "Share who has established a health record in the inflow community (%)" in text
    assert "health_record = 1" not in text and "<td>True</td>" not in text
    assert "Household monthly income: Q1, lowest" in text and "Q1 poorest" not in text
    ppc_md = (pipeline_dir / "tables" / "ppc_model2.md").read_text(encoding="utf-8")
    assert "health_record" not in ppc_md and "| Whole sample |" in ppc_md
    # model headings by the spec's label, the code in small type; a contents list links them
    assert '<h3 id="odds-ratios-model2">Model 2: social integration + covariates' in text
    assert '<a href="#odds-ratios-model2">' in text and 'class="contents"' in text
    # convergence, comparison and metadata tables name each model by its label, code beside;
    # an ESS is a count of draws, shown without decimals
    convergence = text[text.index('id="convergence"') : text.index('id="metadata"')]
    assert "<td>Model 2: social integration + covariates</td><td>model2</td>" in convergence
    ess_cells = re.findall(r"<td class=\"num\">(\d+(?:\.\d+)?)</td>", convergence)
    assert ess_cells and not any(re.fullmatch(r"\d{3,}\.\d{3}", cell) for cell in ess_cells)
    # the third study has not been run here: no empty section or contents entry for it
    assert 'id="heterogeneity"' not in text and 'href="#heterogeneity"' not in text
