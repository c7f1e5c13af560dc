"""Field cases 4, 5, 9, 10 and 13 and one consistent results/ folder (issue 10).

Every input is made here (no file outside ``tests/`` is read): very unequal weights (case 4),
a category whose respondents all have a record (case 5), fits too large for every pointwise draw
(case 9), LOO with a weighted-likelihood fit and with bad Pareto k (case 10), a Chinese model
label (case 13), and results folders holding stale, partial or pointwise-less fits.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt

from analysis import checks_cli, compare_cli, summarize_cli
from analysis.figures import CJK_FONT_PACKAGE, cjk_font, save_figure
from analysis.fit_inputs import usable_fits
from analysis.forest_plot import AXIS_CAP, forest_plot
from analysis.model_comparison import (
    comparison_warnings,
    flag_unreliable_ranking,
    pareto_k_summary,
    pareto_k_threshold,
)
from analysis.report import ReportInputs, build_report
from analysis.summarize_cli import display_table, table_notes
from cmds_common.analysis_table import data_hash
from cmds_common.spec import load_spec, spec_to_yaml
from cmds_common.survey_weights import weight_summary
from data_prep.validation import check_table, default_lines
from models import log_density_sampler
from models.design import build_design
from models.fit_file import write_fit_netcdf
from models.frequentist import NOT_ESTIMABLE, fit_weighted_logit

# --- case 4: very unequal weights -------------------------------------------------------------


def test_kish_effective_sample_size_flags_one_dominant_weight(default_table):
    table = default_table.copy()
    equal = weight_summary(np.ones(400))
    assert equal["kish_n_eff"] == 400 and not equal["weights_unreliable"]
    assert not weight_summary(table["weight"].to_numpy())["weights_unreliable"]
    table.loc[0, "weight"] = 100_000 * table["weight"].mean()
    summary = weight_summary(table["weight"].to_numpy())
    assert summary["kish_n_eff"] < 2 and summary["weights_unreliable"]
    assert "Kish effective sample size" in summary["weights_message"]
    _, findings = check_table(table, default_lines(len(table)), "test.csv")
    assert "unequal_weights" in {finding.kind for finding in findings}
    frequentist = fit_weighted_logit(build_design(table, load_spec("model1")))
    assert frequentist["weights_unreliable"].all() and (frequentist["kish_n_eff"] < 2).all()


def _or_table(**extra) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "term": ["a_yes", "b_yes"],
            "posterior_median_or": [1.5, 0.8],
            "cri_low": [1.1, 0.6],
            "cri_high": [2.0, 1.1],
            "prob_or_gt_1": [0.99, 0.1],
            "r_hat": [1.0, 1.0],
            "ess_bulk": [1000.0, 1000.0],
            "freq_or": [1.4, 0.7],
            "freq_ci_low": [1.0, 0.5],
            "freq_ci_high": [1.9, 1.0],
            "freq_note": ["", ""],
            "published_or": [np.nan, np.nan],
            "published_ci_low": [np.nan, np.nan],
            "published_ci_high": [np.nan, np.nan],
        }
    )
    return table.assign(**extra)


def test_unreliable_weights_are_shown_beside_the_weighted_estimates():
    table = _or_table(
        freq_n=632,
        freq_kish_n_eff=1.0,
        freq_max_median_ratio=1.1e5,
        freq_weights_unreliable=True,
        bayes_weighted_likelihood=True,
    )
    columns = list(display_table(table).columns)
    assert any(
        "weighted logit" in c and "Kish effective n 1 of 632, UNRELIABLE" in c for c in columns
    )
    assert any(c.startswith("Bayes OR") and "UNRELIABLE" in c for c in columns)
    (note,) = table_notes(table)
    assert "Kish effective sample size 1 of 632" in note and "do not trust" in note


def test_published_column_only_where_the_spec_names_published_figures():
    assert "published OR (95% CI)" not in display_table(_or_table()).columns
    published = _or_table(
        published_or=[1.5, np.nan], published_ci_low=[1.1, np.nan], published_ci_high=[2.0, np.nan]
    )
    assert list(display_table(published)["published OR (95% CI)"]) == ["1.50 (1.10-2.00)", ""]


# --- case 5: separation -------------------------------------------------------------------------


def test_separated_category_is_not_estimable(default_table):
    table = default_table.copy()
    table.loc[table["occupation"] == "employed", "health_record"] = 1
    for spec in ("model1", "model2"):  # model1's separated variance came out below 0
        with warnings.catch_warnings():  # words in the table, no NumPy warning on the console
            warnings.simplefilter("error", RuntimeWarning)
            fitted = fit_weighted_logit(build_design(table, load_spec(spec)))
        frequentist = fitted.set_index("term")
        separated = frequentist.loc["occupation_employed"]
        assert separated["note"].startswith(NOT_ESTIMABLE)
        values = separated[["odds_ratio", "ci_low", "ci_high", "p_value"]].astype(float)
        assert np.isnan(values).all()
        others = frequentist.drop(index="occupation_employed")
        assert (others["note"] == "").all() and others["odds_ratio"].notna().all()


def test_separated_term_is_marked_not_plotted_and_kept_off_the_axis():
    table = _or_table(
        freq_or=[np.nan, 0.7],
        freq_ci_low=[np.nan, 0.5],
        freq_ci_high=[np.nan, 1.0],
        freq_note=[f"{NOT_ESTIMABLE}: all 225 respondents with a_yes have outcome 1", ""],
        posterior_median_or=[99.0, 0.8],
        cri_low=[40.0, 0.6],
        cri_high=[290.0, 1.1],
    )
    assert display_table(table).iloc[0, 5] == NOT_ESTIMABLE
    assert "leans on its prior" in table_notes(table)[0]
    figure = forest_plot(table, "separation")
    low, high = figure.axes[0].get_xlim()
    assert high < 2 and low > 1 / AXIS_CAP
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert "not estimable (separation)" in texts and "99" in texts
    plt.close(figure)


# --- case 10: LOO ranking with bad Pareto k, and weighted-likelihood fits ---


def test_pareto_k_threshold_and_unreliable_ranking():
    assert pareto_k_threshold(4000) == pytest.approx(0.7)
    assert pareto_k_threshold(100) == pytest.approx(0.5)
    good = pareto_k_summary(np.full(1000, 0.2), 4000)
    bad = pareto_k_summary(np.r_[np.full(900, 0.2), np.full(60, 0.8), np.full(40, 1.3)], 4000)
    assert good["loo_reliable"] and not bad["loo_reliable"]
    assert (bad["pareto_k_bad"], bad["pareto_k_very_bad"]) == (60, 40)
    table = flag_unreliable_ranking(pd.DataFrame([{"model": "m1", **good}, {"model": "m2", **bad}]))
    assert not table["ranking_reliable"].any()
    (warning,) = comparison_warnings(table)
    assert "UNRELIABLE" in warning and "m2" in warning


def _fake_fit(path: Path, spec_name: str, hash_of_data: str, pointwise: bool = True) -> None:
    rng = np.random.default_rng(0)
    groups = {"posterior": {"intercept": rng.normal(size=(2, 200))}}
    if pointwise:
        groups["log_likelihood"] = {"health_record": np.log(rng.uniform(0.3, 0.7, (2, 200, 30)))}
    idata = az.from_dict(groups)
    idata.posterior.attrs.update(
        model_name=path.stem,
        data_hash=hash_of_data,
        spec_yaml=spec_to_yaml(load_spec(spec_name)),
        pointwise_stored=int(pointwise),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_fit_netcdf(idata, path)


@pytest.fixture
def results(tmp_path, default_table) -> tuple[Path, str]:
    """A results folder with the current data and fits of it."""
    data = tmp_path / "data" / "analysis_data.parquet"
    data.parent.mkdir(parents=True)
    table = default_table.head(30)
    table.to_parquet(data)
    return tmp_path, data_hash(pd.read_parquet(data))


def test_compare_refuses_a_weighted_likelihood_fit(results, capsys):
    folder, current = results
    _fake_fit(folder / "fits" / "model2.nc", "model2", current)
    _fake_fit(folder / "fits" / "model2_weighted.nc", "model2_weighted", current)
    previous = folder / "tables" / "model_comparison.csv"
    previous.parent.mkdir(parents=True, exist_ok=True)
    previous.write_text("model,rank\nmodel2,0\nmodel2_pooled,1\n")
    data = folder / "data" / "analysis_data.parquet"
    args = ["--fits", str(folder / "fits"), "--out", str(folder), "--data", str(data)]
    assert compare_cli.main([*args, "--models", "model2", "model2_weighted"]) == 2
    err = capsys.readouterr().err
    assert "pseudo-likelihood" in err and "Traceback" not in err
    # the ordinary fit is named as such, not reported as unusable
    assert "ordinary fits among those requested: model2 " in err and "make weights" in err
    # a refused comparison leaves the previous one as it was
    assert previous.read_text() == "model,rank\nmodel2,0\nmodel2_pooled,1\n"


# --- item 5: one consistent results/ folder ---


def test_stale_missing_and_pointwise_less_fits_are_left_out_in_words(results):
    folder, current = results
    fits = folder / "fits"
    _fake_fit(fits / "model1.nc", "model1", current)
    _fake_fit(fits / "model2.nc", "model2", "0123456789abcdef")
    _fake_fit(fits / "model2_pooled.nc", "model2_pooled", current, pointwise=False)
    selection = usable_fits(
        fits,
        ["model1", "model2", "model2_pooled", "model2_slopes"],
        folder / "data" / "analysis_data.parquet",
        need_pointwise=True,
    )
    assert selection.usable == ["model1"]
    assert selection.left_out["model2"].startswith("stale: fitted to other data")
    assert "without pointwise draws" in selection.left_out["model2_pooled"]
    assert selection.left_out["model2_slopes"].startswith("no fit")


def test_steps_end_cleanly_on_a_stale_or_partial_results_folder(results, capsys):
    folder, _ = results
    fits, data = folder / "fits", folder / "data" / "analysis_data.parquet"
    _fake_fit(fits / "model2.nc", "model2", "0123456789abcdef")
    common = ["--fits", str(fits), "--out", str(folder)]
    assert checks_cli.main([*common, "--data", str(data), "--models", "model2"]) == 2
    assert summarize_cli.main([*common, "--data", str(data)]) == 2
    assert (
        compare_cli.main([*common, "--data", str(data), "--models", "model2", "model2_pooled"]) == 2
    )
    err = capsys.readouterr().err
    assert "stale: fitted to other data" in err and "no fit" in err
    page = build_report(ReportInputs(results=folder, models=["model1", "model2"]))
    assert "Not in this report" in page and "stale: fitted to other data" in page


# --- case 9: fits too large for every pointwise draw --------------------------------------------


def test_pointwise_thinning_keeps_the_groups_under_the_limit():
    assert log_density_sampler.pointwise_thinning(3158, 4, 1000) == 1
    limit, most = log_density_sampler.POINTWISE_LIMIT, log_density_sampler.POINTWISE_MAX_DRAWS
    for draws in (3000, 4000):  # the random-slopes model's draws; the README's DRAWS=4000
        thin = log_density_sampler.pointwise_thinning(3158, 4, draws)
        kept = 4 * len(range(0, draws, thin))
        assert kept <= most and 3158 * kept <= limit
        assert 4 * len(range(0, draws, thin - 1)) > most  # no more thinning than needed
    # respondents x draws over the limit thin further than the draw cap alone would
    thin = log_density_sampler.pointwise_thinning(20_000, 4, 1000)
    assert 20_000 * 4 * len(range(0, 1000, thin)) <= limit
    assert 20_000 * 4 * len(range(0, 1000, thin - 1)) > limit
    assert (
        log_density_sampler.pointwise_thinning(206_000, 4, 1000) == 0
    )  # under 400 draws would remain


@pytest.mark.slow
def test_thinned_fit_supports_loo_and_checks(default_table, monkeypatch):
    from models.sampling import SamplerSettings

    spec = load_spec("model1")
    design = build_design(default_table.head(300), spec)
    monkeypatch.setattr(log_density_sampler, "POINTWISE_LIMIT", 300 * 2 * 100)
    monkeypatch.setattr(log_density_sampler, "MIN_POINTWISE_DRAWS", 50)
    settings = SamplerSettings(chains=2, draws=200, tune=200, seed=3, progress=False)
    idata, details = log_density_sampler.sample_compiled(design, spec, settings)
    assert details["pointwise_thinning"] == 2 and details["pointwise_stored"] == 1
    kept = idata.log_likelihood["health_record"]
    assert kept.sizes["draw"] == 100
    np.testing.assert_array_equal(kept["draw"], idata.posterior["draw"][::2])
    assert idata.posterior_predictive.sizes["draw"] == 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert np.isfinite(az.loo(idata).elpd)
    # prior sensitivity pairs the kept draws' log-likelihood with the same posterior draws
    import xarray as xr

    from analysis.sensitivity import prior_sensitivity

    thinned = prior_sensitivity(idata, design, spec)
    same_draws = idata.copy()
    same_draws["posterior"] = xr.DataTree(idata.posterior.to_dataset().isel(draw=slice(0, None, 2)))
    expected = prior_sensitivity(same_draws, design, spec)
    pd.testing.assert_frame_equal(thinned, expected)
    assert np.isfinite(thinned[["prior", "likelihood"]].to_numpy(float)).all()


# --- case 13: Chinese labels ---------------------------------------------------------------------


def _chinese_figure():
    figure, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    figure.suptitle("本地社会关系模型（流动老人）: odds ratios")
    return figure


def test_chinese_title_uses_a_cjk_font_when_installed(tmp_path):
    if cjk_font() is None:
        pytest.skip(f"no CJK font installed (install {CJK_FONT_PACKAGE})")
    figure = _chinese_figure()
    save_figure(figure, tmp_path / "zh.png")  # filterwarnings=error: no missing-glyph warning
    assert (tmp_path / "zh.png").stat().st_size > 0


def test_chinese_title_without_a_cjk_font_warns_with_the_package(tmp_path, monkeypatch):
    import analysis.figures as figures

    monkeypatch.setattr(figures, "cjk_font", lambda: None)
    with pytest.warns(UserWarning, match="fonts-noto-cjk"):
        save_figure(_chinese_figure(), tmp_path / "zh.png")
    assert (tmp_path / "zh.png").exists()


def test_a_fit_without_pointwise_draws_says_why_and_what_to_do():
    """Too few draws (make fit DRAWS=60: 4 x 60 = 240 < 400) asks for more draws; too many
    respondents (a pooled 1.5-million-row fit) says so; neither asks for fewer draws."""
    from analysis.fit_inputs import missing_pointwise_reason

    few = missing_pointwise_reason({"chains": 4, "draws": 60, "total_draws": 240, "n_obs": 3158})
    assert "240 posterior draws" in few and "DRAWS= at least 100 with 4 chains" in few
    many = missing_pointwise_reason(
        {"chains": 4, "draws": 300, "total_draws": 1200, "n_obs": 1_500_000}
    )
    assert "1,500,000 respondents" in many
    assert "fewer draws" not in few + many
