"""Checks, variation, LOO grouping and figures for specs of any family and grouping factors.

Known truths: group statistics against pandas' own group-by; replicates equal to the data give
the observed value as the predictive median and a mid-p of one half; ICC and MOR against their
formulas at fixed draws. No sampling: fits are hand-made posteriors.
"""

from __future__ import annotations

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import checks_cli, compare_cli
from analysis.fit_inputs import LoadedFit
from analysis.ppc import group_statistics, predictive_checks
from analysis.province_plots import caterpillar_plot
from analysis.province_variation import group_effects, variance_summaries
from cmds_common.analysis_table import data_hash
from cmds_common.spec import spec_from_dict
from models.design import build_design
from tests.test_untrusted_statistics import _fake_fit


def _table(n: int = 120, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "y": rng.normal(10, 3, n),
            "k": pd.Categorical.from_codes(rng.integers(0, 3, n), ["low", "mid", "high"], True),
            "s": rng.integers(0, 4, n),
            "n": rng.integers(4, 8, n),
            "a": pd.Categorical(rng.choice(["no", "yes"], n), categories=["no", "yes"]),
            "g": pd.Categorical([f"g{v}" for v in rng.integers(0, 4, n)]),
            "h": pd.Categorical([f"h{v}" for v in rng.integers(0, 3, n)]),
        }
    )


def test_group_statistics_match_pandas_groupby():
    table = _table()
    codes = table["g"].cat.codes.to_numpy()
    gaussian = group_statistics(table["y"].to_numpy()[None, :], codes, 4, "gaussian")
    by_hand = table.groupby("g", observed=True)["y"].agg(["mean", "std"])
    np.testing.assert_allclose(gaussian["mean"][0], by_hand["mean"], rtol=1e-12)
    np.testing.assert_allclose(gaussian["sd"][0], by_hand["std"], rtol=1e-10)
    levels = ["low", "mid", "high"]
    ordinal = group_statistics(
        table["k"].cat.codes.to_numpy()[None, :], codes, 4, "cumulative_logit", None, levels
    )
    shares = pd.crosstab(table["g"], table["k"], normalize="index")
    for level in levels:
        np.testing.assert_allclose(ordinal[f"share {level}"][0], shares[level], rtol=1e-12)
    binomial = group_statistics(
        table["s"].to_numpy()[None, :], codes, 4, "binomial", table["n"].to_numpy()
    )
    totals = table.groupby("g", observed=True)[["s", "n"]].sum()
    np.testing.assert_allclose(binomial["proportion"][0], totals["s"] / totals["n"], rtol=1e-12)


def _gaussian_fit(table: pd.DataFrame) -> LoadedFit:
    """A fit whose replicates all equal the data, with two grouping factors."""
    raw = {"name": "toy", "formula": "y ~ a + (1 | g) + (1 | h)", "family": "gaussian"}
    spec = spec_from_dict(raw)
    design = build_design(table, spec)
    n, draws = len(table), 50
    y_rep = np.broadcast_to(table["y"].to_numpy(), (2, draws, n))
    idata = az.from_dict(
        {
            "posterior": {
                "intercept": np.full((2, draws), 10.0),
                "beta": np.zeros((2, draws, 1)),
                "sigma": np.full((2, draws), 2.0),
                "g_sigma": np.full((2, draws), 1.0),
                "h_sigma": np.full((2, draws), 0.5),
                "g_effect": np.tile(np.linspace(-1, 1, 4), (2, draws, 1)),
                "h_effect": np.tile(np.linspace(-0.5, 0.5, 3), (2, draws, 1)),
            },
            "posterior_predictive": {"y": y_rep},
            "log_likelihood": {"y": np.full((2, draws, n), -2.0)},
            "observed_data": {"y": table["y"].to_numpy()},
        },
        coords={"term": design.terms, "g": design.groups[0].levels, "h": design.groups[1].levels},
        dims={"beta": ["term"], "g_effect": ["g"], "h_effect": ["h"], "y": ["obs"]},
    )
    idata.posterior.attrs.update(data_hash=data_hash(table), model_label="Toy model")
    return LoadedFit("toy", idata, spec, table, design, {"y": "Toy outcome (points)"})


