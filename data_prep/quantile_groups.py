"""Quantile groups (income quartiles) that stay non-empty when many answers are tied.

Survey incomes are heaped at round values (3000, 5000 yuan): with a quarter of the sample on one
value, the usual cut points put whole quartiles on the same income and leave others empty. Equal
incomes always share a group here. When the usual cuts leave a group empty or far from its share,
the cut points are moved to the boundaries between distinct values that make the groups as equal
as possible while keeping every group non-empty, and a warning says how the ties were placed.
With fewer distinct values than groups, the usual cuts are kept; the design check then names the
empty groups of every spec that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Groups are "far from equal" when a share is below (1 - x) or above (1 + x) times 1/k.
UNEQUAL_SHARE = 0.5
#: Above this many distinct values, candidate cut points are thinned to this many.
MAX_CANDIDATES = 400


@dataclass(frozen=True)
class QuantileGroups:
    """Group of each value, and what a user should be told about the split (empty if nothing)."""

    groups: pd.Series
    message: str = ""


def _usual_cuts(values: np.ndarray, k: int) -> np.ndarray:
    cuts = np.quantile(values, np.arange(1, k) / k)
    return (values[:, None] > cuts[None, :]).sum(axis=1)


def _balanced_boundaries(counts: np.ndarray, k: int) -> list[int]:
    """Boundaries (indices into the distinct values) of k non-empty, near-equal groups."""
    m = len(counts)
    cum = np.concatenate([[0], np.cumsum(counts)]).astype(float)
    target = cum[-1] / k
    candidates = np.arange(1, m)
    if len(candidates) > MAX_CANDIDATES:
        wanted = np.searchsorted(cum, np.linspace(0, cum[-1], MAX_CANDIDATES))
        candidates = np.unique(np.clip(np.concatenate([wanted, wanted - 1]), 1, m - 1))
    points = np.concatenate([[0], candidates, [m]])
    size = cum[points][None, :] - cum[points][:, None]  # size[a, b]: values between points a, b
    allowed = points[None, :] > points[:, None]
    step = np.where(allowed, (size - target) ** 2, np.inf)
    best = step[0].copy()  # best cost of one group ending at each point
    back = []
    for _ in range(k - 1):
        total = best[:, None] + step
        back.append(total.argmin(axis=0))
        best = total.min(axis=0)
    ends = [len(points) - 1]
    for arg in reversed(back):
        ends.append(int(arg[ends[-1]]))
    return [int(points[e]) for e in reversed(ends)][:-1]


def quantile_groups(values: pd.Series, labels: list[str], name: str) -> QuantileGroups:
    """Split ``values`` into ``len(labels)`` ordered groups of near-equal size, ties together.

    Parameters
    ----------
    values
        Numeric values without gaps.
    labels
        Group labels, lowest first (``["Q1", "Q2", "Q3", "Q4"]``).
    name
        The variable's name, for the message.

    Returns
    -------
    QuantileGroups
        The labels per value, and a message when the usual cut points had to be moved or the
        groups are far from equal shares.
    """
    k = len(labels)
    array = values.to_numpy(dtype=float)
    index = _usual_cuts(array, k)
    shares = np.bincount(index, minlength=k) / len(array)
    low, high = (1 - UNEQUAL_SHARE) / k, (1 + UNEQUAL_SHARE) / k
    if ((shares >= low) & (shares <= high)).all():
        return QuantileGroups(pd.Series(np.array(labels)[index], index=values.index))
    distinct, counts = np.unique(array, return_counts=True)
    before = ", ".join(f"{lab} {s:.0%}" for lab, s in zip(labels, shares, strict=True))
    if len(distinct) >= k:
        bounds = _balanced_boundaries(counts, k)
        index = np.searchsorted(distinct, array)  # position of each value among the distinct
        index = np.searchsorted(np.asarray(bounds), index, side="right")
        how = "the cut points were moved to keep every group non-empty and as equal as possible"
    else:
        empty = [lab for lab, s in zip(labels, shares, strict=True) if s == 0]
        how = (
            f"with only {len(distinct)} distinct values at most {len(distinct)} groups can be "
            f"non-empty, so the usual cuts are kept and {', '.join(empty)} stay empty"
        )
    shares = np.bincount(index, minlength=k) / len(array)
    top = int(counts.argmax())
    after = []
    for j, label in enumerate(labels):
        members = array[index == j]
        span = f"{members.min():g}-{members.max():g}" if len(members) else "none"
        after.append(f"{label} {shares[j]:.0%} ({span})")
    far = not ((shares >= low) & (shares <= high)).all()
    message = (
        f"{name}: {counts[top]} of {len(array)} respondents ({counts[top] / len(array):.0%}) "
        f"give the same value {distinct[top]:g}; equal values always share a group, so the "
        f"usual quantile cuts gave {before}; {how}: {', '.join(after)}"
        + (f"; the groups are far from equal shares ({1 / k:.0%} each)" if far else "")
    )
    return QuantileGroups(pd.Series(np.array(labels)[index], index=values.index), message)
