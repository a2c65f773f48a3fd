"""The engine on a worker, for one host whose audit log is another process's: every event goes to the one writer
(the controller of a dispatched run, or the parent of a run over local processes) over a HostLink.

The engine is the one a local run uses, for one host: its audit log is a RemoteAudit, which forwards each event
and, for `step_started`, waits until the writer has written it to the audit log before the engine sends the step.
Its key watcher asks the writer too, which holds the run's key ledger. The run-wide limits (--max-fail-percent,
--max-auth-failures, Ctrl-C) are the writer's: it refuses a start once one is reached, and tells running hosts
to start no new step after a Ctrl-C (the control word, read by _ControlWatch).

A message is {"kind", "host", "channel", "n", …}: `channel` is one attempt at a host and `n` counts its messages
(the writer applies a message sent again once). Kinds: start (question: may the host start?), event (an audit
event; a question for step_started), hold and fix_done (the key ledger), retrying (the progress), report (the
host's HostReport), refused (the task could not be run as planned).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from remediate.audit import RUN_FINISHED, RUN_STARTED, STEP_STARTED
from remediate.connector import Connect
from remediate.dispatch.payload import HostTask, Playbooks, reason_in, report_out
from remediate.engine import Engine
from remediate.errors import AuditError
from remediate.plan import PlannedStep
from remediate.pool import Background
from remediate.reasons import Reason
from remediate.results import HostReport, StepResult
from remediate.secret import Redactor, secrets_in
from remediate.transport import credential_secrets

log = logging.getLogger("remediate.worker")

OVER = ("over", "abandon")  # control words after which no question of the run is answered


class RunOver(Exception):
    """The writer no longer answers for this run: it ended, was abandoned (a second Ctrl-C), or cannot be
    reached."""


class HostLink(Protocol):
    """A worker's side of the way to the writer, for one attempt at one host (events.HostChannel over Redis,
    process_worker.PipeLink between local processes)."""

    host: str

    def send(self, kind: str, **body: Any) -> None:
        """A message that needs no answer."""

    def ask(self, kind: str, **body: Any) -> dict[str, Any]:
        """A question; its answer. Raises RunOver when no answer will come."""
        ...

    def heartbeat(self) -> str:
        """This host is still being worked on; the run's control word ("", "finish" or "abandon")."""
        ...

    def follow(self, stop: Callable[[], None]) -> bool:
        """Until gone(): call stop() as soon as the run's control word asks to start no new step. False when
        this link cannot: then heartbeat() is called every heartbeat_s (see run_engine)."""
        ...

    def gone(self) -> None:
        """The host is done (the writer has its report)."""


class RemoteAudit:
    """The engine's audit log on a worker: every event goes to the writer's log (redacted here first, unless
    the writer holds the run's secrets itself, so no secret leaves the worker in an event); `step_started`
    returns only once the writer has written it."""

    path = Path("controller")  # the report's audit_path: the log is the writer's

    def __init__(self, link: HostLink, redactor: Redactor | None) -> None:
        self.link = link
        self.redactor = redactor

    def record(self, event_type: str, **fields: Any) -> dict[str, Any]:
        if event_type in (RUN_STARTED, RUN_FINISHED):
            return {}  # the run is the writer's: it records its start and end
        body = self.redactor.value(fields) if self.redactor is not None else fields
        if event_type != STEP_STARTED:
            self.link.send("event", type=event_type, fields=body)
            return {"type": event_type, **body}
        try:
            answer = self.link.ask("event", type=event_type, fields=body)
        except RunOver as error:
            raise AuditError(f"step {fields.get('step')} not sent: {error}") from error
        if not answer.get("ok"):
            raise AuditError(f"step {fields.get('step')} not sent: {answer.get('why')}")
        return {"type": event_type, **body}

    # The engine's group commit is the writer's: it syncs a step_started before it answers, and a changing
    # step's result before its next answer.
    def append(self, event_type: str, **fields: Any) -> dict[str, Any]:
        return self.record(event_type, **fields)

    def sync(self, seq: int | None = None) -> None:
        """Nothing to wait for here (see append)."""