def test_checks_of_a_gaussian_spec_with_two_factors():
    table = _table()
    fit = _gaussian_fit(table)
    checks = predictive_checks(fit.idata, table, spec=fit.spec)
    assert set(checks["check"]) == {"overall", "g", "h", "category"}
    assert set(checks["statistic"]) == {"mean", "sd"}
    assert (checks.query("check == 'g'")["n"].groupby(checks["statistic"]).sum() == 120).all()
    np.testing.assert_allclose(checks["predicted_median"], checks["observed"], rtol=1e-9)
    np.testing.assert_allclose(checks["bayes_p"], 0.5)
    overall = checks.query("check == 'overall'").set_index("statistic")["observed"]
    assert overall["mean"] == pytest.approx(table["y"].mean())
    assert overall["sd"] == pytest.approx(table["y"].std())


def test_variation_measures_per_factor_and_family():
    fit = _gaussian_fit(_table())
    gaussian = variance_summaries(fit.idata, family="gaussian", groups=["g", "h"])
    icc = gaussian.query("measure == 'icc'").set_index("group")["median"]
    assert icc["g"] == pytest.approx(1.0 / (1.0 + 0.25 + 4.0))
    assert icc["h"] == pytest.approx(0.25 / (1.0 + 0.25 + 4.0))
    assert "median_odds_ratio" not in set(gaussian["measure"])
    logit = variance_summaries(fit.idata, family="cumulative_logit", groups=["g", "h"])
    latent = logit.query("measure == 'icc_latent'").set_index("group")["median"]
    assert latent["g"] == pytest.approx(1.0 / (1.25 + np.pi**2 / 3))
    mor = logit.query("measure == 'median_odds_ratio'").set_index("group")["median"]
    assert mor["h"] == pytest.approx(np.exp(np.sqrt(2 * 0.25) * stats.norm.ppf(0.75)))
    units = group_effects(fit.idata, "g", family="gaussian")
    np.testing.assert_allclose(units["estimate"], np.linspace(-1, 1, 4))
    assert set(units["scale"]) == {"outcome units"}
    ratios = group_effects(fit.idata, "g", family="bernoulli")
    np.testing.assert_allclose(ratios["estimate"], np.exp(np.linspace(-1, 1, 4)))


def test_checks_cli_writes_every_view_of_a_non_province_spec(tmp_path):
    fit = _gaussian_fit(_table())
    checks_cli.check_fit(fit, tmp_path)
    checks_cli.group_variation(fit, tmp_path)
    figures = {p.name for p in (tmp_path / "figures").iterdir()}
    expected = {"ppc_overall_toy.png", "ppc_g_toy.png", "ppc_h_toy.png", "ppc_categories_toy.png"}
    assert expected <= figures
    assert {"caterpillar_toy_g.png", "caterpillar_toy_h.png"} <= figures
    assert not any(name.startswith(("tilemap", "shrinkage", "calibration")) for name in figures)
    variation = pd.read_csv(tmp_path / "tables" / "group_variation_toy.csv")
    assert set(variation["group"]) == {"g", "h"}


def test_caterpillar_of_many_levels_stays_compact():
    effects = pd.DataFrame(
        {
            "city": [f"c{k}" for k in range(200)],
            "estimate": np.linspace(0.5, 2, 200),
            "low": np.linspace(0.3, 1.5, 200),
            "high": np.linspace(0.8, 3, 200),
            "scale": "odds ratio",
        }
    )
    figure = caterpillar_plot(effects, "many", "city", "sampled city")
    assert figure.get_size_inches()[1] < 10
    assert figure.axes[0].get_yticklabels() == []
    plt.close(figure)


def test_loo_ranks_fits_within_each_outcome(tmp_path, default_table, capsys):
    data = tmp_path / "data" / "analysis_data.parquet"
    data.parent.mkdir(parents=True)
    default_table.head(30).to_parquet(data)
    current = data_hash(pd.read_parquet(data))
    fits = tmp_path / "fits"
    for name in ("model1", "model2", "family_doctor"):
        _fake_fit(fits / f"{name}.nc", name, current)
    args = ["--fits", str(fits), "--out", str(tmp_path), "--data", str(data)]
    assert compare_cli.main([*args, "--models", "model1", "model2", "family_doctor"]) == 0
    table = pd.read_csv(tmp_path / "tables" / "model_comparison.csv")
    ranked = table.dropna(subset=["elpd_loo"])
    assert set(ranked["model"]) == {"model1", "model2"}
    assert set(ranked["outcome"]) == {"health_record"}
    note = table.set_index("model").loc["family_doctor", "note"]
    assert "same outcome only" in note
    assert compare_cli.main([*args, "--models", "model2", "family_doctor"]) == 2
    assert "same outcome only" in capsys.readouterr().err
