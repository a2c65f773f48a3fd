"""The audit log: append-only JSONL, one AuditEvent per line, chained, readable after a crash.

Every line is one JSON object with `seq` (1, 2, ...), `time` (UTC, ISO 8601), `type`, `prev` (the `hash`
of the previous event; GENESIS for the first) and `hash`: the sha256 of the event's canonical JSON without
`hash` — or, in a keyed log (an audit key file given), its HMAC-SHA256 under that key, with `"chain":
"hmac-sha256"` in every event. Every line is written to the file (one write, in chain order) before the caller
acts on what it records, so a crash of the process loses nothing but, at worst, the line being written — which
then lacks its newline.

Durability (fsync) comes in two kinds. `record` returns once the event is on disk: for what must survive even a
crash of the machine, above all a changing step announced before it is sent (step_started) and its result.
`append` (group commit) writes at once and leaves the fsync to a batch, at most GROUP_COMMIT_S later (sooner
when any `record` follows, since an fsync covers everything written before it): for read-only events (reads,
skips, connects, outcomes). Losing such a tail to a power cut leaves a shorter chain that verifies as crash-cut,
and every host it named is read again by a rerun; a change is never left unannounced. Concurrent callers of
`record` share one fsync.

`verify` tells three states apart:
- complete: the chain holds and every run in it ended with a run_finished event;
- crash-cut: the chain holds but the last run has no run_finished event (a crash, a kill — or lines deleted
  from the end, which no chain can tell from a crash), or its last line was cut while being written; the hosts
  then in flight are named;
- tampered: a line was edited, dropped, inserted or reordered. Without a key, anyone can recompute a sha256
  chain after rewriting it, so an unkeyed log only shows accidental damage; with the key, any rewrite shows.

Every string that enters an event goes through a Redactor first: product keys are masked to their last five
characters, known secrets are scrubbed, and long texts are truncated.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from remediate.errors import AuditError, UsageError
from remediate.i18n import N_, _
from remediate.secret import Redactor

GENESIS = "0" * 64  # the `prev` of the first event of a log
KEYED = "hmac-sha256"  # the `chain` of every event of a keyed log
KEY_FILE_ENV = "REMEDIATE_AUDIT_KEY_FILE"
MIN_KEY_BYTES = 16
GROUP_COMMIT_S = 0.1  # an appended event is on disk at most this long after it was written
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


def event_hash(event: Mapping[str, Any], key: bytes | None = None) -> str:
    """The sha256 of an event's canonical JSON without its own `hash`; with a key, its HMAC-SHA256."""
    body = canonical_json({name: value for name, value in event.items() if name != "hash"}).encode("utf-8")
    if key is not None:
        return hmac.new(key, body, hashlib.sha256).hexdigest()
    return hashlib.sha256(body).hexdigest()


def load_key(path: str | Path) -> bytes:
    """An audit key file: at least 16 bytes of secret (e.g. `head -c 32 /dev/urandom > audit.key`). Keep it
    where the people who could rewrite the logs cannot read it."""
    path = Path(path)
    try:
        key = path.read_bytes()
    except OSError as error:
        raise UsageError(f"audit key file {path}: {error.strerror}") from None
    key = key.rstrip(b"\r\n")  # a key typed into an editor ends with a newline; it is not part of the key
    if len(key) < MIN_KEY_BYTES:
        raise UsageError(
            f"audit key file {path}: {len(key)} bytes; a key needs at least {MIN_KEY_BYTES}",
            hint="make one with: head -c 32 /dev/urandom > audit.key",
        )
    return key


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


