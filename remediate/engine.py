"""Running a Plan: the per-host flow, bounded concurrency, retries, interruption and the audit trail.

Per host (playbooks/README.md, "How a host is decided"): open a Session -> detect -> healthy? stop : fix ->
verify -> Outcome, with the escalate steps run whenever a human must take over. Every attempt of every step is
written to the audit log before the engine acts on its result.

Retries, all with exponential backoff and jitter (tenacity):
- opening a Session: transient transport faults (refused, timeout, dropped, 5xx, quota) are retried a few
  times, or for as long as `wait_for_winrm_s` allows (a host that was just imaged); every failed try is a
  `connect` audit event, and so is the try that worked after failures;
- a transient fault during a read-only step (detect / verify / escalate) or an idempotent fix step: the
  Session is reopened and the step sent again;
- a transient fault during a fix step that is not idempotent is never retried: the host ends `failed`, because
  nobody knows whether the change happened;
- a result whose hresult is listed in the step's `retry.on_hresult` is retried as the playbook declares.

Ctrl-C (interrupt()): the first press starts no new host or step and lets the steps in flight finish and be
recorded; the second abandons them: run_hosts returns at once, recording an `interrupted` event and an outcome
for each host it gave up, and nothing more of those hosts reaches the log. Hosts run in daemon threads, so
nothing (not even the interpreter on its way out) waits for an abandoned step.

Run-time conditions (`only_if`) are Jinja expressions over earlier results, e.g.
`steps['clock'].data.skew_minutes > 240`, evaluated in a sandboxed environment with StrictUndefined. A
condition that cannot be evaluated (a step that did not run, a missing key) skips its step and records why: a
host is never changed on a guess.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

import tenacity

from remediate import __version__
from remediate.audit import (
    CONNECT,
    HOST_STARTED,
    INTERRUPTED,
    OUTCOME,
    RUN_FINISHED,
    RUN_STARTED,
    STEP,
    STEP_STARTED,
    EventLog,
    operator_name,
)
from remediate.codes import ErrorCode
from remediate.connector import BatchRun, Connect, HostSession, ScriptCall, transient_retrying
from remediate.errors import AuditError, TransportError
from remediate.expressions import evaluate_condition
from remediate.i18n import _
from remediate.interrupt import TwoPressStop, on_ctrl_c, write_from_handler
from remediate.plan import HostPlan, Plan, PlannedStep
from remediate.playbook import Playbook
from remediate.pool import Background, HostPool
from remediate.reasons import Reason, phase_word
from remediate.results import (
    HostReport,
    Outcome,
    RunReport,
    ScriptRun,
    StepRecord,
    StepResult,
    StepStatus,
)


@dataclass(frozen=True)
class Interruption:
    """What one Ctrl-C did. The first winds the run down: no new host or step starts, the steps in flight
    finish and are recorded. The second abandons the steps in flight: the run ends at once."""

    abandoning: bool
    in_flight: tuple[str, ...]  # the hosts with a step (or a connection) in flight

    def message(self) -> str:
        """What the person who pressed Ctrl-C reads, in the current language."""
        count = len(self.in_flight)
        if self.abandoning:
            return _("abandoning {count} in-flight step(s): recorded as interrupted in the audit log; their hosts may "
                     "be left half-done").format(count=count)
        return _("interrupted: finishing {count} in-flight step(s); press Ctrl-C again to abandon them").format(
            count=count)


def tell_on_stderr(interruption: Interruption) -> None:
    """The default on_interrupt."""
    write_from_handler(interruption.message() + "\n")


class Observer(Protocol):
    """Progress callbacks (report.LiveProgress is one). Called from worker threads."""

    def host_started(self, host: str) -> None: ...

    def host_retrying(self, host: str, what: str, attempt: int, attempts: int | None) -> None:
        """`host` tries `what` (connect, or a step id) again: attempt `attempt` of `attempts` (None: until
        --wait-for-winrm runs out)."""

    def host_finished(self, report: HostReport) -> None: ...


class KeyWatcher(Protocol):
    """What the key ledger sees of a run (ledger/run_guard.py is one). Called from worker threads.

    hold: before a fix step is sent, a reason not to send it (a key it installs was reported used up or blocked
    earlier in the run), or None. fix_done: a fix step's result, once it ran (installs and activations)."""

    def hold(self, host: str, step: PlannedStep) -> Reason | None: ...

    def fix_done(self, host: str, step: PlannedStep, result: StepResult) -> None: ...


class NoObserver:
    """An Observer that shows nothing (a run without progress)."""

    def host_started(self, host: str) -> None:
        pass

    def host_retrying(self, host: str, what: str, attempt: int, attempts: int | None) -> None:
        pass

    def host_finished(self, report: HostReport) -> None:
        pass


