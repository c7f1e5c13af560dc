"""The synthetic sample's survey design: sampled cities, strata and primary sampling units.

The CMDS samples with stratified, multi-stage probability-proportional-to-size selection
(provinces -> prefecture-level cities -> communities/villages -> respondents). The synthetic
default mimics that layout; none of it is calibrated to a published table (Jing et al. 2019
gives no city or PSU figures).

Rules
-----
Cities per province
    ``round(15 * sqrt(sample_share / max sample_share))`` clipped to 3-15, where
    ``sample_share`` is the province's relative sample size in ``cmds_common/provinces.csv``
    (a proxy for its migrant population): Guangdong gets 15, Zhejiang 14, Shanghai and
    Jiangsu 13, Beijing 12, Tibet 3; 272 cities in all. In the four municipalities a "city"
    stands for a district. Names are ``<province>-Cnn`` (``Guangdong-C03``): no real
    prefecture names are used. A province sample smaller than its number of cities uses only
    its first cities (one respondent each).
City sizes
    Every city gets one respondent, the rest are split in proportion to Gamma(2, 1) draws
    (largest remainder), so city samples are unequal; respondents are assigned at random.
Strata
    ``stratum`` is the province: the survey stratifies by provincial unit, and each province
    keeps at least three cities (first-stage units), so variance estimation has several PSUs
    per stratum.
PSUs
    Within a city, ``round(city size / 20)`` PSUs (at least one) of as-equal-as-possible size,
    so PSUs hold 10-30 respondents except in cities with fewer than 10. Respondents are put in
    PSUs in order of their sampling weight, so weights are nearly constant within a PSU, as
    when every respondent of a community has the same selection probability. Names are
    ``<city>-Pnn``.

Random streams (separate from the 2015 variables' single stream, so those stay unchanged):
``numpy.random.default_rng([seed, 1])`` for the city assignment. PSUs use no randomness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmds_common.provinces import province_table

#: Fewest and most sampled cities in a province.
CITY_RANGE: tuple[int, int] = (3, 15)
#: Respondents aimed at per PSU.
PSU_TARGET_SIZE = 20
#: Second element of the seed sequence of the city assignment stream.
CITY_STREAM = 1


def allocate(total: int, shares: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer counts proportional to ``shares`` (largest remainder)."""
    exact = total * np.asarray(shares, dtype=float) / np.sum(shares)
    counts = np.floor(exact).astype(int)
    shortfall = total - counts.sum()
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:shortfall]] += 1
    return counts


def cities_per_province() -> np.ndarray:
    """Return the number of sampled cities of each province, in :func:`province_table` order."""
    share = province_table()["sample_share"].to_numpy(dtype=float)
    low, high = CITY_RANGE
    return np.clip(np.round(high * np.sqrt(share / share.max())), low, high).astype(int)


def city_table() -> pd.DataFrame:
    """Return every city of the frame: ``city`` name, ``province``, global ``city_idx``."""
    names = province_table()["name_en"].to_numpy()
    rows = [
        (f"{province}-C{j + 1:02d}", province)
        for province, count in zip(names, cities_per_province(), strict=True)
        for j in range(count)
    ]
    table = pd.DataFrame(rows, columns=["city", "province"])
    table["city_idx"] = np.arange(len(table))
    return table


def assign_cities(province_idx: np.ndarray, seed: int) -> np.ndarray:
    """Return the global city index (row of :func:`city_table`) of each respondent."""
    rng = np.random.default_rng([seed, CITY_STREAM])
    counts = cities_per_province()
    first = np.r_[0, np.cumsum(counts)[:-1]]
    city_idx = np.empty(len(province_idx), dtype=int)
    for p, n_cities in enumerate(counts):
        members = rng.permutation(np.flatnonzero(province_idx == p))
        used = min(n_cities, len(members))
        sizes = rng.gamma(2.0, size=n_cities)[:used]
        per_city = 1 + allocate(len(members) - used, sizes) if used else np.zeros(0, int)
        city_idx[members] = first[p] + np.repeat(np.arange(used), per_city)
    return city_idx


@dataclass(frozen=True)
class Design:
    """Design columns of one sample (arrays of length ``n``)."""

    city: np.ndarray
    stratum: np.ndarray
    psu: np.ndarray


def survey_design(city_idx: np.ndarray, province: np.ndarray, weights: np.ndarray) -> Design:
    """Return strata (provinces) and PSUs (weight-ordered blocks within each city)."""
    cities = city_table()["city"].to_numpy()
    city = cities[city_idx]
    psu = np.empty(len(city_idx), dtype=object)
    for c in np.unique(city_idx):
        members = np.flatnonzero(city_idx == c)
        members = members[np.argsort(weights[members], kind="stable")]
        n_psu = max(1, round(len(members) / PSU_TARGET_SIZE))
        sizes = allocate(len(members), np.ones(n_psu))
        labels = [f"{cities[c]}-P{k + 1:02d}" for k in range(n_psu)]
        psu[members] = np.repeat(np.array(labels, dtype=object), sizes)
    return Design(city=city.astype(object), stratum=np.asarray(province, dtype=object), psu=psu)
