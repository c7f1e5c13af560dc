"""Progress lines for fits whose output goes to a file or a pipe.

nutpie draws a live table in a terminal or a notebook; in a log file (``make fit > log``, a
cluster job) that table is absent, and a fit of several minutes says nothing until it ends.
:class:`ProgressLines` is handed to ``nutpie.sample(progress_callback=...)`` and prints one
plain line at most every :data:`INTERVAL_S` seconds while the chains run::

    [model2_slopes] 41% of draws (4 chains: 3,280 of 8,000 incl. warm-up), 0 divergences, 12 s
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Seconds between two progress lines.
INTERVAL_S = 10.0


class ProgressLines:
    """A thread-safe nutpie progress callback that prints one line every ``interval`` seconds.

    Parameters
    ----------
    label
        Prefix of each line (e.g. ``"[model2] "``).
    interval
        Seconds between lines.
    stream
        Where the lines go (default: standard output).
    """

    def __init__(self, label: str = "", interval: float = INTERVAL_S, stream: Any = None) -> None:
        self.label = label
        self.interval = interval
        self.stream = stream if stream is not None else sys.stdout
        self._started = time.monotonic()
        self._last = self._started
        self._lock = threading.Lock()

    def line(self, chains: list[Any]) -> str:
        """Return one line from nutpie's per-chain progress objects."""
        done = sum(int(c.finished_draws) for c in chains)
        total = sum(int(c.total_draws) for c in chains) or 1
        divergences = sum(int(c.divergences) for c in chains)
        tuning = sum(bool(c.tuning) for c in chains)  # chains still in warm-up, not the share
        phase = f", {tuning} of {len(chains)} still warming up" if tuning else ""
        return (
            f"{self.label}{100 * done / total:.0f}% of draws ({len(chains)} chains: {done:,} of "
            f"{total:,} incl. warm-up{phase}), "
            f"{divergences} divergences, {time.monotonic() - self._started:.0f} s"
        )

    def __call__(self, chains: list[Any]) -> None:
        """Print a line when ``interval`` seconds have passed since the last one."""
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                return
            self._last = now
        print(self.line(chains), file=self.stream, flush=True)


@contextmanager
def quiet_forward_sampling() -> Iterator[None]:
    """Hold back PyMC's ``Sampling: [...]`` notice of prior/posterior predictive draws.

    The notice (logged at INFO by ``pymc.sampling.forward``) names the variables drawn; in a
    fit's log it reads like a second sampling run. Warnings and errors still show.
    """
    logger = logging.getLogger("pymc.sampling.forward")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def bars_wanted(progress: bool, stream: Any = None) -> bool:
    """Whether to draw live progress bars: asked for, and ``stream`` (stdout) is a terminal."""
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(progress and isatty is not None and isatty())


def progress_callback(label: str, stream: Any = None) -> ProgressLines | None:
    """Return :class:`ProgressLines` when ``stream`` (default stdout) is no terminal, else None."""
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return None if isatty is not None and isatty() else ProgressLines(label, stream=stream)