@dataclass(frozen=True)
class EngineOptions:
    # Hosts in flight at once. Each holds one shell on its own host, so WinRM's shells-per-user quota (per host)
    # does not bound it; 50 is where benchmarks/fleet_run.py stops gaining (README, "Performance").
    forks: int = 50
    transient_attempts: int = 4  # tries of a connection or a retryable step on transient faults
    wait_for_winrm_s: float = 0.0  # > 0: keep trying to connect for this long (a host that is still booting)
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    max_fail_percent: float | None = None  # stop starting hosts once more than this share failed
    max_auth_failures: int | None = 3  # start no new host once this many refused the credentials (lock-out)
    host_timeout_s: float | None = 600.0  # a host without an outcome by then ends `unreachable: deadline`
    force: bool = False  # act on a host even when its detection reports a code another playbook claims
    language: str = "en"  # for escalate guidance in reports


class _HostAborted(Exception):
    """The host cannot go on: a transport fault that ends its flow with `outcome`."""

    def __init__(self, outcome: Outcome, reason: Reason) -> None:
        super().__init__(str(reason))
        self.outcome = outcome
        self.reason = reason


class Engine:
    """Runs a Plan against live hosts. One Engine per run."""

    def __init__(
        self,
        connect: Connect,
        audit: EventLog,
        options: EngineOptions | None = None,
        observer: Observer | None = None,
        sleep: Callable[[float], None] | None = None,
        on_interrupt: Callable[[Interruption], None] | None = None,
        claimed_by: Callable[[ErrorCode], Playbook | None] | None = None,
        keys: KeyWatcher | None = None,
        closing: Background | None = None,
    ) -> None:
        """claimed_by: the playbook that handles a code (PlaybookLibrary.find); with it, a host whose detection
        reports a code that another playbook claims is skipped rather than changed (unless options.force).
        keys: the key ledger's watcher of installs and activations (None: no ledger).
        closing: where sessions are closed, when the caller outlives the run and waits for them itself (a worker
        process running one engine per host); None: the engine's own, waited for before the run returns."""
        self.connect = connect
        self.keys = keys
        self.claimed_by = claimed_by
        self.audit = audit
        self.options = options or EngineOptions()
        self.observer: Observer = observer or NoObserver()
        self.on_interrupt = on_interrupt or tell_on_stderr
        self.stop = TwoPressStop()
        self._stop_starting = threading.Event()
        self._auth_failures = 0
        self._stop_auth = threading.Event()  # --max-auth-failures reached
        self._sleep_override = sleep
        self._lock = threading.RLock()  # shared with the pool: audit records, outcomes, given-up hosts
        self._finished: list[HostReport] = []
        self._running: dict[int, HostRun] = {}  # hosts whose flow has begun and not finished
        self._given_up: set[str] = set()  # hosts abandoned: nothing more of theirs is recorded
        self._pool: HostPool[HostPlan, HostReport] | None = None
        # Sessions are closed off the critical path: a worker takes its next host while the last one's pool closes.
        self._closing = closing or Background(workers=self.options.forks, name="remediate-close")
        self._owns_closing = closing is None

    # --- the run -------------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Finish the steps in flight, record them, start nothing new (what the first Ctrl-C does)."""
        self.stop.finish()

    def abandon(self) -> None:
        """Stop waiting for the steps in flight (what the second Ctrl-C does). run_hosts returns at once,
        recording an `interrupted` event and an outcome for each host it gave up."""
        self.stop.abandon()

    def interrupt(self) -> Interruption:
        """One Ctrl-C: the first requests a stop, any later one abandons. Safe to call from a signal handler:
        it only sets events (and calls on_interrupt)."""
        abandoning = self.stop.press()
        pool = self._pool
        in_flight_indexes = pool.in_flight() if pool is not None else []
        in_flight = tuple(pool.items[index].label for index in in_flight_indexes) if pool is not None else ()
        interruption = Interruption(abandoning=abandoning, in_flight=in_flight)
        self.on_interrupt(interruption)
        return interruption

    def run(
        self,
        plan: Plan,
        arguments: Sequence[str] = (),
        plan_sha256: str | None = None,
        approvers: Sequence[Mapping[str, str]] = (),
    ) -> RunReport:
        """plan_sha256: of the approved plan file the run executes (`run --plan`); approvers: who signed it
        (principal, key fingerprint). Both are named in run_started."""
        return self.run_hosts(plan.hosts, code=str(plan.code), arguments=arguments, plan_sha256=plan_sha256,
                              approvers=approvers)

    def run_hosts(
        self,
        host_plans: Sequence[HostPlan],
        code: str,
        arguments: Sequence[str] = (),
        decided: Sequence[HostReport] = (),
        order: Sequence[str] | None = None,
        prelude: Sequence[tuple[str, Mapping[str, Any]]] = (),
        plan_sha256: str | None = None,
        approvers: Sequence[Mapping[str, str]] = (),
    ) -> RunReport:
        """Run host plans (of one playbook or several, as `run auto` has them) as one audited run.

        decided: hosts whose outcome is known without running a playbook (auto: licensed, unreachable, or no
        playbook for their code); recorded and reported with the rest. order: host labels in report order.
        prelude: (type, fields) events to record right after the run starts (auto: each host's licence read).
        plan_sha256: of the approved plan file the run executes (`run --plan`), named in run_started.
        Ctrl-C (see interrupt()): the first lets the steps in flight finish, the second abandons them.
        """
        with on_ctrl_c(self.interrupt):  # Ctrl-C: interrupt()
            return self._run_hosts(host_plans, code, arguments, decided, order, prelude, plan_sha256, approvers)

    def _run_hosts(
        self,
        host_plans: Sequence[HostPlan],
        code: str,
        arguments: Sequence[str],
        decided: Sequence[HostReport],
        order: Sequence[str] | None,
        prelude: Sequence[tuple[str, Mapping[str, Any]]],
        plan_sha256: str | None,
        approvers: Sequence[Mapping[str, str]],
    ) -> RunReport:
        started = time.monotonic()
        playbooks = {str(hp.playbook.code): hp.playbook.sha256 for hp in host_plans}
        approved: dict[str, Any] = {"plan_sha256": plan_sha256} if plan_sha256 is not None else {}
        if approvers:
            approved["approvers"] = [dict(approver) for approver in approvers]
        self.audit.record(
            RUN_STARTED,
            operator=operator_name(),
            version=__version__,
            code=code,
            arguments=list(arguments),
            playbooks=playbooks,
            hosts=[host_plan.label for host_plan in host_plans] + [known.host for known in decided],
            forks=self.options.forks,
            **approved,
        )
        for event_type, fields in prelude:
            self.audit.append(event_type, **fields)
        for known in decided:
            self.audit.append(HOST_STARTED, host=known.host, code=known.code)
            self._record_outcome(known)
            self._note_finished(known)
            self.observer.host_finished(known)
        reports = self._run_pool(host_plans)
        hosts = [reports[index] for index in range(len(host_plans))] + list(decided)
        if order is not None:
            position = {label: number for number, label in enumerate(order)}
            hosts.sort(key=lambda done: position.get(done.host, len(position)))
        report = RunReport(
            code=code,
            hosts=hosts,
            interrupted=self.stop.stopped,
            abandoned=self.stop.abandoned.is_set(),
            stopped_early=self._stop_starting.is_set() and not self.stop.stopped,
            duration_s=time.monotonic() - started,
            audit_path=str(self.audit.path),
        )
        self.audit.record(
            RUN_FINISHED,
            summary=report.summary(),
            interrupted=report.interrupted,
            abandoned=report.abandoned,
            exit=report.exit_category.value,
        )
        return report

    def _run_pool(self, host_plans: Sequence[HostPlan]) -> dict[int, HostReport]:
        """Every host's report, `forks` hosts at a time (pool.py). After the first Ctrl-C the workers keep
        taking hosts only to record them as not started; after an abandon, the hosts in flight are recorded
        as interrupted (see _give_up) and nothing waits for their steps."""
        reports: dict[int, HostReport] = {}

        def give_up(in_flight: list[int], untaken: list[int]) -> None:
            reports.update(self._give_up(host_plans, in_flight, untaken))

        def deadline(index: int) -> None:
            with self._lock:
                report = self._past_deadline(index, host_plans[index])
                if report is not None:
                    reports[index] = report

        self._pool = HostPool(
            host_plans,
            self._host_or_skip,
            forks=self.options.forks,
            stop=self.stop,
            name="remediate-host",
            finish=self._host_finished,
            take_after_stop=True,
            on_abandon=give_up,
            deadline_s=self.options.host_timeout_s,
            on_deadline=deadline,
            lock=self._lock,
        )
        reports.update(self._pool.run().done)
        if self._owns_closing:
            self._closing.wait(self.stop.abandoned)  # every shell closed on its host, unless the run is abandoned
        return reports

    def close_later(self, session: HostSession) -> None:
        """Close a session (its shell on the host) in the background."""
        self._closing.submit(session.close)

    def _give_up(
        self, host_plans: Sequence[HostPlan], in_flight: list[int], untaken: list[int]
    ) -> dict[int, HostReport]:
        """After abandon(): record the hosts in flight as interrupted, and those never taken as not started.
        Runs under the lock, atomically with the pool dropping their results."""
        reports: dict[int, HostReport] = {}
        for index in in_flight:
            host_plan = host_plans[index]
            host_run = self._running.pop(index, None)
            report = (
                host_run.abandoned()
                if host_run is not None
                else self._report_not_started(host_plan, Reason("not_started_interrupted"))
            )
            self._record_given_up(report, host_run)
            reports[index] = report
        for index in untaken:
            reports[index] = self._report_not_started(host_plans[index], Reason("not_started_interrupted"))
            self._record_outcome(reports[index])
        return reports

    def _past_deadline(self, index: int, host_plan: HostPlan) -> HostReport | None:
        """A host without an outcome after --host-timeout: give it up (its worker is replaced) and record it.
        Runs under the lock. None when the host finished meanwhile."""
        assert self._pool is not None
        host_run = self._running.get(index)
        if not self._pool.give_up(index):
            return None
        self._running.pop(index, None)
        limit = _duration_words(self.options.host_timeout_s or 0)
        if host_run is not None and host_run.decided is not None:
            report = host_run.decided  # only closing the session was left
        else:
            changed = host_run is not None and host_run.changing
            report = HostReport(
                host=host_plan.label,
                code=str(host_plan.playbook.code),
                outcome=Outcome.FAILED if changed else Outcome.UNREACHABLE,
                steps=list(host_run.records) if host_run is not None else [],
                why=Reason("deadline", limit=limit, changed=Reason("deadline_changed") if changed else ""),
                duration_s=time.monotonic() - host_run.started if host_run is not None else 0.0,
            )
        self._record_given_up(report, host_run)
        self._note_finished(report)
        self.observer.host_finished(report)
        return report

    def _record_given_up(self, report: HostReport, host_run: HostRun | None) -> None:
        """Record a host the run stopped waiting for (the step then in flight, and its outcome); nothing more of
        it is recorded after this. Runs under the lock."""
        current = host_run.current if host_run is not None else None
        self.audit.record(
            INTERRUPTED,
            host=report.host,
            step=current.id if current else None,
            phase=current.phase if current else None,
            reason=report.reason,
        )
        self._record_outcome(report)
        self._given_up.add(report.host)

    def note_auth_failure(self) -> None:
        """A host refused the credentials; past --max-auth-failures no new host is started."""
        with self._lock:
            self._auth_failures += 1
            limit = self.options.max_auth_failures
            if limit is not None and self._auth_failures >= limit:
                self._stop_auth.set()

    def record(self, host: str, event_type: str, **fields: Any) -> None:
        """Record an event of a host's flow, unless the host was given up (abandon()). Group commit: it is on
        disk within audit.GROUP_COMMIT_S, or sooner with the next durable event (see record_durable)."""
        with self._lock:
            if host not in self._given_up:
                self.audit.append(event_type, host=host, **fields)

    def record_durable(self, host: str, event_type: str, **fields: Any) -> None:
        """Like record, and on disk (fsynced) when this returns: a changing step announced before it is sent, and
        its result. The fsync happens outside the run's lock, shared by the hosts that wait for one at once."""
        with self._lock:
            if host in self._given_up:
                return
            event = self.audit.append(event_type, host=host, **fields)
        self.audit.sync(event.get("seq"))  # a dispatched worker's log has no sequence of its own

    def _host_or_skip(self, index: int, host_plan: HostPlan) -> HostReport:
        """One host's report (a worker of the pool); its outcome is recorded by _host_finished."""
        if self.stop.stopped:
            return self._report_not_started(host_plan, Reason("not_started_interrupted"))
        if self._stop_starting.is_set():
            return self._report_not_started(host_plan, Reason("not_started_max_fail"))
        if self._stop_auth.is_set():
            return self._report_not_started(host_plan, Reason("not_started_auth", count=str(self._auth_failures)))
        self.observer.host_started(host_plan.label)
        self.record(host_plan.label, HOST_STARTED, code=str(host_plan.playbook.code))
        host_run = HostRun(self, host_plan)
        with self._lock:
            self._running[index] = host_run
        try:
            return host_run.run()
        except AuditError:
            raise  # nothing may happen that the audit log cannot record
        except Exception as error:  # a defect must not hide the other hosts' outcomes
            return HostReport(
                host=host_plan.label,
                code=str(host_plan.playbook.code),
                outcome=Outcome.FAILED,
                why=Reason("internal_error", kind=type(error).__name__, message=str(error)),
            )

    def _host_finished(self, index: int, report: HostReport) -> None:
        """Called by the pool under the lock as a host's report is kept."""
        self._running.pop(index, None)
        self._record_outcome(report)
        self._note_finished(report)
        self.observer.host_finished(report)

    def _report_not_started(self, host_plan: HostPlan, why: Reason) -> HostReport:
        return HostReport(host=host_plan.label, code=str(host_plan.playbook.code), outcome=Outcome.SKIPPED, why=why)

    def _record_outcome(self, report: HostReport) -> None:
        self.record(
            report.host,
            OUTCOME,
            outcome=report.outcome.value,
            code_before=str(report.code_before) if report.code_before else None,
            code_after=str(report.code_after) if report.code_after else None,
            reason=report.reason,
            computer_name=report.computer_name,
            duration_s=round(report.duration_s, 3),
        )

    def _note_finished(self, report: HostReport) -> None:
        limit = self.options.max_fail_percent
        with self._lock:
            self._finished.append(report)
            if limit is None:
                return
            bad = sum(1 for done in self._finished if done.outcome in (Outcome.FAILED, Outcome.UNREACHABLE))
            total = len(self._finished)
            if total and bad * 100.0 / total > limit:
                self._stop_starting.set()

    # --- retry machinery shared by HostRun -----------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        if self._sleep_override is not None:
            self._sleep_override(seconds)
        else:
            self.stop.pause(seconds)  # Ctrl-C cuts a backoff short

    @property
    def interrupted(self) -> bool:
        return self.stop.stopped

    def transient_retrying(self, connecting: bool) -> tenacity.Retrying:
        options = self.options
        stop: tenacity.stop.stop_base = tenacity.stop_after_attempt(max(1, options.transient_attempts))
        if connecting and options.wait_for_winrm_s > 0:
            stop = tenacity.stop_after_delay(options.wait_for_winrm_s)
        return transient_retrying(
            stop | tenacity.stop_when_event_set(self.stop.finishing),
            initial_s=options.backoff_initial_s,
            max_s=options.backoff_max_s,
            sleep=self.sleep,
        )


