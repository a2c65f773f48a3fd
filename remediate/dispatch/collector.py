"""The one writer of a run whose hosts run in other processes (site workers over Redis, or local worker
processes): it keeps the audit log and every promise of a local run, whatever carries the messages.

The collector
- grants each host one start: a host asked to start twice, or a host of a run that stopped starting hosts
  (Ctrl-C, --max-fail-percent, --max-auth-failures), is not run, and a host never started is recorded as such;
- appends every event the workers send to the audit log, in the order they arrive, and answers a `step_started`
  only once it is written (fsynced): no change reaches a host before the log has it;
- holds the key ledger (installs and activations are recorded as the workers report them, and a key that ran
  out is held back run-wide);
- decides for a host it stops waiting for (its worker lost, or the run abandoned): `failed` (state unknown) if a
  change had been sent, `skipped` otherwise; anything its worker still says later is not recorded, and a
  `step_started` from it is refused.

The transport (controller.py, processes.py) sends the hosts, hands every message to handle() and sends back the
answer it returns.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from remediate import __version__
from remediate import audit as audit_log
from remediate.audit import HOST_STARTED, INTERRUPTED, OUTCOME, RUN_FINISHED, RUN_STARTED, STEP, STEP_STARTED
from remediate.codes import ErrorCode
from remediate.dispatch.payload import reason_out, report_in
from remediate.engine import EngineOptions, Interruption, KeyWatcher, Observer, tell_on_stderr
from remediate.interrupt import TwoPressStop
from remediate.plan import HostPlan, PlannedStep
from remediate.reasons import Reason, phase_word
from remediate.results import HostReport, Outcome, RunReport, StepResult, parse_hresult


@dataclass
class RemoteHost:
    plan: HostPlan
    site: str  # where it runs: a dispatch site, or a local worker process once it is sent to one
    state: str = "pending"  # pending -> sent -> started -> done
    channel: str | None = None  # the delivery granted the start
    granted_at: float = 0.0
    missing_since: float | None = None
    in_flight: dict[str, Any] | None = None  # a step_started whose step has no result yet
    changed: bool = False  # a changing step was announced
    outcome: dict[str, Any] | None = None  # the outcome event, once recorded
    report: HostReport | None = None
    seen: dict[str, int] = field(default_factory=dict)  # delivery -> the last message applied


class Collector:
    """The writer's side of one run."""

    def __init__(self, host_plans: Sequence[HostPlan], sites: Sequence[str], *, audit: audit_log.AuditLog,
                 options: EngineOptions, keys: KeyWatcher | None, observer: Observer) -> None:
        self.hosts = [RemoteHost(host_plan, site) for host_plan, site in zip(host_plans, sites, strict=True)]
        self.by_label = {host.plan.label: host for host in self.hosts}
        self.in_flight: dict[str, int] = {}  # site -> its hosts sent or started, not done
        self.done = 0
        self.audit = audit
        self.options = options
        self.keys = keys
        self.observer = observer
        self.stop = TwoPressStop()
        self.decided: list[HostReport] = []  # hosts whose outcome was known before the run (run auto)
        self._answers: dict[str, dict[str, Any]] = {}  # question id -> the answer given
        self._bad = 0  # hosts finished failed or unreachable (--max-fail-percent)
        self._finished = 0
        self.stop_starting = False  # --max-fail-percent reached
        self._auth_failures = 0
        self._unsynced = 0  # the last event that must be on disk before the next answer

    # --- the run -------------------------------------------------------------------------------------------

    def run_started(self, code: str, arguments: Sequence[str], plan_sha256: str | None,
                    approvers: Sequence[Mapping[str, str]], decided: Sequence[HostReport] = (),
                    prelude: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> None:
        """As a local run has it (engine.Engine.run_hosts): run_started, the prelude, the hosts decided before
        the run."""
        approved: dict[str, Any] = {"plan_sha256": plan_sha256} if plan_sha256 is not None else {}
        if approvers:
            approved["approvers"] = [dict(approver) for approver in approvers]
        self.audit.record(
            RUN_STARTED, operator=audit_log.operator_name(), version=__version__, code=code,
            arguments=list(arguments),
            playbooks={str(host.plan.playbook.code): host.plan.playbook.sha256 for host in self.hosts},
            hosts=[host.plan.label for host in self.hosts] + [known.host for known in decided],
            forks=self.options.forks, **approved,
        )
        for event_type, fields in prelude:
            self.audit.append(event_type, **fields)
        for known in decided:
            self.audit.append(HOST_STARTED, host=known.host, code=known.code)
            self._record_outcome(known)
            self._count(known)
            self.decided.append(known)
            self.observer.host_finished(known)

    def run_finished(self, code: str, started: float, order: Sequence[str] | None = None) -> RunReport:
        """The run's report, once every host is done; run_finished recorded."""
        hosts = [host.report for host in self.hosts if host.report is not None] + self.decided
        assert len(hosts) == len(self.hosts) + len(self.decided)
        if order is not None:
            position = {label: number for number, label in enumerate(order)}
            hosts.sort(key=lambda done: position.get(done.host, len(position)))
        report = RunReport(
            code=code, hosts=hosts, interrupted=self.stop.stopped, abandoned=self.stop.abandoned.is_set(),
            stopped_early=self.stop_starting and not self.stop.stopped,
            duration_s=time.monotonic() - started, audit_path=str(self.audit.path),
        )
        self.audit.record(RUN_FINISHED, summary=report.summary(), interrupted=report.interrupted,
                          abandoned=report.abandoned, exit=report.exit_category.value)
        return report

    @property
    def finished(self) -> bool:
        return self.done == len(self.hosts)

    def interrupt(self) -> None:
        """Ctrl-C (a signal handler: it only sets events and tells)."""
        abandoning = self.stop.press()
        in_flight = tuple(host.plan.label for host in self.hosts if host.state == "started")
        tell_on_stderr(Interruption(abandoning=abandoning, in_flight=in_flight))

    # --- starting hosts ------------------------------------------------------------------------------------

    def refusal(self) -> Reason | None:
        """Why no host may start now (Ctrl-C, --max-fail-percent, --max-auth-failures), or None."""
        if self.stop.stopped:
            return Reason("not_started_interrupted")
        if self.stop_starting:
            return Reason("not_started_max_fail")
        limit = self.options.max_auth_failures
        if limit is not None and self._auth_failures >= limit:
            return Reason("not_started_auth", count=str(self._auth_failures))
        return None

    def sent(self, host: RemoteHost) -> None:
        """The host's task is on its way to `host.site`."""
        if host.state == "pending":
            host.state = "sent"
            self.in_flight[host.site] = self.in_flight.get(host.site, 0) + 1

    def unsend(self, host: RemoteHost) -> None:
        """The host's task was lost with its worker before the host started: it waits to be sent again."""
        if host.state == "sent":
            host.state = "pending"
            self.in_flight[host.site] -= 1

    def refuse_sent(self) -> None:
        """Once no host may start, a host sent and not started is recorded now, not when its worker asks."""
        refusal = self.refusal()
        if refusal is not None:
            for host in self.hosts:
                if host.state == "sent":
                    self.not_started(host, refusal)

    def not_started(self, host: RemoteHost, why: Reason) -> None:
        self.close(host, HostReport(host=host.plan.label, code=str(host.plan.playbook.code),
                                    outcome=Outcome.SKIPPED, why=why))

    # --- what the workers say ------------------------------------------------------------------------------

    def handle(self, message: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """Apply one message; for a question, (its id, the answer to send back once sync() returned)."""
        host = self.by_label.get(str(message.get("host")))
        if host is None:
            return None
        rid = message.get("rid")
        channel, number = str(message["channel"]), int(message["n"])
        if number <= host.seen.get(channel, 0):  # sent again after an outage: applied once, answered again
            if rid is not None and rid in self._answers:
                return str(rid), self._answers[rid]
            return None
        host.seen[channel] = number
        answer = self._apply(host, channel, message)
        if rid is None:
            return None
        self._answers[rid] = answer or {}
        return str(rid), answer or {}

    def _apply(self, host: RemoteHost, channel: str, message: dict[str, Any]) -> dict[str, Any] | None:
        kind = message["kind"]
        if kind == "start":
            return self._start(host, channel)
        if kind == "refused":
            if host.state in ("pending", "sent"):
                self.not_started(host, Reason("worker_refused", site=host.site, message=str(message["message"])))
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
            result = StepResult(ok=bool(message["ok"]), hresult=_hresult(message.get("hresult")))
            self.keys.fix_done(host.plan.label, _step(host.plan, str(message["step"])), result)
        elif kind == "retrying" and mine:
            attempts = message.get("attempts")
            self.observer.host_retrying(host.plan.label, str(message["what"]), int(message["attempt"]),
                                        int(attempts) if attempts is not None else None)
        elif kind == "report" and mine:
            self._finish(host, report_in(message["report"]))
        return None

    def _start(self, host: RemoteHost, channel: str) -> dict[str, Any]:
        if host.state not in ("pending", "sent"):
            return {"go": False}  # started by another delivery, or done
        refusal = self.refusal()
        if refusal is not None:
            self.not_started(host, refusal)
            return {"go": False}
        host.state, host.channel, host.granted_at = "started", channel, time.monotonic()
        self.observer.host_started(host.plan.label)
        return {"go": True}

    def _event(self, host: RemoteHost, event_type: str, fields: dict[str, Any]) -> None:
        event = self.audit.append(event_type, **fields)
        if event_type == STEP_STARTED or (event_type == STEP and fields.get("phase") == "fix"):
            self._unsynced = event["seq"]  # on disk before any answer goes back (sync())
        if event_type == STEP_STARTED:
            host.in_flight = {"step": fields.get("step"), "phase": fields.get("phase")}
            host.changed = True
        elif event_type == STEP and host.in_flight and host.in_flight["step"] == fields.get("step"):
            host.in_flight = None
        elif event_type == OUTCOME:
            host.outcome = fields

    def sync(self) -> None:
        """Every changing step announced (and every changing step's result) is on disk when this returns. The
        transport calls it before it sends answers: write-ahead, with one fsync for the answers of a batch."""
        if self._unsynced:
            self.audit.sync(self._unsynced)
            self._unsynced = 0

    def _count(self, report: HostReport) -> None:
        """--max-fail-percent and --max-auth-failures count every host that finished."""
        self._finished += 1
        if report.outcome is Outcome.AUTH_FAILED:
            self._auth_failures += 1
        if report.outcome in (Outcome.FAILED, Outcome.UNREACHABLE):
            self._bad += 1
        limit = self.options.max_fail_percent
        if limit is not None and self._bad * 100.0 / self._finished > limit:
            self.stop_starting = True

    def _finish(self, host: RemoteHost, report: HostReport) -> None:
        if host.state in ("sent", "started"):
            self.in_flight[host.site] -= 1
        host.state, host.report = "done", report
        self.done += 1
        self._count(report)
        self.observer.host_finished(report)

    def _record_outcome(self, report: HostReport) -> None:
        self.audit.append(
            OUTCOME, host=report.host, outcome=report.outcome.value,
            code_before=str(report.code_before) if report.code_before else None,
            code_after=str(report.code_after) if report.code_after else None,
            reason=report.reason, computer_name=report.computer_name, duration_s=round(report.duration_s, 3),
        )

    def close(self, host: RemoteHost, report: HostReport) -> None:
        """The writer decides a host's outcome itself (never started, lost, abandoned)."""
        self._record_outcome(report)
        self._finish(host, report)

    # --- hosts the run stops waiting for -------------------------------------------------------------------

    def give_up(self, host: RemoteHost, *, lost: bool) -> None:
        """Record a started host the run stops waiting for (its worker lost, or the run abandoned); nothing more
        of it is recorded."""
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
        self.audit.append(INTERRUPTED, host=label, step=(step or {}).get("step"),
                          phase=(step or {}).get("phase"), reason=report.reason)
        self.close(host, report)

    def abandon(self) -> None:
        """The second Ctrl-C: hosts in flight are given up, hosts not started recorded as such."""
        for host in self.hosts:
            if host.state == "started":
                self.give_up(host, lost=False)
            elif host.state in ("pending", "sent"):
                self.not_started(host, Reason("not_started_interrupted"))


def _step(host_plan: HostPlan, step_id: str) -> PlannedStep:
    for step in host_plan.steps:
        if step.id == step_id:
            return step
    raise KeyError(step_id)


def _hresult(text: Any) -> ErrorCode | None:
    return parse_hresult(text) if text else None


def _from_outcome(host: RemoteHost, label: str) -> HostReport:
    """A host whose outcome is in the log but whose report never came (its worker died in between)."""
    fields = host.outcome or {}
    report = HostReport(host=label, code=str(host.plan.playbook.code), outcome=Outcome(fields["outcome"]),
                        code_before=_hresult(fields.get("code_before")), code_after=_hresult(fields.get("code_after")),
                        computer_name=fields.get("computer_name"), duration_s=float(fields.get("duration_s") or 0))
    report.reason = str(fields.get("reason") or "")
    return report
