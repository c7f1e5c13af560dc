"""Specification curve of a robustness grid: the focal coefficient in every cell."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

#: The grid's dimensions shown as rows of the panel under the curve.
DIMENSIONS = ("spec", "outcome", "data", "seed")
#: Odds ratios labelled on the log axis (those inside the plotted range).
ODDS_TICKS = (0.1, 0.2, 0.3, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 7, 10, 20)


def specification_curve(results: pd.DataFrame, focal: str) -> Figure:
    """Plot the focal coefficient of every fitted cell, sorted, with the cell's choices below.

    The top panel shows the posterior mean and 95% interval of each cell (odds-ratio scale for
    logistic and ordinal families, on a log axis; the coefficient otherwise), sorted by the
    estimate, with the weighted frequentist estimate as an open marker. The bottom panel marks,
    for each cell, which spec, outcome, data file and seed it used (Simonsohn, Simmons and
    Nelson 2020, "Specification curve analysis", Nature Human Behaviour 4:1208).

    Parameters
    ----------
    results
        The grid's tidy table (:data:`analysis.grid.RESULT_COLUMNS`); rows without an estimate
        (failed cells, or the focal term absent) are left out.
    focal
        The focal term (the title).
    """
    fitted = results.dropna(subset=["estimate"]).sort_values("estimate").reset_index(drop=True)
    odds = bool(len(fitted)) and fitted["family"].isin(["bernoulli", "binomial"]).all()
    odds = odds or (bool(len(fitted)) and fitted["family"].eq("cumulative_logit").all())
    scale = np.exp if odds else (lambda v: v)
    choices = [
        (dimension, value)
        for dimension in DIMENSIONS
        if results[dimension].nunique() > 1 or dimension == "spec"
        for value in dict.fromkeys(results[dimension].astype(str))
    ]
    height_top = 3.2
    height_bottom = 0.25 * len(choices) + 0.4
    figure, (top, bottom) = plt.subplots(
        2,
        1,
        sharex=True,
        figsize=(max(6.0, 0.35 * len(fitted) + 3), height_top + height_bottom),
        gridspec_kw={"height_ratios": [height_top, height_bottom]},
        layout="constrained",
    )
    x = np.arange(len(fitted))
    estimate = scale(fitted["estimate"].to_numpy(float))
    lower = scale(fitted["lower"].to_numpy(float))
    upper = scale(fitted["upper"].to_numpy(float))
    excludes = (lower > scale(0.0)) | (upper < scale(0.0))
    colours = np.where(excludes, "#1f4e79", "#8c8c8c")
    top.vlines(x, lower, upper, colors=colours, linewidth=2)
    top.scatter(x, estimate, color=colours, zorder=3, s=22, label="posterior mean, 95% CrI")
    frequentist = scale(fitted["frequentist_estimate"].to_numpy(float))
    if np.isfinite(frequentist).any():
        top.scatter(
            x,
            frequentist,
            facecolors="none",
            edgecolors="#c55a11",
            zorder=4,
            s=28,
            label="weighted frequentist estimate",
        )
    top.axhline(scale(0.0), color="black", linewidth=0.8, linestyle="--")
    if odds:
        top.set_yscale("log")
        low, high = top.get_ylim()
        ticks = [t for t in ODDS_TICKS if low <= t <= high]
        top.set_yticks(ticks, [f"{t:g}" for t in ticks], fontsize=8)
        top.yaxis.set_minor_formatter(NullFormatter())
    top.set_ylabel("odds ratio" if odds else "coefficient")
    top.set_title(
        f"Specification curve of {focal}: {len(fitted)} of {len(results)} cells\n"
        "dark: the 95% interval excludes no effect",
        fontsize=10,
    )
    top.legend(loc="upper left", fontsize=8, frameon=False)
    for row, (dimension, value) in enumerate(choices):
        used = (fitted[dimension].astype(str) == value).to_numpy()
        bottom.scatter(x[used], np.full(used.sum(), row), marker="s", s=18, color="#1f4e79")
        bottom.scatter(x[~used], np.full((~used).sum(), row), marker="s", s=18, color="#e6e6e6")
    bottom.set_yticks(range(len(choices)), [f"{d}: {v}" for d, v in choices], fontsize=8)
    bottom.set_ylim(len(choices) - 0.5, -0.5)
    bottom.set_xticks(x, [str(k + 1) for k in x], fontsize=7)
    bottom.set_xlabel("cell, sorted by estimate")
    bottom.set_xlim(-0.7, max(len(fitted) - 0.3, 0.3))
    return figure
