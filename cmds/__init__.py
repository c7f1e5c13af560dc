"""Bayesian multilevel analysis of CMDS data from Python: ``cmds.load_data``, ``cmds.fit``.

See :mod:`cmds.api` and the README's "From Python" section.
"""

from cmds_common import runtime

runtime.configure()

from cmds.api import Fit, fit, load, load_data  # noqa: E402

__all__ = ["Fit", "fit", "load", "load_data"]
