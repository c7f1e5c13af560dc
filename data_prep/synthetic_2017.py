"""2017-style variables of the synthetic sample: new outcomes for specs that need no real file.

These columns mimic items of the 2017 CMDS (family-doctor contract, health education,
four-level self-rated health, where medical insurance is held, a social-integration index).
They are *assumed* populations, not calibrated to published tables, except that the
integration index has the scale suggested by Ma et al. 2023 (mean near 0, SD near 33, about
8 points higher with insurance in the inflow city). Parameters live in
``synthetic_2017_params.yaml``; the values below are those shipped.

Notation: ``ins`` = ``local_medical_insurance == "yes"``, ``settle`` =
``settlement_intention == "yes"``, ``friends`` = ``local_friends == "ge3"``, ``urban`` =
``hukou == "urban"``, ``chronic`` = ``chronic_disease == "yes"``, ``senior`` =
``education == "senior_or_above"``, ``exercise`` = ``exercise == "ge60min"``; ``age`` and
``stay`` are ``age_years - 66.1`` and ``years_in_inflow_area - 7.5``. ``u_p`` and ``u_c`` are
province and city random intercepts, independent normal draws for each outcome; ``p``/``c``
index the respondent's province and city (see :mod:`data_prep.synthetic_design`).

Generating models, in the order they are drawn
----------------------------------------------
``insurance_location`` (categorical; levels ``hometown`` [reference], ``inflow_city``,
``both``, ``none``), consistent with ``local_medical_insurance``:
    ins -> ``both`` with probability 0.30, else ``inflow_city``;
    no ins -> ``none`` with probability 0.10, else ``hometown``.
    Expected shares: hometown 80%, none 9%, inflow_city 8%, both 3%.
``integration_index`` (continuous, index points), normal:
    ``-21.2 + 8.0 ins + 15.0 settle + 12.0 friends + 0.5 stay + u_p + u_c + e``,
    ``u_p ~ N(0, 8^2)``, ``u_c ~ N(0, 4^2)``, ``e ~ N(0, 30^2)``; mean near 0, SD near 33.
``family_doctor`` (0/1, signed a family-doctor contract), logit:
    ``-1.85 + 0.6 ins + 0.4 settle + 0.35 friends + 0.2 urban + 0.5 chronic + 0.02 age
    + u_p + u_c``, ``u_p ~ N(0, 0.5^2)``, ``u_c ~ N(0, 0.25^2)``; about 28% yes.
``health_education`` (0/1, received health education in the past year), logit:
    ``-0.6 + 0.4 ins + 0.3 settle + 0.5 friends + 0.3 senior + 0.8 family_doctor
    + u_p + u_c``, ``u_p ~ N(0, 0.4^2)``, ``u_c ~ N(0, 0.25^2)``; about 55% yes.
``self_rated_health_4`` (ordered; ``cannot_self_care`` < ``unhealthy_self_care`` <
``basically_healthy`` < ``healthy``), cumulative logit
    ``P(Y <= j) = expit(c_j - eta)``, ``eta = -0.05 age + 0.4 exercise - 1.0 chronic
    + 0.2 friends``, cut-points ``c = (-4.6, -2.6, 0.1)``, no group intercepts. It refines the
    published two-level ``self_rated_health`` (whose counts are fixed by Table 1): the survey's
    answers 1-2 are "healthy", 3-4 "unhealthy", so ``Y`` is drawn from the cumulative-logit
    model *conditional on* ``Y >= 3`` (healthy) or ``Y <= 2`` (unhealthy). The split within
    each half follows the model exactly; the split between halves is the published one.
    Shares with the default seed: about 1%, 7%, 43%, 49%.

Random streams: ``numpy.random.default_rng([seed, k])`` with ``k`` = 3 (insurance_location),
4 (integration_index), 5 (family_doctor), 6 (health_education), 7 (self_rated_health_4);
each grouped outcome draws its 32 province and all city standard normals before the
respondents' draws, so its group effects do not depend on ``n``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd
from scipy import special

from cmds_common.provinces import province_table
from cmds_common.yaml_text import load_yaml

SELF_RATED_HEALTH_4_LEVELS: tuple[str, ...] = (
    "cannot_self_care",
    "unhealthy_self_care",
    "basically_healthy",
    "healthy",
)
INSURANCE_LOCATION_LEVELS: tuple[str, ...] = ("hometown", "inflow_city", "both", "none")

#: New columns and the second element of their random stream's seed sequence.
STREAMS: dict[str, int] = {
    "insurance_location": 3,
    "integration_index": 4,
    "family_doctor": 5,
    "health_education": 6,
    "self_rated_health_4": 7,
}
#: Outcomes with province and city random intercepts, in the order they are drawn.
GROUPED_OUTCOMES: tuple[str, ...] = ("integration_index", "family_doctor", "health_education")


@dataclass(frozen=True)
class OutcomeParams:
    """Fixed part and group SDs of one generated outcome (SDs on its link scale)."""

    intercept: float
    coefficients: dict[str, float]
    province_sd: float = 0.0
    city_sd: float = 0.0
    residual_sd: float = 0.0


@dataclass(frozen=True)
class Wave2017Params:
    """All parameters of :mod:`data_prep.synthetic_2017` (see ``synthetic_2017_params.yaml``)."""

    centres: dict[str, float]
    both_given_local: float
    none_given_not_local: float
    outcomes: dict[str, OutcomeParams]
    cutpoints: tuple[float, float, float]
    srh_coefficients: dict[str, float] = field(default_factory=dict)


def load_2017_params() -> Wave2017Params:
    """Read ``data_prep/synthetic_2017_params.yaml``."""
    text = resources.files("data_prep").joinpath("synthetic_2017_params.yaml").read_text("utf-8")
    raw = load_yaml(text)
    outcomes = {
        name: OutcomeParams(
            intercept=float(raw[name]["intercept"]),
            coefficients={k: float(v) for k, v in raw[name]["coefficients"].items()},
            province_sd=float(raw[name].get("province_sd", 0.0)),
            city_sd=float(raw[name].get("city_sd", 0.0)),
            residual_sd=float(raw[name].get("residual_sd", 0.0)),
        )
        for name in GROUPED_OUTCOMES
    }
    srh = raw["self_rated_health_4"]
    c1, c2, c3 = (float(c) for c in srh["cutpoints"])
    return Wave2017Params(
        centres={k: float(v) for k, v in raw["centres"].items()},
        both_given_local=float(raw["insurance_location"]["both_given_local"]),
        none_given_not_local=float(raw["insurance_location"]["none_given_not_local"]),
        outcomes=outcomes,
        cutpoints=(c1, c2, c3),
        srh_coefficients={k: float(v) for k, v in srh["coefficients"].items()},
    )


def term_column(data: pd.DataFrame, term: str, centres: dict[str, float]) -> np.ndarray:
    """Value of one generating term: a numeric column (centred if listed) or a level dummy."""
    if term in data.columns:
        return data[term].to_numpy(dtype=float) - centres.get(term, 0.0)
    variable = next(c for c in data.columns if term.startswith(f"{c}_"))
    level = term[len(variable) + 1 :]
    return (data[variable].astype(str).to_numpy() == level).astype(float)


def fixed_part(data: pd.DataFrame, coefficients: dict[str, float], centres: dict[str, float]):
    """``sum_k beta_k x_k`` over the named terms (no intercept)."""
    total = np.zeros(len(data))
    for term, beta in coefficients.items():
        total += beta * term_column(data, term, centres)
    return total


@dataclass(frozen=True)
class Wave2017Sample:
    """Generated columns and the true group intercepts (by outcome: province and city arrays)."""

    columns: dict[str, np.ndarray]
    province_effects: dict[str, np.ndarray]
    city_effects: dict[str, np.ndarray]


def _insurance_location(data: pd.DataFrame, params: Wave2017Params, seed: int) -> np.ndarray:
    u = np.random.default_rng([seed, STREAMS["insurance_location"]]).random(len(data))
    local = data["local_medical_insurance"].astype(str).to_numpy() == "yes"
    return np.where(
        local,
        np.where(u < params.both_given_local, "both", "inflow_city"),
        np.where(u < params.none_given_not_local, "none", "hometown"),
    ).astype(object)


def _self_rated_health_4(data: pd.DataFrame, params: Wave2017Params, seed: int) -> np.ndarray:
    u = np.random.default_rng([seed, STREAMS["self_rated_health_4"]]).random(len(data))
    eta = fixed_part(data, params.srh_coefficients, params.centres)
    below = special.expit(np.array(params.cutpoints)[:, None] - eta)  # P(Y <= j), j = 1..3
    unhealthy = data["self_rated_health"].astype(str).to_numpy() == "unhealthy"
    p_worst_half = below[0] / below[1]  # P(cannot | Y <= 2)
    p_best_half = (1 - below[2]) / (1 - below[1])  # P(healthy | Y >= 3)
    level = np.where(unhealthy, np.where(u < p_worst_half, 0, 1), np.where(u < p_best_half, 3, 2))
    return np.array(SELF_RATED_HEALTH_4_LEVELS, dtype=object)[level]


def generate_2017(
    data: pd.DataFrame,
    province_idx: np.ndarray,
    city_idx: np.ndarray,
    n_cities: int,
    seed: int,
    params: Wave2017Params | None = None,
) -> Wave2017Sample:
    """Draw the 2017-style columns for a sample that already has its 2015 columns.

    Parameters
    ----------
    data
        The sample's 2015 columns (untyped or typed).
    province_idx, city_idx
        Each respondent's province (0-31) and global city index.
    n_cities
        Number of cities in the frame (:func:`data_prep.synthetic_design.city_table`).
    seed
        The sample's seed; every column uses its own stream (see the module docstring).
    params
        Generating parameters; the shipped ones by default.
    """
    params = params or load_2017_params()
    work = data.copy()
    columns: dict[str, np.ndarray] = {}
    province_effects: dict[str, np.ndarray] = {}
    city_effects: dict[str, np.ndarray] = {}
    columns["insurance_location"] = _insurance_location(work, params, seed)
    for name in GROUPED_OUTCOMES:
        outcome = params.outcomes[name]
        rng = np.random.default_rng([seed, STREAMS[name]])
        province_effects[name] = outcome.province_sd * rng.standard_normal(len(province_table()))
        city_effects[name] = outcome.city_sd * rng.standard_normal(n_cities)
        linear = (
            outcome.intercept
            + fixed_part(work, outcome.coefficients, params.centres)
            + province_effects[name][province_idx]
            + city_effects[name][city_idx]
        )
        if name == "integration_index":
            values = linear + outcome.residual_sd * rng.standard_normal(len(work))
        else:
            values = (rng.random(len(work)) < special.expit(linear)).astype(int)
        columns[name] = values
        work[name] = values
    columns["self_rated_health_4"] = _self_rated_health_4(work, params, seed)
    return Wave2017Sample(columns, province_effects, city_effects)


def coefficient_truth(params: Wave2017Params | None = None) -> pd.DataFrame:
    """Every generating parameter of the 2017-style columns as ``outcome, parameter, value``."""
    params = params or load_2017_params()
    rows = [
        ("insurance_location", "both_given_local", params.both_given_local),
        ("insurance_location", "none_given_not_local", params.none_given_not_local),
    ]
    for name, outcome in params.outcomes.items():
        rows.append((name, "intercept", outcome.intercept))
        rows += [(name, term, beta) for term, beta in outcome.coefficients.items()]
        rows += [(name, "province_sd", outcome.province_sd), (name, "city_sd", outcome.city_sd)]
        if name == "integration_index":
            rows.append((name, "residual_sd", outcome.residual_sd))
    rows += [("self_rated_health_4", f"cutpoint_{j}", c) for j, c in enumerate(params.cutpoints, 1)]
    rows += [("self_rated_health_4", t, b) for t, b in params.srh_coefficients.items()]
    rows += [(None, f"centre_{k}", v) for k, v in params.centres.items()]
    return pd.DataFrame(rows, columns=["outcome", "parameter", "value"])
