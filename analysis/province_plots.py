"""Figures of group variation: caterpillar (any factor), shrinkage and the province tile map."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colormaps, colors, ticker
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from analysis.figures import wrap_title
from cmds_common.provinces import province_table

_OR_TICKS = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 10, 20)
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
    ax.set_title(wrap_title(title), fontsize=11)
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
    shrinkage = (raw - pooled).abs()
    labelled = rates.loc[
        (rates["n"] <= rates["n"].nsmallest(4).max())
        | (rates["n"] >= rates["n"].nlargest(3).min())
        | (shrinkage >= shrinkage.nlargest(4).min())
    ]
    span = float(max(raw.max(), pooled.max()) - min(raw.min(), pooled.min()) + 10)
    _place_labels(ax, labelled, factor, span, right_edge=float(max(raw.max(), pooled.max()) + 5))
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
    ax.set_title(wrap_title(title), fontsize=11)
    ax.grid(color="0.92")
    return fig


def _place_labels(
    ax, rows: pd.DataFrame, factor: str, span: float, right_edge: float = np.inf
) -> None:
    """Label points without overlap: try six spots around each point, keep the first free one.

    Sizes are estimated in data units from the axis span (7-point text on a 6.5-inch axis):
    enough to keep labels apart, without a layout library.
    """
    unit = span / 65.0  # about one 7-point character width in data units
    placed: list[tuple[float, float, float, float]] = []
    for row in rows.sort_values("fitted_rate").itertuples():
        name = str(getattr(row, factor))
        x, y = 100 * row.raw_rate, 100 * row.fitted_rate
        width, height = unit * 0.62 * len(name), unit * 1.3
        for dx, dy, ha in (
            (0.6, 0.4, "left"),
            (0.6, -1.6, "left"),
            (-0.6, 0.4, "right"),
            (-0.6, -1.6, "right"),
            (0.6, 2.2, "left"),
            (-0.6, -3.4, "right"),
        ):
            left = x + dx * unit - (width if ha == "right" else 0.0)
            bottom = y + dy * unit
            box = (left, bottom, left + width, bottom + height)
            free = all(
                box[2] < b[0] or box[0] > b[2] or box[3] < b[1] or box[1] > b[3] for b in placed
            )
            if free and box[2] <= right_edge:
                break
        placed.append(box)
        ax.annotate(name, (x, y), xytext=(x + dx * unit, bottom), fontsize=7, ha=ha, va="bottom")


def tile_map(
    values: pd.Series,
    title: str,
    colour_label: str,
    number_format: str = "{:.0f}%",
    low: pd.Series | None = None,
    high: pd.Series | None = None,
    n: pd.Series | None = None,
    names: Mapping[str, str] | None = None,
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
        How each tile prints its value (and its interval).
    low, high
        The 95% interval of each value (same index). Each tile then prints it under the value,
        and tiles fade with the interval's width (the widest is palest), so that a province
        with 12 respondents does not look as certain as one with 280.
    n
        Respondents per province, printed on each tile.
    names
        The name printed on each tile, by English name (e.g. the Chinese names); default the
        English name.
    """
    layout = province_table().set_index("name_en")
    norm = colors.Normalize(values.min(), values.max())
    cmap = colormaps["viridis"]
    width = (high - low).reindex(values.index) if low is not None and high is not None else None
    widest = float(width.max()) if width is not None and width.max() > 0 else 1.0
    fig, ax = plt.subplots(figsize=(9.5, 8.2), layout="constrained")
    for name, value in values.items():
        col, row = layout.loc[name, ["tile_col", "tile_row"]]
        colour = colors.to_rgba(cmap(norm(value)))
        if width is not None:  # blend towards white with the interval's relative width
            fade = 0.65 * float(width[name]) / widest
            colour = (*(c + (1 - c) * fade for c in colour[:3]), 1.0)
        ax.add_patch(Rectangle((col, -row), 0.95, 0.95, facecolor=colour, edgecolor="white"))
        luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        text_colour = "white" if luminance < 0.5 else "black"
        shown = (names or {}).get(name, name)
        label = shown.replace(" ", "\n", 1) if len(shown) > 10 else shown
        ax.text(
            col + 0.475, -row + 0.75, label, ha="center", va="center", fontsize=7, color=text_colour
        )
        ax.text(
            col + 0.475,
            -row + 0.43,
            number_format.format(value),
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            color=text_colour,
        )
        details = []
        if width is not None:
            interval = f"{number_format.format(low[name])}–{number_format.format(high[name])}"
            details.append(interval.replace("%–", "–"))
        if n is not None:
            details.append(f"n={int(n[name])}")
        if details:
            ax.text(
                col + 0.475,
                -row + 0.15,
                "\n".join(details) if len(" ".join(details)) > 14 else " ".join(details),
                ha="center",
                va="center",
                fontsize=5.5,
                color=text_colour,
            )
    ax.set_xlim(-0.1, layout["tile_col"].max() + 1.05)
    ax.set_ylim(-layout["tile_row"].max() - 0.1, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.6)
    bar.set_label(colour_label)
    ax.set_title(wrap_title(title), fontsize=11)
    if width is not None:
        fig.text(
            0.01,
            0.01,
            "Under each value: its 95% credible interval and the respondents. Paler tiles have "
            "wider intervals (less certain).",
            fontsize=8,
        )
    return fig


