"""The Celery app and its one task, `remediate.run_host`: one host of a dispatched run, on its site's queue.

Delivery: a task is acknowledged late (once it returned), and a worker that dies puts its tasks back: a task it
had not begun runs on another worker of the site. A task it had begun is delivered again too (after the
visibility timeout), but its host is not run again: the controller grants each host one start, and finds a
host whose worker died lost (see controller.py). So the visibility timeout may be short: a task delivered again
while its first delivery still runs is dropped at its first question.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

TASK = "remediate.run_host"
DEFAULT_VISIBILITY_S = 300  # a task a worker took and never acknowledged is delivered again after this long


def site_queue(site: str) -> str:
    return f"remediate.site.{site}"


def make_app(broker: str, visibility_timeout_s: float = DEFAULT_VISIBILITY_S) -> Celery:
    app = Celery("remediate", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,  # acknowledged once the host is done: a worker that dies puts its task back
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker holds no more tasks than it runs
        task_ignore_result=True,  # results travel on the run's event stream (events.py)
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a broker that went away is waited for, not given up on
        worker_cancel_long_running_tasks_on_connection_loss=False,  # a host in flight finishes: its events wait
        worker_hijack_root_logger=False,
        broker_transport_options={
            "visibility_timeout": visibility_timeout_s,
            "unacked_restore_interval": max(1, min(10, int(visibility_timeout_s // 4))),
            "unacked_restore_throttle": 1,
            "socket_timeout": 10,
            "socket_connect_timeout": 2,
        },
    )
    return app


def register_task(app: Celery, run: Any) -> None:
    """The worker's side: `run(run_id, sealed)` is what a delivery of remediate.run_host does."""
    app.task(name=TASK, bind=False, acks_late=True)(run)
