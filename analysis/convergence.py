"""Convergence gate: every fit must pass R-hat, bulk ESS and divergence checks."""

from __future__ import annotations

import arviz as az
import pandas as pd

from cmds_common.constants import ESS_BULK_MIN, RHAT_MAX


def convergence_checks(
    idata: az.InferenceData,
    var_names: list[str],
    rhat_max: float = RHAT_MAX,
    ess_bulk_min: float = ESS_BULK_MIN,
) -> pd.DataFrame:
    """Check R-hat and bulk ESS of every named parameter and count divergences.

    Parameters
    ----------
    idata
        A fit with ``posterior`` and ``sample_stats`` groups.
    var_names
        Parameters to check (each element of a vector parameter is checked).
    rhat_max, ess_bulk_min
        Thresholds (defaults 1.01 and 400).

    Returns
    -------
    pandas.DataFrame
        One row per check: ``check``, ``parameter``, ``value``, ``threshold``, ``passed``.
    """
    present = [v for v in var_names if v in idata.posterior]
    summary = az.summary(idata, var_names=present, kind="diagnostics", round_to="none")
    rows = []
    for parameter, stats in summary.iterrows():
        rows.append(("r_hat", parameter, stats["r_hat"], rhat_max, stats["r_hat"] <= rhat_max))
        rows.append(
            (
                "ess_bulk",
                parameter,
                stats["ess_bulk"],
                ess_bulk_min,
                stats["ess_bulk"] >= ess_bulk_min,
            )
        )
    divergences = int(idata.sample_stats["diverging"].sum())
    rows.append(("divergences", "all", divergences, 0, divergences == 0))
    return pd.DataFrame(rows, columns=["check", "parameter", "value", "threshold", "passed"])


def failure_messages(checks: pd.DataFrame) -> list[str]:
    """Human-readable lines, one per failed check."""
    lines = []
    for row in checks.loc[~checks["passed"]].itertuples():
        if row.check == "divergences":
            lines.append(f"{int(row.value)} divergent transitions (expected 0)")
        elif row.check == "r_hat":
            lines.append(
                f"R-hat of {row.parameter} is {row.value:.3f} (must be <= {row.threshold})"
            )
        else:
            lines.append(
                f"bulk ESS of {row.parameter} is {row.value:.0f} (must be >= {row.threshold:.0f})"
            )
    return lines