class RemoteKeys:
    """engine.KeyWatcher on a worker: the run's key ledger is the writer's."""

    def __init__(self, link: HostLink) -> None:
        self.link = link

    def hold(self, host: str, step: PlannedStep) -> Reason | None:
        try:
            answer = self.link.ask("hold", step=step.id)
        except RunOver as error:
            raise AuditError(f"step {step.id} not sent: {error}") from error
        return reason_in(answer["reason"]) if answer.get("reason") else None

    def fix_done(self, host: str, step: PlannedStep, result: StepResult) -> None:
        self.link.send("fix_done", step=step.id, ok=result.ok,
                       hresult=str(result.hresult) if result.hresult is not None else None)


class RemoteObserver:
    """engine.Observer on a worker: the writer shows the progress; a retry is what only the worker sees."""

    def __init__(self, link: HostLink) -> None:
        self.link = link

    def host_started(self, host: str) -> None:
        pass  # the writer shows it when it grants the start

    def host_retrying(self, host: str, what: str, attempt: int, attempts: int | None) -> None:
        self.link.send("retrying", what=what, attempt=attempt, attempts=attempts)

    def host_finished(self, report: HostReport) -> None:
        pass  # the writer shows it when the report comes


class _ControlWatch(threading.Thread):
    """Tells the writer the host is still being worked on; passes the writer's Ctrl-C on to the engine."""

    def __init__(self, link: HostLink, engine: Engine, every_s: float) -> None:
        super().__init__(name=f"heartbeat {link.host}", daemon=True)
        self.link = link
        self.engine = engine
        self.every_s = every_s
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                control = self.link.heartbeat()
            except RunOver:
                control = "abandon"
            if control in ("finish", *OVER):
                self.engine.request_stop()  # start no new step; the step in flight finishes and is recorded
            self.done.wait(self.every_s)


def run_engine(link: HostLink, task: HostTask, connect: Connect, playbooks: Playbooks, heartbeat_s: float | None,
               closing: Background | None = None, *, redact: bool = True) -> None:
    """Run one host whose start the writer granted, every event and the report sent over `link`. heartbeat_s:
    how often link.heartbeat() is called, for a link that cannot follow the control word itself (None: it can,
    see HostLink.follow). closing: where its session is closed, off the host's critical path (the caller waits
    for it); None: before this returns.
    redact: mask the host's secrets in what is sent; False only when the writer is a process of this run that
    has every secret already (it sent them) and redacts what it writes and shows, as a local run does."""
    host_plan = task.host_plan
    redactor = None
    if redact:
        secrets = [found for step in host_plan.steps for found in secrets_in(step.parameters)]
        redactor = Redactor([*secrets, *credential_secrets(task.credentials)])
    # The run-wide limits are the writer's; this engine runs one host.
    options = dataclasses.replace(task.options, forks=1, max_fail_percent=None, max_auth_failures=None)
    engine = Engine(connect, RemoteAudit(link, redactor), options,
                    observer=RemoteObserver(link), on_interrupt=lambda interruption: None,
                    claimed_by=playbooks.find, keys=RemoteKeys(link) if task.key_watch else None, closing=closing)
    watch = None
    if not link.follow(engine.request_stop):
        assert heartbeat_s is not None, "a link that cannot follow the control word needs a heartbeat"
        watch = _ControlWatch(link, engine, heartbeat_s)
    if link.heartbeat() in ("finish", *OVER):
        engine.request_stop()
    if watch is not None:
        watch.start()
    try:
        report = engine.run_hosts([host_plan], code=str(host_plan.playbook.code))
        sent = report_out(report.hosts[0])
        link.send("report", report=redactor.value(sent) if redactor is not None else sent)
    except AuditError as error:  # the writer gave the host up (lost, abandoned): it recorded the outcome
        log.warning("%s: %s", host_plan.label, error)
    finally:
        if watch is not None:
            watch.done.set()
            watch.join()
        link.gone()
