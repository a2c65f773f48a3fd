"""`remediate status`: the licence state of every host, read-only, through the `license-state` template.

Nothing is changed and no playbook is chosen: each host runs one read of `SoftwareLicensingProduct` /
`SoftwareLicensingService` and reports its LicenseStatus, the HRESULT keeping it from Licensed, and the facts
the template collects. `remediate run auto` uses the same read to pick each host's playbook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import tenacity
from rich.console import Console
from rich.table import Table
from rich.text import Text

from remediate import resources
from remediate.audit import Redactor
from remediate.codes import ErrorCode, code_info
from remediate.errors import TransportError
from remediate.inventory import Host
from remediate.playbook import Playbook
from remediate.render import Renderer
from remediate.results import HostReport, Outcome, ScriptRun, StepResult, computer_name_in, host_label

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
            "data": self.result.data if self.result else None,
        }


def status_script() -> str:
    """The read-only script every host runs for `status` and `run auto`: the license-state template."""
    template = Renderer([resources.templates_dir()]).environment.get_template(STATUS_TEMPLATE)
    return template.render(options={}, step={"id": "status", "phase": "detect"})


def read_fleet_status(
    hosts: Sequence[Host], connect: Callable[[Host], StatusSession], forks: int = 10, attempts: int = 4
) -> list[HostStatus]:
    """Every host's licence through the license-state template (what `remediate status` shows)."""
    return read_status(hosts, connect, status_script(), forks=forks, attempts=attempts)


WORDS = {  # the status table in the user's language
    "en": {
        "title": "licence state of {count} host(s)",
        "columns": ("host", "state", "code", "meaning", "edition", "key", "KMS"),
        "licensed": "{licensed} of {count} licensed",
    },
    "ja": {
        "title": "{count} 台のホストのライセンス状態",
        "columns": ("ホスト", "状態", "コード", "意味", "エディション", "キー", "KMS"),
        "licensed": "{count} 台中 {licensed} 台がライセンス認証済み",
    },
}


def _edition(product_name: str) -> str:
    """`Windows(R), ServerStandard edition` -> `ServerStandard` (the rest is the same on every row)."""
    return product_name.removeprefix("Windows(R), ").removesuffix(" edition")


def print_status(
    statuses: Sequence[HostStatus], console: Console, redactor: Redactor | None = None, language: str = "en"
) -> None:
    """The `remediate status` table: one row per host, then how many are licensed."""
    redactor = redactor or Redactor()
    words = WORDS["ja" if language == "ja" else "en"]
    table = Table(title=str(words["title"]).format(count=len(statuses)), title_justify="left")
    for column in words["columns"]:
        table.add_column(column)
    for status in statuses:
        data = status.result.data if status.result else {}
        kms = data.get("kms_machine") or data.get("discovered_kms_machine") or ""
        cells = (
            status.label,
            STATE_NAMES_JA.get(status.state, status.state) if language == "ja" else status.state,
            str(status.code or ""),
            status.error or status.meaning(language),
            _edition(str(data.get("name") or "")),
            str(data.get("partial_product_key") or ""),
            str(kms),
        )
        table.add_row(*(Text(redactor.text(cell), overflow="fold") for cell in cells))
    console.print(table)
    licensed = sum(1 for status in statuses if status.licensed)
    console.print(Text(str(words["licensed"]).format(licensed=licensed, count=len(statuses))))


def _transient(error: BaseException) -> bool:
    return isinstance(error, TransportError) and error.transient


def read_status(
    hosts: Sequence[Host],
    connect: Callable[[Host], StatusSession],
    script: str,
    forks: int = 10,
    attempts: int = 4,
    backoff_s: float = 1.0,
) -> list[HostStatus]:
    """Read every host's licence, `forks` at a time; transient faults retried with backoff and jitter."""

    def one(host: Host) -> HostStatus:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_transient),
            stop=tenacity.stop_after_attempt(max(1, attempts)),
            wait=tenacity.wait_exponential(multiplier=backoff_s, max=30) + tenacity.wait_random(0, backoff_s),
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
            return HostStatus(host, result=run.result, error=f"script: {run.script_error}")
        return HostStatus(host, result=run.result)

    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts) or 1))) as pool:
        return list(pool.map(one, hosts))


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

        def decided(outcome: Outcome, reason: str, status: HostStatus = status) -> None:
            choice.decided.append(
                HostReport(
                    host=status.host.label,
                    code=AUTO,
                    outcome=outcome,
                    code_before=status.code,
                    reason=reason,
                    computer_name=status.computer_name,
                )
            )

        if status.unreachable:
            decided(Outcome.UNREACHABLE, status.error or "unreachable")
        elif status.licensed:
            decided(Outcome.HEALTHY, "licensed: nothing to fix")
        elif status.code is None:
            detail = f": {status.error}" if status.error else ""
            decided(
                Outcome.ESCALATE,
                f"not licensed ({status.state}) and no error code to choose a playbook{detail}",
            )
        else:
            playbook = find(status.code)
            if playbook is None:
                decided(
                    Outcome.ESCALATE,
                    f"no playbook for {status.code}: {status.meaning() or 'a human must look'}",
                )
            else:
                choice.groups.setdefault(playbook.code, (playbook, []))[1].append(status.host)
    return choice
