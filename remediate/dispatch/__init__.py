"""Many sites: `remediate run … --dispatch` hands each site's hosts to the workers of that site over Celery
with a Redis broker, and keeps the one audit log on the controller.

    controller.py   dispatch each site's hosts (bounded per site), decide what may start and change, collect
    events.py       the event stream over Redis: worker -> controller events and requests, controller replies
    tasks.py        the Celery app and the one task, `remediate.run_host`
    worker.py       `remediate worker --site NAME`: a Celery worker on its site's queue
    host_task.py    what a worker does with one host: ask to start, run the engine, stream every event
    payload.py      a host's task and its report as JSON (and back)
    secrets.py      the run key: every task is sealed with it, so nothing secret is in the broker in clear

Needs the `dispatch` extra: pip install 'remediate[dispatch]'.
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
