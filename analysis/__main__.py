"""Entry point of ``python -m analysis [COMMAND] ...`` (see :mod:`analysis.cli`)."""

from analysis.cli import CLUSTER_COMMANDS, command_names, main
from cmds_common.process_exit import exit_without_teardown

status = main()
if set(command_names()) & set(CLUSTER_COMMANDS):
    raise SystemExit(status)  # a Dask cluster's shutdown handlers must run
# Every output is written and closed, and nothing is left running.
exit_without_teardown(status)
