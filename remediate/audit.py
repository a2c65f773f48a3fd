"""The audit log: append-only JSONL, one AuditEvent per line, chained by sha256, readable after a crash.

Every line is one JSON object with `seq` (1, 2, ...), `time` (UTC, ISO 8601), `type`, `prev` (the `hash`
of the previous event; GENESIS for the first) and `hash`: the sha256 of the event's canonical JSON without
`hash`. A line is written, flushed and fsynced before the caller acts on what it records, so a crash loses
nothing but, at worst, the line being written — which then lacks its newline. `verify` accepts exactly that
(truncated but valid) and reports an edited, dropped, inserted or reordered line anywhere else. Dropping the
very last line cannot be seen in a chain; `show` then reports the run as not finished.

Every string that enters an event goes through a Redactor first: product keys are masked to their last five
characters, known secrets are scrubbed, and long texts are truncated.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from remediate.errors import AuditError
from remediate.secret import Redactor

GENESIS = "0" * 64  # the `prev` of the first event of a log
DEFAULT_DIR = Path("remediate-audit")

# Event types, in the order a run writes them.
RUN_STARTED = "run_started"
STATUS = "status"  # `run auto`: one host's licence as read before the run chose its playbook
HOST_STARTED = "host_started"
CONNECT = "connect"  # a failed try to open a host's session (and the try that worked, after failures)
STEP_STARTED = "step_started"  # a step that changes the host is about to be sent (written before it is)
STEP = "step"
INTERRUPTED = "interrupted"  # a second Ctrl-C gave the host up with a step in flight; its outcome follows
OUTCOME = "outcome"
RUN_FINISHED = "run_finished"


def canonical_json(event: Mapping[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def event_hash(event: Mapping[str, Any]) -> str:
    """The sha256 of an event's canonical JSON, without its own `hash`."""
    body = {key: value for key, value in event.items() if key != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def operator_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def default_path(code: str, directory: Path = DEFAULT_DIR, now: datetime | None = None) -> Path:
    """`remediate-audit/<UTC timestamp>-<code>.jsonl`, made unique if that name is taken."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    candidate = directory / f"{stamp}-{code}.jsonl"
    number = 1
    while candidate.exists():
        number += 1
        candidate = directory / f"{stamp}-{code}-{number}.jsonl"
    return candidate


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class AuditLog:
    """The writer. Thread-safe: hosts run concurrently and share one log.

    A new file starts a chain at GENESIS; an existing complete log is continued (its chain goes on). A log
    whose last line was cut by a crash is refused: verify it and start a new file.
    """

    def __init__(self, path: str | Path, redactor: Redactor | None = None) -> None:
        self.path = Path(path)
        self.redactor = redactor or Redactor()
        self._lock = threading.Lock()
        self._seq, self._prev = self._tail()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as error:
            raise AuditError(f"cannot open the audit log {self.path}: {error.strerror}") from error

    def _tail(self) -> tuple[int, str]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0, GENESIS
        result = verify(self.path)
        if not result.ok or result.truncated:
            raise AuditError(
                f"will not append to the audit log {self.path}: {result.describe()}",
                hint="give --audit a new file name",
            )
        return result.events, result.last_hash

    def record(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Write one event (redacted), flush and fsync it, and return it as written."""
        body = self.redactor.value(fields)
        with self._lock:
            if self._fd is None:
                raise AuditError(f"the audit log {self.path} is closed")
            event: dict[str, Any] = {"seq": self._seq + 1, "time": utc_now(), "type": event_type}
            event.update(body)
            event["prev"] = self._prev
            event["hash"] = event_hash(event)
            line = (canonical_json(event) + "\n").encode("utf-8")
            try:
                written = os.write(self._fd, line)
                while written < len(line):  # a short write on a full disk or a signal
                    written += os.write(self._fd, line[written:])
                os.fsync(self._fd)
            except OSError as error:
                raise AuditError(f"cannot write the audit log {self.path}: {error.strerror}") from error
            self._seq = event["seq"]
            self._prev = event["hash"]
            return event

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


@dataclass
class VerifyResult:
    path: Path
    events: int = 0  # complete, valid events
    truncated: bool = False  # the last line was cut by a crash (the rest verifies)
    problems: list[str] = field(default_factory=list)  # "line N: what is wrong"
    last_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.problems:
            return f"{len(self.problems)} problem(s): " + "; ".join(self.problems[:5])
        if self.truncated:
            return f"{self.events} events verified; the last line was cut short (a crash while writing)"
        return f"{self.events} events verified"


def verify(path: str | Path) -> VerifyResult:
    """Check a log's chain. Reports the first break; a cut last line (no newline) is tolerated."""
    path = Path(path)
    result = VerifyResult(path=path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AuditError(f"cannot read the audit log {path}: {error.strerror}") from error
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline, else a line cut by a crash
    if tail:
        result.truncated = True
    expected_prev = GENESIS
    for number, raw in enumerate(lines, start=1):
        problem = _check_line(raw, number, expected_prev)
        if problem:
            result.problems.append(f"line {number}: {problem}")
            return result
        event = json.loads(raw)
        expected_prev = event["hash"]
        result.events = number
    result.last_hash = expected_prev
    if result.truncated:
        problem = _check_cut_line(tail, len(lines) + 1, expected_prev)
        if problem:
            result.problems.append(f"line {len(lines) + 1}: {problem}")
    return result


def _check_cut_line(tail: bytes, number: int, expected_prev: str) -> str | None:
    """A crash leaves a prefix of a line being written: an object that does not parse yet, or (cut just before
    the newline) a complete event that must still chain."""
    if not tail.startswith(b"{"):
        return "not a cut audit line"
    try:
        json.loads(tail)
    except ValueError:
        return None
    return _check_line(tail, number, expected_prev)


def _check_line(raw: bytes, number: int, expected_prev: str) -> str | None:
    try:
        event = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "not a JSON line (edited?)"
    if not isinstance(event, dict) or not {"seq", "time", "type", "prev", "hash"} <= event.keys():
        return "not an audit event (missing seq/time/type/prev/hash)"
    if event["seq"] != number:
        return f"sequence number {event['seq']} where {number} was expected (line dropped or reordered)"
    if event["prev"] != expected_prev:
        return "does not follow the line before it (line dropped, inserted or reordered)"
    if event["hash"] != event_hash(event):
        return "content does not match its hash (line edited)"
    return None


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """Every complete event of a log, in order (a cut last line is left out). Does not verify."""
    events: list[dict[str, Any]] = []
    for raw in Path(path).read_bytes().split(b"\n")[:-1]:
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


@dataclass
class RunSummary:
    """What one run in a log did: who, when, what, and each host's outcome."""

    started: str
    operator: str
    code: str | None
    arguments: list[str]
    finished: str | None = None
    # host -> its outcome event's fields (outcome, code_before, code_after, reason, computer_name),
    # `interrupted`: the step in flight when a second Ctrl-C gave the host up ({step, phase, reason}), and
    # `change_in_flight`: a changing step announced (step_started) whose result never came ({step, phase})
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False


def show(path: str | Path) -> list[RunSummary]:
    """Summarise every run in a log (a log usually holds one)."""
    runs: list[RunSummary] = []
    for event in read_events(path):
        kind = event.get("type")
        if kind == RUN_STARTED:
            runs.append(
                RunSummary(
                    started=str(event.get("time")),
                    operator=str(event.get("operator")),
                    code=event.get("code"),
                    arguments=list(event.get("arguments") or []),
                )
            )
            # Every host the run meant to work on: one that never started (a crash) has no outcome either.
            for host in event.get("hosts") or []:
                runs[-1].hosts.setdefault(str(host), {"outcome": None})
            continue
        if not runs:
            continue
        run = runs[-1]
        host = run.hosts.setdefault(str(event.get("host")), {"outcome": None}) if "host" in event else {}
        if kind == STEP_STARTED:
            host["change_in_flight"] = {key: event.get(key) for key in ("step", "phase", "attempt")}
        elif kind == STEP:
            run.steps += 1
            if (host.get("change_in_flight") or {}).get("step") == event.get("step"):
                del host["change_in_flight"]
            _learn_computer_name(host, event.get("data"))
        elif kind == STATUS:
            _learn_computer_name(host, event)
        elif kind == INTERRUPTED:
            host["interrupted"] = {key: event.get(key) for key in ("step", "phase", "reason")}
        elif kind == OUTCOME:
            host.pop("change_in_flight", None)  # the outcome says what is known (an abandon: "may have")
            host.update({key: event.get(key) for key in ("outcome", "code_before", "code_after", "reason")})
            _learn_computer_name(host, event)
        elif kind == RUN_FINISHED:
            run.finished = str(event.get("time"))
            run.summary = dict(event.get("summary") or {})
            run.interrupted = bool(event.get("interrupted"))
    return runs


def _learn_computer_name(host: dict[str, Any], fields: Any) -> None:
    """The host's own name, from the first event that carries it (a licence read, an outcome)."""
    if host.get("computer_name") or not isinstance(fields, Mapping):
        return
    name = fields.get("computer_name")
    if isinstance(name, str) and name.strip():
        host["computer_name"] = name.strip()


RERUN_OUTCOMES = ("failed", "unreachable", "skipped", "auth-failed")


def hosts_to_rerun(path: str | Path) -> tuple[str | None, list[str]]:
    """The last run of a log: its code, and the hosts that did not end healthy, fixed or escalate (failed,
    unreachable, skipped, or started without an outcome: a crash). Refuses a log that does not verify."""
    result = verify(path)
    if not result.ok:
        raise AuditError(f"the audit log {path} does not verify: {result.describe()}")
    runs = show(path)
    if not runs:
        raise AuditError(f"the audit log {path} records no run")
    last = runs[-1]
    hosts = [host for host, fields in last.hosts.items() if fields.get("outcome") in (*RERUN_OUTCOMES, None)]
    return last.code, hosts


STATE_UNKNOWN = "state unknown: a change was in flight"


def changes_in_flight(run: RunSummary) -> dict[str, str]:
    """Hosts of a run that a crash left with a changing step sent and no result: host -> what was in flight
    ("fix step activate"). Their state is unknown; a rerun detects before it acts."""
    return {
        host: f"{fields['change_in_flight'].get('phase')} step {fields['change_in_flight'].get('step')}"
        for host, fields in run.hosts.items()
        if fields.get("outcome") is None and fields.get("change_in_flight")
    }
