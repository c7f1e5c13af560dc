"""Write example raw survey files (``.sav``, ``.dta``) and a coded ``.csv`` to try own data.

``python -m data_prep.raw_example --out examples`` writes:

* ``cmds2015_example.sav`` and ``.dta``: respondents in the layout of the 2015 CMDS individual
  file: raw codes with Chinese value labels, declared missing codes, and respondents the paper
  excluded (under 60, missing answers, less than 6 months in the inflow area, "not clear"
  health-record answers). Its analysed respondents are exactly the embedded synthetic sample.
* ``cmds2015_example_codebook.yaml``: the shipped codebook with the FILL_IN items filled in with
  this example's (made-up) variable names.
* ``coded_example.csv``: the same analysed respondents as an already-coded table.

The files are synthetic: they show the format, not real survey answers.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from cmds_common.atomic import write_text, write_with
from cmds_common.constants import DEFAULT_SEED
from cmds_common.provinces import province_table
from data_prep.codebook import _line_numbers
from data_prep.synthetic import DESIGN_COLUMNS, WAVE_2017_COLUMNS, generate_synthetic

#: Made-up raw names for the items the shipped codebook leaves to the user.
EXAMPLE_RAW_NAMES = {
    "province": "q100_prov",
    "health_record": "q404_record",
    "household_monthly_income": "q104_income",
    "employment": "q201_work",
    "local_medical_insurance": "q501_insur",
    "planned_stay": "q306_stay",
    "local_friends_count": "q403_friends",
    "daily_exercise_minutes": "q405_exercise",
    "chronic_disease": "q406_chronic",
    "self_rated_health": "q407_health",
    "weight": "pweight",
}

#: Extra missing codes the example file uses (added to the example codebook).
EXAMPLE_MISSING = {"daily_exercise_minutes": [999], "local_friends_count": [99]}

VALUE_LABELS = {
    "q101b1": {1: "男", 2: "女"},
    "q101e1": {
        1: "未上过学",
        2: "小学",
        3: "初中",
        4: "高中",
        5: "中专",
        6: "大学专科",
        7: "大学本科",
    },
    "q101f1": {1: "农业", 2: "非农业", 3: "农业转居民", 4: "非农业转居民", 5: "居民", 6: "其他"},
    "q101g1": {1: "未婚", 2: "初婚", 3: "再婚", 4: "离婚", 5: "丧偶", 6: "同居"},
    "q101j1": {1: "跨省", 2: "省内跨市", 3: "市内跨县"},
    "q100_prov": {int(r.code): r.name_zh for r in province_table().itertuples()},
    "q404_record": {1: "没建,没听说过", 2: "没建,但是听说过", 3: "是,已经建立", 4: "不清楚"},
    "q201_work": {1: "是", 2: "否"},
    "q501_insur": {1: "是", 2: "否"},
    "q306_stay": {1: "打算", 2: "不打算", 3: "没想好"},
    "q406_chronic": {1: "是", 2: "否"},
    "q407_health": {1: "健康", 2: "基本健康", 3: "不健康,但生活能自理", 4: "生活不能自理"},
}


@dataclass(frozen=True)
class ExclusionCounts:
    """How many respondents of each excluded kind the example file holds."""

    under_60: int = 250
    missing_answers: int = 120
    short_stay: int = 281
    not_clear: int = 589


def _pick(rng: np.random.Generator, options: dict[str, list[int]], values: pd.Series) -> np.ndarray:
    return np.array([rng.choice(options[v]) for v in values.astype(str)])


def _incomes(rng: np.random.Generator, quartile: pd.Series) -> np.ndarray:
    """Yuan incomes whose tie-aware quartiles give back ``quartile`` exactly.

    Half of each of Q1-Q3 report the round figure at the top of the band (heaping, as in
    surveys), so each sample quartile cut falls on a tied value.
    """
    tops = {"Q1": 2000, "Q2": 4000, "Q3": 6000}
    lows = {"Q1": 300, "Q2": 2001, "Q3": 4001, "Q4": 6001}
    income = np.empty(len(quartile))
    for q in ("Q1", "Q2", "Q3", "Q4"):
        members = np.flatnonzero(quartile.astype(str).to_numpy() == q)
        if q == "Q4":
            income[members] = rng.integers(lows[q], 30000, len(members))
            continue
        tied = rng.random(len(members)) < 0.5
        income[members] = np.where(tied, tops[q], rng.integers(lows[q], tops[q], len(members)))
    return income


def raw_survey_rows(coded: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Re-express coded respondents in raw 2015 CMDS codes."""
    n = len(coded)
    birth_month = rng.integers(1, 13, n)
    age = coded["age_years"].to_numpy().astype(int)
    months_here = np.round(coded["years_in_inflow_area"].to_numpy() * 12).astype(int)
    arrival = 2015 * 12 + 5 - months_here
    codes = {r.name_en: int(r.code) for r in province_table().itertuples()}
    record = np.where(coded["health_record"].to_numpy() == 1, 3, rng.choice([1, 2], n))
    friends = np.where(
        coded["local_friends"].astype(str).to_numpy() == "ge3",
        rng.integers(3, 21, n),
        rng.integers(0, 3, n),
    )
    exercise = np.where(
        coded["exercise"].astype(str).to_numpy() == "ge60min",
        rng.integers(60, 181, n),
        rng.integers(0, 60, n),
    )
    return pd.DataFrame(
        {
            "q100_prov": coded["province"].astype(str).map(codes).to_numpy(),
            "q101b1": _pick(rng, {"male": [1], "female": [2]}, coded["sex"]),
            "q101c1y": 2015 - age - (birth_month > 5),
            "q101c1m": birth_month,
            "q101e1": _pick(
                rng,
                {"primary_or_below": [1, 2], "junior": [3], "senior_or_above": [4, 5, 6, 7]},
                coded["education"],
            ),
            "q101f1": _pick(rng, {"rural": [1, 3], "urban": [2, 4, 5]}, coded["hukou"]),
            "q101g1": _pick(rng, {"single": [1, 4, 5], "married": [2, 3, 6]}, coded["marital"]),
            "q101j1": _pick(
                rng, {"interprovincial": [1], "intraprovincial": [2, 3]}, coded["movement"]
            ),
            "q101k1y": arrival // 12,
            "q101k1m": arrival % 12,
            "q404_record": record,
            "q104_income": _incomes(rng, coded["income_quartile"]),
            "q201_work": _pick(rng, {"employed": [1], "unemployed": [2]}, coded["occupation"]),
            "q501_insur": _pick(rng, {"yes": [1], "no": [2]}, coded["local_medical_insurance"]),
            "q306_stay": _pick(
                rng, {"yes": [1], "no_or_undecided": [2, 3]}, coded["settlement_intention"]
            ),
            "q403_friends": friends,
            "q405_exercise": exercise,
            "q406_chronic": _pick(rng, {"yes": [1], "no": [2]}, coded["chronic_disease"]),
            "q407_health": _pick(
                rng, {"healthy": [1, 2], "unhealthy": [3, 4]}, coded["self_rated_health"]
            ),
            "pweight": coded["weight"].to_numpy(),
        }
    )


