"""Figure of Merlo's contextual measures: MOR and ICC per model and grouping factor."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.figures import wrap_title


def contextual_plot(table: pd.DataFrame, shown: pd.DataFrame | None = None) -> Figure:
    """Two panels, MOR and ICC, one row per model x grouping factor, with 95% intervals.

    Parameters
    ----------
    table
        :func:`analysis.contextual.contextual_measures` rows of several models (``model``,
        ``measure``, ``factor``, ``median``, ``low``, ``high``).
    shown
        The same rows for readers (:func:`analysis.labelled_tables.contextual_display`):
        their ``model`` and ``grouping factor`` name the rows; without it, the codes do.
    """
    if shown is not None:
        table = table.assign(
            model=shown["model"].to_numpy(), factor=shown["grouping factor"].to_numpy()
        )
    rows_shown = int((table["measure"] == "mor").sum())
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.55 * rows_shown + 1.8), sharey=True)
    for ax, measure, label in (
        (axes[0], "mor", "median odds ratio (MOR)"),
        (axes[1], "icc", "intraclass correlation (latent scale)"),
    ):
        rows = table[table["measure"] == measure].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        ax.hlines(y, rows["low"], rows["high"], color="C0")
        ax.plot(rows["median"], y, "o", color="C0")
        ax.set_yticks(y, rows["model"] + "\n" + rows["factor"], fontsize=7)
        ax.set_xlabel(label)
        if measure == "mor":
            ax.axvline(1.0, color="0.6", lw=0.8, ls="--")
    fig.suptitle("Between-group variation: Merlo's contextual measures (95% intervals)")
    fig.tight_layout()
    return fig


def prior_uptake_plot(summary: pd.DataFrame, overall: np.ndarray, title: str) -> Figure:
    """Histogram of the prior's overall uptake and each group's 95% prior interval.

    Parameters
    ----------
    summary, overall
        Output of :func:`analysis.prior_checks.prior_uptake`.
    title
        Figure title.
    """
    groups = summary[summary["group"] != "overall"].sort_values("median")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, max(4.0, 0.24 * len(groups) + 1.5)))
    left.hist(100 * np.asarray(overall), bins=40, range=(0, 100), color="C0", alpha=0.8)
    left.set_xlabel("Overall uptake implied by the prior (%)")
    left.set_ylabel("Prior draws")
    y = np.arange(len(groups))
    right.hlines(y, 100 * groups["low"], 100 * groups["high"], color="0.5")
    right.plot(100 * groups["median"], y, "o", color="C0", ms=4)
    right.set_yticks(y, groups["group"], fontsize=8)
    right.set_xlim(0, 100)
    right.set_xlabel("Uptake in each group (%): prior median, 95% interval")
    fig.suptitle(wrap_title(title))
    fig.tight_layout()
    return fig