class HostRun:
    """One host's flow. Lives in one worker thread."""

    def __init__(self, engine: Engine, host_plan: HostPlan) -> None:
        self.engine = engine
        self.plan = host_plan
        self.playbook = host_plan.playbook
        self.label = host_plan.label
        self.session: HostSession | None = None
        self.records: list[StepRecord] = []
        self.results: dict[str, StepResult] = {}
        self.changed = False  # a fix step has run (its change may have happened)
        self.current: PlannedStep | None = None  # the step in flight
        self.decided: HostReport | None = None  # the outcome, once known (closing the session may remain)
        self.started = time.monotonic()

    def run(self) -> HostReport:
        try:
            try:
                report = self._decide()
            except _HostAborted as aborted:
                report = self._report(aborted.outcome, aborted.reason)
            self.decided = report
            return report
        finally:
            self._close()

    @property
    def changing(self) -> bool:
        """A step that changes the host was sent, or is being sent (its change may have happened)."""
        step = self.current
        return self.changed or (step is not None and step.phase == "fix")

    def abandoned(self) -> HostReport:
        """This host's report when the run gives up on it before it returned (called from another thread).
        It says "nothing was changed" only when no changing step was sent."""
        if self.decided is not None:
            return self.decided  # only closing the session was left
        step = self.current
        if step is None:
            if self.changing:
                return self._report(Outcome.FAILED, Reason("abandoned_after_change"))
            if not self.records:
                return self._report(Outcome.SKIPPED, Reason("abandoned_connecting"))
            return self._report(Outcome.SKIPPED, Reason("abandoned_between_steps"))
        phase = phase_word(step.phase)
        if self.changing:
            return self._report(Outcome.FAILED, Reason("abandoned_changed", phase=phase, step=step.id))
        return self._report(Outcome.SKIPPED, Reason("abandoned_unchanged", phase=phase, step=step.id))

    # --- the decision (playbooks/README.md) ----------------------------------------------------------------

    def _decide(self) -> HostReport:
        self._open()
        detect = self._run_phase("detect")
        if self._interrupted_now():
            return self._report(Outcome.SKIPPED, Reason("interrupted_detect"))
        if all(self._ok(record) for record in detect):
            return self._report(Outcome.HEALTHY, Reason("healthy"))
        elsewhere = self._belongs_elsewhere()
        if elsewhere is not None:
            return self._report(Outcome.SKIPPED, elsewhere)
        if self.playbook.escalates:
            missing = self._collect_for_human()
            return self._report(Outcome.ESCALATE, Reason("escalate_playbook", facts=missing))
        fixes: list[StepRecord] = []
        for step in self.plan.steps_in("fix"):
            if self._interrupted_now():
                return self._report(Outcome.FAILED, Reason("interrupted_before_fix", step=step.id))
            # The key ledger holds back a key that an activation server ended (used up, blocked) earlier in
            # this run: a human must get activations or another key.
            held = self.engine.keys.hold(self.label, step) if self.engine.keys is not None else None
            if held is not None:
                self._collect_for_human()
                return self._report(Outcome.FAILED if self.changed else Outcome.ESCALATE, held)
            fixes.append(self._step(step))
            if fixes[-1].status is StepStatus.RAN and not self._ok(fixes[-1]):
                break
        if self._interrupted_now():
            return self._report(Outcome.FAILED, Reason("interrupted_before_verify"))
        verify = self._run_phase("verify")
        # Without verify steps (a custom playbook), the fix results are all there is to go by.
        proof = verify if self.plan.steps_in("verify") else fixes
        if all(self._ok(record) for record in proof) and not self._interrupted_now():
            return self._report(Outcome.FIXED, Reason("fixed"))
        if self._interrupted_now():
            return self._report(Outcome.FAILED, Reason("interrupted_verify"))
        escalating = self._escalating_code()
        missing = self._collect_for_human()
        if escalating is not None:
            return self._report(Outcome.ESCALATE, Reason("escalate_code", code=str(escalating), facts=missing))
        return self._report(Outcome.FAILED, self._failure_reason(missing))

    def _belongs_elsewhere(self) -> Reason | None:
        """Why this host is not this playbook's to act on: its detection reports a code that another playbook
        handles (and this one does not list in applies_to). None when it is, or when nothing says otherwise."""
        found = self._first_code("detect")
        claimed_by = self.engine.claimed_by
        if found is None or claimed_by is None or self.engine.options.force or self.playbook.handles(found):
            return None
        other = claimed_by(found)
        if other is None or other.code == self.playbook.code:
            return None
        return Reason("other_playbook", found=str(found), command=f"remediate run {other.code}")

    def _collect_for_human(self) -> Reason | str:
        """Run the escalate steps; a transport fault there does not change the decision, only the facts.
        Returns what the reason adds when the facts are incomplete ("" when they are all there)."""
        try:
            self._run_phase("escalate")
        except _HostAborted as aborted:
            return Reason("facts_incomplete", reason=aborted.reason)
        return ""

    def _ok(self, record: StepRecord) -> bool:
        """A skipped step counts as fine; a step that ran counts by its result."""
        if record.status is StepStatus.SKIPPED:
            return True
        return record.result is not None and record.result.ok

    def _interrupted_now(self) -> bool:
        return self.engine.interrupted

    def _run_phase(self, phase: str) -> list[StepRecord]:
        """Every step of a phase in order; after a stop request, none that has not begun. The steps of a read-only
        phase go to the host together, as one invocation (see _run_batch); a step with a condition waits for the
        results of those before it and goes alone."""
        records: list[StepRecord] = []
        pending = list(self.plan.steps_in(phase))
        while pending and not self._interrupted_now():
            size = 1 if phase == "fix" else _batch_size(pending)
            batch, pending = pending[:size], pending[size:]
            records.extend(self._run_batch(batch) if size > 1 else [self._step(batch[0])])
        return records

    def _escalating_code(self) -> ErrorCode | None:
        wanted = set(self.playbook.escalate.on_hresult)
        for record in self.records:
            if record.phase in ("fix", "verify") and record.result and record.result.hresult in wanted:
                return record.result.hresult
        return None

    def _failure_reason(self, missing: Reason | str) -> Reason:
        for record in self.records:
            if record.phase in ("fix", "verify") and record.status is StepStatus.RAN and not self._ok(record):
                assert record.result is not None
                hresult = record.result.hresult
                return Reason(
                    "step_failed",
                    phase=phase_word(record.phase),
                    step=record.id,
                    code=Reason("code", code=str(hresult)) if hresult else "",
                    detail=Reason("detail", detail=record.note) if record.note else "",
                    facts=missing,
                )
        return Reason("verify_failed", facts=missing)

    def _report(self, outcome: Outcome, why: Reason) -> HostReport:
        guidance = None
        if outcome in (Outcome.ESCALATE, Outcome.FAILED):
            guidance = self.playbook.escalate.guidance.get(self.engine.options.language) or None
        return HostReport(
            host=self.label,
            code=str(self.playbook.code),
            outcome=outcome,
            steps=self.records,
            code_before=self._first_code("detect"),
            code_after=None if outcome in (Outcome.FIXED, Outcome.HEALTHY) else self._last_code(),
            why=why,
            guidance=guidance,
            duration_s=time.monotonic() - self.started,
        )

    def _first_code(self, phase: str) -> ErrorCode | None:
        for record in self.records:
            if record.phase == phase and record.result is not None and record.result.hresult is not None:
                return record.result.hresult
        return None

    def _last_code(self) -> ErrorCode | None:
        for phase in ("verify", "fix"):
            for record in reversed(self.records):
                if record.phase == phase and record.result is not None and record.result.hresult is not None:
                    return record.result.hresult
        return self._first_code("detect")

    # --- sessions ------------------------------------------------------------------------------------------

    def _open(self) -> None:
        tries = 0
        try:
            for attempt in self.engine.transient_retrying(connecting=True):
                with attempt:
                    tries += 1
                    try:
                        session = self.engine.connect(self.plan.host)
                        session.open()
                    except TransportError as error:
                        # every failed try is on record, so a retried connection shows in the audit log
                        self.engine.record(
                            self.label,
                            CONNECT,
                            attempt=tries,
                            ok=False,
                            error_kind=error.kind,
                            transient=error.transient,
                            error=error.message,
                        )
                        self._retrying(CONNECT, tries + 1, error, connecting=True)
                        raise
                    self.session = session
        except TransportError as error:
            if error.kind == "auth":
                self.engine.note_auth_failure()
                raise _HostAborted(Outcome.AUTH_FAILED, Reason("auth_failed", message=error.message)) from None
            reason = Reason("connect_failed", kind=error.kind, message=error.message)
            raise _HostAborted(Outcome.UNREACHABLE, reason) from None
        if tries > 1:
            self.engine.record(self.label, CONNECT, attempt=tries, ok=True)

    def _retrying(self, what: str, attempt: int, error: TransportError, connecting: bool) -> None:
        """Tell the observer a transient fault is about to be tried again (progress shows `retrying ...`)."""
        options = self.engine.options
        waiting = connecting and options.wait_for_winrm_s > 0
        attempts = None if waiting else max(1, options.transient_attempts)
        if error.transient and (attempts is None or attempt <= attempts) and not self.engine.interrupted:
            self.engine.observer.host_retrying(self.label, what, attempt, attempts)

    def _close(self) -> None:
        """Let the session go; it is closed in the background (see Engine.close_later)."""
        session, self.session = self.session, None
        if session is not None:
            self.engine.close_later(session)

    def _reopen(self) -> None:
        self._close()
        session = self.engine.connect(self.plan.host)
        session.open()
        self.session = session

    # --- one step ------------------------------------------------------------------------------------------

    def _new_record(self, step: PlannedStep) -> StepRecord:
        record = StepRecord(
            id=step.id, phase=step.phase, status=StepStatus.RAN, script_sha256=step.script_sha256
        )
        self.records.append(record)
        return record

    def _step(self, step: PlannedStep) -> StepRecord:
        record = self._new_record(step)
        if step.only_if:
            try:
                run_it = evaluate_condition(step.only_if, self.results)
            except Exception as error:  # a condition is user text: any failure to evaluate it skips the step
                record.status = StepStatus.SKIPPED
                record.note = (
                    f"only_if could not be evaluated ({type(error).__name__}: {error}): step skipped"
                )
                self._audit_skip(step, record)
                return record
            if not run_it:
                record.status = StepStatus.SKIPPED
                record.note = f"only_if is false: {step.only_if}"
                self._audit_skip(step, record)
                return record
        self.current = step
        try:
            return self._run_step(step, record)
        finally:
            self.current = None

    def _run_batch(self, steps: list[PlannedStep]) -> list[StepRecord]:
        """Read-only steps sent as one invocation; each keeps its own result, audit event and retries. The steps
        it left without a result (after a step that threw, or when its time ran out or the transport failed) are
        then sent one by one, as any step is; a transport fault that no retry can help ends the host as it would
        have on that step alone."""
        records = [self._new_record(step) for step in steps]
        self.current = steps[0]
        try:
            batch = self._send_batch(steps, records)
            for step, record, run in zip(steps, records, batch.runs, strict=False):
                self.current = step
                self._run_step(step, record, first=run)
            left = len(batch.runs)
            error = batch.error
            if error is not None and not error.transient:
                self._transport_failed(steps[left], records[left], error)
            for index in range(left, len(steps)):
                if self._interrupted_now():
                    for unsent in records[index:]:  # never begun on their own: as if not reached
                        self.records.remove(unsent)
                    return records[:index]
                self.current = steps[index]
                self._run_step(steps[index], records[index])
            return records
        finally:
            self.current = None

    def _send_batch(self, steps: list[PlannedStep], records: list[StepRecord]) -> BatchRun:
        """One invocation of the steps; a transport fault becomes the batch's error (the session is closed, as
        after any fault: the next send opens a new one). The step in flight when it was cut short counts an
        attempt; those after it never began."""
        began = time.monotonic()
        try:
            if self.session is None:
                self._reopen()
            assert self.session is not None
            batch = self.session.run_batch([ScriptCall(step.script, step.parameters, step.timeout_s)
                                            for step in steps])
        except TransportError as error:
            batch = BatchRun(error=error)
        for record, run in zip(records, batch.runs, strict=False):
            record.attempts += 1
            record.durations.append(run.duration_s)
        if batch.error is not None:
            self._close()
            cut = records[len(batch.runs)]
            cut.attempts += 1
            cut.durations.append(time.monotonic() - began - sum(run.duration_s for run in batch.runs))
        return batch

    def _run_step(self, step: PlannedStep, record: StepRecord, first: ScriptRun | None = None) -> StepRecord:
        """Send the step (or take `first`, its run in an invocation) and retry as its policy says."""
        policy = step.retry
        allowed = policy.attempts if policy is not None else 1
        while True:
            run = first if first is not None else self._attempt(step, record)
            first = None
            result = run.result
            wanted = policy is not None and result.hresult is not None and result.hresult in policy.on_hresult
            will_retry = (
                (not result.ok) and wanted and record.attempts < allowed and not self._interrupted_now()
            )
            self._audit_attempt(step, record, run, will_retry)
            if not will_retry:
                break
            assert policy is not None
            self.engine.observer.host_retrying(self.label, step.id, record.attempts + 1, allowed)
            self.engine.sleep(policy.delay_s)
        record.result = result
        record.note = run.script_error
        record.error_kind = "script" if run.script_error else None
        self.results[step.id] = result
        if step.phase == "fix" and self.engine.keys is not None:
            self.engine.keys.fix_done(self.label, step, result)  # the key ledger records installs, activations
        return record

    def _attempt(self, step: PlannedStep, record: StepRecord) -> ScriptRun:
        """One send of the step, with transient transport faults retried where that is safe."""
        retryable = step.phase != "fix" or step.idempotent
        if step.phase == "fix":
            self.changed = True
        try:
            if not retryable:
                return self._send(step, record)
            for attempt in self.engine.transient_retrying(connecting=False):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self._reopen()
                    try:
                        return self._send(step, record)
                    except TransportError as error:
                        self._retrying(step.id, attempt.retry_state.attempt_number + 1, error, connecting=False)
                        raise
        except TransportError as error:
            self._transport_failed(step, record, error)
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _transport_failed(self, step: PlannedStep, record: StepRecord, error: TransportError) -> NoReturn:
        """The step got no result: record it and end the host's flow with the outcome the fault implies."""
        self._audit_transport_error(step, record, error)
        record.status = StepStatus.ERROR
        record.error_kind = error.kind
        record.note = note = f"{error.kind}: {error.message}"
        if step.phase == "fix" and not step.idempotent and error.transient:
            reason = Reason("transport_fix_not_retried", step=step.id, note=note)
            raise _HostAborted(Outcome.FAILED, reason) from None
        if self.changed:
            raise _HostAborted(Outcome.FAILED, Reason("transport_after_change", step=step.id, note=note)) from None
        raise _HostAborted(Outcome.UNREACHABLE, Reason("transport_unreachable", step=step.id, note=note)) from None

    def _send(self, step: PlannedStep, record: StepRecord) -> ScriptRun:
        if self.session is None:
            self._reopen()
        assert self.session is not None
        record.attempts += 1
        if step.phase == "fix":
            # Write-ahead: the change is on record (fsynced) before it is sent, so a crash during the step
            # leaves the host named as "a change was in flight".
            self.engine.record_durable(
                self.label, STEP_STARTED, step=step.id, phase=step.phase, script_sha256=step.script_sha256,
                parameters=dict(step.display_parameters), attempt=record.attempts,
            )
        began = time.monotonic()
        try:
            run = self.session.run(step.script, step.parameters, step.timeout_s)
        except TransportError:
            record.durations.append(time.monotonic() - began)
            self._close()  # the pool may be broken; the next attempt opens a new one
            raise
        record.durations.append(run.duration_s or (time.monotonic() - began))
        return run

    # --- audit ---------------------------------------------------------------------------------------------

    def _step_fields(self, step: PlannedStep, record: StepRecord) -> dict[str, Any]:
        return {
            "step": step.id,
            "phase": step.phase,
            "script_sha256": step.script_sha256,
            "parameters": dict(step.display_parameters),
            "attempt": record.attempts,
            "durations": [round(value, 3) for value in record.durations],
        }

    def _record_step(self, planned: PlannedStep, /, **fields: Any) -> None:
        """A step's result: fsynced at once for a step that changes the host, group-committed for a read."""
        if planned.phase == "fix":
            self.engine.record_durable(self.label, STEP, **fields)
        else:
            self.engine.record(self.label, STEP, **fields)

    def _audit_attempt(self, step: PlannedStep, record: StepRecord, run: ScriptRun, will_retry: bool) -> None:
        result = run.result
        self._record_step(
            step,
            **self._step_fields(step, record),
            ok=result.ok,
            hresult=str(result.hresult) if result.hresult else None,
            license_status=result.license_status,
            changed=result.changed,
            output=result.output,
            data=result.data,
            errors=run.errors,
            warnings=run.warnings,
            error_kind="script" if run.script_error else None,
            will_retry=will_retry,
        )

    def _audit_transport_error(self, step: PlannedStep, record: StepRecord, error: TransportError) -> None:
        self._record_step(
            step,
            **self._step_fields(step, record),
            ok=False,
            error_kind=error.kind,
            transient=error.transient,
            error=error.message,
            will_retry=False,
        )

    def _audit_skip(self, step: PlannedStep, record: StepRecord) -> None:
        self.engine.record(
            self.label, STEP, **self._step_fields(step, record), skipped=True, note=record.note, only_if=step.only_if
        )


def _batch_size(steps: Sequence[PlannedStep]) -> int:
    """How many of these read-only steps (from the first) go to the host as one invocation: up to the next step
    with a condition, which needs the results before it (a first step with one goes alone)."""
    if steps[0].only_if:
        return 1
    size = 1
    while size < len(steps) and not steps[size].only_if:
        size += 1
    return size


def _duration_words(seconds: float) -> str:
    """600 -> "10 min", 90 -> "90 s", 7200 -> "2 h" (the way --host-timeout is usually given)."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"
