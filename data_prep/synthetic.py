"""Seeded synthetic CMDS-like sample of migrants aged 60+, calibrated to Jing et al. (2019).

How a sample is made
--------------------
1. Respondents are allocated to the 32 inflow provinces in proportion to ``sample_share``
   (largest-remainder rounding, so sizes are unequal and fixed for a given ``n``).
2. The ten Model 2 predictors come from correlated latent normals
   ``z_k = lambda_k F + sqrt(1 - lambda_k^2) e_k`` sharing one "integration" factor ``F``;
   movement's latent also gets a province shift, so the large eastern destinations (Beijing,
   Shanghai, Tianjin, Zhejiang, Guangdong) receive more interprovincial movers. Categories are
   cut at the latent's empirical quantiles so that every category has exactly its Table 1-2
   share; age and years in the inflow area are gamma-shaped with the published mean and SD.
3. The outcome is Bernoulli with
   ``logit P(record) = alpha + x' beta + u_province + u_city``, ``u_province ~ N(0,
   province_sd^2)``, ``u_city ~ N(0, city_sd^2)`` (``city_sd = 0`` in the default).
4. Variables that are in Tables 1-2 but in no model (sex, education, marital status, chronic
   disease, self-rated health) are drawn given the outcome with exactly the published counts.
5. Sampling weights are log-normal with a province component, scaled to mean 1, and
   independent of the outcome given the predictors.
6. Survey design (:mod:`data_prep.synthetic_design`): 3-15 sampled cities per province
   (``city``, ``Guangdong-C03``), ``stratum`` (the province) and ``psu`` (weight-ordered
   blocks of about 20 respondents within a city).
7. 2017-style columns (:mod:`data_prep.synthetic_2017`, every coefficient in its docstring):
   ``insurance_location``, ``integration_index``, ``family_doctor``, ``health_education``
   and the four-level ``self_rated_health_4``, with province and city random intercepts.

Steps 6-7 draw from their own streams (``numpy.random.default_rng([seed, k])``, ``k >= 1``)
after the single stream of steps 1-5, so the 2015 columns are exactly those of the generator
without them. The health record's city intercept (``city_sd`` in ``synthetic_params.yaml``,
truth in ``synthetic_city_truth.csv``) is 0: with 0.25 the default seed no longer reproduces
the published counts of Tables 1-2 exactly (see the note in the YAML file).

``population="all_ages"`` makes a whole-wave-like sample (a CMDS wave has about 206,000
respondents aged 15+): the same provinces, variables, generating model and parameters, with
age drawn from 15 up (gamma-shaped, mean 36 and SD 11: an assumed, typical working-age migrant
profile, *not* calibrated to any published table). It exists to exercise the software at a
wave's size; its shares are the 60+ sample's and should not be read as facts about all migrants.

``alpha``, ``beta`` and the loadings ``lambda`` live in ``synthetic_params.yaml``; they were
tuned by :mod:`devtools.calibrate_synthetic` so that, with the default seed and ``n = 3158``,
the sample reproduces Tables 1-3 (see ``tests/test_synthetic_calibration.py``). Other seeds
or sizes give samples from the same population, with the usual sampling noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd
import yaml
from scipy import special, stats

from cmds_common import reference
from cmds_common.constants import DEFAULT_SAMPLE_SIZE, DEFAULT_SEED
from cmds_common.provinces import province_table
from cmds_common.yaml_text import load_yaml
from data_prep import synthetic_2017, synthetic_design, variables
from data_prep.synthetic_design import allocate

#: Predictors of Model 2 generated from the latent factor, in a fixed order.
LATENT_PREDICTORS: tuple[str, ...] = (
    "income_quartile",
    "occupation",
    "local_medical_insurance",
    "settlement_intention",
    "local_friends",
    "hukou",
    "movement",
    "exercise",
    "age_years",
    "years_in_inflow_area",
)

#: Youngest age and (mean, SD) of the age distribution of each population; ``None`` means the
#: published figures of the 60+ sample.
POPULATIONS: dict[str, tuple[int, tuple[float, float] | None]] = {
    "aged_60_plus": (60, None),
    "all_ages": (15, (36.0, 11.0)),
}

#: Table 1-2 variables that no model uses; drawn given the outcome.
OUTCOME_CONDITIONAL: tuple[str, ...] = (
    "sex",
    "education",
    "marital",
    "chronic_disease",
    "self_rated_health",
)

#: Terms of the generating logit (same names as the model terms).
GENERATOR_TERMS: tuple[str, ...] = (
    "income_quartile_Q2",
    "income_quartile_Q3",
    "income_quartile_Q4",
    "occupation_employed",
    "local_medical_insurance_yes",
    "settlement_intention_yes",
    "local_friends_ge3",
    "hukou_urban",
    "movement_interprovincial",
    "exercise_ge60min",
    "age_years",
    "years_in_inflow_area",
)

#: Second element of the seed sequence of the city intercepts' stream.
CITY_EFFECT_STREAM = 2

#: Columns beyond Jing et al. (2019): survey design and 2017-style variables.
DESIGN_COLUMNS: tuple[str, ...] = ("city", "stratum", "psu")
WAVE_2017_COLUMNS: tuple[str, ...] = tuple(synthetic_2017.STREAMS)

#: Centres of the continuous predictors in the generating logit (published means).
_CONTINUOUS_CENTRE = {"age_years": 66.1, "years_in_inflow_area": 7.5}


@dataclass(frozen=True)
class GeneratorParams:
    """Parameters of the synthetic population.

    Attributes
    ----------
    intercept
        ``alpha`` on the log-odds scale.
    coefficients
        ``beta`` by term (log-odds per unit; continuous terms per year around the
        published mean).
    loadings
        ``lambda`` by latent predictor, in (-1, 1).
    province_sd
        SD of the province random intercept on the log-odds scale.
    weight_sd, weight_province_sd
        SDs of the individual and province parts of the log weights.
    city_sd
        SD of the city random intercept on the log-odds scale.
    """

    intercept: float
    coefficients: dict[str, float]
    loadings: dict[str, float]
    province_sd: float = 0.45
    weight_sd: float = 0.35
    weight_province_sd: float = 0.30
    city_sd: float = 0.0

    def to_vector(self) -> np.ndarray:
        """Stack intercept, coefficients and loadings (the calibrated parameters)."""
        return np.concatenate(
            [
                [self.intercept],
                [self.coefficients[t] for t in GENERATOR_TERMS],
                [self.loadings[v] for v in LATENT_PREDICTORS],
            ]
        )

    def with_vector(self, vector: np.ndarray) -> GeneratorParams:
        """Return a copy with intercept, coefficients and loadings taken from ``vector``."""
        n_terms = len(GENERATOR_TERMS)
        return GeneratorParams(
            intercept=float(vector[0]),
            coefficients={
                t: float(v) for t, v in zip(GENERATOR_TERMS, vector[1 : 1 + n_terms], strict=True)
            },
            loadings={
                v: float(x) for v, x in zip(LATENT_PREDICTORS, vector[1 + n_terms :], strict=True)
            },
            province_sd=self.province_sd,
            weight_sd=self.weight_sd,
            weight_province_sd=self.weight_province_sd,
            city_sd=self.city_sd,
        )


def load_params() -> GeneratorParams:
    """Read the calibrated parameters shipped in ``data_prep/synthetic_params.yaml``."""
    text = resources.files("data_prep").joinpath("synthetic_params.yaml").read_text("utf-8")
    raw = load_yaml(text)
    return GeneratorParams(
        intercept=float(raw["intercept"]),
        coefficients={k: float(v) for k, v in raw["coefficients"].items()},
        loadings={k: float(v) for k, v in raw["loadings"].items()},
        province_sd=float(raw["province_sd"]),
        weight_sd=float(raw["weight_sd"]),
        weight_province_sd=float(raw["weight_province_sd"]),
        city_sd=float(raw.get("city_sd", 0.0)),
    )


def params_to_yaml(params: GeneratorParams, note: str) -> str:
    """Serialise parameters to the YAML layout :func:`load_params` reads."""
    body = {
        "intercept": round(params.intercept, 6),
        "coefficients": {k: round(v, 6) for k, v in params.coefficients.items()},
        "loadings": {k: round(v, 6) for k, v in params.loadings.items()},
        "province_sd": params.province_sd,
        "weight_sd": params.weight_sd,
        "weight_province_sd": params.weight_province_sd,
        "city_sd": params.city_sd,
    }
    return f"# {note}\n" + yaml.safe_dump(body, sort_keys=False)


@dataclass(frozen=True)
class RandomStreams:
    """Every random draw of one sample, made before any parameter is used.

    Holding the draws fixed while parameters change (common random numbers) is what makes
    the calibration deterministic and smooth.
    """

    province_idx: np.ndarray
    factor: np.ndarray
    noise: np.ndarray
    province_effect_z: np.ndarray
    outcome_uniform: np.ndarray
    conditional_perm_keys: np.ndarray
    weight_z: np.ndarray
    weight_province_z: np.ndarray
    city_idx: np.ndarray
    city_effect_z: np.ndarray

    @classmethod
    def draw(cls, n: int, seed: int) -> RandomStreams:
        """Draw all streams for a sample of ``n`` respondents from ``seed``."""
        rng = np.random.default_rng(seed)
        provinces = province_table()
        counts = allocate(n, provinces["sample_share"].to_numpy())
        province_idx = rng.permutation(np.repeat(np.arange(len(provinces)), counts))
        return cls(
            province_idx=province_idx,
            factor=rng.standard_normal(n),
            noise=rng.standard_normal((n, len(LATENT_PREDICTORS))),
            province_effect_z=rng.standard_normal(len(provinces)),
            outcome_uniform=rng.random(n),
            conditional_perm_keys=rng.random((n, len(OUTCOME_CONDITIONAL))),
            weight_z=rng.standard_normal(n),
            weight_province_z=rng.standard_normal(len(provinces)),
            # separate streams, so that the draws above are those of the city-less generator
            city_idx=synthetic_design.assign_cities(province_idx, seed),
            city_effect_z=np.random.default_rng([seed, CITY_EFFECT_STREAM]).standard_normal(
                len(synthetic_design.city_table())
            ),
        )


def _published_counts(variable: str) -> pd.DataFrame:
    tables = reference.table1_table2()
    return tables.loc[tables["variable"] == variable].set_index("level")


def _cut_by_rank(latent: np.ndarray, levels: tuple[str, ...], shares: np.ndarray) -> np.ndarray:
    """Assign levels to the lowest, next-lowest, ... latent values with exact counts."""
    counts = allocate(len(latent), shares)
    coded = np.empty(len(latent), dtype=object)
    coded[np.argsort(latent, kind="stable")] = np.repeat(np.array(levels, dtype=object), counts)
    return coded


def _gamma_by_rank(latent: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """Map the latent's ranks onto a gamma distribution with the given mean and SD."""
    ranks = stats.rankdata(latent) / (len(latent) + 1)
    shape = (mean / sd) ** 2
    return stats.gamma.ppf(ranks, a=shape, scale=sd**2 / mean)