def slopes_plot(idata, group: str, labels: dict[str, str] | None = None, title: str = "") -> Figure:
    """Each group's own odds ratio of every varying slope, beside the national one.

    The group's slope on the log-odds scale is the fixed coefficient plus its deviation,
    ``beta[term] + <group>_slope[group, term]``; the panels show its exp() per group (posterior
    median and 95% CrI, sorted), the national odds ratio ``exp(beta[term])`` as a line with its
    interval shaded, and 1 (no association) dashed.

    Parameters
    ----------
    idata
        A fit with ``beta`` (dim ``term``) and ``<group>_slope`` (dims ``group``,
        ``slope_term``).
    group
        The grouping factor whose slopes vary.
    labels
        Readable label per slope term (default: the term).
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    posterior = idata.posterior
    slope = posterior[f"{group}_slope"]
    terms = [str(t) for t in slope["slope_term"].values]
    levels = [str(level) for level in slope[group].values]
    labels = labels or {}
    fig, axes = plt.subplots(
        1,
        len(terms),
        figsize=(4.2 * len(terms), 1.2 + 0.19 * len(levels)),
        sharey=False,
        layout="constrained",
        squeeze=False,
    )
    for ax, term in zip(axes[0], terms, strict=True):
        national = posterior["beta"].sel(term=term)
        total = np.exp(national + slope.sel(slope_term=term))
        stacked = total.stack(sample=("chain", "draw")).transpose(group, "sample").to_numpy()
        median = np.median(stacked, axis=1)
        low, high = np.quantile(stacked, [0.025, 0.975], axis=1)
        order = np.argsort(median)
        y = np.arange(len(levels))
        national_or = np.exp(national.to_numpy().ravel())
        lo_nat, mid_nat, hi_nat = np.quantile(national_or, [0.025, 0.5, 0.975])
        ax.axvspan(lo_nat, hi_nat, color="C1", alpha=0.15, label="national OR, 95% CrI")
        ax.axvline(mid_nat, color="C1", linewidth=1.2)
        ax.axvline(1.0, color="black", linestyle="--", linewidth=0.8, label="OR = 1")
        ax.errorbar(
            median[order],
            y,
            xerr=[median[order] - low[order], high[order] - median[order]],
            fmt="o",
            color="C0",
            markersize=3,
            linewidth=0.9,
            label="province OR, 95% CrI",
        )
        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        ax.set_xticks([t for t in _OR_TICKS if lo <= t <= hi])
        ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_yticks(y)
        ax.set_yticklabels([levels[i] for i in order], fontsize=6.5)
        ax.set_title(_wrap_title(labels.get(term, term)), fontsize=9)
        ax.set_xlabel("Odds ratio (log scale)")
        ax.grid(axis="x", color="0.9")
    axes[0][0].legend(loc="lower right", fontsize=7)
    if title:
        fig.suptitle(wrap_title(title), fontsize=11)
    return fig


def _wrap_title(text: str, width: int = 40) -> str:
    if len(text) <= width or ": " not in text:
        return text
    return text.replace(": ", ":\n", 1)
