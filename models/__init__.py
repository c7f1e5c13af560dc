"""Model specs, design matrices, the frequentist replication and the PyMC hierarchical models."""

from cmds_common import runtime

runtime.configure()
