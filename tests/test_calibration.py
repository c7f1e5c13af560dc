"""Simulation-based calibration: scoring functions exactly, and a small study (slow tier).

The full study is ``make validate`` (100 replicates of the 3,158-row design, about 6 minutes);
here 8 replicates on a 600-respondent subsample check that coverage is in the right region.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from analysis.calibration import (
    CalibrationSettings,
    coverage_table,
    draw_truth,
    replicate_summary,
    run_calibration,
    simulate_outcome,
    wilson_interval,
)
from cmds_common.spec import load_spec
from models.design import build_design


def test_rank_and_interval_membership_of_known_truths():
    draws = np.tile(np.arange(1000.0)[:, None], (1, 3))  # 0, 1, ..., 999; thinned: 0, 10, 20, ...
    truth = np.array([-5.0, 505.0, 940.0])
    summary = replicate_summary(draws, truth, rank_draws=99)
    assert summary["rank"][0] == 0 and summary["rank"][1] == 50
    assert summary["rank"][2] == 93  # thinned draws round(k * 999 / 98): 93 are below 940
    np.testing.assert_array_equal(summary["in_50%"], [False, True, False])
    np.testing.assert_array_equal(summary["in_90%"], [False, True, True])


@pytest.mark.parametrize(("successes", "trials"), [(0, 10), (45, 100), (99, 100), (7, 13)])
def test_wilson_interval_matches_statsmodels(successes, trials):
    expected = proportion_confint(successes, trials, alpha=0.01, method="wilson")
    np.testing.assert_allclose(wilson_interval(successes, trials, 0.99), expected, rtol=1e-10)


def test_coverage_table_flags_miscalibration():
    rng = np.random.default_rng(0)
    n = 400
    results = pd.DataFrame(
        {
            "replicate": np.tile(np.arange(n), 2),
            "parameter": np.repeat(["calibrated", "overconfident"], n),
            "rank": np.concatenate([rng.integers(0, 100, n), rng.choice([0, 99], n)]),
            "in_50%": np.concatenate([rng.random(n) < 0.5, rng.random(n) < 0.2]),
            "in_90%": np.concatenate([rng.random(n) < 0.9, rng.random(n) < 0.5]),
        }
    )
    table = coverage_table(results, rank_draws=99).set_index("parameter")
    assert table.loc["calibrated", "coverage_50%_ok"] and table.loc["calibrated", "coverage_90%_ok"]
    assert table.loc["calibrated", "rank_chi2_p"] > 1e-3
    assert not table.loc["overconfident", "coverage_90%_ok"]
    assert table.loc["overconfident", "rank_chi2_p"] < 1e-10


def test_simulated_outcomes_follow_the_true_model(default_table):
    """Outcome shares per province match the true probabilities (binomial 5-SD bounds)."""
    spec = load_spec("model2")
    design = build_design(default_table, spec)
    rng = np.random.default_rng(1)
    truth = draw_truth(design, spec, rng)
    eta = truth["intercept"] + design.X @ truth["beta"]
    prob = 1 / (1 + np.exp(-(eta + truth["province_effect"][design.group_idx])))
    replicates = np.stack([simulate_outcome(design, truth, rng) for _ in range(200)])
    share = replicates.mean(axis=0)
    assert np.all(np.abs(share - prob) <= 5 * np.sqrt(prob * (1 - prob) / 200) + 1e-9)


@pytest.mark.slow
def test_small_calibration_study_covers_the_truth(default_table):
    """Eight replicates on 600 respondents: coverage near nominal, loose bounds.

    Pooled over 14 quantities x 8 replicates (112 intervals; correlated within a replicate),
    90% intervals must cover at least 75% and 50% intervals between 30% and 70%.
    """
    spec = load_spec("model2")
    rows = np.random.default_rng(2).choice(len(default_table), 600, replace=False)
    design = build_design(default_table.iloc[np.sort(rows)].reset_index(drop=True), spec)
    settings = CalibrationSettings(replicates=8, draws=500, tune=400, rank_draws=49, seed=3)
    results = run_calibration(design, spec, settings)
    assert len(results) == 8 * (2 + len(design.terms))
    assert results["rank"].between(0, 49).all()
    assert results["in_90%"].mean() >= 0.75
    assert 0.3 <= results["in_50%"].mean() <= 0.7
    assert (results.drop_duplicates("replicate")["max_r_hat"] < 1.05).all()


def test_rank_ecdf_plot_has_one_panel_per_quantity():
    from analysis.calibration_plots import rank_ecdf_plot

    rng = np.random.default_rng(3)
    names = ["intercept", "beta[a]", "beta[b]", "province_sigma", "beta[c]"]
    rows = [
        {"replicate": r, "parameter": n, "rank": int(rng.integers(0, 100))}
        for r in range(60)
        for n in names
    ]
    fig = rank_ecdf_plot(pd.DataFrame(rows), 99)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert len(titles) == len(names) and any("province_sigma" in t for t in titles)
