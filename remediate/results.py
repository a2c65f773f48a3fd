"""What a run found: StepResult per step, Outcome and HostReport per host, RunReport for the run."""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from remediate.codes import ErrorCode
from remediate.errors import ExitCode, RemediateError
from remediate.reasons import Reason


class Outcome(str, enum.Enum):
    """What happened to one host (DESIGN §6)."""

    HEALTHY = "healthy"  # nothing to fix
    FIXED = "fixed"
    FAILED = "failed"  # fix tried, still broken
    ESCALATE = "escalate"  # needs a human; the facts were collected
    UNREACHABLE = "unreachable"  # transport
    AUTH_FAILED = "auth-failed"  # the credentials were refused: no further host was tried past the limit
    SKIPPED = "skipped"  # not applicable / never started (interrupted, --max-fail-percent)
    PLANNED = "planned"  # dry run

    def __str__(self) -> str:
        return self.value


class ExitCategory(str, enum.Enum):
    """Which exit code a run deserves. The value is what the audit log and JSON call it; `exit_code` the number."""

    OK = "ok"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    ESCALATE = "escalate"
    INTERRUPTED = "interrupted"

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES[self]


_EXIT_CODES = {
    ExitCategory.OK: ExitCode.OK,
    ExitCategory.FAILED: ExitCode.FAILED,
    ExitCategory.UNREACHABLE: ExitCode.UNREACHABLE,
    ExitCategory.ESCALATE: ExitCode.ESCALATE,
    ExitCategory.INTERRUPTED: ExitCode.INTERRUPTED,
}


class ResultFormatError(RemediateError):
    """A step's last output is not a StepResult."""


@dataclass(frozen=True)
class StepResult:
    """The one result object a step writes as its last output (templates/README.md rule 4)."""

    ok: bool
    hresult: ErrorCode | None = None
    license_status: int | None = None
    changed: bool = False
    output: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str) -> StepResult:
        """Parse the JSON string a step printed last. Raises ResultFormatError when it is not a StepResult."""
        try:
            value = json.loads(text)
        except (TypeError, ValueError) as error:
            raise ResultFormatError(f"the step's last output is not JSON: {_preview(text)}") from error
        return cls.from_mapping(value)

    @classmethod
    def from_mapping(cls, value: Any) -> StepResult:
        if not isinstance(value, dict):
            raise ResultFormatError("the step's result is not an object")
        ok = value.get("ok")
        if not isinstance(ok, bool):
            raise ResultFormatError("the step's result has no boolean 'ok'")
        changed = value.get("changed", False)
        if not isinstance(changed, bool):
            raise ResultFormatError("the step's result has a non-boolean 'changed'")
        status = value.get("license_status")
        if status is not None and (
            isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 6
        ):
            raise ResultFormatError(f"the step's result has license_status {status!r}, not 0-6 or null")
        output = value.get("output")
        if output is None:
            output = ""
        elif not isinstance(output, str):
            output = json.dumps(output, ensure_ascii=False)
        data = value.get("data")
        if data is None:
            data = {}
        elif not isinstance(data, dict):
            raise ResultFormatError("the step's result has a 'data' that is not an object")
        return cls(
            ok=ok,
            hresult=parse_hresult(value.get("hresult")),
            license_status=status,
            changed=changed,
            output=output,
            data=data,
        )

    @classmethod
    def failure(cls, message: str, hresult: ErrorCode | None = None) -> StepResult:
        """A result for a step that produced none of its own (a throw, a missing result)."""
        return cls(ok=False, hresult=hresult, output=message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "hresult": str(self.hresult) if self.hresult is not None else None,
            "license_status": self.license_status,
            "changed": self.changed,
            "output": self.output,
            "data": self.data,
        }


