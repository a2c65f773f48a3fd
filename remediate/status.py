"""`remediate status`: the licence state of every host, read-only, through the `license-state` template.

Nothing is changed and no playbook is chosen: each host runs one read of `SoftwareLicensingProduct` /
`SoftwareLicensingService` and reports its LicenseStatus, the HRESULT keeping it from Licensed, and the facts
the template collects. `remediate run auto` uses the same read to pick each host's playbook.
"""

from __future__ import annotations

import csv
import functools
import io
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import tenacity
from rich.console import Console
from rich.table import Table
from rich.text import Text

from remediate import resources
from remediate.codes import ErrorCode, code_info
from remediate.errors import TransportError
from remediate.inventory import Host
from remediate.playbook import Playbook
from remediate.reasons import Localized, Reason, in_language
from remediate.render import Renderer
from remediate.results import (
    ExitCategory,
    HostReport,
    Outcome,
    ScriptRun,
    StepResult,
    computer_name_in,
    host_label,
)
from remediate.secret import Redactor

AUTO = "auto"

STATUS_TEMPLATE = "license-state.ps1.j2"
STATUS_TIMEOUT_S = 120.0

# SoftwareLicensingProduct.LicenseStatus (activation-facts reference, WMI).
LICENSE_STATUS_NAMES = {
    0: "Unlicensed",
    1: "Licensed",
    2: "Initial grace (OOB)",
    3: "Additional grace (OOT)",
    4: "Non-genuine grace",
    5: "Notification",
    6: "Extended grace",
}
STATE_NAMES_JA = {
    "Unlicensed": "ライセンスなし",
    "Licensed": "ライセンス認証済み",
    "Initial grace (OOB)": "初期猶予期間 (OOB)",
    "Additional grace (OOT)": "追加猶予期間 (OOT)",
    "Non-genuine grace": "非正規猶予期間",
    "Notification": "通知モード",
    "Extended grace": "延長猶予期間",
    "unreachable": "接続できません",
    "unknown": "不明",
    "no product key": "プロダクト キーなし",
}


class StatusSession(Protocol):
    def open(self) -> Any: ...

    def close(self) -> None: ...

    def run(self, script: str, parameters: Mapping[str, Any], timeout_s: float) -> ScriptRun: ...


@dataclass
class HostStatus:
    """One host's licence as read now, or why it could not be read."""

    host: Host
    result: StepResult | None = None
    error: str | None = None  # "kind: message" of a transport or script failure
    unreachable: bool = False
    playbook: ErrorCode | None = None  # the playbook that handles `code` (see name_playbooks)

    @property
    def computer_name(self) -> str | None:
        return computer_name_in([self.result]) if self.result is not None else None

    @property
    def label(self) -> str:
        """The hosts-file name, with the computer name when it says more: `127.0.0.1:58715 (WIN-KMS01)`."""
        return host_label(self.host.label, self.computer_name)

    @property
    def licensed(self) -> bool:
        return self.result is not None and self.result.ok and self.result.license_status == 1

    @property
    def code(self) -> ErrorCode | None:
        return self.result.hresult if self.result is not None else None

    @property
    def state(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.result is not None and self.result.data.get("product_found") is False:
            return "no product key"  # no Windows licence has a key installed: nothing says why
        if self.result is None or self.result.license_status is None:
            return "unknown"
        return LICENSE_STATUS_NAMES.get(self.result.license_status, str(self.result.license_status))

    @property
    def data(self) -> dict[str, Any]:
        return self.result.data if self.result is not None else {}

    @property
    def grace_minutes(self) -> int | None:
        """Minutes left of the current grace or activation-validity period (GracePeriodRemaining)."""
        value = self.data.get("grace_minutes_remaining")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def meaning(self, language: str = "en") -> str:
        info = code_info(self.code) if self.code is not None else None
        if info is None:
            return ""
        return info.meaning_ja if language == "ja" else info.meaning_en

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host.label,
            "computer_name": self.computer_name,
            "state": self.state,
            "licensed": self.licensed,
            "license_status": self.result.license_status if self.result else None,
            "hresult": str(self.code) if self.code else None,
            "error": self.error,
            "playbook": str(self.playbook) if self.playbook else None,
            "grace_minutes_remaining": self.grace_minutes,
            "data": self.result.data if self.result else None,
        }

    def to_row(self) -> dict[str, Any]:
        """One flat row (CSV): the top-level fields, then the licence facts a spreadsheet sorts by."""
        data = self.data
        row = {key: value for key, value in self.to_dict().items() if key != "data"}
        row.update({
            "edition": edition(str(data.get("name") or "")) or None,
            "channel": data.get("channel"),
            "partial_product_key": data.get("partial_product_key"),
            "license_status_reason": data.get("license_status_reason"),
            "kms_machine": data.get("kms_machine"),
            "kms_port": data.get("kms_port"),
            "discovered_kms_machine": data.get("discovered_kms_machine"),
            "discovered_kms_port": data.get("discovered_kms_port"),
        })
        return row


