"""Figures of the calibration study: SBC rank ECDFs and interval coverage."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def rank_ecdf_plot(results: pd.DataFrame, rank_draws: int, seed: int = 0) -> Figure:
    """ECDF of the SBC ranks per quantity, as a difference from uniform (arviz-plots).

    Each rank in ``0..rank_draws`` becomes a PIT value ``(rank + u) / (rank_draws + 1)`` with
    ``u ~ Uniform(0, 1)`` (randomised so that ties do not bias the ECDF; Säilynoja, Bürkner and
    Vehtari 2022, "Graphical test for discrete uniformity", Statistics and Computing 32:32), and
    ``arviz.plot_ecdf_pit`` draws the ECDF minus the uniform CDF with the simultaneous test of
    uniformity (method ``pot_c``; its p-value is printed in each panel, suspicious points are
    marked). A curve above zero on the left means truths sit low in their posteriors (intervals
    shifted up); a curve that dips then rises (an S) means intervals too wide; the reverse,
    too narrow.

    Parameters
    ----------
    results
        One row per replicate and quantity: ``parameter``, ``replicate``, ``rank``.
    rank_draws
        Number of draws each rank was taken among.
    seed
        Seed of the randomisation of ties.
    """
    import arviz as az
    import xarray as xr

    wide = results.pivot(index="replicate", columns="parameter", values="rank")
    wide = wide[list(dict.fromkeys(results["parameter"]))]
    jitter = np.random.default_rng(seed).uniform(size=wide.shape)
    pit = (wide.to_numpy() + jitter) / (rank_draws + 1)
    labels = [name.replace("beta[", "").rstrip("]") for name in wide.columns]
    dataset = xr.Dataset(
        {"rank_pit": (("chain", "draw", "quantity"), pit[None])}, coords={"quantity": labels}
    )
    n_rows = math.ceil(len(labels) / 4)
    collection = az.plot_ecdf_pit(
        xr.DataTree.from_dict({"prior_sbc": dataset}),
        backend="matplotlib",
        col_wrap=4,
        figure_kwargs={"figsize": (12, 2.4 * n_rows + 0.8), "layout": "constrained"},
    )
    fig = collection.viz["figure"].item()
    fig.suptitle(
        f"Simulation-based calibration: {len(wide)} simulated data sets, ECDF of the ranks minus "
        "uniform (flat at 0 if calibrated)",
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
