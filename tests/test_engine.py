"""The engine against sandbox hosts over real WinRM: outcomes, retries, concurrency, interruption, audit."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests.adapters
from reason_text import english_left, has_japanese
from rich.console import Console

from remediate import audit
from remediate.audit import AuditLog
from remediate.codes import ErrorCode
from remediate.engine import Engine, EngineOptions, HostRun
from remediate.expressions import evaluate_condition
from remediate.i18n import in_language
from remediate.inventory import Host
from remediate.plan import HostPlan, Plan, PlannedStep
from remediate.playbook import Escalation, Playbook, RetryPolicy, Text
from remediate.productkey import ProductKey
from remediate.report import print_summary, to_json
from remediate.results import HostReport, Outcome, RunReport, StepRecord, StepResult, StepStatus
from remediate.sandbox.faults import TransportFaults
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.seam import ErrorRecord, NativeOutcome, PipelineOutcome, PipelineRequest
from remediate.secret import Redactor, Secret
from remediate.transport import ConnectionOptions, Credentials, Session

PASSWORD = "Sbx-engine-tests-9a"  # one password for every fleet of the process (the NTLM user file is shared)
KEY = "NPPR9-FWDCX-D2C8J-H872K-2YT43"
F074 = "0xC004F074"
C008 = "0xC004C008"
BUSY = "0xC004E028"


@dataclass
class Machine:
    """The licence state of one emulated host, changed by the fix scripts the way Windows would."""

    licensed: bool = False
    code: str = F074
    fixable: bool = True
    busy_times: int = 0  # activation answers BUSY this many times first
    slow_fix_s: float = 0.0  # the fix takes this long (a step timeout fires)
    slow_times: int = 1
    skew_minutes: int = 0
    on_fix: Any = None  # called as a fix script arrives, before it runs
    calls: list[str] = field(default_factory=list)
    parameters: list[dict[str, Any]] = field(default_factory=list)


def answer(**fields: Any) -> PipelineOutcome:
    base: dict[str, Any] = {"ok": True, "hresult": None, "license_status": 1, "changed": False, "output": ""}
    base.update(fields)
    return PipelineOutcome(output=[json.dumps(base)])


class MachineEngine:
    """Runs behaviour names as scripts against a Machine."""

    def __init__(self, computer_name: str, machine: Machine) -> None:
        self.computer_name = computer_name
        self.machine = machine
        self.lock = threading.Lock()

    def invoke_pipeline(self, request: PipelineRequest) -> PipelineOutcome:
        command = request.commands[0]
        if not command.is_script and command.text == "Write-Output":  # as PowerShell's Write-Output -InputObject
            return PipelineOutcome(output=[value for _, value in command.parameters])
        behaviour = command.text.strip()
        m = self.machine
        with self.lock:
            m.calls.append(behaviour)
            m.parameters.append({name: value for name, value in command.parameters if name})
        if behaviour in ("detect", "verify"):
            if m.licensed:
                return answer()
            return answer(ok=False, hresult=ErrorCode.parse(m.code).signed, license_status=5)
        if behaviour == "clock":
            return answer(data={"skew_minutes": m.skew_minutes})
        if behaviour == "fix":
            if m.on_fix is not None:
                m.on_fix()
            if m.fixable:
                m.licensed = True
            return answer(changed=True, output=f"Installed product key {command.parameters}")
        if behaviour == "fix-broken":
            return answer(ok=False, hresult=ErrorCode.parse(m.code).unsigned, changed=False)
        if behaviour == "activate":
            if m.busy_times > 0:
                m.busy_times -= 1
                return answer(ok=False, hresult=BUSY)
            m.licensed = m.fixable
            return answer(ok=m.fixable, hresult=None if m.fixable else m.code, changed=True)
        if behaviour == "slow-fix":
            if m.slow_times > 0:
                m.slow_times -= 1
                time.sleep(m.slow_fix_s)
            m.licensed = True
            return answer(changed=True)
        if behaviour == "escalate":
            return answer(data={"event_12288": m.code})
        if behaviour == "throw":
            return PipelineOutcome(state="Failed", failure=ErrorRecord("Access is denied."))
        return PipelineOutcome(state="Failed", failure=ErrorRecord(f"unknown behaviour {behaviour}"))

    def run_native(self, command: str, arguments: list[str]) -> NativeOutcome:
        return NativeOutcome()


def step(step_id: str, phase: str, script: str | None = None, **extra: Any) -> PlannedStep:
    text = script or step_id
    parameters = extra.pop("parameters", {})
    return PlannedStep(
        id=step_id,
        phase=phase,
        template=f"{step_id}.ps1.j2",
        description=Text(step_id, step_id),
        script=text,
        script_sha256=hashlib.sha256(text.encode()).hexdigest(),
        parameters=parameters,
        display_parameters={name: str(value) for name, value in parameters.items()},
        **extra,
    )


STANDARD = (
    step("detect", "detect"),
    step("fix", "fix", parameters={"ProductKey": ProductKey.parse(KEY)}),
    step("verify", "verify"),
    step("escalate", "escalate"),
)


def playbook(when: str = "on_failure", on_hresult: tuple[str, ...] = ()) -> Playbook:
    return Playbook(
        code=ErrorCode.parse(F074),
        title=Text("t", "t"),
        summary=Text("s", "s"),
        parameters={},
        steps=(),
        escalate=Escalation(
            when=when,
            guidance=Text("Call the licensing desk", "ライセンス窓口に連絡してください"),
            on_hresult=tuple(ErrorCode.parse(code) for code in on_hresult),
        ),
        source=Path("0xC004F074.yaml"),
        sha256="0" * 64,
    )


class Lab:
    """A fleet of machines and a way to run a plan over them."""

    def __init__(
        self, machines: dict[str, Machine], faults: dict[str, TransportFaults] | None = None
    ) -> None:
        faults = faults or {}
        specs = [
            HostSpec(name, MachineEngine(name, machine), faults.get(name, TransportFaults()))
            for name, machine in machines.items()
        ]
        self.machines = machines
        self.fleet = Fleet.start(specs, auth="ntlm", password=PASSWORD)
        self.hosts = {
            endpoint.computer_name: Host(endpoint.address, endpoint.port, {"scheme": "http", "auth": "ntlm"})
            for endpoint in self.fleet.endpoints
        }
        self.credentials = Credentials(self.fleet.username, Secret(PASSWORD))
        self.connection = ConnectionOptions(connection_timeout=3, operation_timeout=1, receive_backoff=0.01)

    def plan(self, steps: tuple[PlannedStep, ...] = STANDARD, book: Playbook | None = None) -> Plan:
        book = book or playbook()
        host_plans = tuple(
            HostPlan(host=host, label=name, playbook=book, steps=steps) for name, host in self.hosts.items()
        )
        return Plan(code=book.code, playbook=book, hosts=host_plans)

    def run(
        self,
        path: Path,
        plan: Plan | None = None,
        engine_options: EngineOptions | None = None,
        **options: Any,
    ) -> tuple[RunReport, Engine]:
        options.setdefault("backoff_initial_s", 0.01)
        options.setdefault("backoff_max_s", 0.05)
        engine_options = engine_options or EngineOptions(**options)
        with AuditLog(path, Redactor([Secret(PASSWORD)])) as log:
            engine = Engine(
                lambda host: Session(host, self.connection, self.credentials), log, engine_options
            )
            return engine.run(plan or self.plan(), arguments=["run", F074]), engine


@pytest.fixture
def lab_factory() -> Iterator[Any]:
    labs: list[Lab] = []

    def make(machines: dict[str, Machine], faults: dict[str, TransportFaults] | None = None) -> Lab:
        labs.append(Lab(machines, faults))
        return labs[-1]

    yield make
    for lab in labs:
        lab.fleet.stop()


def outcomes(report: RunReport) -> dict[str, str]:
    return {host.host: host.outcome.value for host in report.hosts}


def test_each_host_is_decided_by_the_rules(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory(
        {
            "HEALTHY": Machine(licensed=True),
            "FIXABLE": Machine(),
            "STUCK": Machine(fixable=False),
        }
    )
    report, _ = lab.run(tmp_path / "audit.jsonl")
    assert outcomes(report) == {"HEALTHY": "healthy", "FIXABLE": "fixed", "STUCK": "failed"}
    assert lab.machines["HEALTHY"].calls == ["detect"]  # a healthy host is never changed
    assert lab.machines["FIXABLE"].calls == ["detect", "fix", "verify"]
    assert lab.machines["STUCK"].calls == ["detect", "fix", "verify", "escalate"]
    by_host = {host.host: host for host in report.hosts}
    assert str(by_host["FIXABLE"].code_before) == F074 and by_host["FIXABLE"].code_after is None
    assert str(by_host["STUCK"].code_after) == F074
    assert report.exit_category.value == "failed"
    # The key reached the host in full, as a parameter...
    assert lab.machines["FIXABLE"].parameters[1] == {"ProductKey": KEY}
    # ...and appears nowhere in the audit log.
    text = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert KEY not in text and PASSWORD not in text and "2YT43" in text


def test_the_audit_log_records_every_step_and_verifies(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"A": Machine(), "B": Machine(licensed=True)})
    path = tmp_path / "audit.jsonl"
    report, _ = lab.run(path)
    assert audit.verify(path).ok
    events = audit.read_events(path)
    types = [event["type"] for event in events]
    assert types[0] == audit.RUN_STARTED and types[-1] == audit.RUN_FINISHED
    steps = [(event["host"], event["step"]) for event in events if event["type"] == audit.STEP]
    assert sorted(steps) == sorted([("A", "detect"), ("A", "fix"), ("A", "verify"), ("B", "detect")])
    fix = next(event for event in events if event["type"] == audit.STEP and event.get("step") == "fix")
    assert fix["script_sha256"] == hashlib.sha256(b"fix").hexdigest() and fix["changed"] is True
    # Write-ahead: the change was announced before it was sent, and only the change was.
    announced = [index for index, event in enumerate(events) if event["type"] == audit.STEP_STARTED]
    assert [(events[index]["host"], events[index]["step"]) for index in announced] == [("A", "fix")]
    assert announced[0] < events.index(fix)
    (run,) = audit.show(path)
    assert {host: fields["outcome"] for host, fields in run.hosts.items()} == outcomes(report)


def test_a_change_is_on_disk_before_the_host_receives_it_and_reads_are_fsynced_in_batches(
    lab_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    synced: list[int] = []  # the log's size at each fsync
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        size = os.fstat(fd).st_size
        real_fsync(fd)
        synced.append(size)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(audit, "GROUP_COMMIT_S", 30.0)  # reads wait for a later fsync, never for this one
    on_disk_when_fix_arrived: list[int] = []
    lab = lab_factory({"A": Machine(on_fix=lambda: on_disk_when_fix_arrived.append(max(synced, default=0)))})
    lab.run(path)
    data = path.read_bytes()
    announced = next(line for line in data.splitlines(keepends=True) if b'"type":"step_started"' in line)
    assert on_disk_when_fix_arrived[0] >= data.index(announced) + len(announced)
    events = audit.read_events(path)
    assert audit.verify(path).ok and len(synced) < len(events)


def test_a_worker_takes_its_next_host_while_the_last_ones_shell_closes(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"A": Machine(licensed=True), "B": Machine(licensed=True)},
                      {"A": TransportFaults(latency_ms=300)})
    shells_of_a_when_b_started: list[int] = []

    class Watch:
        def host_started(self, host: str) -> None:
            if host == "B":
                shells_of_a_when_b_started.append(lab.fleet.shell_count("A"))

        def host_finished(self, report: HostReport) -> None:
            pass

    with AuditLog(tmp_path / "a.jsonl") as log:
        engine = Engine(lambda host: Session(host, lab.connection, lab.credentials), log, EngineOptions(forks=1),
                        observer=Watch())
        report = engine.run(lab.plan((step("detect", "detect"),)))
    assert outcomes(report) == {"A": "healthy", "B": "healthy"}
    assert shells_of_a_when_b_started == [1]  # A's Delete was still on its way
    assert lab.fleet.shell_count("A") == 0 and lab.fleet.shell_count("B") == 0  # the run waited for both


def test_escalate_always_collects_facts_and_escalates(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"A": Machine(code=C008)})
    report, _ = lab.run(tmp_path / "a.jsonl", plan=lab.plan(book=playbook(when="always")))
    (host,) = report.hosts
    assert host.outcome is Outcome.ESCALATE and host.guidance == "Call the licensing desk"
    assert lab.machines["A"].calls == ["detect", "escalate"]  # nothing is changed
    assert report.exit_category.value == "escalate"


def test_a_listed_code_after_the_fix_escalates_instead_of_failing(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"A": Machine(code=C008)})
    steps = (
        step("detect", "detect"),
        step("fix-broken", "fix"),
        step("verify", "verify"),
        step("escalate", "escalate"),
    )
    report, _ = lab.run(tmp_path / "a.jsonl", plan=lab.plan(steps, playbook(on_hresult=(C008,))))
    (host,) = report.hosts
    assert host.outcome is Outcome.ESCALATE and str(host.code_after) == C008
    # A fix that reports ok: false stops the fixes, verify still runs, then escalate collects facts.
    assert lab.machines["A"].calls == ["detect", "fix-broken", "verify", "escalate"]


def test_a_declared_retry_on_hresult_runs_the_step_again(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"A": Machine(busy_times=2)})
    retry = RetryPolicy(attempts=3, delay_s=0.01, on_hresult=(ErrorCode.parse(BUSY),))
    steps = (
        step("detect", "detect"),
        step("activate", "fix", idempotent=True, retry=retry),
        step("verify", "verify"),
    )
    report, _ = lab.run(tmp_path / "a.jsonl", plan=lab.plan(steps))
    (host,) = report.hosts
    assert host.outcome is Outcome.FIXED
    activate = next(record for record in host.steps if record.id == "activate")
    assert activate.attempts == 3 and len(activate.durations) == 3
    assert lab.machines["A"].calls.count("activate") == 3


def test_retries_stop_at_the_declared_attempts(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"A": Machine(busy_times=10)})
    retry = RetryPolicy(attempts=2, delay_s=0.0, on_hresult=(ErrorCode.parse(BUSY),))
    steps = (
        step("detect", "detect"),
        step("activate", "fix", idempotent=True, retry=retry),
        step("verify", "verify"),
    )
    report, _ = lab.run(tmp_path / "a.jsonl", plan=lab.plan(steps))
    assert report.hosts[0].outcome is Outcome.FAILED
    assert lab.machines["A"].calls.count("activate") == 2


def test_only_if_decides_at_run_time(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"SKEWED": Machine(skew_minutes=300), "ONTIME": Machine(skew_minutes=3)})
    steps = (
        step("detect", "detect"),
        step("clock", "detect"),
        step("resync", "fix", script="fix", only_if="steps['clock'].data.skew_minutes > 240"),
        step("missing", "fix", script="fix", only_if="steps['nope'].data.x > 1"),
        step("verify", "verify"),
    )
    report, _ = lab.run(tmp_path / "a.jsonl", plan=lab.plan(steps))
    assert outcomes(report) == {"SKEWED": "fixed", "ONTIME": "failed"}
    ontime = {record.id: record for record in report.hosts[1].steps}
    assert ontime["resync"].status is StepStatus.SKIPPED and "false" in (ontime["resync"].note or "")
    assert ontime["missing"].status is StepStatus.SKIPPED and "could not be evaluated" in (
        ontime["missing"].note or ""
    )
    assert lab.machines["ONTIME"].calls == ["detect", "clock", "verify"]


def requests_of(lab: Lab, path: Path, steps: tuple[PlannedStep, ...], monkeypatch: pytest.MonkeyPatch) -> int:
    sent: list[str] = []
    real_send = requests.adapters.HTTPAdapter.send

    def counting_send(adapter: Any, request: Any, **options: Any) -> Any:
        sent.append(request.url)
        return real_send(adapter, request, **options)

    with monkeypatch.context() as patch:
        patch.setattr(requests.adapters.HTTPAdapter, "send", counting_send)
        lab.run(path, plan=lab.plan(steps))
    return len(sent)


def test_the_read_only_steps_of_a_phase_cost_one_invocation_and_are_each_recorded(
    lab_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = lab_factory({"A": Machine(licensed=True)})
    one = requests_of(lab, tmp_path / "one.jsonl", (step("detect", "detect"),), monkeypatch)
    three = (step("detect", "detect"), step("clock", "detect"), step("facts", "detect", script="escalate"))
    path = tmp_path / "three.jsonl"
    assert requests_of(lab, path, three, monkeypatch) == one
    assert lab.machines["A"].calls == ["detect", "detect", "clock", "escalate"]
    recorded = [event for event in audit.read_events(path) if event["type"] == audit.STEP]
    assert [(event["step"], event["ok"], event["attempt"]) for event in recorded] == [
        ("detect", True, 1), ("clock", True, 1), ("facts", True, 1)
    ]
    assert recorded[1]["data"] == {"skew_minutes": 0}


def test_a_step_that_throws_in_an_invocation_hides_no_other_result(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"A": Machine(licensed=True)})
    steps = (step("detect", "detect"), step("broken", "detect", script="throw"), step("clock", "detect"))
    report, _ = lab.run(tmp_path / "a.jsonl", plan=lab.plan(steps))
    (host,) = report.hosts
    by_id = {record.id: record for record in host.steps}
    assert by_id["detect"].result is not None and by_id["detect"].result.ok
    assert by_id["broken"].note == "Access is denied." and by_id["broken"].error_kind == "script"
    assert by_id["clock"].result is not None and by_id["clock"].result.data == {"skew_minutes": 0}
    assert lab.machines["A"].calls == ["detect", "throw", "clock"]  # the step after the throw was sent again alone


def test_conditions_cannot_reach_outside_the_sandbox() -> None:
    results = {"clock": StepResult(ok=True, data={"skew_minutes": 5})}
    assert evaluate_condition("steps['clock'].data.skew_minutes < 10", results)
    with pytest.raises(Exception, match=r"unsafe|undefined|attribute"):
        evaluate_condition("steps.__class__.__mro__", results)


def test_an_unreachable_host_is_reported_and_others_go_on(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory(
        {"DOWN": Machine(), "UP": Machine()}, {"DOWN": TransportFaults(refuse_connections=True)}
    )
    report, _ = lab.run(tmp_path / "a.jsonl", transient_attempts=2)
    assert outcomes(report) == {"DOWN": "unreachable", "UP": "fixed"}
    assert "refused" in report.hosts[0].reason
    assert report.exit_category.value == "failed"


def test_no_host_reached_is_its_own_exit(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"A": Machine()}, {"A": TransportFaults(unauthorized=True)})
    report, _ = lab.run(tmp_path / "a.jsonl")
    assert outcomes(report) == {"A": "auth-failed"} and "auth" in report.hosts[0].reason
    assert report.exit_category.value == "unreachable"


def test_refused_credentials_stop_the_run_before_the_account_locks_out(lab_factory: Any, tmp_path: Path) -> None:
    names = [f"H{number}" for number in range(6)]
    lab = lab_factory({name: Machine() for name in names}, {name: TransportFaults(unauthorized=True) for name in names})
    path = tmp_path / "a.jsonl"
    report, _ = lab.run(path, forks=1, max_auth_failures=3)
    assert list(outcomes(report).values()) == ["auth-failed"] * 3 + ["skipped"] * 3
    assert "--max-auth-failures" in report.hosts[3].reason
    assert report.exit_category.value == "unreachable"  # exit 3
    started = [event["host"] for event in audit.read_events(path) if event["type"] == audit.HOST_STARTED]
    assert started == names[:3]  # no logon was tried on the others


def test_a_host_past_its_deadline_ends_without_holding_the_run(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"STUCK": Machine(slow_fix_s=30), "QUICK": Machine()})
    steps = (step("detect", "detect"), step("slow-fix", "fix", timeout_s=60), step("verify", "verify"))
    began = time.monotonic()
    report, _ = lab.run(tmp_path / "a.jsonl", plan=lab.plan(steps), forks=1, host_timeout_s=1.5)
    assert time.monotonic() - began < 15
    by_host = {host.host: host for host in report.hosts}
    # The change was sent: the host is not called unreachable, and nothing claims it is unchanged.
    assert by_host["STUCK"].outcome is Outcome.FAILED
    assert by_host["STUCK"].reason.startswith("deadline: no outcome within 1.5 s (--host-timeout)")
    assert "state unknown" in by_host["STUCK"].reason
    assert by_host["QUICK"].outcome is Outcome.FIXED  # its worker was freed for it
    (run,) = audit.show(tmp_path / "a.jsonl")
    assert run.hosts["STUCK"]["outcome"] == "failed" and run.hosts["QUICK"]["outcome"] == "fixed"


def test_wait_for_winrm_waits_for_a_booting_host(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"BOOTING": Machine()}, {"BOOTING": TransportFaults(not_up_for_s=1.0)})
    report, _ = lab.run(tmp_path / "a.jsonl", wait_for_winrm_s=10, backoff_initial_s=0.1, backoff_max_s=0.3)
    assert outcomes(report) == {"BOOTING": "fixed"}


def test_transient_faults_on_read_only_steps_are_retried(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"FLAKY": Machine()}, {"FLAKY": TransportFaults(http_5xx_first=2)})
    report, _ = lab.run(tmp_path / "a.jsonl", transient_attempts=4)
    assert outcomes(report) == {"FLAKY": "fixed"}


def test_a_fault_during_a_changing_step_is_never_retried(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"A": Machine(slow_fix_s=2.5)})
    steps = (step("detect", "detect"), step("slow-fix", "fix", timeout_s=1.0), step("verify", "verify"))
    report, _ = lab.run(tmp_path / "a.jsonl", plan=lab.plan(steps))
    (host,) = report.hosts
    assert host.outcome is Outcome.FAILED and "not retried" in host.reason
    assert lab.machines["A"].calls.count("slow-fix") == 1
    fix = next(record for record in host.steps if record.id == "slow-fix")
    assert fix.status is StepStatus.ERROR and fix.error_kind == "timeout" and fix.attempts == 1


def test_the_same_fault_on_an_idempotent_step_is_retried(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"A": Machine(slow_fix_s=2.5)})
    steps = (
        step("detect", "detect"),
        step("slow-fix", "fix", timeout_s=1.0, idempotent=True),
        step("verify", "verify"),
    )
    report, _ = lab.run(tmp_path / "a.jsonl", plan=lab.plan(steps))
    assert report.hosts[0].outcome is Outcome.FIXED
    assert lab.machines["A"].calls.count("slow-fix") == 2


def test_concurrency_is_bounded_by_forks(lab_factory: Any, tmp_path: Path) -> None:
    machines = {f"H{n:02d}": Machine() for n in range(8)}
    lab = lab_factory(machines)
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    class Counting:
        def host_started(self, host: str) -> None:
            nonlocal in_flight, peak
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)

        def host_finished(self, report: Any) -> None:
            nonlocal in_flight
            with lock:
                in_flight -= 1

    with AuditLog(tmp_path / "a.jsonl") as log:
        engine = Engine(
            lambda host: Session(host, lab.connection, lab.credentials),
            log,
            EngineOptions(forks=3),
            observer=Counting(),
        )
        report = engine.run(lab.plan())
    assert set(outcomes(report).values()) == {"fixed"}
    assert 1 <= peak <= 3
    assert all(lab.fleet.shell_count(name) == 0 for name in machines)  # every pool was closed


def test_max_fail_percent_stops_starting_new_hosts(lab_factory: Any, tmp_path: Path) -> None:
    machines = {f"H{n}": Machine(fixable=False) for n in range(5)}
    lab = lab_factory(machines)
    report, _ = lab.run(tmp_path / "a.jsonl", forks=1, max_fail_percent=10)
    values = list(outcomes(report).values())
    assert values[0] == "failed" and values[1:] == ["skipped"] * 4
    assert report.stopped_early and report.exit_category.value == "failed"


def test_a_stop_request_finishes_in_flight_steps_and_starts_nothing(lab_factory: Any, tmp_path: Path) -> None:
    machines = {f"H{n}": Machine(slow_fix_s=0.8, slow_times=1) for n in range(4)}
    lab = lab_factory(machines)
    steps = (step("detect", "detect"), step("slow-fix", "fix", timeout_s=10), step("verify", "verify"))
    path = tmp_path / "a.jsonl"
    with AuditLog(path) as log:
        engine = Engine(
            lambda host: Session(host, lab.connection, lab.credentials), log, EngineOptions(forks=1)
        )
        threading.Timer(0.4, engine.request_stop).start()
        report = engine.run(lab.plan(steps))
    assert report.interrupted and report.exit_category.value == "interrupted"
    first = report.hosts[0]
    # The fix in flight finished and was recorded; verify was not started.
    assert [record.id for record in first.steps] == ["detect", "slow-fix"] and first.outcome is Outcome.FAILED
    assert [host.outcome for host in report.hosts[1:]] == [Outcome.SKIPPED] * 3
    assert audit.verify(path).ok
    assert audit.read_events(path)[-1]["interrupted"] is True


@pytest.mark.parametrize(
    ("steps", "outcome", "why", "ran"),
    [
        (
            (step("slow-detect", "detect", "slow-fix"), step("fix", "fix"), step("verify", "verify")),
            Outcome.SKIPPED,
            "interrupted during detect: nothing was changed",
            ["slow-fix"],
        ),
        (
            (step("detect", "detect"), step("slow-fix", "fix"), step("second-fix", "fix", "fix")),
            Outcome.FAILED,
            "interrupted before fix step second-fix: not verified",
            ["detect", "slow-fix"],
        ),
        (
            (step("detect", "detect"), step("fix", "fix"), step("slow-verify", "verify", "slow-fix")),
            Outcome.FAILED,
            "interrupted during verify: not verified",
            ["detect", "fix", "slow-fix"],
        ),
    ],
    ids=["during-detect", "between-fixes", "during-verify"],
)
def test_a_stop_request_tells_where_the_host_stopped_and_whether_it_was_changed(
    lab_factory: Any, tmp_path: Path, steps: tuple[PlannedStep, ...], outcome: Outcome, why: str, ran: list[str]
) -> None:
    lab = lab_factory({"A": Machine(slow_fix_s=0.8)})
    with AuditLog(tmp_path / "a.jsonl") as log:
        engine = Engine(lambda host: Session(host, lab.connection, lab.credentials), log, EngineOptions())
        threading.Timer(0.4, engine.request_stop).start()  # while the slow step runs
        report = engine.run(lab.plan(steps))
    (host,) = report.hosts
    assert (host.outcome, host.reason) == (outcome, why)
    assert lab.machines["A"].calls == ran  # the step in flight finished; nothing began after the stop
    japanese = host.reason_in("ja")
    assert has_japanese(japanese) and not english_left(japanese)


def test_without_verify_steps_a_failed_fix_is_not_reported_fixed(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"A": Machine(code=F074)})
    steps = (step("detect", "detect"), step("fix-broken", "fix"))
    report, _ = lab.run(tmp_path / "a.jsonl", plan=lab.plan(steps))
    assert report.hosts[0].outcome is Outcome.FAILED
    assert "fix-broken" in report.hosts[0].reason


def test_a_host_that_cannot_be_logged_on_to_is_not_retried_forever(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"A": Machine()})
    lab.credentials = Credentials(lab.fleet.username, Secret("Wrong-Pass-0"))
    began = time.monotonic()
    report, _ = lab.run(tmp_path / "a.jsonl", transient_attempts=5, backoff_initial_s=1.0)
    assert report.hosts[0].outcome is Outcome.AUTH_FAILED and "auth" in report.hosts[0].reason
    assert time.monotonic() - began < 1.0  # auth failures are not transient: no backoff
    assert "Wrong-Pass-0" not in (tmp_path / "a.jsonl").read_text(encoding="utf-8")


def test_every_reason_a_run_gives_is_told_in_japanese_in_the_summary(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory(
        {"HEALTHY": Machine(licensed=True), "FIXABLE": Machine(), "STUCK": Machine(fixable=False), "DOWN": Machine()},
        {"DOWN": TransportFaults(refuse_connections=True)},
    )
    decided, _ = lab.run(tmp_path / "a.jsonl", transient_attempts=1)
    slow = lab_factory({"SLOW": Machine(slow_fix_s=2.5)})
    steps = (step("detect", "detect"), step("slow-fix", "fix", timeout_s=1.0), step("verify", "verify"))
    faulted, _ = slow.run(tmp_path / "b.jsonl", plan=slow.plan(steps))
    stopped = lab_factory({"FIRST": Machine(slow_fix_s=0.8), "SECOND": Machine()})
    steps = (step("detect", "detect"), step("slow-fix", "fix", timeout_s=10), step("verify", "verify"))
    with AuditLog(tmp_path / "c.jsonl") as log:
        connect = lambda host: Session(host, stopped.connection, stopped.credentials)  # noqa: E731
        engine = Engine(connect, log, EngineOptions(forks=1))
        threading.Timer(0.4, engine.request_stop).start()
        interrupted = engine.run(stopped.plan(steps))
    hosts = [*decided.hosts, *faulted.hosts, *interrupted.hosts]
    assert {host.host: host.why.id for host in hosts if host.why} == {
        "HEALTHY": "healthy",
        "FIXABLE": "fixed",
        "STUCK": "step_failed",
        "DOWN": "connect_failed",
        "SLOW": "transport_fix_not_retried",
        "FIRST": "interrupted_before_verify",
        "SECOND": "not_started_interrupted",
    }
    run = RunReport(code=F074, hosts=hosts)
    buffer = io.StringIO()
    with in_language("ja"):
        print_summary(run, Console(file=buffer, width=250, color_system=None), language="ja")
    summary = buffer.getvalue()
    for host in hosts:
        row = next(line for line in summary.splitlines() if f"│ {host.host} " in line)
        assert has_japanese(row.rstrip("│ ").rsplit("│", 1)[1]), row
    assert english_left(summary) == []
    assert "確認ステップ verify が成功しませんでした (0xC004F074)" in summary  # the step and code stay as they are
    # the transport's words are told in Japanese too
    assert "修正ステップ slow-fix の実行中に通信エラーが発生しました (タイムアウト: " in summary
    # JSON and the audit log keep the English reasons tools and existing readers rely on.
    by_host = {host["host"]: host for host in json.loads(to_json(run))["hosts"]}
    assert by_host["STUCK"]["reason"] == "verify step verify did not succeed (0xC004F074)"
    assert by_host["FIRST"]["reason"] == "interrupted after fixing, before verify: not verified"
    recorded = [event["reason"] for event in audit.read_events(tmp_path / "a.jsonl") if event["type"] == "outcome"]
    assert "every check passed: nothing to fix" in recorded and not any(has_japanese(text) for text in recorded)


def test_a_host_given_up_between_steps_is_never_said_to_be_unchanged_after_a_change(tmp_path: Path) -> None:
    host_plan = HostPlan(host=Host("h.example"), label="h.example", playbook=playbook(), steps=STANDARD)
    with AuditLog(tmp_path / "a.jsonl", Redactor()) as log:
        engine = Engine(lambda host: Session(host, ConnectionOptions(), None), log)
        fresh, after_detect, after_fix = (HostRun(engine, host_plan) for _ in range(3))
        after_detect.records.append(StepRecord(id="detect", phase="detect", status=StepStatus.RAN))
        after_fix.records.extend(StepRecord(id=name, phase=name, status=StepStatus.RAN) for name in ("detect", "fix"))
        after_fix.changed = True  # activate returned; the next step has not begun (or the session is closing)
        assert fresh.abandoned().reason == "abandoned while connecting: nothing was changed"
        assert after_detect.abandoned().reason == "abandoned between steps: nothing was changed"
        changed = after_fix.abandoned()
        assert changed.outcome is Outcome.FAILED and "nothing was changed" not in changed.reason
        after_fix.decided = HostReport(host="h.example", code=F074, outcome=Outcome.FIXED)
        assert after_fix.abandoned().outcome is Outcome.FIXED  # decided: only closing the session was left


def test_a_host_reporting_another_playbooks_code_is_skipped_unless_forced(lab_factory: Any, tmp_path: Path) -> None:
    lab = lab_factory({"OTHER": Machine(code=C008), "OURS": Machine(), "GRACE": Machine(code="0x4004F00C")})
    library = {ErrorCode.parse(C008): dataclasses.replace(playbook(), code=ErrorCode.parse(C008))}
    log = tmp_path / "a.jsonl"
    with AuditLog(log, Redactor()) as audit_log:
        engine = Engine(lambda host: Session(host, lab.connection, lab.credentials), audit_log,
                        EngineOptions(backoff_initial_s=0.01), claimed_by=library.get)
        report = engine.run(lab.plan())
    assert outcomes(report) == {"OTHER": "skipped", "OURS": "fixed", "GRACE": "fixed"}
    other = report.hosts[0]
    assert "detection found 0xC004C008" in other.reason and "remediate run 0xC004C008" in other.reason
    assert lab.machines["OTHER"].calls == ["detect"]  # nothing was sent that changes it
    forced, _ = lab.run(tmp_path / "b.jsonl", force=True)
    assert outcomes(forced)["OTHER"] != "skipped" and "fix" in lab.machines["OTHER"].calls