@functools.cache
def status_script() -> str:
    """The read-only script every host runs for `status` and `run auto`: the license-state template, rendered
    once (it takes no values)."""
    template = Renderer([resources.templates_dir()]).environment.get_template(STATUS_TEMPLATE)
    return template.render(options={}, step={"id": "status", "phase": "detect"})


def read_fleet_status(
    hosts: Sequence[Host],
    connect: Callable[[Host], StatusSession],
    forks: int = 10,
    attempts: int = 4,
    stop: ReadStop | None = None,
) -> list[HostStatus]:
    """Every host's licence through the license-state template (what `remediate status` shows)."""
    return read_status(hosts, connect, status_script(), forks=forks, attempts=attempts, stop=stop)


def fleet_category(statuses: Sequence[HostStatus]) -> ExitCategory:
    """`remediate status`'s exit: OK when every host is Licensed, UNREACHABLE when none answered, else FAILED."""
    if statuses and all(status.unreachable for status in statuses):
        return ExitCategory.UNREACHABLE
    return ExitCategory.OK if all(status.licensed for status in statuses) else ExitCategory.FAILED


def name_playbooks(statuses: Sequence[HostStatus], find: Callable[[ErrorCode], Playbook | None]) -> None:
    """Set each status's `playbook`: the one that handles the code keeping the host from Licensed."""
    for status in statuses:
        playbook = find(status.code) if status.code is not None and not status.licensed else None
        status.playbook = playbook.code if playbook is not None else None


WORDS = {  # the status table in the user's language
    "en": {
        "title": "licence state of {count} host(s)",
        "columns": ("host", "state", "code", "meaning", "playbook", "grace", "edition", "key", "KMS"),
        "licensed": "{licensed} of {count} licensed",
        "discovered": "{name} (discovered)",
    },
    "ja": {
        "title": "{count} 台のホストのライセンス状態",
        "columns": ("ホスト", "状態", "コード", "意味", "プレイブック", "猶予", "エディション", "キー", "KMS"),
        "licensed": "{count} 台中 {licensed} 台がライセンス認証済み",
        "discovered": "{name} (DNS で検出)",
    },
}


def edition(product_name: str) -> str:
    """`Windows(R), ServerStandard edition` -> `ServerStandard` (the rest is the same on every row)."""
    return product_name.removeprefix("Windows(R), ").removesuffix(" edition")


WIDE = 150  # narrower than this, the status table leaves out the meaning column
MEANING = 3  # its position in WORDS[...]["columns"]


