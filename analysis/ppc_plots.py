"""Figures of the posterior predictive checks (each function returns a Figure)."""

from __future__ import annotations

import textwrap

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from analysis.figures import wrap_title
from analysis.ppc import is_percent

#: Characters per line of an axis label (a long outcome label wraps instead of running off).
AXIS_LABEL_WIDTH = 48


def statistic_axis_label(statistic: str, outcome: str, share: str = "") -> str:
    """Axis label of a check statistic (shares and proportions in %).

    ``outcome`` is the outcome's label ("Self-rated health"), ``share`` what a 0/1 outcome's
    share is ("Share who has established a health record ..."; :meth:`TermLabeller.share`).
    """
    if statistic == "share":
        return f"{share or 'Share with the outcome'} (%)"
    if statistic == "share in each category":
        return f"Share in each category of {outcome} (%)"
    if statistic == "proportion":
        return f"Proportion of successes, {outcome} (%)"
    if statistic.startswith("share "):
        return f"Share answering {statistic.removeprefix('share ')} (%)"
    return f"{'Mean' if statistic == 'mean' else 'SD'} of {outcome}"


def interval_check_plot(
    checks: pd.DataFrame,
    title: str,
    label_column: str = "level",
    outcome: str = "",
    share: str = "",
) -> Figure:
    """Observed statistic (dot) against 50% (thick) and 95% (thin) predictive intervals, by group.

    One panel per statistic of the checks (``statistic`` column; one share when absent):
    e.g. mean and SD for a gaussian outcome, one share per category for an ordinal one.
    Shares and proportions are shown in percent. ``outcome`` and ``share`` are the outcome's
    label and its share in words (see :func:`statistic_axis_label`).
    """
    if "statistic" not in checks:
        checks = checks.assign(statistic="share")
    statistics = list(dict.fromkeys(checks["statistic"]))
    first = checks.loc[checks["statistic"] == statistics[0]]
    n = len(first)
    fig, axes = plt.subplots(
        1,
        len(statistics),
        figsize=(min(4.0 + 3.2 * len(statistics), 16), 1.6 + 0.26 * n),
        layout="constrained",
        sharey=True,
        squeeze=False,
    )
    y = np.arange(n)[::-1]
    position = dict(zip(zip(first["variable"], first[label_column], strict=True), y, strict=True))
    for ax, statistic in zip(axes[0], statistics, strict=True):
        rows = checks.loc[checks["statistic"] == statistic]
        keys = zip(rows["variable"], rows[label_column], strict=True)
        rows_y = [position.get(key, np.nan) for key in keys]
        factor = 100.0 if is_percent(statistic) else 1.0
        ax.hlines(
            rows_y,
            factor * rows["pi_low"],
            factor * rows["pi_high"],
            color="C0",
            lw=1.2,
            label="95% predictive interval",
        )
        ax.hlines(
            rows_y,
            factor * rows["pi50_low"],
            factor * rows["pi50_high"],
            color="C0",
            lw=4,
            alpha=0.6,
            label="50% predictive interval",
        )
        outside = (rows["bayes_p"] < 0.025) | (rows["bayes_p"] > 0.975)
        ax.scatter(
            factor * rows["observed"],
            rows_y,
            color=np.where(outside, "C3", "black"),
            s=18,
            zorder=3,
            label="observed (red: outside 95%)",
        )
        label = statistic_axis_label(statistic, outcome or "the outcome", share)
        ax.set_xlabel(textwrap.fill(label, AXIS_LABEL_WIDTH), fontsize=9)
        ax.grid(axis="x", color="0.9")
    labels = [f"{lab} (n={k})" for lab, k in zip(first[label_column], first["n"], strict=True)]
    axes[0, 0].set_yticks(y, labels, fontsize=8)
    axes[0, 0].set_ylim(-0.8, n - 0.2)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=3, frameon=False, fontsize=8)
    fig.suptitle(wrap_title(title), fontsize=11)
    return fig


def p_value_histogram(checks: pd.DataFrame, title: str) -> Figure:
    """Bayesian p values of the groups of a factor with many levels, one panel per statistic."""
    statistics = list(dict.fromkeys(checks["statistic"]))
    fig, axes = plt.subplots(
        1,
        len(statistics),
        figsize=(min(3.5 + 3 * len(statistics), 16), 3.8),
        layout="constrained",
        squeeze=False,
    )
    for ax, statistic in zip(axes[0], statistics, strict=True):
        p = checks.loc[checks["statistic"] == statistic, "bayes_p"]
        extreme = int(((p < 0.025) | (p > 0.975)).sum())
        ax.hist(p, bins=np.linspace(0, 1, 21), color="C0", edgecolor="white")
        for edge in (0.025, 0.975):
            ax.axvline(edge, color="C3", lw=0.8, ls="--")
        ax.set_title(f"{statistic}: {extreme} of {len(p)} groups outside 95%", fontsize=9)
        ax.set_xlabel("Bayesian p value of the group")
    axes[0, 0].set_ylabel("Groups")
    fig.suptitle(wrap_title(title), fontsize=11)
    return fig


def calibration_plot(calibration: pd.DataFrame, title: str, share: str = "") -> Figure:
    """Observed share against mean predicted probability by decile, with the diagonal.

    ``share`` names the observed share in words (the y axis; "Observed share" when empty).

    Deciles whose observed share lies outside their 95% predictive interval are drawn as red
    diamonds and counted in the legend.
    """
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
    outside = (calibration["observed"] < calibration["pi_low"]) | (
        calibration["observed"] > calibration["pi_high"]
    )
    ax.scatter(
        x[~outside],
        100 * calibration["observed"][~outside],
        color="black",
        zorder=3,
        label="observed share",
    )
    if outside.any():
        ax.scatter(
            x[outside],
            100 * calibration["observed"][outside],
            color="firebrick",
            marker="D",
            zorder=4,
            label=f"observed share outside its interval ({int(outside.sum())} of {len(outside)})",
        )
    low = min(x.min(), 100 * calibration["observed"].min()) - 5
    high = max(x.max(), 100 * calibration["observed"].max()) + 5
    ax.plot([low, high], [low, high], ls="--", color="0.4", lw=0.8, label="perfect calibration")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel("Mean predicted probability, decile (%)")
    ax.set_ylabel(textwrap.fill(f"{share or 'Observed share'} (%)", 60))
    ax.set_title(wrap_title(title))
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(color="0.92")
    return fig


def overall_uptake_plot(idata: xr.DataTree, title: str, outcome: str, share: str = "") -> Figure:
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
    share
        Its share in words ("Share who has established a health record ..."), for the axis.

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
    observed_share = float(100 * observed.mean())
    p_value = float((100 * replicated.mean("obs") >= observed_share).mean())
    ax.set_title(
        f"{title}\n{100 * p_value:.0f}% of replicated data sets at or above the observed share",
        fontsize=10,
    )
    ax.set_xlabel(
        f"{share or 'Share with the outcome'} (%)\nreplicated data sets (curve), "
        f"observed {observed_share:.1f}% (dot)",
        fontsize=9,
    )
    fig.set_layout_engine("constrained")  # keeps the three-line title inside the figure
    return fig
