"""Seeded recovery of a known interaction, city SD and ordinal cut-points (slow, short fits).

Simulated data with known truth, fitted with nutpie on the PyMC model (2 chains x 400 draws
after 400 warm-up). Tolerances, argued:

* City SD (logistic model with provinces and cities nested in them, 4,000 respondents in 200
  cities of 20): the posterior SD of the city SD is about 0.1 here, so the truth (0.6) must lie
  in the 95% credible interval and the posterior median within 0.25 of it (2.5 posterior SDs;
  a 1-in-80 miss for a correctly calibrated posterior, and the seed is fixed).
* Interaction ``a:x`` (true 0.5 on the log-odds scale) and main effects: within 3 posterior SDs.
* Ordinal cut-points (-1.0, 0.3, 1.5) with 2,000 respondents: each within 3 posterior SDs of
  the truth (posterior SDs about 0.07-0.1), and the coefficient likewise. The simulated group
  effects are centred, so the cut-points are exactly the generating ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special

from cmds_common.spec import spec_from_dict
from models.design import build_design
from models.sampling import SamplerSettings, sample_spec

pytestmark = pytest.mark.slow

SETTINGS = {"chains": 2, "draws": 400, "tune": 400, "progress": False, "seed": 21}


def _fit(table: pd.DataFrame, raw: dict):
    spec = spec_from_dict({"name": "recovery", **raw})
    design = build_design(table, spec)
    settings = SamplerSettings(sampler="nutpie", **SETTINGS)
    return sample_spec(design, spec, settings, attrs={"model_name": "recovery"}).posterior


def _within(draws, truth: float, n_sd: float = 3.0) -> None:
    mean, sd = float(draws.mean()), float(draws.std())
    assert abs(mean - truth) < n_sd * sd, (mean, sd, truth)


def test_city_sd_and_interaction_are_recovered():
    rng = np.random.default_rng(2017)
    n_provinces, cities_per, n = 25, 8, 4000
    city = rng.integers(0, n_provinces * cities_per, n)
    province = city // cities_per
    a = rng.integers(0, 2, n)
    x = rng.normal(0, 1, n)
    u_province = rng.normal(0, 0.5, n_provinces)
    u_city = rng.normal(0, 0.6, n_provinces * cities_per)
    truth = {"a_yes": 0.4, "x": -0.3, "a_yes:x": 0.5}
    eta = -0.2 + 0.4 * a - 0.3 * x + 0.5 * a * x + u_province[province] + u_city[city]
    table = pd.DataFrame(
        {
            "y": rng.binomial(1, special.expit(eta)),
            "a": pd.Categorical(np.where(a == 1, "yes", "no"), categories=["no", "yes"]),
            "x": x,
            "province": pd.Categorical([f"p{k:02d}" for k in province]),
            "city": pd.Categorical([f"c{k % cities_per}" for k in city]),
        }
    )
    posterior = _fit(table, {"formula": "y ~ a * x + (1 | province/city)"})
    sigma = posterior["province_city_sigma"].to_numpy().ravel()
    low, median, high = np.quantile(sigma, [0.025, 0.5, 0.975])
    assert low < 0.6 < high and abs(median - 0.6) < 0.25, (low, median, high)
    assert posterior["province_city_effect"].sizes["province_city"] == 200
    for term, value in truth.items():
        _within(posterior["beta"].sel(term=term), value)


def test_ordinal_cut_points_are_recovered():
    rng = np.random.default_rng(2018)
    n, n_groups = 2000, 10
    group = rng.integers(0, n_groups, n)
    u = rng.normal(0, 0.3, n_groups)
    u -= u.mean()
    x = rng.normal(0, 1, n)
    cuts = np.array([-1.0, 0.3, 1.5])
    latent = 0.7 * x + u[group] + rng.logistic(size=n)
    table = pd.DataFrame(
        {
            "y": pd.Categorical.from_codes(np.digitize(latent, cuts), list("ABCD"), ordered=True),
            "x": x,
            "g": pd.Categorical([f"g{k}" for k in group]),
        }
    )
    posterior = _fit(table, {"formula": "y ~ x + (1 | g)", "family": "cumulative_logit"})
    cutpoints = posterior["cutpoints"]
    assert list(cutpoints["cut"].values) == ["A|B", "B|C", "C|D"]
    for k, value in enumerate(cuts):
        _within(cutpoints.isel(cut=k), value)
    _within(posterior["beta"].sel(term="x"), 0.7)
