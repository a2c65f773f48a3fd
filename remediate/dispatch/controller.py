"""`remediate run CODE --dispatch`: each site's hosts go to that site's workers; the controller keeps the one
audit log and every promise of a local run.

The controller
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
from dataclasses import dataclass, field
from typing import Any

from kombu.exceptions import OperationalError
from rich.console import Console
from rich.text import Text

from remediate import __version__
from remediate import audit as audit_log
from remediate.audit import INTERRUPTED, OUTCOME, RUN_FINISHED, RUN_STARTED, STEP, STEP_STARTED
from remediate.codes import ErrorCode
from remediate.dispatch.events import ALIVE_TTL_S, RunStream, broker_url, connect, through_outages
from remediate.dispatch.payload import reason_out, report_in, task_out
from remediate.dispatch.secrets import RunKey, load_dispatch_key
from remediate.dispatch.sites import sites_of
from remediate.dispatch.tasks import TASK, make_app, site_queue
from remediate.engine import EngineOptions, Interruption, tell_on_stderr
from remediate.i18n import _
from remediate.interrupt import TwoPressStop, on_ctrl_c
from remediate.ledger.run_guard import RunKeyGuard
from remediate.live import LiveOptions, LiveRun, Prompt, open_plan_run
from remediate.plan import HostPlan, Plan, PlannedStep
from remediate.playbook import PlaybookLibrary
from remediate.progress import LiveProgress
from remediate.reasons import Reason, phase_word
from remediate.results import HostReport, Outcome, RunReport, StepResult, parse_hresult
from remediate.transport import ConnectionOptions, Credentials

WATCH_EVERY_S = 1.0
IDLE_SITE_S = 60.0


@dataclass
class _Host:
    plan: HostPlan
    site: str
    state: str = "pending"  # pending -> sent -> started -> done
    channel: str | None = None  # the delivery granted the start
    granted_at: float = 0.0
    missing_since: float | None = None
    in_flight: dict[str, Any] | None = None  # a step_started whose step has no result yet
    changed: bool = False  # a changing step was announced
    outcome: dict[str, Any] | None = None  # the outcome event, once recorded
    report: HostReport | None = None
    seen: dict[str, int] = field(default_factory=dict)  # delivery -> the last message applied


class Dispatcher:
    """One dispatched run."""

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
        self.hosts = [_Host(host_plan, "") for host_plan in host_plans]
        for site, indexes in self.sites.items():
            for index in indexes:
                self.hosts[index].site = site
        self.by_label = {host.plan.label: host for host in self.hosts}
        self.pending = {site: deque(indexes) for site, indexes in self.sites.items()}
        self.in_flight = dict.fromkeys(self.sites, 0)  # site -> its hosts sent or started, not done
        self.done = 0
        self.audit = audit
        self.options = options
        self.connection = connection
        self.credentials = credentials
        self.keys = keys
        self.console = console
        self.observer = observer
        self.stop = TwoPressStop()
        self.app = make_app(broker)
        self.stream = RunStream(connect(broker), self.run_id, on_outage=self._outage)
        self._answers: dict[str, dict[str, Any]] = {}  # question id -> the answer given
        self._bad = 0  # hosts finished failed or unreachable (--max-fail-percent)
        self._stop_starting = False  # --max-fail-percent reached
        self._auth_failures = 0
        self._told_stop = ""  # the control word the workers were given
        self._reachable_since = time.monotonic()  # the broker has answered since then
        self._down = False
        self._resend = False
        self._heard = dict.fromkeys(self.sites, time.monotonic())  # site -> when one of its workers last spoke

    # --- the run -------------------------------------------------------------------------------------------

    def run(self, code: str, arguments: Sequence[str], plan_sha256: str | None,
            approvers: Sequence[Mapping[str, str]]) -> RunReport:
        started = time.monotonic()
        self._record_run_started(code, arguments, plan_sha256, approvers)
        self.stream.put_scripts({step.script_sha256: step.script for host in self.hosts for step in host.plan.steps})
        with on_ctrl_c(self.interrupt):
            self._loop()
        hosts = [host.report for host in self.hosts]
        assert all(report is not None for report in hosts)
        report = RunReport(
            code=code, hosts=[done for done in hosts if done is not None], interrupted=self.stop.stopped,
            abandoned=self.stop.abandoned.is_set(), stopped_early=self._stop_starting and not self.stop.stopped,
            duration_s=time.monotonic() - started, audit_path=str(self.audit.path),
        )
        self.audit.record(RUN_FINISHED, summary=report.summary(), interrupted=report.interrupted,
                          abandoned=report.abandoned, exit=report.exit_category.value)
        self.stream.close("abandon" if report.abandoned else "over")
        return report

    def interrupt(self) -> None:
        """Ctrl-C (a signal handler: it only sets events and tells)."""
        abandoning = self.stop.press()
        in_flight = tuple(host.plan.label for host in self.hosts if host.state == "started")
        tell_on_stderr(Interruption(abandoning=abandoning, in_flight=in_flight))

    def _loop(self) -> None:
        last_watch = 0.0
        while True:
            if self.stop.abandoned.is_set():
                self._abandon()
                return
            self._tell_workers()
            self._send_more()
            if self.done == len(self.hosts):
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

    def _refusal(self) -> Reason | None:
        """Why no host may start now (Ctrl-C, --max-fail-percent, --max-auth-failures), or None."""
        if self.stop.stopped:
            return Reason("not_started_interrupted")
        if self._stop_starting:
            return Reason("not_started_max_fail")
        limit = self.options.max_auth_failures
        if limit is not None and self._auth_failures >= limit:
            return Reason("not_started_auth", count=str(self._auth_failures))
        return None

    def _send_more(self) -> None:
        forks = max(1, self.options.forks)
        refusal = self._refusal()
        if refusal is not None:  # a task still queued will not start: its host is recorded now, not when taken
            for host in self.hosts:
                if host.state == "sent":
                    self._not_started(host, refusal)
        for site, queue in self.pending.items():
            while queue and (self.in_flight[site] < forks or self._refusal() is not None):
                host = self.hosts[queue.popleft()]
                refusal = self._refusal()
                if refusal is not None:
                    self._not_started(host, refusal)
                    continue
                self._send(host)
        if self._resend:  # the broker was away: a task it may have lost is sent again (a copy is dropped)
            self._resend = False
            for host in self.hosts:
                if host.state == "sent":
                    self._send(host)

    def _send(self, host: _Host) -> None:
        sealed = self.run_key.seal(task_out(host.plan, self.connection, self.credentials, self.options,
                                            key_watch=self.keys is not None))
        through_outages(lambda: self.app.send_task(TASK, args=[self.run_id, sealed], queue=site_queue(host.site)),
                        give_up_s=float("inf"), on_outage=self._outage, errors=(OperationalError,))
        if host.state == "pending":
            host.state = "sent"
            self.in_flight[host.site] += 1

    def _not_started(self, host: _Host, why: Reason) -> None:
        self._close(host, HostReport(host=host.plan.label, code=str(host.plan.playbook.code),
                                     outcome=Outcome.SKIPPED, why=why))

    # --- what the workers say ------------------------------------------------------------------------------

    def _handle(self, message: dict[str, Any]) -> None:
        host = self.by_label.get(str(message.get("host")))
        if host is None:
            return
        rid = message.get("rid")
        channel, number = str(message["channel"]), int(message["n"])
        if number <= host.seen.get(channel, 0):  # sent again after an outage: applied once, answered again
            if rid is not None and rid in self._answers:
                self.stream.answer(rid, self._answers[rid])
            return
        host.seen[channel] = number
        self._heard[host.site] = time.monotonic()
        answer = self._apply(host, channel, message)
        if rid is not None:
            self._answers[rid] = answer or {}
            self.stream.answer(rid, answer or {})

    def _apply(self, host: _Host, channel: str, message: dict[str, Any]) -> dict[str, Any] | None:
        kind = message["kind"]
        if kind == "start":
            return self._start(host, channel)
        if kind == "refused":
            if host.state in ("pending", "sent"):
                self._not_started(host, Reason("worker_refused", site=host.site, message=str(message["message"])))
            return {}
        mine = host.state == "started" and host.channel == channel
        if kind == "event":
            if not mine:
                return {"ok": False, "why": "the controller no longer runs this host (given up, or another delivery)"}
            self._event(host, str(message["type"]), dict(message["fields"]))
            return {"ok": True}
        if kind == "hold":
            step = _step(host.plan, str(message["step"]))
            reason = self.keys.hold(host.plan.label, step) if self.keys is not None and mine else None
            return {"reason": reason_out(reason) if reason is not None else None}
        if kind == "fix_done" and self.keys is not None and mine:
            result = StepResult(ok=bool(message["ok"]),
                                hresult=_hresult(message.get("hresult")))
            self.keys.fix_done(host.plan.label, _step(host.plan, str(message["step"])), result)
        elif kind == "report" and mine:
            self._finish(host, report_in(message["report"]))
        return None

    def _start(self, host: _Host, channel: str) -> dict[str, Any]:
        if host.state not in ("pending", "sent"):
            return {"go": False}  # started by another delivery, or done
        refusal = self._refusal()
        if refusal is not None:
            self._not_started(host, refusal)
            return {"go": False}
        host.state, host.channel, host.granted_at = "started", channel, time.monotonic()
        self.observer.host_started(host.plan.label)
        return {"go": True}

    def _event(self, host: _Host, event_type: str, fields: dict[str, Any]) -> None:
        self.audit.record(event_type, **fields)
        if event_type == STEP_STARTED:
            host.in_flight = {"step": fields.get("step"), "phase": fields.get("phase")}
            host.changed = True
        elif event_type == STEP and host.in_flight and host.in_flight["step"] == fields.get("step"):
            host.in_flight = None
        elif event_type == OUTCOME:
            host.outcome = fields

    def _finish(self, host: _Host, report: HostReport) -> None:
        if host.state in ("sent", "started"):
            self.in_flight[host.site] -= 1
        host.state, host.report = "done", report
        self.done += 1
        if report.outcome is Outcome.AUTH_FAILED:
            self._auth_failures += 1
        if report.outcome in (Outcome.FAILED, Outcome.UNREACHABLE):
            self._bad += 1
        limit = self.options.max_fail_percent
        if limit is not None and self._bad * 100.0 / self.done > limit:
            self._stop_starting = True
        self.observer.host_finished(report)

    def _close(self, host: _Host, report: HostReport) -> None:
        """The controller decides a host's outcome itself (never started, lost, abandoned)."""
        self.audit.record(
            OUTCOME, host=report.host, outcome=report.outcome.value,
            code_before=str(report.code_before) if report.code_before else None,
            code_after=str(report.code_after) if report.code_after else None,
            reason=report.reason, computer_name=report.computer_name, duration_s=round(report.duration_s, 3),
        )
        self._finish(host, report)

    # --- lost workers, outages, abandon ---------------------------------------------------------------------

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
            if now - heard > IDLE_SITE_S and self.in_flight[site] and site not in running:
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
                self._give_up(host, lost=True)

    def _give_up(self, host: _Host, *, lost: bool) -> None:
        """Record a started host the run stops waiting for; nothing more of it is recorded."""
        label, site = host.plan.label, host.site
        if host.outcome is not None:  # only its report was missing
            self._finish(host, _from_outcome(host, label))
            return
        step = host.in_flight
        if lost:
            why = (Reason("worker_lost_changed", site=site, step=str((step or {}).get("step") or "after it"))
                   if host.changed else Reason("worker_lost_unchanged", site=site))
        elif step is not None:
            why = Reason("abandoned_changed", phase=phase_word(str(step["phase"])), step=str(step["step"]))
        else:
            why = Reason("abandoned_after_change") if host.changed else Reason("abandoned_remote", site=site)
        outcome = Outcome.FAILED if host.changed else Outcome.SKIPPED
        report = HostReport(host=label, code=str(host.plan.playbook.code), outcome=outcome, why=why,
                            duration_s=time.monotonic() - host.granted_at)
        self.audit.record(INTERRUPTED, host=label, step=(step or {}).get("step"), phase=(step or {}).get("phase"),
                          reason=report.reason)
        self._close(host, report)

    def _abandon(self) -> None:
        """The second Ctrl-C: hosts in flight are given up, hosts not started recorded as such."""
        for host in self.hosts:
            if host.state == "started":
                self._give_up(host, lost=False)
            elif host.state in ("pending", "sent"):
                self._not_started(host, Reason("not_started_interrupted"))

    def _record_run_started(self, code: str, arguments: Sequence[str], plan_sha256: str | None,
                            approvers: Sequence[Mapping[str, str]]) -> None:
        """As a local run has it (engine.Engine.run_hosts)."""
        approved: dict[str, Any] = {"plan_sha256": plan_sha256} if plan_sha256 is not None else {}
        if approvers:
            approved["approvers"] = [dict(approver) for approver in approvers]
        self.audit.record(
            RUN_STARTED, operator=audit_log.operator_name(), version=__version__, code=code,
            arguments=list(arguments),
            playbooks={str(host.plan.playbook.code): host.plan.playbook.sha256 for host in self.hosts},
            hosts=[host.plan.label for host in self.hosts], forks=self.options.forks, **approved,
        )


def _step(host_plan: HostPlan, step_id: str) -> PlannedStep:
    for step in host_plan.steps:
        if step.id == step_id:
            return step
    raise KeyError(step_id)


def _hresult(text: Any) -> ErrorCode | None:
    return parse_hresult(text) if text else None


def _from_outcome(host: _Host, label: str) -> HostReport:
    """A host whose outcome is in the log but whose report never came (its worker died in between)."""
    fields = host.outcome or {}
    report = HostReport(host=label, code=str(host.plan.playbook.code), outcome=Outcome(fields["outcome"]),
                        code_before=_hresult(fields.get("code_before")), code_after=_hresult(fields.get("code_after")),
                        computer_name=fields.get("computer_name"), duration_s=float(fields.get("duration_s") or 0))
    report.reason = str(fields.get("reason") or "")
    return report


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