class EventLog(Protocol):
    """What the engine writes its events to: an AuditLog, or a dispatched worker's channel to the controller's."""

    path: Path

    def record(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Write one event; return it once it is on disk."""

    def append(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Write one event; it reaches the disk with the next group commit."""

    def sync(self, seq: int | None = None) -> None:
        """Return once every event up to `seq` (default: all written so far) is on disk."""


class AuditLog:
    """The writer. Thread-safe: hosts run concurrently and share one log.

    A new file starts a chain at GENESIS; an existing complete log is continued (its chain goes on). A log
    whose last line was cut by a crash is refused: verify it and start a new file.
    """

    def __init__(
        self,
        path: str | Path,
        redactor: Redactor | None = None,
        key: bytes | None = None,
        group_commit_s: float | None = None,  # None: GROUP_COMMIT_S
    ) -> None:
        self.path = Path(path)
        self.redactor = redactor or Redactor()
        self.key = key
        self.group_commit_s = GROUP_COMMIT_S if group_commit_s is None else group_commit_s
        self._lock = threading.Lock()  # the chain: seq, prev, and the write of each line
        self._sync_lock = threading.Lock()  # one fsync at a time; callers that arrive meanwhile share the next
        self._seq, self._prev = self._tail()
        self._synced = self._seq  # every event up to this seq is on disk
        self._unsynced = threading.Event()  # set while appended events wait for the batch's fsync
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as error:
            raise AuditError(f"cannot open the audit log {self.path}: {error.strerror}") from error

    def _tail(self) -> tuple[int, str]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return 0, GENESIS
        result = verify(self.path, self.key, require_key=False)
        if result.keyed and self.key is None:
            raise UsageError(f"will not append to the keyed audit log {self.path} without its key",
                             hint=f"set {KEY_FILE_ENV}, or give --audit a new file name")
        if not result.ok or result.truncated:  # nothing was touched: exit 2
            raise UsageError(
                f"will not append to the audit log {self.path}: {result.describe()}",
                hint="give --audit a new file name",
            )
        return result.events, result.last_hash

    def record(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Write one event (redacted) and return it, as written, once it is on disk (fsynced)."""
        event = self.append(event_type, **fields)
        self.sync(event["seq"])
        return event

    def append(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Write one event (redacted) and return it as written; its fsync comes with the next batch, at most
        group_commit_s later (or with the next `record`/`sync`)."""
        body = self.redactor.value(fields)
        with self._lock:
            if self._fd is None:
                raise AuditError(f"the audit log {self.path} is closed")
            event: dict[str, Any] = {"seq": self._seq + 1, "time": utc_now(), "type": event_type}
            event.update(body)
            if self.key is not None:
                event["chain"] = KEYED
            event["prev"] = self._prev
            event["hash"] = event_hash(event, self.key)
            line = (canonical_json(event) + "\n").encode("utf-8")
            try:
                written = os.write(self._fd, line)
                while written < len(line):  # a short write on a full disk or a signal
                    written += os.write(self._fd, line[written:])
            except OSError as error:
                raise AuditError(f"cannot write the audit log {self.path}: {error.strerror}") from error
            self._seq = event["seq"]
            self._prev = event["hash"]
            if not self._unsynced.is_set():
                self._unsynced.set()
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_batches, name="remediate-audit", daemon=True)
                self._flusher.start()
        return event

    def sync(self, seq: int | None = None) -> None:
        """Return once every event up to `seq` (default: every event written so far) is on disk."""
        with self._lock:
            target = self._seq if seq is None else seq
        if self._synced >= target:
            return
        with self._sync_lock:
            if self._synced >= target:  # another caller's fsync covered it meanwhile
                return
            with self._lock:
                fd, covered = self._fd, self._seq
                self._unsynced.clear()  # what is appended from now on waits for the next batch
            if fd is None:
                raise AuditError(f"the audit log {self.path} is closed")
            try:
                os.fsync(fd)
            except OSError as error:
                raise AuditError(f"cannot write the audit log {self.path}: {error.strerror}") from error
            self._synced = covered

    def _flush_batches(self) -> None:
        """The group commit: fsync what was appended, at most group_commit_s after it was written."""
        while not self._closed.is_set():
            self._unsynced.wait()
            if self._closed.is_set():
                return
            self._closed.wait(self.group_commit_s)
            try:
                self.sync()
            except AuditError:
                return  # closed meanwhile; close() syncs what is left

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
        with self._sync_lock, self._lock:
            self._closed.set()
            self._unsynced.set()  # wakes the flusher so that it ends
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


COMPLETE, CRASH_CUT, TAMPERED = "complete", "crash-cut", "tampered"


@dataclass
class VerifyResult:
    path: Path
    events: int = 0  # complete, valid events
    truncated: bool = False  # the last line was cut by a crash (the rest verifies)
    problems: list[str] = field(default_factory=list)  # "line N: what is wrong"
    last_hash: str = GENESIS
    keyed: bool = False  # the log's events carry an HMAC chain
    checked_with_key: bool = False
    unfinished: bool = False  # the last run has no run_finished event
    in_flight: list[str] = field(default_factory=list)  # crash-cut: the hosts started with no outcome

    @property
    def ok(self) -> bool:
        """The chain holds (complete or crash-cut)."""
        return not self.problems

    @property
    def state(self) -> str:
        if self.problems:
            return TAMPERED
        return CRASH_CUT if self.truncated or self.unfinished else COMPLETE

    def describe(self) -> str:
        """What the check found, in the current language (the problems as the check wrote them)."""
        if self.problems:
            return _("{count} problem(s): {problems}").format(count=len(self.problems),
                                                              problems="; ".join(self.problems[:5]))
        text = _("{count} events verified").format(count=self.events)
        if self.truncated:
            text += _("; the last line was cut short (a crash while writing)")
        if self.unfinished:
            text += _("; the last run has no run_finished event (crashed, killed, or lines removed from the end)")
            if self.in_flight:
                text += _("; hosts in flight: {hosts}").format(hosts=", ".join(self.in_flight))
        return text

    def strength(self) -> str:
        """What this check can and cannot see, in one sentence."""
        if self.checked_with_key:
            return _("keyed chain checked with its key: any rewrite of the lines shows")
        return _("unkeyed chain: detects accidental damage only; anyone can rewrite the log and recompute it "
                 "(record with {variable} to detect that)").format(variable=KEY_FILE_ENV)


def verify(path: str | Path, key: bytes | None = None, *, require_key: bool = True) -> VerifyResult:
    """Check a log's chain (with the key, when the log is keyed). Reports the first break; a cut last line
    (no newline) is tolerated and reported as crash-cut. A keyed log without its key is refused (UsageError)
    unless require_key is False (then only its links are checked); a key given for an unkeyed log makes it
    tampered (a keyed log rewritten as an unkeyed one)."""
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
    result.keyed = _first_chain(lines[0] if lines else tail) == KEYED
    if result.keyed and key is None and require_key:
        raise UsageError(f"{path} is a keyed audit log: give its key to verify it",
                         hint=f"set {KEY_FILE_ENV} or use --audit-key-file")
    checking = key if result.keyed else None
    result.checked_with_key = checking is not None
    if key is not None and not result.keyed and (lines or tail):
        result.problems.append("line 1: not a keyed log, though a key was given (a keyed log rewritten without it?)")
        return result
    expected_prev = GENESIS
    for number, raw in enumerate(lines, start=1):
        problem = _check_line(raw, number, expected_prev, checking, result.keyed)
        if problem:
            result.problems.append(f"line {number}: {problem}")
            return result
        event = json.loads(raw)
        expected_prev = event["hash"]
        result.events = number
    result.last_hash = expected_prev
    if result.truncated:
        problem = _check_cut_line(tail, len(lines) + 1, expected_prev, checking, result.keyed)
        if problem:
            result.problems.append(f"line {len(lines) + 1}: {problem}")
            return result
    _find_unfinished(result, lines)
    return result


def _first_chain(raw: bytes) -> str | None:
    try:
        event = json.loads(raw)
    except ValueError:
        return None
    return event.get("chain") if isinstance(event, dict) else None


def _find_unfinished(result: VerifyResult, lines: list[bytes]) -> None:
    """Crash-cut: the last run never finished; which of its hosts had started and had no outcome."""
    started: dict[str, None] = {}
    ended: set[str] = set()
    finished = True
    for raw in lines:
        event = json.loads(raw)
        kind = event.get("type")
        if kind == RUN_STARTED:
            started, ended, finished = {}, set(), False
        elif kind == HOST_STARTED:
            started[str(event.get("host"))] = None
        elif kind == OUTCOME:
            ended.add(str(event.get("host")))
        elif kind == RUN_FINISHED:
            finished = True
    result.unfinished = not finished
    result.in_flight = [host for host in started if host not in ended] if not finished else []


def _check_cut_line(tail: bytes, number: int, expected_prev: str, key: bytes | None, keyed: bool) -> str | None:
    """A crash leaves a prefix of a line being written: an object that does not parse yet, or (cut just before
    the newline) a complete event that must still chain."""
    if not tail.startswith(b"{"):
        return "not a cut audit line"
    try:
        json.loads(tail)
    except ValueError:
        return None
    return _check_line(tail, number, expected_prev, key, keyed)


def _check_line(raw: bytes, number: int, expected_prev: str, key: bytes | None, keyed: bool) -> str | None:
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
    if (event.get("chain") == KEYED) != keyed:
        return "keyed and unkeyed events mixed (edited?)"
    if keyed and key is None:
        return None  # only the links can be checked without the key
    if not hmac.compare_digest(str(event["hash"]), event_hash(event, key)):
        return "content does not match its hash (line edited)" if key is None else (
            "content does not match its HMAC (line edited, or another key)")
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


RERUN_OUTCOMES = ("failed", "unreachable", "skipped", "auth-failed", "escalate")


def hosts_to_rerun(path: str | Path, key: bytes | None = None) -> tuple[str | None, list[str]]:
    """The last run of a log: its code, and the hosts that did not end healthy or fixed (failed, escalate,
    unreachable, auth-failed, skipped, or started without an outcome: a crash). An escalated host is rerun once a
    person has acted on it: the rerun detects first, so one still broken is escalated again, unchanged.
    Refuses a log that does not verify."""
    result = verify(path, key)
    if not result.ok:
        raise AuditError(f"the audit log {path} does not verify: {result.describe()}")
    runs = show(path)
    if not runs:
        raise AuditError(f"the audit log {path} records no run")
    last = runs[-1]
    hosts = [host for host, fields in last.hosts.items() if fields.get("outcome") in (*RERUN_OUTCOMES, None)]
    return last.code, hosts


STATE_UNKNOWN = N_("state unknown: a change was in flight")  # _(STATE_UNKNOWN) to show it


def changes_in_flight(run: RunSummary) -> dict[str, str]:
    """Hosts of a run that a crash left with a changing step sent and no result: host -> what was in flight
    ("fix step activate"). Their state is unknown; a rerun detects before it acts."""
    return {
        host: f"{fields['change_in_flight'].get('phase')} step {fields['change_in_flight'].get('step')}"
        for host, fields in run.hosts.items()
        if fields.get("outcome") is None and fields.get("change_in_flight")
    }
