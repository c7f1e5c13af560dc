r"""Compare models by approximate leave-one-out cross-validation (PSIS-LOO, arviz-stats).

``elpd_loo`` is the expected log predictive density for a new respondent (higher is better);
``elpd_diff`` and ``dse`` are each model's difference from the best and its standard error (a
difference smaller than about 2 ``dse`` is not clear evidence).

Pareto k says, per respondent, whether the importance-sampling approximation of leaving that
respondent out can be trusted. With S posterior draws a k above ``min(1 - 1/log10(S), 0.7)`` is
bad (Vehtari et al. 2024, "Pareto smoothed importance sampling"); above 1 very bad. When more
than :data:`MAX_BAD_K_SHARE` of a model's respondents have a bad k, its elpd_loo is not reliable,
and neither is any ranking that includes it: the table says so (``ranking_reliable``, ``note``).

Only ``arviz_stats``' ``loo`` and ``compare`` are called (in :func:`loo_comparison`); everything
after that works on plain arrays of Pareto k.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

#: Above this share of bad Pareto k a model's elpd_loo, and a ranking with it, is unreliable.
MAX_BAD_K_SHARE = 0.05


def pareto_k_threshold(n_draws: int) -> float:
    """Sample-size-dependent bad-k threshold ``min(1 - 1/log10(S), 0.7)``."""
    return float(min(1 - 1 / np.log10(n_draws), 0.7))


def pareto_k_summary(k: np.ndarray, n_draws: int) -> dict[str, float | int | bool]:
    """Count good, bad and very bad Pareto k; give the bad share and whether it is acceptable."""
    k = np.asarray(k, dtype=float)
    threshold = pareto_k_threshold(n_draws)
    bad_share = float(np.mean(k > threshold)) if k.size else 0.0
    return {
        "pareto_k_threshold": round(threshold, 3),
        "pareto_k_good": int(np.sum(k <= threshold)),
        "pareto_k_bad": int(np.sum((k > threshold) & (k <= 1))),
        "pareto_k_very_bad": int(np.sum(k > 1)),
        "bad_k_share": bad_share,
        "loo_reliable": bad_share <= MAX_BAD_K_SHARE,
    }


def loo_comparison(fits: dict[str, xr.DataTree]) -> pd.DataFrame:
    """PSIS-LOO comparison table of several fits of the same data.

    Parameters
    ----------
    fits
        Model name -> fit with a ``log_likelihood`` group (one variable, dim ``obs``).

    Returns
    -------
    pandas.DataFrame
        One row per model, best first: ``model``, ``rank``, ``elpd_loo``, ``se``,
        ``elpd_diff``, ``dse``, ``p_loo``, ``weight``, the :func:`pareto_k_summary` columns,
        ``ranking_reliable`` (false for every row when any model has too many bad k) and
        ``note`` (plain words).
    """
    loo = {name: az.loo(idata, pointwise=True) for name, idata in fits.items()}
    compared = az.compare(loo, round_to="none")
    rows = []
    for name, row in compared.iterrows():
        rows.append(
            {
                "model": name,
                "rank": int(row["rank"]),
                "elpd_loo": float(row["elpd"]),
                "se": float(row["se"]),
                "elpd_diff": abs(float(row["elpd_diff"])),
                "dse": float(row["dse"]),
                "p_loo": float(row["p"]),
                "weight": float(row["weight"]),
                **pareto_k_summary(loo[name].pareto_k.to_numpy(), int(loo[name].n_samples)),
            }
        )
    return flag_unreliable_ranking(pd.DataFrame(rows))


def flag_unreliable_ranking(table: pd.DataFrame) -> pd.DataFrame:
    """Add ``ranking_reliable`` and a plain-words ``note`` from the Pareto k columns."""
    reliable = bool(table["loo_reliable"].all())
    notes = [
        ""
        if ok
        else f"{share:.0%} of respondents have a bad Pareto k (more than "
        f"{MAX_BAD_K_SHARE:.0%}): this model's elpd_loo is unreliable"
        for ok, share in zip(table["loo_reliable"], table["bad_k_share"], strict=True)
    ]
    return table.assign(ranking_reliable=reliable, note=notes)


def comparison_warnings(table: pd.DataFrame) -> list[str]:
    """Sentences for readers about why a ranking (or a model in it) should not be trusted."""
    messages = []
    if "ranking_reliable" in table and not bool(table["ranking_reliable"].all()):
        unreliable = table.loc[~table["loo_reliable"].astype(bool), "model"]
        messages.append(
            "The ranking is UNRELIABLE: for "
            + ", ".join(unreliable)
            + f" more than {MAX_BAD_K_SHARE:.0%} of respondents have a bad Pareto k, so the "
            "leave-one-out approximation fails for them (refit with more draws, or use K-fold "
            "cross-validation)."
        )
    return messages
