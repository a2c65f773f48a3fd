"""Where engines run: a shared pool of worker threads, handed work once the request that asked is answered.

Windows answers Command at once and runs the pipeline in the background; so does the sandbox. Handing the work
to a worker only after the response is on the wire keeps the connection thread and the worker from competing
for the interpreter lock while a client waits on either.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

_executor = ThreadPoolExecutor(max_workers=512, thread_name_prefix="sandbox-engine")
_local = threading.local()


@contextmanager
def deferred() -> Iterator[None]:
    """Within this block (one request), work handed to run_later() starts when the block ends."""
    _local.pending = []
    try:
        yield
    finally:
        pending: list[Callable[[], None]] = _local.pending
        _local.pending = None
        for work in pending:
            _executor.submit(work)


def run_now(work: Callable[[], None]) -> None:
    """Run `work` on a worker thread at once: for work the current request itself waits for (a Receive that
    starts the command it polls)."""
    _executor.submit(work)


def run_later(work: Callable[[], None]) -> None:
    """Run `work` on a worker thread: at the end of the current request's deferred() block, or now."""
    pending: list[Callable[[], None]] | None = getattr(_local, "pending", None)
    if pending is None:
        _executor.submit(work)
    else:
        pending.append(work)
