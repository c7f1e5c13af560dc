"""Turn posteriors into odds-ratio tables, convergence checks and figures."""

from cmds_common import runtime

runtime.configure()
