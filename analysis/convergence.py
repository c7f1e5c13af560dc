"""Convergence gate: R-hat, bulk and tail ESS, divergences and E-BFMI for every fit.

The checks are those the fit uses to decide on extra batches (:mod:`models.diagnostics`), so a
fit that stopped adding batches because its ESS reached the bounds passes the gate here.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from cmds_common.atomic import write_with
from cmds_common.spec import ModelSpec
from models.diagnostics import convergence_checks, failure_messages
from models.parameter_names import free_parameter_names

__all__ = ["check_fit_convergence", "convergence_checks", "failure_messages"]


def check_fit_convergence(
    idata: xr.DataTree, spec: ModelSpec, name: str, tables: Path
) -> list[str]:
    """Apply the gate's checks to one fit and write them to ``tables/convergence_<name>.csv``.

    Parameters
    ----------
    idata
        The fit (``posterior`` and ``sample_stats`` groups).
    spec
        Its spec: which free parameters are checked (:func:`free_parameter_names`).
    name
        Model code, the CSV's first column and part of its name.
    tables
        Folder of the result tables.

    Returns
    -------
    list of str
        The failure lines (:func:`failure_messages`); empty when every check passes.
    """
    checks = convergence_checks(idata, free_parameter_names(spec))
    checks.insert(0, "model", name)
    write_with(tables / f"convergence_{name}.csv", lambda p: checks.to_csv(p, index=False))
    return failure_messages(checks)
