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

from remediate.codes import ErrorCode, code_info
from remediate.errors import TransportError
from remediate.inventory import Host
from remediate.playbook import Playbook
from remediate.results import HostReport, Outcome, ScriptRun, StepResult

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
    def label(self) -> str:
        return self.host.label

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
            "host": self.label,
            "state": self.state,
            "licensed": self.licensed,
            "license_status": self.result.license_status if self.result else None,
            "hresult": str(self.code) if self.code else None,
            "error": self.error,
            "data": self.result.data if self.result else None,
        }


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
                    host=status.label, code=AUTO, outcome=outcome, code_before=status.code, reason=reason
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