def _predictors(
    params: GeneratorParams, streams: RandomStreams, population: str = "aged_60_plus"
) -> pd.DataFrame:
    provinces = province_table()
    youngest, age_moments = POPULATIONS[population]
    continuous = reference.continuous_summaries().set_index(["variable", "group"])
    columns: dict[str, np.ndarray] = {}
    for k, name in enumerate(LATENT_PREDICTORS):
        loading = params.loadings[name]
        latent = loading * streams.factor + np.sqrt(1 - loading**2) * streams.noise[:, k]
        if name == "movement":
            latent = latent + provinces["interprovincial_shift"].to_numpy()[streams.province_idx]
        if name == "age_years":
            age = continuous.loc[("age_years", "all")]
            mean, sd = age_moments or (age["mean"], age["sd"])
            # integer completed years: floor adds about 0.5 on average, so aim half a year up
            spread = _gamma_by_rank(latent, mean - youngest + 0.5, sd)
            columns[name] = youngest + np.floor(spread)
        elif name == "years_in_inflow_area":
            stay = continuous.loc[("years_in_inflow_area", "all")]
            years = 0.5 + _gamma_by_rank(latent, stay["mean"] - 0.5, stay["sd"])
            columns[name] = np.round(years * 12) / 12  # whole months
        else:
            levels = variables.categorical_levels(name)
            published = _published_counts(name)
            shares = published.loc[list(levels), "n"].to_numpy(dtype=float)
            columns[name] = _cut_by_rank(latent, levels, shares)
    return pd.DataFrame(columns)


