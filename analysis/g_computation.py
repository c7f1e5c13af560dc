"""Posterior g-computation: the average effect of a treatment on the treated, per draw.

For every posterior draw ``s`` and treated respondent ``i`` the model's expected outcome is
computed twice, with the treatment indicator set to 1 and to 0 and everything else (covariates,
province and city effects, province-varying slopes) as observed:
``ATT_s = mean_i [mu_s(x_i, T = 1) - mu_s(x_i, T = 0)]``. Its posterior mean and equal-tailed
95% interval summarise the ATT. ``mu`` is the inverse link of the linear predictor
``intercept + X beta + sum_g u_g[idx_g] + (slopes of the first group) . X_slope``; for the
gaussian family it is the identity, so the ATT is in outcome units.

Province-specific effects of a model whose treatment slope varies by province are
``beta_T + b_p`` per draw; ``P(effect_p > beta_T)`` is the posterior probability that a
province's effect exceeds the national (average) one.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from cmds_common.constants import INTERVAL_PROB
from models.design import Design

#: Inverse links of the families with a mean on the outcome's scale.
INVERSE_LINK = {"gaussian": lambda eta: eta, "bernoulli": special.expit}


def _stacked(posterior: xr.Dataset) -> xr.Dataset:
    return posterior.stack(sample=("chain", "draw"))


def linear_predictor(posterior: xr.Dataset, design: Design, X: np.ndarray) -> np.ndarray:
    """Posterior linear predictor of each row of ``X`` (rows of ``design``): ``(obs, sample)``.

    Parameters
    ----------
    posterior : xarray.Dataset
        Posterior with ``chain`` and ``draw`` dims (``intercept``, ``beta``,
        ``<group>_effect``, ``<group>_slope``).
    design : models.design.Design
        The design the model was fitted to (group indices, slope columns).
    X : numpy.ndarray
        Fixed-effect columns of the same rows, possibly with a term changed.
    """
    post = _stacked(posterior)
    eta = (
        post["intercept"].to_numpy()[None, :]
        + X @ post["beta"].transpose("term", "sample").to_numpy()
    )
    for group in design.groups:
        effect = post[f"{group.name}_effect"].transpose(group.name, "sample").to_numpy()
        eta += effect[group.idx]
        if group.slope_columns:
            slopes = post[f"{group.name}_slope"].transpose(group.name, "slope_term", "sample")
            slopes = slopes.to_numpy()
            for k, column in enumerate(group.slope_columns):
                eta += slopes[group.idx, k, :] * X[:, [column]]
    return eta


def att_draws(posterior: xr.Dataset, design: Design, term: str, treated: np.ndarray) -> np.ndarray:
    """ATT of the 0/1 column ``term`` over the ``treated`` rows, one value per draw.

    Parameters
    ----------
    posterior : xarray.Dataset
        The fit's posterior.
    design : models.design.Design
        Its design (``design.family`` picks the inverse link).
    term : str
        The treatment indicator's term name (e.g. ``smi_location_host_city``).
    treated : numpy.ndarray
        Boolean mask of the rows to average over.
    """
    column = design.terms.index(term)
    rows = np.flatnonzero(treated)
    sub = replace(design, X=design.X[rows], groups=_rows_of_groups(design, rows))
    link = INVERSE_LINK[design.family]
    x1, x0 = sub.X.copy(), sub.X.copy()
    x1[:, column], x0[:, column] = 1.0, 0.0
    difference = link(linear_predictor(posterior, sub, x1)) - link(
        linear_predictor(posterior, sub, x0)
    )
    return difference.mean(axis=0)


def _rows_of_groups(design: Design, rows: np.ndarray) -> list:
    return [replace(g, idx=g.idx[rows]) for g in design.groups]


def summarise_draws(draws: np.ndarray, name: str) -> pd.DataFrame:
    """Posterior mean, SD and equal-tailed interval of a vector of draws (one row)."""
    tail = (1 - INTERVAL_PROB) / 2
    return pd.DataFrame(
        {
            "quantity": [name],
            "mean": [float(np.mean(draws))],
            "sd": [float(np.std(draws, ddof=1))],
            "low": [float(np.quantile(draws, tail))],
            "high": [float(np.quantile(draws, 1 - tail))],
            "p_positive": [float(np.mean(draws > 0))],
        }
    )


def province_effects(posterior: xr.Dataset, group: str, term: str) -> pd.DataFrame:
    """Province-specific effects ``beta_term + b_p`` and ``P(effect_p > beta_term)``.

    Parameters
    ----------
    posterior : xarray.Dataset
        Posterior of a model whose ``term`` slope varies by ``group``.
    group : str
        The grouping factor (``province``).
    term : str
        The slope's term name.

    Returns
    -------
    pandas.DataFrame
        One row per group level: ``mean``, ``low``, ``high``, ``p_above_national``, sorted by
        ``mean`` (largest first).
    """
    post = _stacked(posterior)
    beta = post["beta"].sel(term=term)
    slope = post[f"{group}_slope"].sel(slope_term=term)
    effect = (beta + slope).transpose(group, "sample").to_numpy()
    tail = (1 - INTERVAL_PROB) / 2
    table = pd.DataFrame(
        {
            group: post[group].to_numpy(),
            "mean": effect.mean(axis=1),
            "low": np.quantile(effect, tail, axis=1),
            "high": np.quantile(effect, 1 - tail, axis=1),
            "p_above_national": (slope.transpose(group, "sample").to_numpy() > 0).mean(axis=1),
        }
    )
    national = float(beta.mean())
    table.attrs["national"] = national
    return table.sort_values("mean", ascending=False, ignore_index=True)
