r"""Seeded synthetic pooled survey waves (2011-2018 style) with province x wave structure.

A CMDS-like pooling of several annual waves (about 1.5 million respondents over 2011-2018) to
exercise pooled fits. Each wave is an all-ages sample of the single-wave generator
(:mod:`data_prep.synthetic`: the same provinces, the same correlated predictors), drawn from its
own seed; the outcome is then drawn from the pooled truth in ``synthetic_waves_params.yaml``:

.. math::

    \operatorname{logit} P(y_i = 1) = \alpha + x_i'\beta + a_{\text{age}(i)} + \omega_{w(i)}
        + u_{p(i)} + v_{p(i), w(i)},

    u_p \sim \mathcal N(0, \sigma_p^2), \quad v_{pw} \sim \mathcal N(0, \sigma_{pw}^2),

with :math:`x_i` the 0/1 indicators of the eight categorical Model 2 predictors (coefficients
:math:`\beta` of ``synthetic_params.yaml``), :math:`a` the age-band effects (bands of
``age_years``; reference 15-29), :math:`\omega` the fixed wave effects (:math:`\omega_{2011} =
0`), :math:`u_p` the province intercepts (SD :math:`\sigma_p` = ``province_sd`` of
``synthetic_params.yaml``), the same in every wave, and :math:`v_{pw}` the province-by-wave
deviations (SD ``province_wave_sd``). Every quantity is on the log-odds scale.

Seeds: wave ``w`` uses the single-wave generator with the seed
``SeedSequence([seed, WAVE_STREAM, w])``; the province and province-by-wave intercepts come from
``default_rng([seed, TRUTH_STREAM])``, so that a pooled sample is a function of ``(n, seed,
waves)`` only.

Storage is compact where that is exact: categoricals (int8 codes), the 0/1 outcome as ``int8``,
the respondent id as ``int32``, whole-year ages as ``float32``. Only the columns a pooled spec
reads are written (no survey design, weights or 2017-style items).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd
from scipy import special

from cmds_common.declarations import Declaration, parse_declarations, type_table
from cmds_common.provinces import province_table
from cmds_common.yaml_text import load_yaml
from data_prep import synthetic, variables
from data_prep.synthetic_design import allocate

PARAMS_FILE = "synthetic_waves_params.yaml"
#: Second element of the seed sequence of each wave's sample (third: the wave's year).
WAVE_STREAM = 11
#: Second element of the seed sequence of the province and province-by-wave intercepts.
TRUTH_STREAM = 12
#: Categorical predictors taken from the single-wave generator (with their coefficients).
CATEGORICAL_PREDICTORS: tuple[str, ...] = tuple(
    name
    for name in synthetic.LATENT_PREDICTORS
    if name not in ("age_years", "years_in_inflow_area")
)
#: Columns of the pooled table, in order.
COLUMNS: tuple[str, ...] = (
    variables.RESPONDENT_ID,
    "wave",
    variables.PROVINCE,
    variables.OUTCOME,
    *CATEGORICAL_PREDICTORS,
    "age_group",
    "age_years",
)


@dataclass(frozen=True)
class WaveParams:
    r"""Generating truth of the pooled waves (``synthetic_waves_params.yaml``).

    Attributes
    ----------
    waves
        Survey years, the first the reference.
    intercept
        :math:`\alpha`, log-odds at every reference level in the first wave.
    coefficients
        :math:`\beta` by term (``variable_level``), log-odds; the categorical predictors' and
        the age bands' (``age_group_<band>``).
    wave_effects
        :math:`\omega_w` by year, log-odds against the first wave.
    province_sd, province_wave_sd
        :math:`\sigma_p` and :math:`\sigma_{pw}`, log-odds.
    age_lower_bounds
        Youngest age (years) of each band, in order.
    """

    waves: tuple[int, ...]
    intercept: float
    coefficients: dict[str, float]
    wave_effects: dict[int, float]
    province_sd: float
    province_wave_sd: float
    age_lower_bounds: dict[str, int]


def _params_text() -> str:
    return resources.files("data_prep").joinpath(PARAMS_FILE).read_text("utf-8")


def load_wave_params() -> WaveParams:
    """Read the pooled truth: ``synthetic_waves_params.yaml`` plus the calibrated coefficients."""
    raw = load_yaml(_params_text())
    single = synthetic.load_params()
    coefficients = {
        term: value
        for term, value in single.coefficients.items()
        if term not in ("age_years", "years_in_inflow_area")
    }
    coefficients |= {
        f"age_group_{band}": float(v) for band, v in raw["age_groups"]["coefficients"].items()
    }
    return WaveParams(
        waves=tuple(int(w) for w in raw["waves"]),
        intercept=float(raw["intercept"]),
        coefficients=coefficients,
        wave_effects={int(w): float(v) for w, v in raw["wave_effects"].items()},
        province_sd=single.province_sd,
        province_wave_sd=float(raw["province_wave_sd"]),
        age_lower_bounds={str(k): int(v) for k, v in raw["age_groups"]["lower_bounds"].items()},
    )


def wave_declarations(waves: Sequence[int] | None = None) -> dict[str, Declaration]:
    """Return the pooled table's declarations: the synthetic sample's, ``wave`` and ``age_group``.

    ``waves`` restricts the levels of ``wave`` to the years generated (all by default).
    """
    extra = parse_declarations(_params_text(), f"data_prep/{PARAMS_FILE}")
    if waves is not None:
        extra["wave"] = dataclasses.replace(extra["wave"], levels=tuple(str(w) for w in waves))
    base = variables.synthetic_declarations()
    return {name: base[name] for name in COLUMNS if name in base} | extra


def age_bands(age_years: np.ndarray, lower_bounds: dict[str, int]) -> np.ndarray:
    """Band label of each age (years): the last band whose lower bound it reaches."""
    bounds = np.array(list(lower_bounds.values()))
    labels = np.array(list(lower_bounds), dtype=object)
    return labels[np.searchsorted(bounds, age_years, side="right") - 1]


def _indicators(columns: pd.DataFrame, terms: Sequence[str]) -> np.ndarray:
    """``(n, len(terms))`` 0/1 columns of the ``variable_level`` terms."""
    out = np.empty((len(columns), len(terms)))
    for k, term in enumerate(terms):
        variable = next(v for v in columns.columns if term.startswith(v + "_"))
        out[:, k] = columns[variable].to_numpy() == term[len(variable) + 1 :]
    return out


@dataclass(frozen=True)
class PooledSample:
    """A pooled sample with its truth.

    Attributes
    ----------
    data
        Typed table, one row per respondent (:data:`COLUMNS`).
    province_truth
        ``province``, ``province_effect``, ``province_sd`` (log-odds).
    province_wave_truth
        ``province``, ``wave``, ``n`` (respondents), ``province_wave_effect``,
        ``province_wave_sd`` (log-odds); the level label ``province:wave`` as the spec's
        ``(1 | province:wave)`` names it in ``province_wave_level``.
    coefficient_truth
        ``parameter``, ``value``: the intercept, every coefficient and wave effect.
    """

    data: pd.DataFrame
    province_truth: pd.DataFrame
    province_wave_truth: pd.DataFrame
    coefficient_truth: pd.DataFrame


def _wave_seed(seed: int, wave: int) -> int:
    return int(np.random.SeedSequence([seed, WAVE_STREAM, wave]).generate_state(1)[0])


def generate_pooled_waves(
    n: int,
    seed: int,
    waves: Sequence[int] | None = None,
    params: WaveParams | None = None,
) -> PooledSample:
    """Generate a pooled multi-wave sample of ``n`` respondents.

    Parameters
    ----------
    n
        Respondents over all waves (split as evenly as possible; at least 100 per wave).
    seed
        Seed of every random step.
    waves
        Survey years to generate, a subset of the parameters' ``waves`` (all by default); the
        first one is the reference of the ``wave`` column.
    params
        The truth; :func:`load_wave_params` by default.

    Returns
    -------
    PooledSample
        The typed table and the truth behind it.
    """
    params = params or load_wave_params()
    waves = tuple(params.waves if waves is None else (int(w) for w in waves))
    unknown = sorted(set(waves) - set(params.waves))
    if unknown or not waves:
        raise ValueError(f"waves must be among {list(params.waves)}, got {list(waves)}")
    sizes = allocate(n, np.ones(len(waves)))
    if sizes.min() < 100:
        raise ValueError(f"n must give at least 100 respondents per wave, got {n}")
    provinces = province_table()["name_en"].to_numpy()
    truth_rng = np.random.default_rng([seed, TRUTH_STREAM])
    province_effect = params.province_sd * truth_rng.standard_normal(len(provinces))
    deviation = params.province_wave_sd * truth_rng.standard_normal((len(provinces), len(waves)))
    declarations = wave_declarations(waves)
    single = synthetic.load_params()
    terms = list(params.coefficients)
    beta = np.array([params.coefficients[t] for t in terms])
    parts, counts = [], np.zeros((len(provinces), len(waves)), dtype=np.int64)
    first_id = 1
    for w, (wave, size) in enumerate(zip(waves, sizes, strict=True)):
        streams = synthetic.RandomStreams.draw(int(size), _wave_seed(seed, wave))
        predictors, _ = synthetic.simulate(single, streams, "all_ages")
        columns = predictors[list(CATEGORICAL_PREDICTORS)].assign(
            age_group=age_bands(predictors["age_years"].to_numpy(), params.age_lower_bounds)
        )
        p = streams.province_idx
        linear = (
            params.intercept
            + _indicators(columns, terms) @ beta
            + params.wave_effects[wave]
            - params.wave_effects[waves[0]]
            + province_effect[p]
            + deviation[p, w]
        )
        counts[:, w] = np.bincount(p, minlength=len(provinces))
        raw = columns.assign(
            **{
                variables.RESPONDENT_ID: np.arange(first_id, first_id + size),
                "wave": str(wave),
                variables.PROVINCE: provinces[p],
                variables.OUTCOME: (streams.outcome_uniform < special.expit(linear)).astype(int),
                "age_years": predictors["age_years"].to_numpy(),
            }
        )
        parts.append(_compact(type_table(raw[list(COLUMNS)], declarations)))
        first_id += size
    data = pd.concat(parts, ignore_index=True)[list(COLUMNS)]
    return PooledSample(
        data=data,
        province_truth=pd.DataFrame(
            {
                "province": provinces,
                "province_effect": province_effect,
                "province_sd": params.province_sd,
            }
        ),
        province_wave_truth=_province_wave_truth(provinces, waves, deviation, counts, params),
        coefficient_truth=pd.DataFrame(
            [("intercept", params.intercept)]
            + list(params.coefficients.items())
            + [
                (f"wave_{w}", params.wave_effects[w] - params.wave_effects[waves[0]])
                for w in waves[1:]
            ]
            + [("province_sd", params.province_sd), ("province_wave_sd", params.province_wave_sd)],
            columns=["parameter", "value"],
        ),
    )


def _compact(table: pd.DataFrame) -> pd.DataFrame:
    """Narrow the exact-valued columns: 0/1 outcome int8, id int32, whole-year ages float32."""
    return table.astype(
        {variables.OUTCOME: np.int8, variables.RESPONDENT_ID: np.int32, "age_years": np.float32}
    )


def _province_wave_truth(
    provinces: np.ndarray,
    waves: tuple[int, ...],
    deviation: np.ndarray,
    counts: np.ndarray,
    params: WaveParams,
) -> pd.DataFrame:
    province = np.repeat(provinces, len(waves))
    wave = np.tile(np.array([str(w) for w in waves], dtype=object), len(provinces))
    return pd.DataFrame(
        {
            "province": province,
            "wave": wave,
            "province_wave_level": [f"{p}:{w}" for p, w in zip(province, wave, strict=True)],
            "n": counts.ravel(),
            "province_wave_effect": deviation.ravel(),
            "province_wave_sd": params.province_wave_sd,
        }
    )
