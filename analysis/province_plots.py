"""Figures of provincial variation: caterpillar, shrinkage and tile-grid map."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colormaps, colors
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cmds_common.provinces import province_table


def caterpillar_plot(odds_ratios: pd.DataFrame, title: str) -> Figure:
    """Province intercepts as odds ratios against the national average, sorted, with 95% CrIs."""
    n = len(odds_ratios)
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.24 * n), layout="constrained")
    y = np.arange(n)
    ax.errorbar(
        odds_ratios["odds_ratio"],
        y,
        xerr=[
            odds_ratios["odds_ratio"] - odds_ratios["low"],
            odds_ratios["high"] - odds_ratios["odds_ratio"],
        ],
        fmt="o",
        color="C0",
        markersize=4,
        capsize=2,
        lw=1,
    )
    ax.axvline(1.0, color="black", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xticks([t for t in (0.25, 0.5, 1, 2, 4) if odds_ratios["low"].min() / 1.2 < t])
    ax.set_yticks(y, odds_ratios["province"], fontsize=8)
    ax.set_ylim(-0.8, n - 0.2)
    ax.set_xlabel("Odds ratio of a record vs the national average (log scale), median and 95% CrI")
    ax.set_title(title, fontsize=11)
    ax.grid(axis="x", color="0.92")
    return fig


def shrinkage_plot(rates: pd.DataFrame, overall_rate: float, title: str) -> Figure:
    """Raw province shares against partially pooled estimates; point area by sample size."""
    fig, ax = plt.subplots(figsize=(7, 6.5), layout="constrained")
    raw, pooled = 100 * rates["raw_rate"], 100 * rates["fitted_rate"]
    sizes = 15 + 400 * rates["n"] / rates["n"].max()
    ax.scatter(raw, pooled, s=sizes, alpha=0.6, color="C0", edgecolor="black", lw=0.5)
    for row in rates.loc[
        (rates["n"] < rates["n"].quantile(0.2)) | (rates["n"] >= rates["n"].quantile(0.85))
    ].itertuples():
        ax.annotate(
            row.province,
            (100 * row.raw_rate, 100 * row.fitted_rate),
            fontsize=7,
            xytext=(4, 3),
            textcoords="offset points",
        )
    low = min(raw.min(), pooled.min()) - 5
    high = max(raw.max(), pooled.max()) + 5
    ax.plot([low, high], [low, high], ls="--", color="0.4", lw=0.8, label="no pooling (y = x)")
    ax.axhline(100 * overall_rate, color="C3", lw=0.8, label="overall share")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel("Observed share with a record in the province (%)")
    ax.set_ylabel("Partially pooled estimate for the same respondents (%)")
    for k in (rates["n"].min(), int(rates["n"].median()), rates["n"].max()):
        ax.scatter(
            [],
            [],
            s=15 + 400 * k / rates["n"].max(),
            color="C0",
            alpha=0.6,
            edgecolor="black",
            lw=0.5,
            label=f"n = {k}",
        )
    ax.legend(loc="upper left", fontsize=8, frameon=False, labelspacing=1.2)
    ax.set_title(title, fontsize=11)
    ax.grid(color="0.92")
    return fig


def tile_map(rates: pd.DataFrame, title: str) -> Figure:
    """Tile-grid map of the 32 provincial units coloured by standardised uptake."""
    layout = province_table().set_index("name_en")
    values = rates.set_index("province")["standardised_rate"] * 100
    norm = colors.Normalize(values.min(), values.max())
    cmap = colormaps["viridis"]
    fig, ax = plt.subplots(figsize=(9, 7.6), layout="constrained")
    for name, value in values.items():
        col, row = layout.loc[name, ["tile_col", "tile_row"]]
        colour = cmap(norm(value))
        ax.add_patch(Rectangle((col, -row), 0.95, 0.95, facecolor=colour, edgecolor="white"))
        text_colour = "white" if norm(value) < 0.6 else "black"
        label = name.replace(" ", "\n", 1) if len(name) > 10 else name
        ax.text(
            col + 0.475, -row + 0.6, label, ha="center", va="center", fontsize=7, color=text_colour
        )
        ax.text(
            col + 0.475,
            -row + 0.22,
            f"{value:.0f}%",
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            color=text_colour,
        )
    ax.set_xlim(-0.1, layout["tile_col"].max() + 1.05)
    ax.set_ylim(-layout["tile_row"].max() - 0.1, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.6)
    bar.set_label("Standardised share with a health record (%, posterior median)")
    ax.set_title(title, fontsize=11)
    return fig
