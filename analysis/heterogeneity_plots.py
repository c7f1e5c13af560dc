"""Subgroup forest plot: one term's effect per subgroup, by method, with the truth when known."""

from __future__ import annotations

import re
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

#: Method label -> (colour, marker, vertical offset), in the order of the legend.
METHOD_STYLES: dict[str, tuple[str, str, float]] = {
    "separate regressions per subgroup": ("C1", "s", 0.22),
    "single-level interaction model": ("0.45", "D", 0.0),
    "pooled Bayesian (partial pooling)": ("C0", "o", -0.22),
}


_TICKS = (0.25, 0.33, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 3, 4)


def _readable(label: str) -> str:
    """``female:45_59:senior_high_or_above`` -> ``female | 45-59 | senior high or above``."""
    return re.sub(r"(\d)_(\d)", r"\1-\2", label).replace(":", " | ").replace("_", " ")


def subgroup_forest_plot(
    effects: pd.DataFrame, term: str, title: str, labels: Mapping[str, str] | None = None
) -> Figure:
    """Forest plot of one term's subgroup effects as cumulative odds ratios on a log axis.

    Parameters
    ----------
    effects
        :func:`analysis.heterogeneity.effects_long`: ``method, subgroup, term, estimate,
        ci_low, ci_high`` on the log-odds scale, optional ``truth``.
    term
        The term to draw.
    title
        Figure title.
    labels
        ``{subgroup code: label}`` ("Female | 45-59 | Senior high school or above"); a
        subgroup without one shows its code in words.

    Returns
    -------
    matplotlib.figure.Figure
        Rows are the subgroups (in the table's order); each method a coloured interval with
        its point estimate; the true effect a black cross when ``truth`` is present.
    """
    part = effects[effects["term"] == term]
    subgroups = list(dict.fromkeys(part["subgroup"]))
    y = np.arange(len(subgroups))[::-1]
    position = dict(zip(subgroups, y, strict=True))
    fig, ax = plt.subplots(figsize=(8, 0.48 * len(subgroups) + 2.2))
    for method, (colour, marker, offset) in METHOD_STYLES.items():
        rows = part[part["method"] == method]
        if rows.empty:
            continue
        ys = rows["subgroup"].map(position).to_numpy() + offset
        ax.hlines(ys, np.exp(rows["ci_low"]), np.exp(rows["ci_high"]), color=colour, lw=1.6)
        ax.plot(np.exp(rows["estimate"]), ys, marker, color=colour, label=method, ms=5)
    if "truth" in part and part["truth"].notna().any():
        truth = part.drop_duplicates("subgroup")
        ax.plot(
            np.exp(truth["truth"]),
            truth["subgroup"].map(position),
            "x",
            color="black",
            ms=7,
            label="true effect (synthetic data)",
        )
    ax.axvline(1.0, color="0.6", lw=0.8, ls="--")
    ax.set_xscale("log")
    low, high = ax.get_xlim()
    ticks = [t for t in _TICKS if low <= t <= high]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    labels = labels or {}
    ax.set_yticks(y, [labels.get(s) or _readable(s) for s in subgroups], fontsize=8)
    ax.set_xlabel("cumulative odds ratio of better self-rated health per point (95% interval)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=2, frameon=False)
    fig.tight_layout()
    return fig
