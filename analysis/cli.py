"""``python -m analysis COMMAND``: one command line for every analysis step.

Each sub-command lives in its own module (``add_arguments`` + ``run``); this module lists them,
so ``python -m analysis --help`` shows every one with a line of help. Without a command name
``summarize`` runs, as before.
"""

from __future__ import annotations

import argparse
import sys
from types import ModuleType

from analysis import (
    checks_cli,
    compare_cli,
    effects_cli,
    grid_cli,
    heterogeneity_cli,
    report_cli,
    study_cli,
    summarize_cli,
    validate_cli,
    weights_cli,
)
from cmds_common.help_format import DefaultsHelpFormatter

#: Sub-command -> (module, one line of help).
COMMANDS: dict[str, tuple[ModuleType, str]] = {
    "summarize": (summarize_cli, "Tables 1-2, odds-ratio tables, convergence gate, forest plots"),
    "ppc": (checks_cli, "posterior predictive checks and provincial variation (ICC, MOR, maps)"),
    "compare": (compare_cli, "PSIS-LOO comparison of fits of the same data"),
    "weights": (weights_cli, "survey-weighted against unweighted posteriors"),
    "effects": (effects_cli, "average marginal effects; contextual measures (ICC, MOR, IOR, PCV)"),
    "heterogeneity": (
        heterogeneity_cli,
        "subgroup effects (pooled Bayes, separate and interaction regressions), differences",
    ),
    "report": (report_cli, "self-contained HTML report of a results folder"),
    "study": (study_cli, "a study's analysis (index, ANOVA, OLS, matching, Bayesian ATT, report)"),
    "validate": (validate_cli, "simulation-based calibration of the random-intercept model"),
    "grid": (grid_cli, "robustness grid: specs x outcomes x data files x seeds, as Dask tasks"),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of ``python -m analysis``: one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Turn fits into tables, checks, comparisons and the report. "
        "Without COMMAND, 'summarize' runs. Several commands run one after another in one "
        "process when separated by --then (COMMAND ARGS --then COMMAND ARGS ...); the first "
        "that fails stops the rest.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (module, help_line) in COMMANDS.items():
        sub = commands.add_parser(
            name,
            help=help_line,
            description=help_line,
            formatter_class=DefaultsHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


#: Separates commands run one after another in one process (``make fit`` runs its five
#: analysis steps so, importing the stack once): ``summarize ... --then ppc ...``.
THEN = "--then"

#: Commands that may start a Dask cluster (their processes end the ordinary way).
CLUSTER_COMMANDS = ("validate", "grid")


def split_steps(arguments: list[str]) -> list[list[str]]:
    """Split a command line at each ``--then`` into the arguments of each command.

    Raises
    ------
    SystemExit
        With a usage error when a step is empty (``--then`` first, last or twice in a row).
    """
    steps: list[list[str]] = [[]]
    for argument in arguments:
        if argument == THEN:
            steps.append([])
        else:
            steps[-1].append(argument)
    if len(steps) > 1 and not all(steps):
        build_parser().error(f"{THEN} must stand between two commands")
    return steps


def command_names(argv: list[str] | None = None) -> list[str]:
    """Return the commands a command line runs, in order (``summarize`` where none is named)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    return [
        step[0] if step and step[0] in COMMANDS else "summarize" for step in split_steps(arguments)
    ]


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the process arguments) and run the command; the exit status.

    Several commands separated by ``--then`` run in order in this process; the first that
    fails (non-zero status) stops the rest, and its status is returned.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    status = 0
    for step in split_steps(arguments):
        if not step or step[0] not in (*COMMANDS, "-h", "--help"):
            step.insert(0, "summarize")
        args = build_parser().parse_args(step)
        status = int(args.run(args))
        if status != 0:
            return status
    return status
