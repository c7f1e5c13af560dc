"""Survey-weighted against unweighted posteriors of the same model, term by term."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from analysis.odds_ratios import posterior_odds_ratios

#: Forest-plot sources: unweighted and weighted posterior median OR with 95% CrI.
WEIGHTING_SOURCES = (
    (
        "unweighted_or",
        "unweighted_low",
        "unweighted_high",
        "Unweighted posterior (95% CrI)",
        "C0",
        "o",
    ),
    (
        "weighted_or",
        "weighted_low",
        "weighted_high",
        "Survey-weighted pseudo-likelihood (95% CrI)",
        "C2",
        "s",
    ),
)


def weighting_comparison(unweighted: xr.DataTree, weighted: xr.DataTree) -> pd.DataFrame:
    """Posterior median ORs and 95% CrIs of both fits, and how far weighting moves each.

    Returns
    -------
    pandas.DataFrame
        ``term``, ``unweighted_or``/``_low``/``_high``, ``weighted_or``/``_low``/``_high``,
        ``shift_in_sd`` (difference of posterior mean log-odds over the unweighted posterior
        SD) and ``width_ratio`` (weighted CrI width over unweighted, on the log scale).
    """
    columns = ["term", "posterior_median_or", "cri_low", "cri_high"]
    plain = posterior_odds_ratios(unweighted)[columns]
    weighted_table = posterior_odds_ratios(weighted)[columns]
    table = plain.merge(weighted_table, on="term", suffixes=("_u", "_w"), validate="1:1")
    table.columns = [
        "term",
        "unweighted_or",
        "unweighted_low",
        "unweighted_high",
        "weighted_or",
        "weighted_low",
        "weighted_high",
    ]
    beta_u, beta_w = unweighted.posterior["beta"], weighted.posterior["beta"]
    shift = (beta_w.mean(("chain", "draw")) - beta_u.mean(("chain", "draw"))) / beta_u.std(
        ("chain", "draw")
    )
    table["shift_in_sd"] = shift.sel(term=table["term"].to_numpy()).to_numpy()
    table["width_ratio"] = np.log(table["weighted_high"] / table["weighted_low"]) / np.log(
        table["unweighted_high"] / table["unweighted_low"]
    )
    return table
