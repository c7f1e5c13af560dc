"""Entry point of ``python -m analysis [summarize|ppc|compare|weights|report|validate] ...``.

Without a command name the odds-ratio summary runs (``summarize``).
"""

import sys

from analysis import (
    checks_cli,
    compare_cli,
    report_cli,
    summarize_cli,
    validate_cli,
    weights_cli,
)

COMMANDS = {
    "summarize": summarize_cli.main,
    "ppc": checks_cli.main,
    "compare": compare_cli.main,
    "report": report_cli.main,
    "weights": weights_cli.main,
    "validate": validate_cli.main,
}

arguments = sys.argv[1:]
command = arguments.pop(0) if arguments and arguments[0] in COMMANDS else "summarize"
raise SystemExit(COMMANDS[command](arguments))
