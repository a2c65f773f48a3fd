"""Many sites: `remediate run … --dispatch` hands each site's hosts to the workers of that site over Celery
with a Redis broker, and keeps the one audit log on the controller.

    controller.py     dispatch each site's hosts (bounded per site) over Celery, carry the messages over Redis
    collector.py      the one writer: decide what may start and change, keep the audit log, decide for lost hosts
    events.py         the event stream over Redis: worker -> controller events and requests, controller replies
    tasks.py          the Celery app and the one task, `remediate.run_host`
    worker.py         `remediate worker --site NAME`: a Celery worker on its site's queue
    host_task.py      what a worker does with one delivery: open it, ask to start, run the engine
    remote_engine.py  the engine on a worker, one host, every event sent to the writer
    payload.py        a host's task and its report as JSON (and back)
    secrets.py        the run key: every task is sealed with it, so nothing secret is in the broker in clear

Needs the `dispatch` extra: pip install 'remediate[dispatch]'. collector.py, remote_engine.py and payload.py do
not: `run --processes N` (processes.py) uses them between local processes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from remediate.errors import UsageError

if TYPE_CHECKING:
    from remediate.live import LiveRun


def controller_run() -> Callable[..., LiveRun]:
    """controller.run_dispatched (it takes what live.run_plan takes); UsageError without the dispatch extra."""
    try:
        from remediate.dispatch.controller import run_dispatched
    except ImportError as error:
        raise UsageError(f"--dispatch needs Celery and redis: pip install 'remediate[dispatch]' ({error})") from None
    return run_dispatched
