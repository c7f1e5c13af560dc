"""Figures of group variation: caterpillar (any factor), shrinkage and the province tile map."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colormaps, colors
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from cmds_common.provinces import province_table

#: Above this many groups the caterpillar drops its level labels but the five at each end.
MAX_LABELLED_GROUPS = 60


def caterpillar_plot(
    effects: pd.DataFrame, title: str, factor: str, factor_label: str = ""
) -> Figure:
    """Group intercepts against the average group, sorted, with 95% CrIs.

    Parameters
    ----------
    effects
        Output of :func:`analysis.province_variation.group_effects`: the ``factor`` column,
        ``estimate``, ``low``, ``high`` and ``scale``.
    title
        Figure title.
    factor
        Name of the grouping factor (the column holding the level names).
    factor_label
        The factor in words for the axis (default: its name).

    Returns
    -------
    matplotlib.figure.Figure
        Odds ratios on a log axis with a line at 1 (logit links), or deviations in outcome
        units with a line at 0 (gaussian). Factors with more than
        :data:`MAX_LABELLED_GROUPS` levels are drawn compactly without level names (they are in
        the effects table).
    """
    n = len(effects)
    ratio = str(effects["scale"].iloc[0]) != "outcome units"
    many = n > MAX_LABELLED_GROUPS
    height = 7.5 if many else 1.2 + 0.24 * n
    fig, ax = plt.subplots(figsize=(7.5, height), layout="constrained")
    y = np.arange(n)
    ax.errorbar(
        effects["estimate"],
        y,
        xerr=[effects["estimate"] - effects["low"], effects["high"] - effects["estimate"]],
        fmt="o",
        color="C0",
        markersize=2 if many else 4,
        capsize=0 if many else 2,
        lw=0.6 if many else 1,
    )
    ax.axvline(1.0 if ratio else 0.0, color="black", ls="--", lw=0.8)
    if ratio:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        low, high = effects["low"].min(), effects["high"].max()
        ticks = [t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8) if low / 1.2 < t < high * 1.2]
        if len(ticks) < 3:  # a narrow range (small group SD): finer ticks
            ticks = [t for t in (0.8, 0.9, 1, 1.1, 1.25) if low / 1.05 < t < high * 1.05]
        ax.set_xticks(ticks or [1])
    if many:
        ax.set_yticks([])
        ax.set_ylabel(f"{n} levels, sorted by their effect (names in the effects table)")
    else:
        ax.set_yticks(y, effects[factor], fontsize=8)
    ax.set_ylim(-0.8, n - 0.2)
    scale, words = str(effects["scale"].iloc[0]), factor_label or factor
    ax.set_xlabel(
        f"{scale.capitalize()} vs the average {words} (log scale), median and 95% CrI"
        if ratio
        else f"Deviation from the average {words} (outcome units), median and 95% CrI"
    )
    ax.set_title(title, fontsize=11)
    ax.grid(axis="x", color="0.92")
    return fig


def shrinkage_plot(
    rates: pd.DataFrame, overall_rate: float, title: str, factor: str = "province"
) -> Figure:
    """Raw group shares against partially pooled estimates; point area by sample size."""
    fig, ax = plt.subplots(figsize=(7, 6.5), layout="constrained")
    raw, pooled = 100 * rates["raw_rate"], 100 * rates["fitted_rate"]
    sizes = 15 + 400 * rates["n"] / rates["n"].max()
    ax.scatter(raw, pooled, s=sizes, alpha=0.6, color="C0", edgecolor="black", lw=0.5)
    for row in rates.loc[
        (rates["n"] < rates["n"].quantile(0.2)) | (rates["n"] >= rates["n"].quantile(0.85))
    ].itertuples():
        ax.annotate(
            getattr(row, factor),
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
    ax.set_xlabel(f"Observed share with the outcome in the {factor} (%)")
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


def tile_map(
    values: pd.Series, title: str, colour_label: str, number_format: str = "{:.0f}%"
) -> Figure:
    """Tile-grid map of the 32 provincial units coloured by one value per province.

    Parameters
    ----------
    values
        One value per province, indexed by the English name (e.g. standardised shares in %,
        or province odds ratios).
    title, colour_label
        Figure title and colour-bar label.
    number_format
        How each tile prints its value.
    """
    layout = province_table().set_index("name_en")
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
            number_format.format(value),
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
    bar.set_label(colour_label)
    ax.set_title(title, fontsize=11)
    return fig
