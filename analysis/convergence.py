"""Convergence gate: R-hat, bulk and tail ESS, divergences and E-BFMI for every fit.

The checks are those the fit uses to decide on extra batches (:mod:`models.diagnostics`), so a
fit that stopped adding batches because its ESS reached the bounds passes the gate here.
"""

from __future__ import annotations

from models.diagnostics import convergence_checks, failure_messages

__all__ = ["convergence_checks", "failure_messages"]
