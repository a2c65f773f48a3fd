"""`remediate worker --site NAME`: a Celery worker that runs the hosts of one site, from inside that site.

    export REMEDIATE_BROKER_URL=redis://broker.example:6379/0
    export REMEDIATE_DISPATCH_KEY_FILE=/etc/remediate/dispatch.key   # the controller's, given out of band
    remediate worker --site tokyo --concurrency 20

It consumes the queue `remediate.site.NAME`, runs up to --concurrency hosts at once (threads), and needs the
same playbooks as the controller (--playbooks, as the run had them). Warm shutdown (Ctrl-C, SIGTERM) lets the
hosts in flight finish.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from remediate.dispatch.sites import check_site
from remediate.errors import UsageError
from remediate.i18n import N_, _
from remediate.options import playbooks_option


def serve(site: str, broker: str | None, concurrency: int, visibility_timeout_s: float,
          playbook_dirs: tuple[Path, ...]) -> None:
    """Run the worker until it is stopped."""
    try:
        from celery import signals
    except ImportError:
        raise UsageError(_("remediate worker needs Celery: pip install 'remediate[dispatch]'")) from None
    from remediate.dispatch.events import broker_url, connect
    from remediate.dispatch.host_task import WorkerContext, run_host
    from remediate.dispatch.secrets import load_dispatch_key
    from remediate.dispatch.tasks import make_app, register_task, site_queue
    from remediate.playbook import PlaybookLibrary

    url = broker_url(broker)
    name = f"{site}@{socket.gethostname()}:{os.getpid()}"
    context = WorkerContext(client=connect(url), library=PlaybookLibrary(playbook_dirs),
                            dispatch_key=load_dispatch_key(), name=name, site=site)
    app = make_app(url, visibility_timeout_s)

    def run_host_task(run_id: str, sealed: str) -> None:
        run_host(context, run_id, sealed)

    run_host_task.__name__ = "run_host"
    register_task(app, run_host_task)

    def ready(**_signal: Any) -> None:
        click.echo(_("ready: worker {name} takes the hosts of site {site} (queue {queue})").format(
            name=name, site=site, queue=site_queue(site)), err=True)
        sys.stderr.flush()

    signals.worker_ready.connect(ready, weak=False)
    app.worker_main([
        "worker", "--queues", site_queue(site), "--pool", "threads", "--concurrency", str(concurrency),
        "--hostname", name, "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--prefetch-multiplier", "1", "--loglevel", "WARNING",
    ])


def register(main: click.Group, reports_errors: Callable[[Any], Any]) -> None:
    """Add `remediate worker` to the command group (Celery is imported only when it runs)."""

    @main.command("worker")
    @click.option("--site", required=True, metavar="NAME",
                  help=N_("The site whose hosts this worker runs (hosts carry it as their site= variable)."))
    @click.option("--broker", default=None, metavar="URL",
                  help=N_("The Redis broker [env REMEDIATE_BROKER_URL; default redis://127.0.0.1:6379/0]."))
    @click.option("--concurrency", type=click.IntRange(1, 200), default=10, show_default=True,
                  help=N_("Hosts this worker runs at once."))
    @click.option("--visibility-timeout", "visibility_timeout", type=click.FloatRange(5, 86400), default=300,
                  show_default=True, metavar="SECONDS",
                  help=N_("A task a dead worker had taken goes back to the queue after this long (a host it "
                          "had begun is never run again: the controller records it lost)."))
    @playbooks_option
    @reports_errors
    def worker_command(site: str, broker: str | None, concurrency: int, visibility_timeout: float,
                       playbook_dirs: tuple[Path, ...]) -> None:
        """Run the hosts of one site for `remediate run … --dispatch` (a Celery worker on a Redis broker).

        Needs REMEDIATE_DISPATCH_KEY_FILE: the controller's dispatch key, given to every worker out of band.
        """
        serve(check_site(site), broker, concurrency, visibility_timeout, playbook_dirs)