def print_status(
    statuses: Sequence[HostStatus], console: Console, redactor: Redactor | None = None, language: str = "en"
) -> None:
    """The `remediate status` table: one row per host, then how many are licensed. A column no host has a
    value for is left out (a fleet that cannot be reached has no edition, key or KMS host to show)."""
    redactor = redactor or Redactor()
    words = in_language(WORDS, language)
    rows = []
    for status in statuses:
        data = status.data
        kms = str(data.get("kms_machine") or "")
        if not kms and data.get("discovered_kms_machine"):
            kms = str(words["discovered"]).format(name=data["discovered_kms_machine"])
        rows.append((
            status.label,
            STATE_NAMES_JA.get(status.state, status.state) if language == "ja" else status.state,
            str(status.code or ""),
            status.error or status.meaning(language),
            str(status.playbook or ""),
            grace_text(status.grace_minutes, language),
            edition(str(data.get("name") or "")),
            str(data.get("partial_product_key") or ""),
            str(kms),
        ))
    columns = list(words["columns"])
    shown = [number for number in range(len(columns)) if number < 2 or any(row[number] for row in rows)]
    if console.width < WIDE:
        shown.remove(MEANING)  # the code's meaning is one `remediate explain CODE` away; the row stays readable
    table = Table(title=str(words["title"]).format(count=len(statuses)), title_justify="left")
    for number in shown:
        table.add_column(columns[number])
    for row in rows:
        table.add_row(*(Text(redactor.text(row[number]), overflow="fold") for number in shown))
    console.print(table)
    licensed = sum(1 for status in statuses if status.licensed)
    console.print(Text(str(words["licensed"]).format(licensed=licensed, count=len(statuses))))


def grace_text(minutes: int | None, language: str = "en") -> str:
    """GracePeriodRemaining for a person: `29 d 23 h`, `5 h 12 min`, `40 min`; empty when none is left or known."""
    if not minutes or minutes <= 0:
        return ""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if language == "ja":
        units = ("日", "時間", "分")
        parts = [(days, units[0]), (hours, units[1])] if days else [(hours, units[1]), (mins, units[2])]
        return " ".join(f"{value}{unit}" for value, unit in parts if value) or f"{mins}分"
    parts = [(days, "d"), (hours, "h")] if days else [(hours, "h"), (mins, "min")]
    return " ".join(f"{value} {unit}" for value, unit in parts if value) or f"{mins} min"


def status_csv(statuses: Sequence[HostStatus], redactor: Redactor | None = None) -> str:
    """`remediate status --output csv`: a header, then one row per host (HostStatus.to_row), masked."""
    redactor = redactor or Redactor()
    rows = [status.to_row() for status in statuses]
    columns = list(rows[0]) if rows else list(HostStatus(Host("-")).to_row())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else redactor.text(_cell(value)) for key, value in row.items()})
    return buffer.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _transient(error: BaseException) -> bool:
    return isinstance(error, TransportError) and error.transient


class ReadStop:
    """Ctrl-C for a fleet read. The first press (finish()) starts no new read and cuts retry waits short; the
    reads in flight finish. The second (abandon()) stops waiting for them: read_status returns at once."""

    def __init__(self) -> None:
        self.finishing = threading.Event()
        self.abandoned = threading.Event()

    def press(self) -> bool:
        """One Ctrl-C; True when it abandons the reads in flight. Safe to call from a signal handler."""
        if self.finishing.is_set():
            self.abandoned.set()
            return True
        self.finishing.set()
        return False

    @property
    def stopped(self) -> bool:
        return self.finishing.is_set()


NOT_READ = "not read: interrupted"
SCRIPT_FAILED = "script: "  # how `HostStatus.error` begins when the licence script failed


