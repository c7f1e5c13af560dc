"""Entry point of ``python -m analysis [COMMAND] ...`` (see :mod:`analysis.cli`)."""

import os
import sys

from analysis.cli import CLUSTER_COMMANDS, command_names, main

status = main()
if set(command_names()) & set(CLUSTER_COMMANDS):
    raise SystemExit(status)
# Every output is written (atomically) and closed, and nothing is left running: end without
# tearing down the imported modules, about 1 s per step at exit (see models/__main__.py).
sys.stdout.flush()
sys.stderr.flush()
os._exit(status)
