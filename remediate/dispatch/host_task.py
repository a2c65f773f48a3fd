"""What a worker does with one delivery of `remediate.run_host`: open the sealed task, ask the controller for
the host's one start, run the engine on it with an audit sink that streams every event to the controller, and
send the host's report.

The engine is the one a local run uses, for one host: its audit log is a RemoteAudit, which forwards each event
and, for `step_started`, waits until the controller has written it to the audit log before the engine sends the
step. Its key watcher asks the controller too, which holds the run's key ledger. The run-wide limits
(--max-fail-percent, --max-auth-failures, Ctrl-C) are the controller's: it refuses a start once one is reached,
and tells running hosts to start no new step after a Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from remediate.audit import RUN_FINISHED, RUN_STARTED, STEP_STARTED
from remediate.dispatch.events import HEARTBEAT_S, OVER, BrokerLost, HostChannel, RunOver
from remediate.dispatch.payload import HostTask, PayloadError, reason_in, report_out, task_in
from remediate.dispatch.secrets import RunKey, SealError
from remediate.engine import Engine
from remediate.errors import AuditError, RemediateError
from remediate.live import connector
from remediate.plan import PlannedStep
from remediate.playbook import PlaybookLibrary
from remediate.reasons import Reason
from remediate.results import StepResult
from remediate.secret import Redactor, secrets_in
from remediate.transport import credential_secrets

log = logging.getLogger("remediate.worker")


@dataclass(frozen=True)
class WorkerContext:
    """What every task of a worker shares."""

    client: redis.Redis
    library: PlaybookLibrary
    dispatch_key: bytes
    name: str  # site@host:pid
    site: str
    scripts: dict[str, str] = field(default_factory=dict)  # sha256 -> script, as fetched (checked by task_in)

    def script(self, channel: HostChannel, sha256: str) -> str | None:
        found = self.scripts.get(sha256)
        if found is None:
            found = channel.script(sha256)
            if found is not None and hashlib.sha256(found.encode("utf-8")).hexdigest() == sha256:
                self.scripts[sha256] = found
        return found


class RemoteAudit:
    """The engine's audit log on a worker: every event goes to the controller's log (redacted here first, so no
    secret reaches the broker); `step_started` returns only once the controller has written it."""

    path = Path("controller")  # the report's audit_path: the log is the controller's

    def __init__(self, channel: HostChannel, redactor: Redactor) -> None:
        self.channel = channel
        self.redactor = redactor

    def append(self, event_type: str, **fields: Any) -> dict[str, Any]:
        return self.record(event_type, **fields)

    def sync(self, seq: int | None = None) -> None:
        """Nothing to wait for: `step_started` returns only once the controller has written it."""

    def record(self, event_type: str, **fields: Any) -> dict[str, Any]:
        if event_type in (RUN_STARTED, RUN_FINISHED):
            return {}  # the run is the controller's: it records its start and end
        body = self.redactor.value(fields)
        if event_type != STEP_STARTED:
            self.channel.send("event", type=event_type, fields=body)
            return {"type": event_type, **body}
        try:
            answer = self.channel.ask("event", type=event_type, fields=body)
        except (RunOver, BrokerLost) as error:
            raise AuditError(f"step {fields.get('step')} not sent: {error}") from error
        if not answer.get("ok"):
            raise AuditError(f"step {fields.get('step')} not sent: {answer.get('why')}")
        return {"type": event_type, **body}


class RemoteKeys:
    """engine.KeyWatcher on a worker: the run's key ledger is the controller's."""

    def __init__(self, channel: HostChannel) -> None:
        self.channel = channel

    def hold(self, host: str, step: PlannedStep) -> Reason | None:
        try:
            answer = self.channel.ask("hold", step=step.id)
        except (RunOver, BrokerLost) as error:
            raise AuditError(f"step {step.id} not sent: {error}") from error
        return reason_in(answer["reason"]) if answer.get("reason") else None

    def fix_done(self, host: str, step: PlannedStep, result: StepResult) -> None:
        self.channel.send("fix_done", step=step.id, ok=result.ok,
                          hresult=str(result.hresult) if result.hresult is not None else None)


class _Heartbeat(threading.Thread):
    """Renews the host's alive key; passes the controller's Ctrl-C on to the engine."""

    def __init__(self, channel: HostChannel, engine: Engine) -> None:
        super().__init__(name=f"heartbeat {channel.host}", daemon=True)
        self.channel = channel
        self.engine = engine
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                control = self.channel.heartbeat()
            except BrokerLost:
                control = "abandon"
            if control in ("finish", *OVER):
                self.engine.request_stop()  # start no new step; the step in flight finishes and is recorded
            self.done.wait(HEARTBEAT_S)


def run_host(context: WorkerContext, run_id: str, sealed: str) -> None:
    """One delivery of a host's task."""
    try:
        data = RunKey(context.dispatch_key, run_id).open(sealed)
    except SealError as error:
        log.error("run %s: task refused: %s", run_id, error)
        return
    channel = HostChannel(context.client, run_id, str(data["label"]), context.name)
    try:
        if channel.control() in OVER:
            return  # delivered again after the run ended
        try:
            task = task_in(data, context.library, lambda sha256: context.script(channel, sha256))
        except (PayloadError, RemediateError, KeyError, TypeError, ValueError) as error:
            channel.ask("refused", site=context.site, message=str(error))
            return
        if not channel.ask("start", site=context.site).get("go"):
            return  # another delivery has it, or the run stopped starting hosts (the controller recorded why)
        _run_engine(context, channel, task)
    except (RunOver, BrokerLost) as error:
        log.warning("run %s: %s: %s", run_id, channel.host, error)


def _run_engine(context: WorkerContext, channel: HostChannel, task: HostTask) -> None:
    host_plan = task.host_plan
    secrets = [found for step in host_plan.steps for found in secrets_in(step.parameters)]
    redactor = Redactor([*secrets, *credential_secrets(task.credentials)])
    # The run-wide limits are the controller's; this engine runs one host.
    options = dataclasses.replace(task.options, forks=1, max_fail_percent=None, max_auth_failures=None)
    engine = Engine(connector(task.connection, task.credentials), RemoteAudit(channel, redactor),
                    options, on_interrupt=lambda interruption: None, claimed_by=context.library.find,
                    keys=RemoteKeys(channel) if task.key_watch else None)
    beat = _Heartbeat(channel, engine)
    channel.heartbeat()
    beat.start()
    try:
        report = engine.run_hosts([host_plan], code=str(host_plan.playbook.code))
        channel.send("report", report=redactor.value(report_out(report.hosts[0])))
    except AuditError as error:  # the controller gave the host up (lost, abandoned): it recorded the outcome
        log.warning("%s: %s", host_plan.label, error)
    finally:
        beat.done.set()
        beat.join()
        channel.gone()
