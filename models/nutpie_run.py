"""Run ``nutpie.sample`` so that Ctrl-C always stops its sampler threads.

``nutpie.sample`` starts the sampler's threads in a Rust call and only then enters the ``try``
that turns a :class:`KeyboardInterrupt` into ``abort()``. A Ctrl-C (SIGINT) that arrives while
the threads are being started is raised as soon as that call returns, outside the ``try``: the
exception leaves ``nutpie.sample`` with the sampler still running, and the process then waits
for draws it will never use (seen as a fit of 2,000,000 draws that ignored SIGINT on a loaded
machine). Here the sampler is started with ``blocking=False`` while SIGINT is only recorded
(when Python's own Ctrl-C handler is in place: an ignored SIGINT stays ignored);
a SIGINT recorded then, or raised while waiting, aborts the sampler, which returns the draws
made so far (the callers refuse a partial trace, :func:`models.sampling._refuse_partial_trace`).
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import nutpie


def sample_interruptibly(compiled_model: Any, **arguments: Any) -> Any:
    """Return ``nutpie.sample(compiled_model, **arguments)``, aborted cleanly on Ctrl-C.

    Parameters
    ----------
    compiled_model : nutpie compiled model
        What ``nutpie.sample`` takes (``nutpie.compile_pymc_model`` or ``from_pyfunc``).
    **arguments
        ``nutpie.sample``'s keyword arguments, except ``blocking``.

    Returns
    -------
    arviz DataTree
        The trace; after a Ctrl-C, the draws made until then (fewer than asked for).
    """
    pending: list[int] = []
    # Only Python's own Ctrl-C handler is swapped: where SIGINT is ignored (a background job)
    # or handled by someone else, it is left as it is.
    swap = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if swap:
        signal.signal(signal.SIGINT, lambda number, frame: pending.append(number))
    try:
        sampler = nutpie.sample(compiled_model, blocking=False, **arguments)
    finally:
        if swap:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        if pending:
            raise KeyboardInterrupt
        return sampler.wait()
    except KeyboardInterrupt:
        return sampler.abort()
    except BaseException:
        sampler.cancel()
        raise