def read_status(
    hosts: Sequence[Host],
    connect: Callable[[Host], StatusSession],
    script: str,
    forks: int = 10,
    attempts: int = 4,
    backoff_s: float = 1.0,
    stop: ReadStop | None = None,
) -> list[HostStatus]:
    """Read every host's licence, `forks` at a time; transient faults retried with backoff and jitter.

    The reads run in daemon threads, so after stop.abandon() nothing waits for a read still in flight (a host
    that never answers), not even the interpreter on its way out. A host whose read was not made or not
    finished because of the stop gets a status with error NOT_READ.
    """
    stop = stop or ReadStop()
    found: dict[int, HostStatus] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()
    taken = iter(range(len(hosts)))

    def pause(seconds: float) -> None:
        stop.finishing.wait(seconds)  # Ctrl-C cuts a backoff short

    def one(host: Host) -> HostStatus:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_transient),
            stop=tenacity.stop_after_attempt(max(1, attempts)) | tenacity.stop_when_event_set(stop.finishing),
            wait=tenacity.wait_exponential(multiplier=backoff_s, max=30) + tenacity.wait_random(0, backoff_s),
            sleep=pause,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    session = connect(host)
                    session.open()
                    try:
                        run = session.run(script, {}, STATUS_TIMEOUT_S)
                    finally:
                        session.close()
        except TransportError as error:
            return HostStatus(host, error=f"{error.kind}: {error.message}", unreachable=True)
        if run.script_error:
            return HostStatus(host, result=run.result, error=f"{SCRIPT_FAILED}{run.script_error}")
        return HostStatus(host, result=run.result)

    def work() -> None:
        while True:
            with lock:
                index = None if stop.stopped or failures else next(taken, None)
            if index is None:
                return
            try:
                status = one(hosts[index])
            except BaseException as error:  # re-raised by the caller's thread
                with lock:
                    failures.append(error)
                return
            with lock:
                found[index] = status

    workers = [
        threading.Thread(target=work, name=f"remediate-status-{number}", daemon=True)
        for number in range(max(1, min(forks, len(hosts) or 1)))
    ]
    for worker in workers:
        worker.start()
    while not stop.abandoned.is_set() and any(worker.is_alive() for worker in workers):
        stop.abandoned.wait(0.05)  # the main thread stays free to take Ctrl-C
    with lock:
        if failures:
            raise failures[0]
        return [found.get(index) or HostStatus(host, error=NOT_READ) for index, host in enumerate(hosts)]


@dataclass
class AutoChoice:
    """What `run auto` does with each host after reading its licence."""

    groups: dict[ErrorCode, tuple[Playbook, list[Host]]]  # playbook code -> the playbook and its hosts
    decided: list[HostReport]  # licensed, unreachable, or no playbook for its code


def choose_playbooks(
    statuses: Sequence[HostStatus], find: Callable[[ErrorCode], Playbook | None]
) -> AutoChoice:
    """Each host's playbook from the code its licence reports now (a playbook's `also` codes count)."""
    choice = AutoChoice(groups={}, decided=[])
    for status in statuses:

        def decided(outcome: Outcome, why: Reason, status: HostStatus = status) -> None:
            choice.decided.append(
                HostReport(
                    host=status.host.label,
                    code=AUTO,
                    outcome=outcome,
                    code_before=status.code,
                    why=why,
                    computer_name=status.computer_name,
                )
            )

        if status.unreachable:
            decided(
                Outcome.UNREACHABLE,
                Reason("status_unreachable", error=status.error)
                if status.error
                else Reason("status_unreachable_unknown"),
            )
        elif status.licensed:
            decided(Outcome.HEALTHY, Reason("licensed"))
        elif status.code is None:
            state = Localized(status.state, STATE_NAMES_JA.get(status.state, status.state))
            decided(Outcome.ESCALATE, Reason("no_code", state=state, detail=_read_error(status)))
        else:
            playbook = find(status.code)
            if playbook is None:
                meaning = (
                    Localized(status.meaning("en"), status.meaning("ja")) if status.meaning() else Reason("look")
                )
                decided(Outcome.ESCALATE, Reason("no_playbook", code=str(status.code), meaning=meaning))
            else:
                choice.groups.setdefault(playbook.code, (playbook, []))[1].append(status.host)
    return choice


def _read_error(status: HostStatus) -> Reason | str:
    """Why a licence that gave no code was not read, as the part a reason adds ("" when nothing failed)."""
    if not status.error:
        return ""
    if status.error == NOT_READ:
        error: Reason | str = Reason("status_not_read")
    elif status.error.startswith(SCRIPT_FAILED):
        error = Reason("status_script", error=status.error.removeprefix(SCRIPT_FAILED))
    else:
        error = status.error
    return Reason("detail", detail=error)