def parse_hresult(value: Any) -> ErrorCode | None:
    """An hresult as a step reports it (int signed or unsigned, string, null) -> ErrorCode; 0 means none."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int) and value == 0:
        return None
    if isinstance(value, str) and value.strip().lower() in ("0", "0x0", "0x00000000"):
        return None
    try:
        return ErrorCode.parse(value if isinstance(value, (str, int)) else str(value))
    except (RemediateError, ValueError, TypeError) as error:
        raise ResultFormatError(
            f"the step's result has an hresult that is not an error code: {value!r}"
        ) from error


def computer_name_in(results: Iterable[StepResult]) -> str | None:
    """The computer name the first of these results read (`data.computer_name`, from license-state)."""
    for result in results:
        name = result.data.get("computer_name")
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None


def host_label(host: str, computer_name: str | None) -> str:
    """`127.0.0.1:58715 (WIN-KMS01)`; just the hosts-file name when it already is the computer name
    (`win-kms01.corp.example` for WIN-KMS01)."""
    if not computer_name:
        return host
    name = "" if host.startswith("[") else host.split(":")[0]  # an IPv6 literal never is a computer name
    if name.split(".")[0].lower() == computer_name.lower():
        return host
    return f"{host} ({computer_name})"


def _preview(text: Any, limit: int = 200) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[:limit] + "..."


@dataclass
class ScriptRun:
    """What one script sent to a host gave back (the transport's answer to one attempt of a step)."""

    result: StepResult
    script_error: str | None = None  # set when the script failed or printed no valid result (kind "script")
    errors: list[str] = field(default_factory=list)  # the error stream, as text
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0


class StepStatus(str, enum.Enum):
    RAN = "ran"
    SKIPPED = "skipped"  # only_if false, or its condition could not be evaluated (see `note`)
    ERROR = "error"  # no result: the transport failed during the step

    def __str__(self) -> str:
        return self.value


@dataclass
class StepRecord:
    """One step as run on one host: its result, attempts and how long each took."""

    id: str
    phase: str
    status: StepStatus
    result: StepResult | None = None
    attempts: int = 0
    durations: list[float] = field(default_factory=list)  # seconds, one per attempt
    script_sha256: str | None = None
    note: str | None = None  # why skipped, or the transport error
    error_kind: str | None = (
        None  # TransportError.kind when status is ERROR or the result is a script failure
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phase": self.phase,
            "status": str(self.status),
            "attempts": self.attempts,
            "durations": [round(value, 3) for value in self.durations],
            "script_sha256": self.script_sha256,
            "note": self.note,
            "error_kind": self.error_kind,
            "result": self.result.to_dict() if self.result is not None else None,
        }


@dataclass
class HostReport:
    """What happened to one host."""

    host: str
    code: str  # the playbook's ErrorCode
    outcome: Outcome
    steps: list[StepRecord] = field(default_factory=list)
    code_before: ErrorCode | None = None  # the code detect saw
    code_after: ErrorCode | None = None  # the code verify saw (None once fixed)
    reason: str = ""  # one line a human reads: why this outcome, in English (JSON, JUnit, the audit log)
    guidance: str | None = None  # escalate guidance for the human
    duration_s: float = 0.0
    computer_name: str | None = None  # the host's own name; None: taken from the first step that read it
    why: Reason | None = None  # the reason as a value, told in any language; when set, `reason` is its English

    def __post_init__(self) -> None:
        if self.why is not None:
            self.reason = self.why.render("en")
        if self.computer_name is None:
            self.computer_name = computer_name_in(
                step.result for step in self.steps if step.result is not None
            )

    @property
    def label(self) -> str:
        """The host as a person reads it: the hosts-file address, and the computer name when it says more."""
        return host_label(self.host, self.computer_name)

    def reason_in(self, language: str) -> str:
        """The reason in the user's language (`en`, `ja`); a reason given only as text stays as given."""
        return self.why.render(language) if self.why is not None else self.reason

    @property
    def is_problem(self) -> bool:
        return self.outcome in (Outcome.FAILED, Outcome.ESCALATE, Outcome.UNREACHABLE, Outcome.AUTH_FAILED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "computer_name": self.computer_name,
            "code": self.code,
            "outcome": str(self.outcome),
            "code_before": str(self.code_before) if self.code_before is not None else None,
            "code_after": str(self.code_after) if self.code_after is not None else None,
            "reason": self.reason,
            "reason_id": self.why.id if self.why is not None else None,
            "reason_args": self.why.to_dict()["args"] if self.why is not None else None,
            "guidance": self.guidance,
            "duration_s": round(self.duration_s, 3),
            "steps": [step.to_dict() for step in self.steps],
        }


@dataclass
class Escalation:
    """The hosts that need a human for the same reason: one playbook's code and its guidance."""

    code: str  # the playbook's ErrorCode ("auto" for a host no playbook handles)
    guidance: str
    hosts: list[str] = field(default_factory=list)  # host labels, in report order

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "guidance": self.guidance, "count": len(self.hosts), "hosts": self.hosts}