def generator_design(predictors: pd.DataFrame) -> np.ndarray:
    """Columns of the generating logit, in :data:`GENERATOR_TERMS` order."""
    columns = []
    for term in GENERATOR_TERMS:
        if term in _CONTINUOUS_CENTRE:
            columns.append(predictors[term].to_numpy(float) - _CONTINUOUS_CENTRE[term])
            continue
        variable, level = next(
            (v, term[len(v) + 1 :]) for v in LATENT_PREDICTORS if term.startswith(v + "_")
        )
        columns.append((predictors[variable].to_numpy() == level).astype(float))
    return np.column_stack(columns)


def _outcome_conditional(outcome: np.ndarray, streams: RandomStreams) -> dict[str, np.ndarray]:
    """Draw the non-model Table 1 variables given the outcome, with the published counts."""
    columns = {}
    for k, name in enumerate(OUTCOME_CONDITIONAL):
        levels = variables.categorical_levels(name)
        published = _published_counts(name)
        coded = np.empty(len(outcome), dtype=object)
        for value, count_column in ((1, "yes_n"), (0, "no_n")):
            members = np.flatnonzero(outcome == value)
            shares = published.loc[list(levels), count_column].to_numpy(dtype=float)
            counts = allocate(len(members), shares)
            order = members[np.argsort(streams.conditional_perm_keys[members, k], kind="stable")]
            coded[order] = np.repeat(np.array(levels, dtype=object), counts)
        columns[name] = coded
    return columns


