"""Figures of the posterior predictive checks (each function returns a Figure)."""

from __future__ import annotations

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure


def interval_check_plot(checks: pd.DataFrame, title: str, label_column: str = "level") -> Figure:
    """Observed share (dot) against 50% (thick) and 95% (thin) predictive intervals, by group."""
    n = len(checks)
    fig, ax = plt.subplots(figsize=(8.5, 1.4 + 0.26 * n), layout="constrained")
    y = np.arange(n)[::-1]
    ax.hlines(
        y,
        100 * checks["pi_low"],
        100 * checks["pi_high"],
        color="C0",
        lw=1.2,
        label="95% predictive interval",
    )
    ax.hlines(
        y,
        100 * checks["pi50_low"],
        100 * checks["pi50_high"],
        color="C0",
        lw=4,
        alpha=0.6,
        label="50% predictive interval",
    )
    outside = (checks["bayes_p"] < 0.025) | (checks["bayes_p"] > 0.975)
    ax.scatter(
        100 * checks["observed"],
        y,
        color=np.where(outside, "C3", "black"),
        s=18,
        zorder=3,
        label="observed (red: outside 95%)",
    )
    labels = [f"{lab} (n={k})" for lab, k in zip(checks[label_column], checks["n"], strict=True)]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(-0.8, n - 0.2)
    ax.set_xlabel("Share with a health record (%)")
    ax.grid(axis="x", color="0.9")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=8)
    fig.suptitle(title)
    return fig


def calibration_plot(calibration: pd.DataFrame, title: str) -> Figure:
    """Observed share against mean predicted probability by decile, with the diagonal."""
    fig, ax = plt.subplots(figsize=(6, 6), layout="constrained")
    x = 100 * calibration["mean_predicted"]
    ax.errorbar(
        x,
        100 * calibration["predicted_median"],
        yerr=[
            100 * (calibration["predicted_median"] - calibration["pi_low"]),
            100 * (calibration["pi_high"] - calibration["predicted_median"]),
        ],
        fmt="none",
        ecolor="C0",
        lw=1.2,
        capsize=3,
        label="95% predictive interval of the decile's share",
    )
    ax.scatter(x, 100 * calibration["observed"], color="black", zorder=3, label="observed share")
    low = min(x.min(), 100 * calibration["observed"].min()) - 5
    high = max(x.max(), 100 * calibration["observed"].max()) + 5
    ax.plot([low, high], [low, high], ls="--", color="0.4", lw=0.8, label="perfect calibration")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel("Mean predicted probability of a record, decile (%)")
    ax.set_ylabel("Share with a health record (%)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(color="0.92")
    return fig


def overall_uptake_plot(idata: xr.DataTree, title: str, outcome: str) -> Figure:
    """Share of the outcome in replicated data sets against the observed share (arviz-plots).

    Parameters
    ----------
    idata
        A fit with ``posterior_predictive`` and ``observed_data`` groups holding ``outcome``
        (0/1, dim ``obs``).
    title
        Figure title.
    outcome
        Name of the outcome variable.

    Returns
    -------
    matplotlib.figure.Figure
        The distribution of the replicated shares (%), the observed share as a point, and the
        share of replicated data sets at or above it (the posterior predictive p-value).
    """
    replicated = idata.posterior_predictive[outcome]
    observed = idata.observed_data[outcome]
    in_percent = xr.DataTree.from_dict(
        {
            "posterior_predictive": xr.Dataset({"share": 100.0 * replicated.astype(float)}),
            "observed_data": xr.Dataset({"share": 100.0 * observed.astype(float)}),
        }
    )
    collection = az.plot_ppc_tstat(
        in_percent, t_stat="mean", backend="matplotlib", figure_kwargs={"figsize": (6.5, 4)}
    )
    fig = collection.viz["figure"].item()
    ax = fig.axes[0]
    share = float(100 * observed.mean())
    p_value = float((100 * replicated.mean("obs") >= share).mean())
    ax.set_title(
        f"{title}\n{100 * p_value:.0f}% of replicated data sets at or above the observed share",
        fontsize=10,
    )
    ax.set_xlabel(
        f"Share with the outcome (%): replicated data sets (curve), observed {share:.1f}% (dot)",
        fontsize=9,
    )
    return fig
