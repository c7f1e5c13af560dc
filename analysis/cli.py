"""``python -m analysis COMMAND``: one command line for every analysis step.

Each sub-command lives in its own module (``add_arguments`` + ``run``); this module lists them,
so ``python -m analysis --help`` shows every one with a line of help. Without a command name
``summarize`` runs, as before.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Collection

from analysis.lanes import resolve_jobs, run_in_lanes, wait_for_start
from cmds_common.help_format import DefaultsHelpFormatter

#: Sub-command -> (its module, one line of help). A module is imported only when its command
#: runs (or its options are shown), so ``python -m analysis ppc`` does not import the study,
#: validation or heterogeneity code.
COMMANDS: dict[str, tuple[str, str]] = {
    "summarize": (
        "analysis.summarize_cli",
        "Tables 1-2, odds-ratio tables, convergence gate, forest plots",
    ),
    "ppc": (
        "analysis.checks_cli",
        "posterior predictive checks and provincial variation (ICC, MOR, maps)",
    ),
    "compare": ("analysis.compare_cli", "PSIS-LOO comparison of fits of the same data"),
    "weights": ("analysis.weights_cli", "survey-weighted against unweighted posteriors"),
    "effects": (
        "analysis.effects_cli",
        "average marginal effects; contextual measures (ICC, MOR, IOR, PCV)",
    ),
    "heterogeneity": (
        "analysis.heterogeneity_cli",
        "subgroup effects (pooled Bayes, separate and interaction regressions), differences",
    ),
    "report": ("analysis.report_cli", "self-contained HTML report of a results folder"),
    "study": (
        "analysis.study_cli",
        "a study's analysis (index, ANOVA, OLS, matching, Bayesian ATT, report)",
    ),
    "validate": (
        "analysis.validate_cli",
        "simulation-based calibration of the random-intercept model",
    ),
    "grid": (
        "analysis.grid_cli",
        "robustness grid: specs x outcomes x data files x seeds, as Dask tasks",
    ),
}


def build_parser(load: Collection[str] | None = None) -> argparse.ArgumentParser:
    """Build the parser of ``python -m analysis``: one sub-parser per command.

    Parameters
    ----------
    load : collection of str, optional
        Commands whose modules are imported and whose options are added (default: all);
        the others are listed by name and help line only.
    """
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Turn fits into tables, checks, comparisons and the report. "
        "Without COMMAND, 'summarize' runs. Several commands run one after another in one "
        "process when separated by --then (COMMAND ARGS --then COMMAND ARGS ...); the first "
        "that fails stops the rest.",
    )
    parser.add_argument(
        JOBS,
        metavar="N",
        default="1",
        help="with --then: run the first command alone (summarize: the convergence gate), then "
        "the others in up to N parallel processes ('auto': one per CPU core); a failed "
        "command then stops only those after it in its own process. Give it before the first "
        "command",
    )
    parser.add_argument(WAIT_FOR_START, action="store_true", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, (module_name, help_line) in COMMANDS.items():
        sub = commands.add_parser(
            name,
            help=help_line,
            description=help_line,
            formatter_class=DefaultsHelpFormatter,
        )
        if load is None or name in load:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


#: Separates commands run one after another in one process (``make fit`` runs its five
#: analysis steps so, importing the stack once): ``summarize ... --then ppc ...``.
THEN = "--then"

#: Commands that may start a Dask cluster (their processes end the ordinary way).
CLUSTER_COMMANDS = ("validate", "grid")

#: Leading option: steps after the first run in up to this many processes (analysis.lanes).
JOBS = "--jobs"
#: Leading option of a lane's child process: wait for the parent's go-ahead on standard input.
WAIT_FOR_START = "--wait-for-start"


def leading_options(arguments: list[str]) -> tuple[str, bool, list[str]]:
    """Take the options that stand before the first command off a command line.

    Returns
    -------
    tuple
        The ``--jobs`` value (``"1"`` when absent), whether ``--wait-for-start`` was given,
        and the rest of the command line.

    Raises
    ------
    SystemExit
        With a usage error when ``--jobs`` has no value.
    """
    jobs, wait, rest = "1", False, list(arguments)
    while rest and (rest[0] in (JOBS, WAIT_FOR_START) or rest[0].startswith(JOBS + "=")):
        option = rest.pop(0)
        if option == WAIT_FOR_START:
            wait = True
        elif option.startswith(JOBS + "="):
            jobs = option.split("=", 1)[1]
        elif not rest:
            build_parser(load=()).error(f"argument {JOBS}: expected one argument")
        else:
            jobs = rest.pop(0)
    return jobs, wait, rest


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
        build_parser(load=()).error(f"{THEN} must stand between two commands")
    return steps


def command_names(argv: list[str] | None = None) -> list[str]:
    """Return the commands a command line runs, in order (``summarize`` where none is named)."""
    arguments = leading_options(list(sys.argv[1:] if argv is None else argv))[2]
    return [
        step[0] if step and step[0] in COMMANDS else "summarize" for step in split_steps(arguments)
    ]


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the process arguments) and run the command; the exit status.

    Several commands separated by ``--then`` run in order in this process; the first that
    fails (non-zero status) stops the rest, and its status is returned. With ``--jobs N``
    (N > 1) the first command runs alone and the others in up to N parallel processes
    (:mod:`analysis.lanes`); Dask-cluster commands (validate, grid) always run in order.
    """
    jobs, wait, arguments = leading_options(list(sys.argv[1:] if argv is None else argv))
    steps = split_steps(arguments)
    for step in steps:
        if not step or step[0] not in (*COMMANDS, "-h", "--help"):
            step.insert(0, "summarize")
    try:
        lanes = resolve_jobs(jobs)
    except ValueError as error:
        build_parser(load=()).error(f"argument {JOBS}: {error}")
    if wait and not wait_for_start():
        return 0
    names = {step[0] for step in steps}
    if lanes > 1 and len(steps) > 2 and not names & set(CLUSTER_COMMANDS):
        return run_in_lanes(steps, lanes, run_steps, lane_command, THEN)
    return run_steps(steps)


def run_steps(steps: list[list[str]]) -> int:
    """Run steps (command name and arguments each) in order; stop at the first failure.

    Returns
    -------
    int
        The failed step's status, or 0.
    """
    status = 0
    for step in steps:
        args = build_parser(load=step[:1]).parse_args(step)
        status = int(args.run(args))
        if status != 0:
            return status
    return status


def lane_command(arguments: list[str]) -> list[str]:
    """Command line of a lane's child: this interpreter, waiting for the go-ahead."""
    return [sys.executable, "-m", "analysis", WAIT_FOR_START, *arguments]