def province_effects(params: GeneratorParams, streams: RandomStreams) -> np.ndarray:
    """Return the true province random intercepts (log-odds) of this sample's population."""
    return params.province_sd * streams.province_effect_z


def city_effects(params: GeneratorParams, streams: RandomStreams) -> np.ndarray:
    """Return the true city random intercepts (log-odds), one per city of the frame."""
    return params.city_sd * streams.city_effect_z


def simulate(
    params: GeneratorParams, streams: RandomStreams, population: str = "aged_60_plus"
) -> tuple[pd.DataFrame, np.ndarray]:
    """Generate predictors and outcome for fixed random streams (see :data:`POPULATIONS`).

    Returns
    -------
    predictors : pandas.DataFrame
        Model predictors (object dtype categoricals, floats for continuous).
    outcome : numpy.ndarray
        0/1 outcome.
    """
    predictors = _predictors(params, streams, population)
    linear = (
        params.intercept
        + generator_design(predictors) @ np.array([params.coefficients[t] for t in GENERATOR_TERMS])
        + province_effects(params, streams)[streams.province_idx]
        + city_effects(params, streams)[streams.city_idx]
    )
    outcome = (streams.outcome_uniform < special.expit(linear)).astype(int)
    return predictors, outcome


def _weights(params: GeneratorParams, streams: RandomStreams) -> np.ndarray:
    log_w = (
        params.weight_sd * streams.weight_z
        + params.weight_province_sd * streams.weight_province_z[streams.province_idx]
    )
    weights = np.exp(log_w)
    return weights / weights.mean()


