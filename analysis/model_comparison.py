"""Compare models by approximate leave-one-out cross-validation (PSIS-LOO, ArviZ).

``elpd_loo`` is the expected log predictive density for a new respondent (higher is better);
``elpd_diff`` and ``dse`` are each model's difference from the best and its standard error (a
difference smaller than about 2 ``dse`` is not clear evidence). Pareto k diagnostics say how
reliable the approximation is for each respondent: k <= 0.7 good; 0.7-1 bad; > 1 very bad.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd


def loo_comparison(fits: dict[str, az.InferenceData]) -> pd.DataFrame:
    """PSIS-LOO comparison table of several fits of the same data.

    Returns
    -------
    pandas.DataFrame
        One row per model, best first: ``model``, ``rank``, ``elpd_loo``, ``se``,
        ``elpd_diff``, ``dse``, ``p_loo``, ``weight``, ``pareto_k_good``, ``pareto_k_bad``,
        ``pareto_k_very_bad``.
    """
    loo = {name: az.loo(idata, pointwise=True) for name, idata in fits.items()}
    with warnings.catch_warnings():
        # ArviZ 0.23 sorts with inplace=True, which pandas 3.1 deprecates; nothing of ours
        warnings.filterwarnings("ignore", message="The inplace keyword in DataFrame.sort_values")
        compared = az.compare(loo, ic="loo")
    rows = []
    for name, row in compared.iterrows():
        k = loo[name].pareto_k.to_numpy()
        rows.append(
            {
                "model": name,
                "rank": int(row["rank"]),
                "elpd_loo": row["elpd_loo"],
                "se": row["se"],
                "elpd_diff": row["elpd_diff"],
                "dse": row["dse"],
                "p_loo": row["p_loo"],
                "weight": row["weight"],
                "pareto_k_good": int(np.sum(k <= 0.7)),
                "pareto_k_bad": int(np.sum((k > 0.7) & (k <= 1))),
                "pareto_k_very_bad": int(np.sum(k > 1)),
            }
        )
    return pd.DataFrame(rows)
