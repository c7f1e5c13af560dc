r"""Seeded synthetic working-age sample whose integration effects on health differ by subgroup.

The heterogeneity study's default data: migrants aged 15-59 of the 2017 wave's design (the 32
provincial units, their sampled cities from :mod:`data_prep.synthetic_design`), with the four
integration dimensions built from the 2017 codebook's items (``data_prep/codebooks/cmds2017.yaml``),
four-level self-rated health, sex, age group, education and hukou. Every number lives in a
parameter file (``studies/heterogeneity/synthetic.yaml``); this module only draws.

Generating model, in the order it is drawn
------------------------------------------
1. Respondents: province :math:`p` with probability proportional to ``sample_share`` of
   ``cmds_common/provinces.csv``; city within province by
   :func:`data_prep.synthetic_design.assign_cities`; sex, age group (age uniform on its years),
   education given age group, urban hukou :math:`\operatorname{logit}^{-1}(a + b\,\text{senior})`.
2. Latent integration :math:`z_{id} = \sum_g \text{shift}_{dg} [i \in g] + e_{id}`,
   :math:`e_i \sim \mathcal N(0, R)` with equal correlation ``latent_correlation``.
3. Items: binary item :math:`m` of dimension :math:`d` is ``yes`` with probability
   :math:`\operatorname{logit}^{-1}(a_m + \lambda_m z_{id})`; the three identity items are
   :math:`z_{i4} + \mathcal N(0, 0.8^2)` cut at ``belonging_cuts`` into 1-4. The dimension
   scores are computed from the items as the 2017 codebook declares them:
   ``economic_integration`` = employed + home_owner + insured_locally (0-3),
   ``social_participation`` = union + volunteer + hometown association (0-3),
   ``cultural_integration`` = speaks_local_dialect + customs_flexible + hygiene_similar (0-3),
   ``belonging`` = mean of the three identity items (1-4).
4. Self-rated health, cumulative logit,
   :math:`P(Y_i \le k) = \operatorname{logit}^{-1}(c_k - \eta_i)` with

   .. math::

      \eta_i = \sum_g \text{main}_g [i \in g]
             + \sum_d \beta_{d, s[i]} (x_{id} - \text{centre}_d) + u_{p[i]} + w_{c[i]},
      \qquad u_p \sim \mathcal N(0, \sigma_p^2),\ w_c \sim \mathcal N(0, \sigma_c^2),

   where :math:`s[i]` is the respondent's sex x age group x education group subgroup and
   :math:`\beta_{d,s} = \text{base}_d + \text{female}_d[s \text{ women}] +
   \text{age}_{d,a(s)} + \text{senior}_d[s \text{ senior high+}]` (the documented truth,
   :func:`true_slopes`).

Random streams: ``numpy.random.default_rng([seed, k])`` with ``k`` = 20 (respondents),
1 (cities, as in :mod:`data_prep.synthetic_design`), 21 (latent scores and items), 22 (the
province then city effects, drawn before anything else of that stream so they do not depend on
``n``), 23 (self-rated health).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from cmds_common.analysis_table import write_analysis_table
from cmds_common.atomic import write_with
from cmds_common.provinces import province_table
from cmds_common.yaml_text import load_yaml
from data_prep.synthetic_design import assign_cities, city_table

#: The four integration dimensions, as columns of the table.
DIMENSIONS: tuple[str, ...] = (
    "economic_integration",
    "social_participation",
    "cultural_integration",
    "belonging",
)
AGE_GROUPS: tuple[str, ...] = ("15_29", "30_44", "45_59")
AGE_RANGES: dict[str, tuple[int, int]] = {"15_29": (15, 29), "30_44": (30, 44), "45_59": (45, 59)}
EDUCATION_LEVELS: tuple[str, ...] = ("primary_or_below", "junior", "senior_or_above")
EDUCATION_GROUPS: tuple[str, ...] = ("below_senior_high", "senior_high_or_above")
SEXES: tuple[str, ...] = ("male", "female")
#: Shipped parameter file of the heterogeneity study.
DEFAULT_PARAMS = Path(__file__).resolve().parents[1] / "studies/heterogeneity/synthetic.yaml"


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict:
    """Read a generating-parameter file (see ``studies/heterogeneity/synthetic.yaml``)."""
    return load_yaml(Path(path).read_text(encoding="utf-8"))


def subgroup_label(sex: str, age_group: str, education_group: str) -> str:
    """Name of a sex x age group x education group cell: ``"female:45_59:below_senior_high"``."""
    return f"{sex}:{age_group}:{education_group}"


def subgroup_table() -> pd.DataFrame:
    """Return every subgroup in a fixed order: ``subgroup``, ``sex``, ``age_group``, ...."""
    rows = [
        (subgroup_label(s, a, e), s, a, e)
        for s in SEXES
        for a in AGE_GROUPS
        for e in EDUCATION_GROUPS
    ]
    return pd.DataFrame(rows, columns=["subgroup", "sex", "age_group", "education_group"])


def true_slopes(params: dict) -> pd.DataFrame:
    """Return each dimension's true effect in each subgroup (log cumulative odds ratio per point).

    Returns
    -------
    pandas.DataFrame
        One row per subgroup x dimension (12 x 4): ``subgroup``, ``sex``, ``age_group``,
        ``education_group``, ``dimension``, ``slope`` (see the module docstring).
    """
    rows = []
    for cell in subgroup_table().itertuples(index=False):
        for dim in DIMENSIONS:
            parts = params["self_rated_health"]["slopes"][dim]
            slope = parts["base"] + parts.get(cell.age_group, 0.0)
            slope += parts["female"] * (cell.sex == "female")
            slope += parts["senior_high"] * (cell.education_group == "senior_high_or_above")
            rows.append((*cell, dim, float(slope)))
    return pd.DataFrame(rows, columns=[*subgroup_table().columns, "dimension", "slope"])


@dataclass(frozen=True)
class SubgroupSample:
    """The typed analysis table and the truth it was drawn from.

    Attributes
    ----------
    table
        One row per respondent (columns listed in :func:`generate_subgroup_sample`).
    slope_truth
        :func:`true_slopes`.
    coefficient_truth
        ``parameter, value``: cutpoints, main effects, centres, province and city SDs.
    province_truth, city_truth
        True province and city intercepts (``province``/``city``, ``effect``).
    """

    table: pd.DataFrame
    slope_truth: pd.DataFrame
    coefficient_truth: pd.DataFrame
    province_truth: pd.DataFrame
    city_truth: pd.DataFrame


def _respondents(n: int, seed: int, params: dict) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 20])
    population = params["population"]
    provinces = province_table()
    share = provinces["sample_share"].to_numpy(float)
    province_idx = rng.choice(len(provinces), size=n, p=share / share.sum())
    sex = np.where(rng.random(n) < population["female"], "female", "male")
    age_share = np.array([population["age_group"][a] for a in AGE_GROUPS], float)
    age_idx = rng.choice(len(AGE_GROUPS), size=n, p=age_share / age_share.sum())
    low = np.array([AGE_RANGES[a][0] for a in AGE_GROUPS])[age_idx]
    high = np.array([AGE_RANGES[a][1] for a in AGE_GROUPS])[age_idx]
    age_years = low + np.floor(rng.random(n) * (high - low + 1)).astype(int)
    education_probs = np.array([population["education"][a] for a in AGE_GROUPS], float)
    cumulative = np.cumsum(education_probs[age_idx], axis=1)
    education_idx = (rng.random(n)[:, None] > cumulative).sum(axis=1)
    senior = education_idx == 2
    urban_logit = population["urban_hukou"]["intercept"]
    urban_logit = urban_logit + population["urban_hukou"]["senior_or_above"] * senior
    urban = rng.random(n) < special.expit(urban_logit)
    return pd.DataFrame(
        {
            "province_idx": province_idx,
            "sex": sex,
            "age_group": np.array(AGE_GROUPS)[age_idx],
            "age_years": age_years,
            "education": np.array(EDUCATION_LEVELS)[education_idx],
            "education_group": np.where(senior, *reversed(EDUCATION_GROUPS)),
            "hukou": np.where(urban, "urban", "rural"),
        }
    )


def _membership(people: pd.DataFrame) -> dict[str, np.ndarray]:
    """0/1 indicators of the groups the parameter file names (female, age groups, ...)."""
    groups = {a: (people["age_group"] == a).to_numpy(float) for a in AGE_GROUPS}
    groups["female"] = (people["sex"] == "female").to_numpy(float)
    groups["senior_or_above"] = (people["education"] == "senior_or_above").to_numpy(float)
    groups["urban"] = (people["hukou"] == "urban").to_numpy(float)
    return groups


def _items(people: pd.DataFrame, seed: int, params: dict) -> dict[str, np.ndarray]:
    """Latent integration, the 2017 items drawn from it, and the four dimension scores."""
    rng = np.random.default_rng([seed, 21])
    n, k = len(people), len(DIMENSIONS)
    rho = params["latent_correlation"]
    correlation = np.full((k, k), rho) + (1 - rho) * np.eye(k)
    latent = rng.standard_normal((n, k)) @ np.linalg.cholesky(correlation).T
    member = _membership(people)
    for d, dim in enumerate(DIMENSIONS):
        for group, shift in params["latent_shifts"][dim].items():
            latent[:, d] += shift * member[group]
    columns: dict[str, np.ndarray] = {}
    for d, dim in enumerate(DIMENSIONS[:3]):
        score = np.zeros(n)
        for item, (intercept, loading) in params["items"][dim].items():
            yes = rng.random(n) < special.expit(intercept + loading * latent[:, d])
            columns[item] = yes
            score += yes
        columns[dim] = score
    answers = []
    for item in params["belonging_items"]:
        noisy = latent[:, 3] + 0.8 * rng.standard_normal(n)
        columns[item] = 1 + np.searchsorted(params["belonging_cuts"], noisy)
        answers.append(columns[item])
    columns["belonging"] = np.mean(answers, axis=0)
    return columns


def generate_subgroup_sample(
    params: dict | None = None, n: int | None = None, seed: int | None = None
) -> SubgroupSample:
    """Draw the heterogeneity study's synthetic sample.

    Parameters
    ----------
    params
        Generating parameters (:func:`load_params`; the shipped file by default).
    n, seed
        Sample size and seed (default: the parameter file's ``n`` and ``seed``).

    Returns
    -------
    SubgroupSample
        The table has ``respondent_id``, ``province``, ``city`` (categoricals), ``sex``,
        ``age_group``, ``age_years``, ``education`` (2017 codebook levels), ``education_group``,
        ``hukou``, ``subgroup`` (sex:age_group:education_group), the nine binary items (``no``/
        ``yes``) and three identity items (1-4), the four dimension scores
        (:data:`DIMENSIONS`), ordered ``self_rated_health`` (worst to best) and ``weight``
        (all 1: a self-weighting sample).
    """
    params = params or load_params()
    n = int(n or params["n"])
    seed = int(params["seed"] if seed is None else seed)
    people = _respondents(n, seed, params)
    items = _items(people, seed, params)
    cities = city_table()
    city_idx = assign_cities(people["province_idx"].to_numpy(), seed)
    srh = params["self_rated_health"]
    effects_rng = np.random.default_rng([seed, 22])
    province_effect = srh["province_sd"] * effects_rng.standard_normal(len(province_table()))
    city_effect = srh["city_sd"] * effects_rng.standard_normal(len(cities))
    member = _membership(people)
    eta = sum(value * member[group] for group, value in srh["main_effects"].items())
    people["subgroup"] = [
        subgroup_label(*row)
        for row in people[["sex", "age_group", "education_group"]].itertuples(index=False)
    ]
    slopes = true_slopes(params).pivot(index="subgroup", columns="dimension", values="slope")
    for dim in DIMENSIONS:
        slope = slopes.loc[people["subgroup"], dim].to_numpy()
        eta = eta + slope * (items[dim] - srh["centres"][dim])
    eta = eta + province_effect[people["province_idx"]] + city_effect[city_idx]
    below = special.expit(np.asarray(srh["cutpoints"])[:, None] - eta)  # P(Y <= k)
    u = np.random.default_rng([seed, 23]).random(n)
    level = (u[None, :] > below).sum(axis=0)
    table = _typed_table(people, items, city_idx, level, srh["levels"])
    names = province_table()["name_en"].to_numpy()
    truth = [("cutpoint_" + str(k + 1), c) for k, c in enumerate(srh["cutpoints"])]
    truth += [(f"main_{g}", v) for g, v in srh["main_effects"].items()]
    truth += [(f"centre_{d}", v) for d, v in srh["centres"].items()]
    truth += [("province_sd", srh["province_sd"]), ("city_sd", srh["city_sd"])]
    return SubgroupSample(
        table=table,
        slope_truth=true_slopes(params),
        coefficient_truth=pd.DataFrame(truth, columns=["parameter", "value"]),
        province_truth=pd.DataFrame({"province": names, "effect": province_effect}),
        city_truth=pd.DataFrame({"city": cities["city"], "effect": city_effect}),
    )


def _typed_table(
    people: pd.DataFrame,
    items: dict[str, np.ndarray],
    city_idx: np.ndarray,
    level: np.ndarray,
    levels: list[str],
) -> pd.DataFrame:
    """Assemble the analysis table with fixed-order categoricals."""
    names = province_table()["name_en"].tolist()
    cities = city_table()["city"].tolist()
    binary = pd.CategoricalDtype(["no", "yes"])
    table = pd.DataFrame(
        {
            "respondent_id": np.arange(1, len(people) + 1),
            "province": pd.Categorical(np.array(names)[people["province_idx"]], categories=names),
            "city": pd.Categorical(np.array(cities)[city_idx], categories=cities),
            "sex": pd.Categorical(people["sex"], categories=SEXES),
            "age_group": pd.Categorical(people["age_group"], categories=AGE_GROUPS),
            "age_years": people["age_years"].astype(float),
            "education": pd.Categorical(people["education"], categories=EDUCATION_LEVELS),
            "education_group": pd.Categorical(
                people["education_group"], categories=EDUCATION_GROUPS
            ),
            "hukou": pd.Categorical(people["hukou"], categories=["rural", "urban"]),
            "subgroup": pd.Categorical(
                people["subgroup"], categories=subgroup_table()["subgroup"].tolist()
            ),
        }
    )
    for name, values in items.items():
        if name in DIMENSIONS:
            table[name] = np.asarray(values, float)
        elif values.dtype == bool:
            table[name] = pd.Categorical(np.where(values, "yes", "no"), dtype=binary)
        else:
            table[name] = np.asarray(values, np.int64)
    table["self_rated_health"] = pd.Categorical.from_codes(level, categories=levels, ordered=True)
    table["weight"] = 1.0
    return table


def write_subgroup_sample(sample: SubgroupSample, out: Path) -> Path:
    """Write ``analysis_data.parquet`` and the truth CSVs (atomically); return the table's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "subgroup_slope_truth.csv": sample.slope_truth,
        "synthetic_coefficients.csv": sample.coefficient_truth,
        "synthetic_truth.csv": sample.province_truth,
        "synthetic_city_truth.csv": sample.city_truth,
    }
    for name, frame in files.items():
        write_with(out / name, lambda tmp, f=frame: f.to_csv(tmp, index=False))
    return write_analysis_table(sample.table, out / "analysis_data.parquet")


def main(argv: list[str] | None = None) -> int:
    """``python -m data_prep.synthetic_subgroups --out DIR [--params FILE] [--n N] [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--params", type=Path, default=DEFAULT_PARAMS, help="parameter file")
    parser.add_argument("--n", type=int, default=None, help="sample size (default: the file's)")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: the file's)")
    args = parser.parse_args(argv)
    sample = generate_subgroup_sample(load_params(args.params), n=args.n, seed=args.seed)
    path = write_subgroup_sample(sample, args.out)
    print(f"wrote {path} ({len(sample.table)} respondents) and the generating truth")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
