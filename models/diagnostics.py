"""Convergence checks: R-hat, bulk and tail ESS, divergences and E-BFMI of a fit.

They live in ``models`` because the fit itself uses them (:mod:`models.batches` draws further
batches when only the ESS falls short); :mod:`analysis.convergence` applies them as the gate.
"""

from __future__ import annotations

import arviz as az
import pandas as pd
import xarray as xr

from cmds_common.constants import BFMI_MIN, ESS_BULK_MIN, ESS_TAIL_MIN, RHAT_MAX


def convergence_checks(
    idata: xr.DataTree,
    var_names: list[str],
    rhat_max: float = RHAT_MAX,
    ess_bulk_min: float = ESS_BULK_MIN,
    ess_tail_min: float = ESS_TAIL_MIN,
    bfmi_min: float = BFMI_MIN,
) -> pd.DataFrame:
    """Check R-hat, bulk and tail ESS of every named parameter, divergences and E-BFMI.

    Parameters
    ----------
    idata
        A fit with ``posterior`` and ``sample_stats`` groups.
    var_names
        Parameters to check (each element of a vector parameter is checked).
    rhat_max, ess_bulk_min, ess_tail_min, bfmi_min
        Thresholds (defaults 1.01, 400, 400 and 0.3 per chain; E-BFMI is checked when the
        sampler recorded the energy).

    Returns
    -------
    pandas.DataFrame
        One row per check: ``check``, ``parameter``, ``value``, ``threshold``, ``passed``.
    """
    present = [v for v in var_names if v in idata.posterior]
    posterior = idata.posterior.to_dataset()[present]
    # R-hat and both ESS straight from arviz-stats (``az.summary(kind="diagnostics")`` also
    # computes the MCSEs, which the gate does not use); labels as ``az.summary`` writes them
    statistics = xr.concat(
        [az.ess(posterior, method="bulk"), az.ess(posterior, method="tail"), az.rhat(posterior)],
        dim="statistic",
    ).assign_coords(statistic=["ess_bulk", "ess_tail", "r_hat"])
    summary = az.dataset_to_dataframe(statistics, sample_dims=["statistic"]).T
    rows = []
    for parameter, stats in summary.iterrows():
        rows.append(("r_hat", parameter, stats["r_hat"], rhat_max, stats["r_hat"] <= rhat_max))
        for check, minimum in (("ess_bulk", ess_bulk_min), ("ess_tail", ess_tail_min)):
            rows.append((check, parameter, stats[check], minimum, stats[check] >= minimum))
    divergences = int(idata.sample_stats["diverging"].sum())
    rows.append(("divergences", "all", divergences, 0, divergences == 0))
    if "energy" in idata.sample_stats:
        for chain, value in enumerate(az.bfmi(idata)["energy"].to_numpy()):
            rows.append(("e_bfmi", f"chain {chain}", float(value), bfmi_min, value >= bfmi_min))
    return pd.DataFrame(rows, columns=["check", "parameter", "value", "threshold", "passed"])


def failure_messages(checks: pd.DataFrame) -> list[str]:
    """Human-readable lines, one per failed check of each parameter.

    Failures of several elements of one vector parameter (e.g. 32 province effects) are folded
    into one line giving the count and the worst element.
    """
    lines = []
    checks = checks.assign(base=checks["parameter"].str.split("[").str[0])
    for (check, base), rows in checks.groupby(["check", "base"], sort=False):
        failed = rows.loc[~rows["passed"]]
        if failed.empty:
            continue
        if check == "divergences":
            lines.append(f"{int(failed['value'].iloc[0])} divergent transitions (expected 0)")
            continue
        if check == "r_hat":
            worst = failed.loc[failed["value"].idxmax()]
            what, limit, value = "R-hat", f"<= {worst['threshold']}", f"{worst['value']:.3f}"
        elif check == "e_bfmi":
            worst = failed.loc[failed["value"].idxmin()]
            what, limit, value = "E-BFMI", f">= {worst['threshold']}", f"{worst['value']:.2f}"
        else:
            worst = failed.loc[failed["value"].idxmin()]
            what = "bulk ESS" if check == "ess_bulk" else "tail ESS"
            limit, value = f">= {worst['threshold']:.0f}", f"{worst['value']:.0f}"
        if len(failed) == 1:
            lines.append(f"{what} of {worst['parameter']} is {value} (must be {limit})")
        else:
            lines.append(
                f"{what} of {base} fails ({limit}) for {len(failed)} of {len(rows)} elements; "
                f"worst {worst['parameter']} = {value}"
            )
    return lines
