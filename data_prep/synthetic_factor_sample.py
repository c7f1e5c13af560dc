"""Seeded synthetic sample for a treatment study whose outcome is measured by several items.

Used by the ma2023 study (``studies/ma2023/synthetic.yaml``): elderly rural migrants aged 60+
holding social medical insurance (SMI) in the host city (treated) or the hometown, with the
items of a social-integration index. Every number below is read from the study's parameter
file; the shipped values are quoted in brackets.

Generating model, in the order drawn (``i`` respondent, ``p`` province, ``c`` city)
---------------------------------------------------------------------------------
Provinces and cities
    ``province`` drawn with probabilities proportional to ``sample_share`` of
    ``cmds_common/provinces.csv``; cities as in :mod:`data_prep.synthetic_design`.
Covariates
    ``age_years = min + Gamma`` with the given mean and SD [60 + Gamma, mean 66, SD 5],
    ``years_in_inflow_area`` the same [0.5 + Gamma, mean 8, SD 6]; ``sex``, ``education``,
    ``marital``, ``movement`` drawn with the given shares; ``hukou`` rural for everyone.
Treatment (host-city SMI)
    latent ``t_i = X_i gamma + v_p + logistic noise``, ``v_p ~ N(0, 0.6^2)``; the
    ``n_treated`` [606] respondents with the largest ``t_i`` hold SMI in the host city, so the
    count is exact.
Integration (structural part)
    ``s_i = X_i beta + (tau + d_p) T_i + u_p + u_c``: ``tau`` [0.09] the national host-city
    effect, ``d_p ~ N(0, 0.12^2)`` its province deviation, ``u_p ~ N(0, 0.20^2)``,
    ``u_c ~ N(0, 0.10^2)``; continuous covariates centred. The ``d_p`` are centred so that
    their mean over the treated is 0: ``tau`` is then the true ATT on this scale.
Factors
    ``eta_ik = a_k s_i + e_ik``, ``e_ik ~ N(0, 1)`` times ``treated_noise`` [0.85] for the
    treated (without it their index would be more spread than published: the participation
    items' floor compresses the untreated).
Items
    ``x*_ij = l_j eta_ik(j) / sd(eta_k) + sqrt(1 - l_j^2) w_ij``, negated for reversed items,
    then cut at the sample quantiles of the item's ``shares`` (codes ``first``, ``first`` + 1,
    ... or the words of ``levels``).
Weights
    log-normal with a province part [SDs 0.35 and 0.3], mean 1.

The true province effects of host-city SMI (``tau + d_p``, in the factors' SD units; the
index-point truth depends on the factor analysis) are returned as ``truth``.

Random streams: ``numpy.random.default_rng([seed, 7, k])`` with ``k`` = 0 provinces and
covariates, 1 treatment, 2 integration, 3 items, 4 weights; cities use
:func:`data_prep.synthetic_design.assign_cities`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cmds_common.provinces import province_table
from cmds_common.yaml_text import load_yaml
from data_prep.synthetic_design import assign_cities, city_table

#: First element after the seed in every stream of this generator (apart from the 2015 ones).
STREAM = 7


@dataclass(frozen=True)
class FactorSample:
    """A generated sample: the untyped table and the province truth."""

    data: pd.DataFrame
    truth: pd.DataFrame


def load_factor_params(path: str | Path) -> dict:
    """Read a generator parameter file (YAML)."""
    return load_yaml(Path(path).read_text(encoding="utf-8"))


def _gamma(rng: np.random.Generator, spec: dict, n: int) -> np.ndarray:
    """``min + Gamma`` with mean ``mean`` and SD ``sd``."""
    excess = spec["mean"] - spec["min"]
    shape = (excess / spec["sd"]) ** 2
    return spec["min"] + rng.gamma(shape, excess / shape, size=n)


def _linear(data: pd.DataFrame, coefficients: dict, centres: dict | None = None) -> np.ndarray:
    """Sum of ``coefficient x column``: ``var_level`` terms are indicators, others centred."""
    total = np.zeros(len(data))
    for term, value in coefficients.items():
        if term in data:
            column = data[term].to_numpy(float) - (centres or {}).get(term, 0.0)
        else:
            variable, level = next(
                (v, term[len(v) + 1 :]) for v in data.columns if term.startswith(f"{v}_")
            )
            column = (data[variable] == level).to_numpy(float)
        total += value * column
    return total


def _cut(latent: np.ndarray, shares: list[float]) -> np.ndarray:
    """Category codes 0, 1, ... cutting ``latent`` at the quantiles of cumulative ``shares``."""
    cuts = np.quantile(latent, np.cumsum(shares)[:-1] / np.sum(shares))
    return np.searchsorted(cuts, latent, side="right")


def generate_factor_sample(params: dict, seed: int, n: int | None = None) -> FactorSample:
    """Draw the sample described in the module docstring.

    Parameters
    ----------
    params : dict
        The parameter file's content (:func:`load_factor_params`).
    seed : int
        Seed of every stream.
    n : int, optional
        Sample size; default ``params["n"]``. ``n_treated`` scales with it.

    Returns
    -------
    FactorSample
    """
    n = n or int(params["n"])
    rng = np.random.default_rng([seed, STREAM, 0])
    provinces = province_table()
    share = provinces["sample_share"].to_numpy(float)
    province_idx = np.sort(rng.choice(len(provinces), size=n, p=share / share.sum()))
    city_idx = assign_cities(province_idx, seed)
    data = pd.DataFrame(
        {
            "respondent_id": np.arange(1, n + 1),
            "province": provinces["name_en"].to_numpy()[province_idx],
            "city": city_table()["city"].to_numpy()[city_idx],
            "hukou": "rural",
        }
    )
    for name, spec in params["covariates"].items():
        if "levels" in spec:
            data[name] = rng.choice(spec["levels"], size=n, p=spec["shares"])
        else:
            data[name] = _gamma(rng, spec, n)

    treatment = params["treatment"]
    rng = np.random.default_rng([seed, STREAM, 1])
    propensity = (
        _linear(data, treatment["coefficients"])
        + treatment["province_sd"] * rng.standard_normal(len(provinces))[province_idx]
        + rng.logistic(size=n)
    )
    n_treated = round(treatment["n_treated"] * n / int(params["n"]))
    treated = np.zeros(n, dtype=bool)
    treated[np.argsort(-propensity, kind="stable")[:n_treated]] = True
    control_level, treated_level = treatment["levels"]
    data[treatment["variable"]] = np.where(treated, treated_level, control_level)

    integration = params["integration"]
    rng = np.random.default_rng([seed, STREAM, 2])
    deviation = integration["effect_province_sd"] * rng.standard_normal(len(provinces))
    # centred over the treated, so that `effect` is the true ATT on the structural scale
    deviation -= np.average(deviation[province_idx[treated]])
    province_effect = integration["effect"] + deviation
    structural = (
        _linear(data, integration["coefficients"], integration["centres"])
        + province_effect[province_idx] * treated
        + integration["province_sd"] * rng.standard_normal(len(provinces))[province_idx]
        + integration["city_sd"] * rng.standard_normal(city_idx.max() + 1)[city_idx]
    )
    noise_scale = np.where(treated, integration["treated_noise"], 1.0)
    factors = {
        name: a * structural + noise_scale * rng.standard_normal(n)
        for name, a in params["factors"].items()
    }

    rng = np.random.default_rng([seed, STREAM, 3])
    for name, item in params["items"].items():
        eta = factors[item["factor"]]
        loading = item["loading"]
        latent = loading * eta / eta.std() + np.sqrt(1 - loading**2) * rng.standard_normal(n)
        codes = _cut(-latent if item.get("reverse") else latent, item["shares"])
        if "levels" in item:
            data[name] = np.asarray(item["levels"], dtype=object)[codes]
        else:
            data[name] = codes + item.get("first", 1)

    rng = np.random.default_rng([seed, STREAM, 4])
    weights = params["weights"]
    log_w = (
        weights["sd"] * rng.standard_normal(n)
        + weights["province_sd"] * rng.standard_normal(len(provinces))[province_idx]
    )
    data["weight"] = np.exp(log_w) / np.exp(log_w).mean()
    truth = pd.DataFrame(
        {
            "province": provinces["name_en"],
            "n": np.bincount(province_idx, minlength=len(provinces)),
            "n_treated": np.bincount(province_idx[treated], minlength=len(provinces)),
            "true_effect_sd_units": province_effect,
        }
    )
    return FactorSample(data=data, truth=truth)
