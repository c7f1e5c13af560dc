"""Run a batch of named fits as Dask tasks, with a progress bar; failures named, not fatal.

Where the tasks run (``scheduler``):

* ``"local"`` (the default): a :class:`dask.distributed.LocalCluster` on this machine, one
  single-threaded worker process per core (``workers`` to choose fewer or more);
* ``"tcp://host:port"``: an existing cluster (``dask scheduler`` + ``dask worker`` processes, or
  a ``dask-jobqueue`` cluster on SLURM/PBS started beside it); its workers must be able to
  import this project;
* ``"serial"``: one after another in this process, without Dask (for debugging).

Every task is a function of its arguments alone (it takes its seed with it), so the results do
not depend on where or in which order the tasks ran: a run on a cluster gives the same numbers
as a serial one. A task's printed output is captured and handed back with its result (so the
progress bar stays readable); a task that raises is reported by its name with the error's last
line, and the others still run.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cmds_common.atomic import write_text

#: ``scheduler`` values that do not name a cluster address.
LOCAL, SERIAL = "local", "serial"


@dataclass(frozen=True)
class Task:
    """One unit of work: ``function(*args)``, known by ``name`` in progress and errors."""

    name: str
    function: Callable[..., Any]
    args: tuple = ()


@dataclass
class TaskOutcome:
    """What a task gave back.

    Attributes
    ----------
    name
        The task's name.
    value
        Its return value (``None`` when it failed).
    error
        ``None`` on success; else the traceback of the exception it raised.
    output
        Everything the task printed (stdout and stderr).
    """

    name: str
    value: Any = None
    error: str | None = None
    output: str = ""

    @property
    def failed(self) -> bool:
        """Whether the task raised (or its worker died)."""
        return self.error is not None

    def error_line(self) -> str:
        """Give the last line of the error (the exception and its message)."""
        lines = [line for line in (self.error or "").splitlines() if line.strip()]
        return lines[-1] if lines else ""


def run_captured(name: str, function: Callable[..., Any], args: tuple) -> TaskOutcome:
    """Call ``function(*args)`` with its output captured; an exception becomes the outcome.

    Parameters
    ----------
    name
        The task's name (kept in the outcome).
    function, args
        The work.

    Returns
    -------
    TaskOutcome
    """
    from threadpoolctl import threadpool_limits

    buffer = io.StringIO()
    try:
        # One BLAS thread, as Dask's workers have (OMP/OPENBLAS_NUM_THREADS=1): sums then run
        # in the same order everywhere, so a serial run and a cluster run agree (to the bit on a
        # warm clone; a fresh clone has shown last-bit differences that the sampler amplifies to
        # about 1e-6 in posterior means: tests/test_task_batches.py allows for them).
        with (
            threadpool_limits(limits=1),
            contextlib.redirect_stdout(buffer),
            contextlib.redirect_stderr(buffer),
        ):
            value = function(*args)
    except Exception:
        return TaskOutcome(name, error=traceback.format_exc(), output=buffer.getvalue())
    return TaskOutcome(name, value=value, output=buffer.getvalue())


def default_workers() -> int:
    """Worker processes of the default local cluster: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS has no sched_getaffinity
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def dask_client(scheduler: str = LOCAL, workers: int | None = None) -> Iterator[Any]:
    """Open a ``dask.distributed.Client`` for ``scheduler``; a local cluster is closed afterwards.

    Parameters
    ----------
    scheduler
        ``"local"`` for a new :class:`~dask.distributed.LocalCluster`, or the address of a
        running scheduler (``tcp://host:8786``).
    workers
        Worker processes of a local cluster (default :func:`default_workers`); ignored for an
        existing cluster.
    """
    from dask.distributed import Client, LocalCluster

    if scheduler == LOCAL:
        with (
            LocalCluster(
                n_workers=workers or default_workers(),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # workers still holding sampler threads are stopped at close with a warning each
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        with Client(scheduler) as client:
            yield client


def run_tasks(
    tasks: list[Task],
    scheduler: str = LOCAL,
    workers: int | None = None,
    description: str = "tasks",
    on_done: Callable[[TaskOutcome], None] | None = None,
    log_dir: Path | None = None,
) -> dict[str, TaskOutcome]:
    """Run every task; return the outcomes by name, in the order of ``tasks``.

    Parameters
    ----------
    tasks
        The work; names must be unique.
    scheduler
        ``"local"``, ``"serial"`` or a scheduler address (see the module docstring).
    workers
        Worker processes of a local cluster.
    description
        What the progress bar counts ("fits").
    on_done
        Called in this process with each outcome as it arrives (e.g. to write the fit at
        once, so that an interrupted batch keeps its finished fits).
    log_dir
        Where a failed task's output and full traceback go (``<name>.log``); the message
        printed for the failure names the file.

    Returns
    -------
    dict
        ``{name: TaskOutcome}``. A failed task (its exception, or its worker lost) has
        ``error`` set; it is also printed by name to stderr as it happens.
    """
    names = [task.name for task in tasks]
    if len(set(names)) != len(names):
        raise ValueError("task names must be unique")
    outcomes: dict[str, TaskOutcome] = {}
    if not tasks:
        return outcomes
    with _progress_bar(len(tasks), description) as advance:

        def finish(outcome: TaskOutcome) -> None:
            outcomes[outcome.name] = outcome
            if outcome.failed:
                where = ""
                if log_dir is not None:
                    log = log_dir / f"{outcome.name.replace(' ', '_').replace('/', '_')}.log"
                    write_text(log, f"{outcome.output}\n{outcome.error}")
                    where = f" (log: {log})"
                print(f"failed: {outcome.name}: {outcome.error_line()}{where}", file=sys.stderr)
            if on_done is not None:
                on_done(outcome)
            advance(outcome.failed)

        if scheduler == SERIAL:
            for task in tasks:
                finish(run_captured(task.name, task.function, task.args))
        else:
            _run_on_dask(tasks, scheduler, workers, finish)
    return {name: outcomes[name] for name in names}


def _run_on_dask(
    tasks: list[Task],
    scheduler: str,
    workers: int | None,
    finish: Callable[[TaskOutcome], None],
) -> None:
    from dask.distributed import as_completed

    with dask_client(scheduler, workers) as client:
        futures = {
            client.submit(
                run_captured, task.name, task.function, task.args, key=task.name, pure=False
            ): task.name
            for task in tasks
        }
        for future in as_completed(futures):
            name = futures[future]
            try:
                outcome = future.result()
            except Exception:  # the worker died (KilledWorker) or the result did not arrive
                outcome = TaskOutcome(name, error=traceback.format_exc())
            future.release()
            finish(outcome)


@contextlib.contextmanager
def _progress_bar(total: int, description: str) -> Iterator[Callable[[bool], None]]:
    """Show a rich progress bar of tasks done (and failed so far); yields ``advance(failed)``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as progress:
        bar = progress.add_task(description, total=total, failed=0)
        failed = 0

        def advance(task_failed: bool) -> None:
            nonlocal failed
            failed += int(task_failed)
            progress.update(bar, advance=1, failed=failed)

        yield advance
