"""Forest plot: Bayesian, frequentist and published odds ratios for each term."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

_SOURCES = (
    (
        "posterior_median_or",
        "cri_low",
        "cri_high",
        "Bayesian multilevel (median, 95% CrI)",
        "C0",
        "o",
    ),
    ("freq_or", "freq_ci_low", "freq_ci_high", "Weighted logit, this data (OR, 95% CI)", "C1", "s"),
    (
        "published_or",
        "published_ci_low",
        "published_ci_high",
        "Published, Jing et al. 2019",
        "0.3",
        "D",
    ),
)


def forest_plot(
    table: pd.DataFrame,
    title: str,
    sources: tuple[tuple[str, str, str, str, str, str], ...] = _SOURCES,
) -> Figure:
    """Draw up to three estimates per term on a log odds-ratio axis.

    Parameters
    ----------
    table
        Output of :func:`analysis.odds_ratios.odds_ratio_table` (or any table with the columns
        named in ``sources``).
    title
        Figure title.
    sources
        Per estimate: estimate, low and high columns, legend label, colour, marker.

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_terms = len(table)
    fig, ax = plt.subplots(figsize=(9.5, 1.6 + 0.5 * n_terms), layout="constrained")
    positions = np.arange(n_terms)[::-1]
    offsets = (0.22, 0.0, -0.22) if len(sources) == 3 else (0.15, -0.15)
    for offset, (est, low, high, label, colour, marker) in zip(offsets, sources, strict=True):
        if table[est].isna().all():
            continue
        y = positions + offset
        ax.errorbar(
            table[est],
            y,
            xerr=[table[est] - table[low], table[high] - table[est]],
            fmt=marker,
            color=colour,
            markersize=5,
            capsize=2,
            linewidth=1.2,
            label=label,
        )
    ax.axvline(1.0, color="black", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ticks = [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4]
    lo = np.nanmin(table[[s[1] for s in sources]].to_numpy(float))
    hi = np.nanmax(table[[s[2] for s in sources]].to_numpy(float))
    ax.set_xlim(lo / 1.15, hi * 1.15)
    ax.set_xticks([t for t in ticks if lo / 1.15 <= t <= hi * 1.15])
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_yticks(positions)
    ax.set_yticklabels(table["term"])
    ax.set_ylim(-0.7, n_terms - 0.3)
    ax.set_xlabel("Odds ratio of having a health record (log scale; 1 = no association)")
    fig.suptitle(title)
    ax.grid(axis="x", color="0.9")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=8.5)
    return fig
