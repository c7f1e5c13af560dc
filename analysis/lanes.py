"""Run the steps after the first of a ``--then`` chain in parallel lanes, one process per lane.

``python -m analysis --jobs 2 summarize ... --then ppc ... --then compare ... --then effects ...``
(what ``make fit`` runs) first runs ``summarize`` alone: it applies the convergence gate, and
nothing after it runs when it fails, exactly as in the serial chain. The later steps read the
same fits and write files of their own, so they are independent: they are split into lanes
(longest expected step first, each into the lane with the least work so far; the greedy
longest-processing-time rule of Graham, 1969), and each lane runs its steps in their original
order, the first lane in this process and each other lane in a child ``python -m analysis``.
The lanes share the cores: numba's parallel loops of each may use ``cores // lanes`` threads
(``NUMBA_NUM_THREADS`` for a child, :func:`numba.set_num_threads` here), since two processes
each running a thread per core slow each other down; those loops give the same numbers on any
number of threads. BLAS, with little work here, keeps its own threads.

The lanes write the same files as the steps run one by one, except that a number computed in
another process may differ in its last bits (about 1e-16 relative: NumPy's vectorised sums
depend on how an array happens to be aligned in memory); the same command run twice gives the
same bytes.

The children are started before the first step, so that their imports (several seconds of
ArviZ, xarray and matplotlib) overlap it; each then waits on its standard input for
:data:`START` (run) or anything else (the first step failed: run nothing). A child's standard
output and error are kept in temporary files and printed, whole, after this process's own
lane, so the log reads lane by lane rather than line by line interleaved. A failed step stops
the rest of its own lane only (the other lanes' outputs do not depend on it); the exit status
is the first non-zero status in lane order.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import IO

import numba

from models.task_runner import default_workers

#: What a waiting child reads on its standard input to run its steps.
START = "start"

#: Relative cost of a step per model it is given (measured on the default data, 2 cores: the
#: predictive checks with province rates and figures about 11 s a model, LOO about 7 s, the
#: effects about 6 s); a step without ``--models`` counts as one model.
STEP_COST: dict[str, float] = {"ppc": 11.0, "compare": 7.0, "effects": 6.0, "weights": 3.0}
#: Cost per model of a step not in :data:`STEP_COST`.
DEFAULT_COST = 5.0


def step_cost(step: Sequence[str]) -> float:
    """Return the expected cost of one step (its command name first, then its arguments).

    Parameters
    ----------
    step : sequence of str
        The command name and its arguments, e.g. ``["ppc", "--models", "m1", "m2"]``.

    Returns
    -------
    float
        :data:`STEP_COST` of the command (:data:`DEFAULT_COST` when not listed) times the
        number of names after ``--models`` (at least one).
    """
    models = 0
    if "--models" in step:
        for argument in step[step.index("--models") + 1 :]:
            if argument.startswith("--"):
                break
            models += 1
    return STEP_COST.get(step[0], DEFAULT_COST) * max(models, 1)


def plan_lanes(steps: Sequence[Sequence[str]], jobs: int) -> list[list[int]]:
    """Split steps into at most ``jobs`` lanes of about equal expected cost.

    Longest step first, each into the lane with the least cost so far (ties: the earlier
    lane); within a lane the steps keep their order. Lanes are ordered by their first step.

    Parameters
    ----------
    steps : sequence of sequence of str
        The steps, each its command name and arguments.
    jobs : int
        Most lanes (>= 1).

    Returns
    -------
    list of list of int
        Indices into ``steps``, one list per non-empty lane.
    """
    lanes: list[list[int]] = [[] for _ in range(max(1, min(jobs, len(steps))))]
    loads = [0.0] * len(lanes)
    for index in sorted(range(len(steps)), key=lambda i: -step_cost(steps[i])):
        lane = loads.index(min(loads))
        lanes[lane].append(index)
        loads[lane] += step_cost(steps[index])
    return sorted((sorted(lane) for lane in lanes if lane), key=lambda lane: lane[0])


def resolve_jobs(jobs: str | int) -> int:
    """Return the number of lanes asked for: a whole number >= 1, or ``auto`` (one per core).

    ``auto`` counts the cores this process may use (:func:`models.task_runner.default_workers`,
    as the lanes' thread share does).

    Raises
    ------
    ValueError
        When ``jobs`` is neither ``auto`` nor a whole number >= 1.
    """
    if jobs == "auto":
        return default_workers()
    try:
        value = int(jobs)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"must be 'auto' or a whole number >= 1, got '{jobs}'")
    return value


#: Environment variable that sets a child's numba thread count.
THREAD_VARIABLE = "NUMBA_NUM_THREADS"


def lane_threads(lanes: int) -> int:
    """Threads each of ``lanes`` parallel lanes may use: the cores shared out, at least one."""
    return max(1, default_workers() // max(1, lanes))


@contextlib.contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """Limit this process's numba threads to ``threads`` inside the block."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, before)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _join(steps: Sequence[Sequence[str]], then: str) -> list[str]:
    arguments: list[str] = []
    for step in steps:
        if arguments:
            arguments.append(then)
        arguments.extend(step)
    return arguments


def run_in_lanes(
    steps: Sequence[Sequence[str]],
    jobs: int,
    run_steps: Callable[[Sequence[Sequence[str]]], int],
    child_command: Callable[[list[str]], list[str]],
    then: str,
) -> int:
    """Run ``steps[0]`` here, then the rest in parallel lanes; return the exit status.

    Parameters
    ----------
    steps : sequence of sequence of str
        Two or more steps (command name and arguments each).
    jobs : int
        Most lanes for the steps after the first (>= 1).
    run_steps : callable
        Runs steps in order in this process, stopping at the first failure; returns the status.
    child_command : callable
        Command line of a child that waits for :data:`START`, given its steps' arguments
        joined by ``then``.
    then : str
        The separator of steps on a command line (``--then``).

    Returns
    -------
    int
        The first step's status when it failed; else the first non-zero status of the lanes
        (this process's lane first), or 0.
    """
    first, rest = steps[0], list(steps[1:])
    lanes = plan_lanes(rest, jobs)
    threads = lane_threads(len(lanes))
    environment = {**os.environ, THREAD_VARIABLE: str(threads)}
    children: list[tuple[subprocess.Popen[str], IO[str], IO[str]]] = []
    try:
        for lane in lanes[1:]:
            output = tempfile.TemporaryFile("w+", encoding="utf-8")
            errors = tempfile.TemporaryFile("w+", encoding="utf-8")
            command = child_command(_join([rest[i] for i in lane], then))
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=errors,
                text=True,
                env=environment,
            )
            children.append((process, output, errors))
        status = run_steps([first])
        go = START if status == 0 else "skip"
        for process, _, _ in children:
            assert process.stdin is not None
            # a child that already ended (it could not start) reports through its status
            with contextlib.suppress(BrokenPipeError):
                process.stdin.write(go + "\n")
                process.stdin.close()
        if status != 0:
            for process, _, _ in children:
                process.wait()
            return status
        with thread_limit(threads):
            statuses = [run_steps([rest[i] for i in lanes[0]])]
        for process, output, errors in children:
            statuses.append(process.wait())
            for kept, stream in ((output, sys.stdout), (errors, sys.stderr)):
                stream.flush()
                kept.seek(0)
                shutil.copyfileobj(kept, stream)
                stream.flush()
        return next((s for s in statuses if s != 0), 0)
    finally:
        for process, output, errors in children:
            if process.poll() is None:
                process.kill()
                process.wait()
            output.close()
            errors.close()


def wait_for_start(stream: IO[str] | None = None) -> bool:
    """Block until the parent says whether to run: True on :data:`START`, else False."""
    line = (stream or sys.stdin).readline()
    return line.strip() == START
