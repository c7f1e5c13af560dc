r"""Compare models by approximate leave-one-out cross-validation (PSIS-LOO, arviz-stats).

``elpd_loo`` is the expected log predictive density for a new respondent (higher is better);
``elpd_diff`` and ``dse`` are each model's shortfall from the best and its standard error (a
difference smaller than about 2 ``dse`` is not clear evidence). Pareto k diagnostics say how
reliable the approximation is for each respondent. The "good" bound depends on the number of
posterior draws S: :math:`\min(1 - 1/\log_{10} S, 0.7)` (Vehtari et al. 2024, "Pareto smoothed
importance sampling", JMLR 25(72)); above it a respondent's LOO estimate is unreliable, and
above 1 it is very unreliable.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr


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
        ``elpd_diff``, ``dse``, ``p_loo``, ``weight``, ``pareto_k_threshold``,
        ``pareto_k_good``, ``pareto_k_bad``, ``pareto_k_very_bad``.
    """
    loo = {name: az.loo(idata, pointwise=True) for name, idata in fits.items()}
    compared = az.compare(loo, round_to="none")
    rows = []
    for name, row in compared.iterrows():
        k = loo[name].pareto_k.to_numpy()
        threshold = float(loo[name].good_k)
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
                "pareto_k_threshold": threshold,
                "pareto_k_good": int(np.sum(k <= threshold)),
                "pareto_k_bad": int(np.sum((k > threshold) & (k <= 1))),
                "pareto_k_very_bad": int(np.sum(k > 1)),
            }
        )
    return pd.DataFrame(rows)