@dataclass(frozen=True)
class SyntheticSample:
    """A generated sample with every true parameter that is not in the YAML files.

    Attributes
    ----------
    data
        One row per respondent (untyped; see
        :func:`data_prep.analysis_dataset.to_analysis_table`).
    province_truth
        By province: the health-record intercept (``province_effect``, ``province_sd``) and the
        2017-style outcomes' intercepts (``<outcome>_province_effect``).
    city_truth
        By city of the frame: ``city``, ``province``, ``n`` (respondents), ``city_effect`` and
        ``city_sd`` of the health record, and ``<outcome>_city_effect``.
    coefficient_truth
        The 2017-style columns' generating parameters (``outcome, parameter, value``).
    """

    data: pd.DataFrame
    province_truth: pd.DataFrame
    city_truth: pd.DataFrame
    coefficient_truth: pd.DataFrame


def generate_synthetic_sample(
    n: int = DEFAULT_SAMPLE_SIZE,
    seed: int = DEFAULT_SEED,
    params: GeneratorParams | None = None,
    population: str = "aged_60_plus",
) -> SyntheticSample:
    """Generate a sample with its full truth (arguments as in :func:`generate_synthetic`)."""
    if n < 100:
        raise ValueError(f"n must be at least 100 to fill 32 provinces, got {n}")
    if population not in POPULATIONS:
        raise ValueError(f"population must be one of {sorted(POPULATIONS)}, got {population!r}")
    params = params or load_params()
    streams = RandomStreams.draw(n, seed)
    predictors, outcome = simulate(params, streams, population)
    provinces = province_table()
    data = pd.DataFrame(
        {
            variables.RESPONDENT_ID: np.arange(1, n + 1),
            variables.PROVINCE: provinces["name_en"].to_numpy()[streams.province_idx],
            variables.OUTCOME: outcome,
        }
    )
    data = pd.concat([data, predictors], axis=1)
    for name, values in _outcome_conditional(outcome, streams).items():
        data[name] = values
    data[variables.WEIGHT] = _weights(params, streams)
    design = synthetic_design.survey_design(
        streams.city_idx, data[variables.PROVINCE].to_numpy(), data[variables.WEIGHT].to_numpy()
    )
    data["city"], data["stratum"], data["psu"] = design.city, design.stratum, design.psu
    cities = synthetic_design.city_table()
    wave_2017 = synthetic_2017.generate_2017(
        data, streams.province_idx, streams.city_idx, len(cities), seed
    )
    for name in WAVE_2017_COLUMNS:
        data[name] = wave_2017.columns[name]
    province_truth = pd.DataFrame(
        {
            "province": provinces["name_en"],
            "province_effect": province_effects(params, streams),
            "province_sd": params.province_sd,
        }
    )
    city_truth = cities[["city", "province"]].assign(
        n=np.bincount(streams.city_idx, minlength=len(cities)),
        city_effect=city_effects(params, streams),
        city_sd=params.city_sd,
    )
    for name in synthetic_2017.GROUPED_OUTCOMES:
        province_truth[f"{name}_province_effect"] = wave_2017.province_effects[name]
        city_truth[f"{name}_city_effect"] = wave_2017.city_effects[name]
    return SyntheticSample(data, province_truth, city_truth, synthetic_2017.coefficient_truth())


def generate_synthetic(
    n: int = DEFAULT_SAMPLE_SIZE,
    seed: int = DEFAULT_SEED,
    params: GeneratorParams | None = None,
    population: str = "aged_60_plus",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate the synthetic analysis sample.

    Parameters
    ----------
    n
        Number of respondents (default 3,158, the paper's analysed sample).
    seed
        Seed of every random step; the same seed and ``n`` give the same sample.
    params
        Population parameters; the calibrated ones by default.
    population
        ``"aged_60_plus"`` (the default, the paper's sample) or ``"all_ages"`` (15+, for
        whole-wave sizes such as ``n=206000``; see the module docstring).

    Returns
    -------
    data : pandas.DataFrame
        One row per respondent with every analysis variable (untyped; see
        :func:`data_prep.analysis_dataset.to_analysis_table`).
    truth : pandas.DataFrame
        The true province intercepts of the generating models, by province (city truth and
        the 2017-style coefficients: :func:`generate_synthetic_sample`).
    """
    sample = generate_synthetic_sample(n, seed, params, population)
    return sample.data, sample.province_truth
