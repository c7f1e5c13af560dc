"""Figures of a treatment study: scree, balance, common support, province effects, comparison.

Each function takes precomputed tables (from :mod:`analysis.factor_index`,
:mod:`analysis.matching`, :mod:`analysis.g_computation`) and returns a matplotlib Figure; the
caller saves it with :func:`analysis.figures.save_figure`.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.factor_index import EIGENVALUE_THRESHOLD
from analysis.forest_plot import wrap_term_label


def scree_plot(eigenvalues: pd.Series) -> Figure:
    """Eigenvalues of the item correlation matrix with the eigenvalue-1 line."""
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(eigenvalues.index, eigenvalues.to_numpy(), "o-", color="#1f4e79")
    ax.axhline(EIGENVALUE_THRESHOLD, color="grey", ls="--", lw=1)
    retained = int((eigenvalues > EIGENVALUE_THRESHOLD).sum())
    ax.set_xlabel("factor")
    ax.set_ylabel("eigenvalue")
    ax.set_xticks(eigenvalues.index)
    ax.set_title(f"Scree plot: {retained} eigenvalues above {EIGENVALUE_THRESHOLD:g}")
    fig.tight_layout()
    return fig


def balance_plot(balance: pd.DataFrame, contrast: str = "treated - control") -> Figure:
    """Standardised mean differences before and after matching (Love plot).

    ``balance`` names its covariates by label ("Sex: Female (ref: Male)": the reference goes
    on a line of its own); ``contrast`` says which group is subtracted ("Host city -
    hometown").
    """
    table = balance.iloc[::-1]
    y = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(8.5, 0.5 * len(table) + 1.8), layout="constrained")
    ax.scatter(
        table["smd_before"],
        y,
        marker="o",
        facecolors="none",
        edgecolors="#b22222",
        label="before matching",
    )
    ax.scatter(table["smd_after"], y, marker="o", color="#1f4e79", label="after matching")
    for bound in (-0.1, 0.1):
        ax.axvline(bound, color="grey", ls=":", lw=1)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [wrap_term_label(str(c)) for c in table["covariate"]], fontsize=8)
    ax.set_xlabel(f"standardised mean difference ({contrast})")
    fig.suptitle("Covariate balance (dotted: |SMD| = 0.1)")
    fig.legend(loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    return fig


def common_support_plot(
    propensity: np.ndarray, treated: np.ndarray, matched_control: np.ndarray, labels: tuple
) -> Figure:
    """Propensity-score histograms: treated, all controls, controls used by the matching.

    ``labels`` names the control and the treated group (their level labels: "Hometown",
    "Host city").
    """
    treated = np.asarray(treated).astype(bool)
    bins = np.linspace(0, max(0.05, float(np.max(propensity)) * 1.02), 40)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.hist(
        propensity[~treated],
        bins=bins,
        density=True,
        alpha=0.45,
        color="#b22222",
        label=f"{labels[0]} (all)",
    )
    ax.hist(
        propensity[matched_control],
        bins=bins,
        density=True,
        histtype="step",
        lw=1.5,
        color="#7f0000",
        label=f"{labels[0]} (matched)",
    )
    ax.hist(
        propensity[treated], bins=bins, density=True, alpha=0.45, color="#1f4e79", label=labels[1]
    )
    ax.set_xlabel("propensity score")
    ax.set_ylabel("density")
    ax.set_title("Common support of the propensity score")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def caterpillar_plot(effects: pd.DataFrame, group: str, national: float, unit: str) -> Figure:
    """Province-specific effects with 95% intervals, the national effect as a line."""
    table = effects.iloc[::-1]
    y = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(6.5, 0.26 * len(table) + 1.3))
    ax.errorbar(
        table["mean"],
        y,
        xerr=[table["mean"] - table["low"], table["high"] - table["mean"]],
        fmt="o",
        ms=3.5,
        color="#1f4e79",
        ecolor="#8aa9c9",
        lw=1,
    )
    ax.axvline(national, color="#b22222", ls="--", lw=1, label=f"national {national:.2f}")
    ax.axvline(0, color="black", lw=0.8)
    labels = [
        f"{g}  P(>nat.)={p:.2f}"
        for g, p in zip(table[group], table["p_above_national"], strict=True)
    ]
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel(f"effect ({unit}), posterior mean and 95% CrI")
    ax.set_title(f"Effect by {group}")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def comparison_plot(
    comparison: pd.DataFrame, unit: str, contrast: str = "treated minus control"
) -> Figure:
    """One row per estimate (published, frequentist, Bayesian): point and 95% interval.

    ``contrast`` names the difference in words ("Host city minus hometown SMI").
    """
    table = comparison.iloc[::-1]
    y = np.arange(len(table))
    colours = {"published": "#555555", "frequentist": "#b22222", "Bayesian": "#1f4e79"}
    fig, ax = plt.subplots(figsize=(9.5, 0.55 * len(table) + 1.4), layout="constrained")
    for k, row in enumerate(table.itertuples()):
        colour = colours.get(row.source, "black")
        if np.isfinite(row.low):
            ax.plot([row.low, row.high], [k, k], color=colour, lw=1.5)
        ax.plot(row.estimate, k, "o", color=colour)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [textwrap.fill(str(s), 48) for s in table["estimate_label"]], fontsize=8)
    ax.set_xlabel(f"{contrast} ({unit}), 95% interval")
    fig.suptitle("Published, frequentist and Bayesian estimates")
    return fig
