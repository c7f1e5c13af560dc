"""Merlo's contextual measures: hand computation at fixed draws, and R's performance when there."""

from __future__ import annotations

import shutil
import subprocess
import textwrap

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from analysis.contextual import (
    contextual_measures,
    interval_odds_ratio,
    median_odds_ratio,
    pcv_notes,
    proportional_change_in_variance,
)
from cmds_common.spec import load_spec, spec_from_dict


def _posterior(**arrays) -> xr.Dataset:
    return xr.Dataset(
        {k: (("chain", "draw", *dims), v[None]) for k, (dims, v) in arrays.items()},
        coords={"group_predictor": ["log_gdp_per_capita_2015"]},
    )


def test_two_factor_measures_by_hand():
    spec = spec_from_dict(
        {"name": "m", "formula": "health_record ~ hukou + (1 | province) + (1 | city)"}
    )
    province, city = np.array([0.5, 0.4, 0.6]), np.array([0.2, 0.3, 0.25])
    table = contextual_measures(
        _posterior(province_sigma=((), province), city_sigma=((), city)), spec
    ).set_index(["measure", "factor"])
    total = province**2 + city**2
    assert table.loc[("icc", "province"), "median"] == pytest.approx(
        np.median(province**2 / (total + np.pi**2 / 3))
    )
    assert table.loc[("share_of_between_variance", "city"), "median"] == pytest.approx(
        np.median(city**2 / total)
    )
    # MOR: exp(sqrt(2 s^2) * 0.6745), Merlo et al. 2006
    assert table.loc[("mor", "province"), "median"] == pytest.approx(
        np.exp(np.sqrt(2) * 0.5 * 0.6744897501960817)
    )
    assert table.loc[("mor", "all"), "high"] == pytest.approx(
        np.quantile(np.exp(np.sqrt(2 * total) * 0.6744897501960817), 0.975)
    )


def test_ior80_by_hand():
    spec = load_spec("model2_gdp")
    sigma, gamma = np.array([0.4]), np.array([0.3])
    table = contextual_measures(
        _posterior(
            province_sigma=((), sigma), province_gamma=(("group_predictor",), gamma[:, None])
        ),
        spec,
    ).set_index("measure")
    spread = np.sqrt(2 * 0.16) * 1.2815515655446004  # Phi^-1(0.9)
    assert table.loc["ior80_low", "median"] == pytest.approx(np.exp(0.3 - spread))
    assert table.loc["ior80_high", "median"] == pytest.approx(np.exp(0.3 + spread))
    low, high = interval_odds_ratio(np.array([0.0]), np.array([0.0]))
    assert (low[0], high[0]) == (1.0, 1.0)
    assert median_odds_ratio(np.array([0.0]))[0] == 1.0


def test_pcv_pairs_draws_of_two_posteriors():
    reference = _posterior(province_sigma=((), np.full(4, 1.0)))
    other = _posterior(province_sigma=((), np.full(2, 0.5)))
    row = proportional_change_in_variance(reference, other, "province")
    assert row["median"] == pytest.approx(0.75)
    assert row["low"] == row["high"] == pytest.approx(0.75)


def test_pcv_notes_name_the_models_whose_pcv_is_negative_or_uncertain():
    """Larger variance than the reference (negative PCV) and an interval containing 0 are
    explained in words; a clear reduction needs no note."""
    reference = _posterior(province_sigma=((), np.full(400, 1.0)))
    rows = [
        # variance 1.2^2 = 1.44 against 1: PCV = -0.44 at every draw
        proportional_change_in_variance(
            reference, _posterior(province_sigma=((), np.full(400, 1.2))), "province"
        ),
        # SDs spread over 0.6-1.3: variances 0.36-1.69, PCV from -0.69 to 0.64
        proportional_change_in_variance(
            reference, _posterior(province_sigma=((), np.linspace(0.6, 1.3, 400))), "province"
        ),
        # variance 0.25: PCV 0.75 at every draw
        proportional_change_in_variance(
            reference, _posterior(province_sigma=((), np.full(400, 0.5))), "province"
        ),
    ]
    table = pd.DataFrame(rows).assign(model=["grown", "unclear", "explained"])
    assert table["low"].iloc[1] < 0 < table["high"].iloc[1]
    notes = pcv_notes(table, {"grown": "Model A"})
    assert len(notes) == 2
    assert notes[0].startswith("PCV below 0 (Model A)") and "latent scale" in notes[0]
    assert "(unclear)" in notes[1] and "contains 0" in notes[1]
    assert not any("explained" in note for note in notes)
    assert pcv_notes(table[table["model"] == "explained"]) == []


def _r_performance() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript not found"
    check = "library(lme4); library(performance)"
    if subprocess.run(["Rscript", "-e", check], capture_output=True).returncode:
        return "R packages lme4 and performance not both installed (r-cran-performance)"
    return None


@pytest.mark.skipif(_r_performance() is not None, reason=str(_r_performance()))
def test_icc_matches_r_performance_at_the_glmer_estimate(default_table, tmp_path):
    data = default_table[["health_record", "hukou", "province"]]
    data.to_csv(tmp_path / "d.csv", index=False)
    script = textwrap.dedent(
        f"""
        library(lme4); library(performance)
        d <- read.csv("{tmp_path / "d.csv"}")
        m <- glmer(health_record ~ hukou + (1 | province), data = d, family = binomial)
        s <- attr(VarCorr(m)$province, "stddev")
        write.csv(data.frame(sigma = s, icc = icc(m)$ICC_adjusted), "{tmp_path / "r.csv"}")
        """
    )
    (tmp_path / "fit.R").write_text(script)
    subprocess.run(["Rscript", str(tmp_path / "fit.R")], check=True, capture_output=True)
    r = pd.read_csv(tmp_path / "r.csv").iloc[0]
    spec = spec_from_dict({"name": "m", "formula": "health_record ~ hukou + (1 | province)"})
    ours = contextual_measures(_posterior(province_sigma=((), np.array([r["sigma"]]))), spec)
    assert ours.set_index("measure").loc["icc", "median"] == pytest.approx(r["icc"], rel=1e-6)


def test_prior_sensitivity_scales_only_top_level_univariate_priors(default_table):
    from analysis.sensitivity import top_level_priors
    from models.design import build_design
    from models.hierarchical import build_model

    spec = load_spec("model2_slopes")
    model = build_model(build_design(default_table, spec), spec)
    stored = {v.name for v in model.free_RVs} | {"province_chol"}
    names = top_level_priors(model, stored)
    assert "beta" in names and "intercept_at_means" in names
    assert not {"province_chol", "province_offset"} & set(names)