# Reasons of a `skipped` host that the run meant to run and could not (remediate/dispatch/collector.py).
NOT_RUN = frozenset({"worker_lost_unchanged", "worker_refused"})


@dataclass
class RunReport:
    """All outcomes of a run and the exit decision."""

    code: str
    hosts: list[HostReport] = field(default_factory=list)
    interrupted: bool = False
    abandoned: bool = False  # a second Ctrl-C gave up the steps in flight (the first lets them finish)
    stopped_early: bool = False  # --max-fail-percent stopped starting new hosts
    duration_s: float = 0.0
    audit_path: str | None = None

    def counts(self) -> dict[str, int]:
        counted = Counter(report.outcome for report in self.hosts)
        return {str(outcome): counted.get(outcome, 0) for outcome in Outcome}

    @property
    def exit_category(self) -> ExitCategory:
        """DESIGN §6, in priority order. A host left unreachable while others were reached counts as a
        failure: it is neither healthy nor fixed, and exit 3 means *no* host could be reached."""
        outcomes = [report.outcome for report in self.hosts]
        if self.interrupted:
            return ExitCategory.INTERRUPTED
        if Outcome.AUTH_FAILED in outcomes:  # the account itself is in question (lock-out): exit 3
            return ExitCategory.UNREACHABLE
        if outcomes and all(outcome is Outcome.UNREACHABLE for outcome in outcomes):
            return ExitCategory.UNREACHABLE
        if Outcome.FAILED in outcomes or Outcome.UNREACHABLE in outcomes or self.stopped_early or self.not_run:
            return ExitCategory.FAILED
        if Outcome.ESCALATE in outcomes:
            return ExitCategory.ESCALATE
        return ExitCategory.OK

    @property
    def not_run(self) -> bool:
        """A host was meant to run and did not, through no choice of its playbook (its worker process or site
        was lost before a change, or refused it): it is not healthy or fixed, so the run cannot exit 0."""
        return any(report.outcome is Outcome.SKIPPED and report.why is not None and report.why.id in NOT_RUN
                   for report in self.hosts)

    def escalations(self) -> list[Escalation]:
        """Hosts that ended `escalate` with guidance, grouped by playbook code and guidance (one per reason)."""
        groups: dict[tuple[str, str], Escalation] = {}
        for report in self.hosts:
            if report.outcome is Outcome.ESCALATE and report.guidance:
                key = (report.code, report.guidance)
                groups.setdefault(key, Escalation(report.code, report.guidance)).hosts.append(report.label)
        return list(groups.values())

    def summary(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "hosts": len(self.hosts),
            "counts": self.counts(),
            "exit": str(self.exit_category.value),
            "interrupted": self.interrupted,
            "abandoned": self.abandoned,
            "stopped_early": self.stopped_early,
            "duration_s": round(self.duration_s, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "audit": self.audit_path,
            "escalations": [escalation.to_dict() for escalation in self.escalations()],
            "hosts": [report.to_dict() for report in self.hosts],
        }
