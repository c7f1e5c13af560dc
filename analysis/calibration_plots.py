"""Figures of the calibration study: SBC rank histograms and interval coverage."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats


def rank_histograms(results: pd.DataFrame, rank_draws: int, n_bins: int = 20) -> Figure:
    """One rank histogram per quantity with the 99% band of a uniform histogram.

    Bars outside the grey band, or a U, hump or slope across the bins, point to intervals that
    are too narrow, too wide or shifted.
    """
    parameters = list(dict.fromkeys(results["parameter"]))
    n_columns = 4
    n_rows = math.ceil(len(parameters) / n_columns)
    fig, axes = plt.subplots(
        n_rows, n_columns, figsize=(12, 2.4 * n_rows), layout="constrained", sharey=True
    )
    edges = np.linspace(-0.5, rank_draws + 0.5, n_bins + 1)
    replicates = results["replicate"].nunique()
    expected = replicates / n_bins
    low, high = stats.binom.ppf([0.005, 0.995], replicates, 1 / n_bins)
    for ax, parameter in zip(axes.flat, parameters, strict=False):
        ranks = results.loc[results["parameter"] == parameter, "rank"]
        ax.axhspan(low, high, color="0.88", zorder=0, label="99% band if uniform")
        ax.axhline(expected, color="0.45", lw=0.8)
        ax.hist(ranks, bins=edges, color="C0", edgecolor="white", zorder=1)
        ax.set_title(parameter.replace("beta[", "").rstrip("]"), fontsize=9)
        ax.set_xlim(edges[0], edges[-1])
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(parameters) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    handles.append(plt.Line2D([], [], color="0.45", lw=0.8))
    labels.append(f"expected count ({expected:g} per bin)")
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    for ax in axes[:, 0]:
        ax.set_ylabel("replicates", fontsize=8)
    for ax in axes[-1, :]:
        ax.set_xlabel(f"rank of the truth among {rank_draws} draws", fontsize=8)
    fig.suptitle(
        f"Simulation-based calibration: {replicates} simulated data sets, rank histograms",
        fontsize=11,
    )
    return fig


def coverage_plot(coverage: pd.DataFrame) -> Figure:
    """Observed coverage of the 50% and 90% intervals per quantity, with 99% Wilson intervals."""
    n = len(coverage)
    fig, ax = plt.subplots(figsize=(8, 1.4 + 0.3 * n), layout="constrained")
    y = np.arange(n)
    for offset, level, colour in ((-0.15, 0.5, "C0"), (0.15, 0.9, "C1")):
        label = f"{level:.0%}"
        share = coverage[f"coverage_{label}"].to_numpy()
        bounds = coverage[f"coverage_{label}_99ci"].str.split("-", expand=True).astype(float)
        ax.errorbar(
            share,
            y + offset,
            xerr=[share - bounds[0].to_numpy(), bounds[1].to_numpy() - share],
            fmt="o",
            color=colour,
            markersize=4,
            capsize=2,
            lw=1,
            label=f"{label} intervals (observed share, 99% CI)",
        )
        ax.axvline(level, color=colour, ls="--", lw=0.8)
    ax.set_yticks(y, coverage["parameter"], fontsize=8)
    ax.set_ylim(-0.8, n - 0.2)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("Share of replicates whose interval contains the true value (dashed: nominal)")
    ax.set_title(
        f"Interval coverage over {int(coverage['replicates'].iloc[0])} simulated data sets",
        fontsize=11,
    )
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.grid(axis="x", color="0.92")
    return fig
