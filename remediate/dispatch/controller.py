"""`remediate run CODE --dispatch`: each site's hosts go to that site's workers; the controller keeps the one
audit log and every promise of a local run.

The controller (the writer's decisions are collector.py's, shared with runs over local processes)
- sends each host as one sealed task to its site's queue (`site=` variable), at most --forks hosts of a site in
  flight at once;
- grants each host one start: a task delivered twice, or a host of a run that stopped starting hosts (Ctrl-C,
  --max-fail-percent, --max-auth-failures), is not run, and a host never started is recorded as such;
- appends every event the workers stream to the audit log, in the order they arrive, and answers a
  `step_started` only once it is written: no change reaches a host before the log has it;
- holds the key ledger (the MAK budget was checked before anything was sent; installs and activations are
  recorded as the workers report them, and a key that ran out is held back fleet-wide);
- finds a host lost when its worker stops renewing the host's alive key while the broker is reachable: the host
  is recorded `failed` (state unknown) if a change had been sent, `skipped` otherwise, and is never run again;
  anything its worker still says later is not recorded, and a `step_started` from it is refused;
- waits through a broker outage: workers keep their questions until it answers, and nothing is changed
  meanwhile.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from kombu.exceptions import OperationalError
from rich.console import Console
from rich.text import Text

from remediate import audit as audit_log
from remediate.dispatch.collector import Collector, RemoteHost
from remediate.dispatch.events import ALIVE_TTL_S, RunStream, broker_url, connect, through_outages
from remediate.dispatch.payload import task_out
from remediate.dispatch.secrets import RunKey, load_dispatch_key
from remediate.dispatch.sites import sites_of
from remediate.dispatch.tasks import TASK, make_app, site_queue
from remediate.engine import EngineOptions
from remediate.i18n import _
from remediate.interrupt import TwoPressStop, on_ctrl_c
from remediate.ledger.run_guard import RunKeyGuard
from remediate.live import LiveOptions, LiveRun, Prompt, open_plan_run
from remediate.plan import HostPlan, Plan
from remediate.playbook import PlaybookLibrary
from remediate.progress import LiveProgress
from remediate.results import RunReport
from remediate.transport import ConnectionOptions, Credentials

WATCH_EVERY_S = 1.0
IDLE_SITE_S = 60.0


class Dispatcher:
    """One dispatched run: the Redis and Celery side of a Collector."""

    def __init__(
        self,
        host_plans: Sequence[HostPlan],
        *,
        broker: str,
        audit: audit_log.AuditLog,
        options: EngineOptions,
        connection: ConnectionOptions,
        credentials: Credentials | None,
        keys: RunKeyGuard | None,
        console: Console,
        observer: LiveProgress,
    ) -> None:
        self.run_id = uuid.uuid4().hex
        self.run_key = RunKey(load_dispatch_key(), self.run_id)
        self.sites = sites_of(host_plans)
        where = [""] * len(host_plans)
        for site, indexes in self.sites.items():
            for index in indexes:
                where[index] = site
        self.collector = Collector(host_plans, where, audit=audit, options=options, keys=keys, observer=observer)
        self.hosts = self.collector.hosts
        self.pending = {site: deque(indexes) for site, indexes in self.sites.items()}
        self.audit = audit
        self.options = options
        self.connection = connection
        self.credentials = credentials
        self.keys = keys
        self.console = console
        self.app = make_app(broker)
        self.stream = RunStream(connect(broker), self.run_id, on_outage=self._outage)
        self._told_stop = ""  # the control word the workers were given
        self._reachable_since = time.monotonic()  # the broker has answered since then
        self._down = False
        self._resend = False
        self._heard = dict.fromkeys(self.sites, time.monotonic())  # site -> when one of its workers last spoke

    @property
    def stop(self) -> TwoPressStop:
        return self.collector.stop

    # --- the run -------------------------------------------------------------------------------------------

    def run(self, code: str, arguments: Sequence[str], plan_sha256: str | None,
            approvers: Sequence[Mapping[str, str]]) -> RunReport:
        started = time.monotonic()
        self.collector.run_started(code, arguments, plan_sha256, approvers)
        self.stream.put_scripts({step.script_sha256: step.script for host in self.hosts for step in host.plan.steps})
        with on_ctrl_c(self.collector.interrupt):
            self._loop()
        report = self.collector.run_finished(code, started)
        self.stream.close("abandon" if report.abandoned else "over")
        return report

    def _loop(self) -> None:
        last_watch = 0.0
        while True:
            if self.stop.abandoned.is_set():
                self.collector.abandon()
                return
            self._tell_workers()
            self._send_more()
            if self.collector.finished:
                return
            for message in self.stream.read(block_ms=200):
                self._handle(message)
            if time.monotonic() - last_watch >= WATCH_EVERY_S:
                last_watch = time.monotonic()
                self._watch()

    def _tell_workers(self) -> None:
        word = "finish" if self.stop.stopped else ""
        if word and word != self._told_stop:
            self.stream.control(word)
            self._told_stop = word

    # --- starting hosts ------------------------------------------------------------------------------------

    def _send_more(self) -> None:
        forks = max(1, self.options.forks)
        collector = self.collector
        collector.refuse_sent()  # a task still queued will not start: its host is recorded now, not when taken
        for site, queue in self.pending.items():
            while queue and (collector.in_flight.get(site, 0) < forks or collector.refusal() is not None):
                host = self.hosts[queue.popleft()]
                refusal = collector.refusal()
                if refusal is not None:
                    collector.not_started(host, refusal)
                    continue
                self._send(host)
        if self._resend:  # the broker was away: a task it may have lost is sent again (a copy is dropped)
            self._resend = False
            for host in self.hosts:
                if host.state == "sent":
                    self._send(host)

    def _send(self, host: RemoteHost) -> None:
        sealed = self.run_key.seal(task_out(host.plan, self.connection, self.credentials, self.options,
                                            key_watch=self.keys is not None))
        through_outages(lambda: self.app.send_task(TASK, args=[self.run_id, sealed], queue=site_queue(host.site)),
                        give_up_s=float("inf"), on_outage=self._outage, errors=(OperationalError,))
        self.collector.sent(host)

    # --- what the workers say ------------------------------------------------------------------------------

    def _handle(self, message: dict[str, Any]) -> None:
        host = self.collector.by_label.get(str(message.get("host")))
        if host is None:
            return
        self._heard[host.site] = time.monotonic()
        answered = self.collector.handle(message)
        if answered is not None:
            self.collector.sync()
            self.stream.answer(*answered)

    # --- lost workers, outages --------------------------------------------------------------------------------

    def _outage(self, down: bool) -> None:
        if down and not self._down:
            self.console.print(Text("broker unreachable: waiting for it (no host is changed without the "
                                    "controller's answer)"))
        elif not down and self._down:
            self.console.print(Text("broker reachable again"))
            self._reachable_since = time.monotonic()
            self._resend = True
        self._down = down

    def _watch(self) -> None:
        """Started hosts whose worker stopped renewing their alive key for ALIVE_TTL_S are lost. A site whose
        hosts wait and whose workers said nothing for a while is named (once)."""
        now = time.monotonic()
        running = {host.site for host in self.hosts if host.state == "started"}
        for site, heard in self._heard.items():
            if now - heard > IDLE_SITE_S and self.collector.in_flight.get(site) and site not in running:
                self.console.print(Text(f"site {site}: no worker has said anything for {IDLE_SITE_S:.0f} s while "
                                        f"its hosts wait (is `remediate worker --site {site}` running?)"))
                self._heard[site] = float("inf")
        if now - self._reachable_since < ALIVE_TTL_S:
            return  # right after an outage, the workers have not yet had the time to renew
        started = [host for host in self.hosts if host.state == "started"]
        alive = self.stream.alive(host.plan.label for host in started)
        for host in started:
            if host.plan.label in alive or now - host.granted_at < ALIVE_TTL_S:
                host.missing_since = None
                continue
            if host.missing_since is None:
                host.missing_since = now
            elif now - host.missing_since >= ALIVE_TTL_S:
                self.collector.give_up(host, lost=True)


def _dispatchable(plan: Plan) -> None:
    """Every host has a site and the dispatch key is there (UsageError, exit 2, before anything is touched)."""
    sites_of(plan.hosts)
    load_dispatch_key()


def run_dispatched(
    plan: Plan,
    settings: LiveOptions,
    *,
    language: str,
    console: Console,
    prompt: Prompt | None,
    progress: bool = True,
    arguments: Sequence[str] = (),
    plan_sha256: str | None = None,
    library: PlaybookLibrary | None = None,
    approvers: Sequence[Mapping[str, str]] = (),
) -> LiveRun:
    """`remediate run CODE --dispatch`: live.run_plan's run, each site's hosts on that site's workers.
    `library` is not used here: each worker checks, with its own playbooks, which playbook claims a code."""
    with open_plan_run(plan, settings, language=language, console=console, prompt=prompt, progress=progress,
                       check=_dispatchable) as (plan, run):
        dispatcher = Dispatcher(plan.hosts, broker=broker_url(), audit=run.log, options=run.options,
                                connection=run.connection, credentials=run.credentials, keys=run.keys,
                                console=console, observer=run.bar)
        sites = ", ".join(f"{site} ({len(indexes)})" for site, indexes in dispatcher.sites.items())
        console.print(Text(_("dispatching {count} host(s) to the workers of: {sites}").format(
            count=len(plan.hosts), sites=sites)))
        return run.done(dispatcher.run(str(plan.code), arguments, plan_sha256, approvers))