def _fix_month_zero(rows: pd.DataFrame) -> pd.DataFrame:
    # arrival // 12 and % 12 give month 0 for December of the year before
    december = rows["q101k1m"] == 0
    rows.loc[december, "q101k1y"] -= 1
    rows.loc[december, "q101k1m"] = 12
    return rows


def example_raw_survey(
    seed: int = DEFAULT_SEED, exclusions: ExclusionCounts | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build the example raw file and the coded analysed sample it must reproduce.

    Returns
    -------
    raw : pandas.DataFrame
        Raw survey rows (analysed respondents plus every excluded kind), shuffled.
    coded : pandas.DataFrame
        The analysed respondents as the coded synthetic sample (in the raw file's order).
    """
    exclusions = exclusions or ExclusionCounts()
    rng = np.random.default_rng(seed + 1)
    coded, _ = generate_synthetic(seed=seed)
    # the example raw file carries the 2015 items only
    coded = coded.drop(columns=[*DESIGN_COLUMNS, *WAVE_2017_COLUMNS])
    analysed = _fix_month_zero(raw_survey_rows(coded, rng))

    def extra(k: int) -> pd.DataFrame:
        donors = coded.sample(k, random_state=int(rng.integers(1 << 31)), replace=True)
        return _fix_month_zero(raw_survey_rows(donors.reset_index(drop=True), rng))

    young = extra(exclusions.under_60)
    young_age = rng.integers(45, 60, len(young))
    young["q101c1y"] = 2015 - young_age - (young["q101c1m"] > 5)

    incomplete = extra(exclusions.missing_answers)
    kind = np.arange(len(incomplete)) % 3
    incomplete["q101f1"] = np.where(kind == 0, 6, incomplete["q101f1"])  # 其他: declared missing
    incomplete["q405_exercise"] = np.where(kind == 1, 999, incomplete["q405_exercise"])
    incomplete["q201_work"] = np.where(kind == 2, np.nan, incomplete["q201_work"])

    short = extra(exclusions.short_stay)
    months = rng.integers(0, 6, len(short))
    arrival = 2015 * 12 + 5 - months
    short["q101k1y"], short["q101k1m"] = arrival // 12, arrival % 12
    short = _fix_month_zero(short)

    unclear = extra(exclusions.not_clear)
    unclear["q404_record"] = 4

    raw = pd.concat([analysed, young, incomplete, short, unclear], ignore_index=True)
    is_analysed = np.r_[np.ones(len(analysed), bool), np.zeros(len(raw) - len(analysed), bool)]
    order = rng.permutation(len(raw))
    raw = raw.iloc[order].reset_index(drop=True)
    coded = coded.iloc[order[is_analysed[order]]].reset_index(drop=True)
    return raw, coded


def example_codebook_text() -> str:
    """Return the shipped codebook with the example raw names and missing codes filled in."""
    text = resources.files("data_prep").joinpath("codebooks", "cmds2015.yaml").read_text("utf-8")
    lines = text.splitlines()
    for item, line in _line_numbers(text).items():
        if item in EXAMPLE_RAW_NAMES:
            lines[line - 1] = lines[line - 1].replace("FILL_IN", EXAMPLE_RAW_NAMES[item], 1)
            if item in EXAMPLE_MISSING:
                indent = lines[line - 1][: len(lines[line - 1]) - len(lines[line - 1].lstrip())]
                lines[line - 1] += f"\n{indent}missing: {EXAMPLE_MISSING[item]}"
    header = "# Example codebook written by `python -m data_prep.raw_example` (made-up names).\n"
    return header + "\n".join(lines) + "\n"


def write_examples(out_dir: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the example ``.sav``, ``.dta``, codebook and coded ``.csv``; return their paths."""
    import pyreadstat

    raw, coded = example_raw_survey(seed)
    labels = {k: {float(c): v for c, v in m.items()} for k, m in VALUE_LABELS.items()}
    sav, dta = out_dir / "cmds2015_example.sav", out_dir / "cmds2015_example.dta"
    write_with(
        sav,
        lambda p: pyreadstat.write_sav(
            raw, p, variable_value_labels=labels, missing_ranges={"q405_exercise": [999]}
        ),
    )
    write_with(dta, lambda p: pyreadstat.write_dta(raw, p, variable_value_labels=labels))
    codebook = write_text(out_dir / "cmds2015_example_codebook.yaml", example_codebook_text())
    csv = write_with(
        out_dir / "coded_example.csv", lambda p: coded.to_csv(p, index=False, encoding="utf-8")
    )
    return [sav, dta, codebook, csv]


def main(argv: list[str] | None = None) -> int:
    """Command line: write the example files."""
    parser = argparse.ArgumentParser(
        prog="python -m data_prep.raw_example", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=Path("examples"))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    for path in write_examples(args.out, args.seed):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
