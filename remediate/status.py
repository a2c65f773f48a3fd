"""`remediate status`: the licence state of every host, read-only, through the `license-state` template.

Nothing is changed and no playbook is chosen: each host runs one read of `SoftwareLicensingProduct` /
`SoftwareLicensingService` and reports its LicenseStatus, the HRESULT keeping it from Licensed, and the facts
the template collects. `remediate run auto` uses the same read to pick each host's playbook (diagnosis.py);
status_view.py shows it.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import tenacity

from remediate import resources
from remediate.codes import ErrorCode, code_info
from remediate.connector import Connect, HostSession, transient_retrying
from remediate.errors import TransportError
from remediate.i18n import N_, _, gettext_in
from remediate.interrupt import TwoPressStop
from remediate.inventory import Host
from remediate.pool import HostPool
from remediate.render import Renderer
from remediate.results import ExitCategory, ScriptRun, StepResult, computer_name_in, host_label

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
# The states as a person reads them (gettext messages; JSON and CSV keep the English).
STATE_WORDS = (N_("Unlicensed"), N_("Licensed"), N_("Initial grace (OOB)"), N_("Additional grace (OOT)"),
               N_("Non-genuine grace"), N_("Notification"), N_("Extended grace"), N_("unreachable"), N_("unknown"),
               N_("no product key"))


def state_word(state: str) -> str:
    """A licence state in the current language (a state of no translation as it is)."""
    return _(state) if state in STATE_WORDS else state


TOO_OLD = N_(
    "its KMS host {host} ({server}), Windows {version} with a key of \"{group}\", cannot activate this client "
    "(Windows build {build}): update the KMS host key"
)
OFFICE_NOTE = N_("Office not licensed ({detail}): not handled (use ospp.vbs)")
SHARED_CMID = N_(
    "shares its Client Machine ID with {hosts}: cloned from an image that was not generalized (sysprep "
    "/generalize); a KMS host counts them as one"
)


@dataclass(frozen=True)
class TooOldKmsHost:
    """The KMS host a client last asked (event 12288's Server:Port), read in the same run, whose host key's CSVLK
    group cannot activate the client's build."""

    host: str  # its computer name (or its name in the hosts file)
    server: str  # Server:Port as event 12288 names it
    version: str  # its SoftwareLicensingService.Version
    group: str  # the title of its key's CSVLK group
    build: int  # the client's Windows build

    def text(self, language: str = "en") -> str:
        return gettext_in(language, TOO_OLD).format(host=self.host, server=self.server, version=self.version,
                                                    group=self.group, build=self.build)


@dataclass
class HostStatus:
    """One host's licence as read now, or why it could not be read."""

    host: Host
    result: StepResult | None = None
    error: str | None = None  # "kind: message" of a transport or script failure
    unreachable: bool = False
    auth_failed: bool = False  # the host refused the credentials
    playbook: ErrorCode | None = None  # the playbook that handles `code` (see diagnosis.name_playbooks)
    # diagnosis.py's finding from the evidence: the code to fix, and the evidence and source it rests on
    diagnosed: ErrorCode | None = None
    evidence: str | None = None
    evidence_source: str | None = None
    shares_cmid_with: list[str] = field(default_factory=list)  # other hosts read with the same Client Machine ID
    kms_host_too_old: TooOldKmsHost | None = None  # the KMS host it last asked cannot activate it (diagnosis.py)

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
        """The code keeping the host from Licensed: the diagnosis' finding once made, else what the read said."""
        if self.evidence is not None:
            return self.diagnosed
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

    @property
    def office_unlicensed(self) -> list[dict[str, Any]]:
        """The Office licences on the host that are not Licensed (the license-state template's `data.office`:
        Office's own products, application ID 0ff1ce15-...). Office is not Windows: no playbook changes it."""
        products = self.data.get("office")
        if not isinstance(products, list):
            return []
        return [p for p in products if isinstance(p, dict) and p.get("license_status") != 1]

    def office_note(self, language: str = "en") -> str:
        """What a person reads about the host's Office licences ("" when every one is Licensed or none is there)."""
        products = self.office_unlicensed
        if not products:
            return ""
        names = ", ".join(str(p.get("name") or "Office") for p in products)
        code = self.data.get("office_last_activation_error")
        detail = f"{names}, {code}" if code else names
        return gettext_in(language, OFFICE_NOTE).format(detail=detail)

    def notes(self, language: str = "en") -> list[str]:
        """Why the host is handed over beside (or instead of) its code's playbook, as a person reads them: Office
        not licensed, a Client Machine ID shared with other hosts, a KMS host too old for it."""
        notes = [self.office_note(language)] if self.office_unlicensed else []
        if self.shares_cmid_with:
            notes.append(gettext_in(language, SHARED_CMID).format(hosts=", ".join(self.shares_cmid_with)))
        if self.kms_host_too_old is not None:
            notes.append(self.kms_host_too_old.text(language))
        return notes

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
            "evidence": self.evidence,
            "evidence_source": self.evidence_source,
            "shares_cmid_with": "; ".join(self.shares_cmid_with) or None,  # as CSV shows it
            "kms_host_too_old": self.kms_host_too_old.text() if self.kms_host_too_old else None,
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
            "client_machine_id": data.get("client_machine_id"),
            "office_not_licensed": "; ".join(str(p.get("name")) for p in self.office_unlicensed) or None,
        })
        return row


@functools.cache
def status_script() -> str:
    """The read-only script every host runs for `status` and `run auto`: the license-state template, rendered
    once (it takes no values)."""
    template = Renderer([resources.templates_dir()]).environment.get_template(STATUS_TEMPLATE)
    return template.render(options={}, step={"id": "status", "phase": "detect"})


def fleet_category(statuses: Sequence[HostStatus]) -> ExitCategory:
    """`remediate status`'s exit: OK when every host is Licensed (Windows, and any Office beside it), UNREACHABLE
    when none answered, else FAILED."""
    if statuses and all(status.unreachable for status in statuses):
        return ExitCategory.UNREACHABLE
    if any(status.auth_failed for status in statuses):  # the account itself is in question: exit 3
        return ExitCategory.UNREACHABLE
    every = all(status.licensed and not status.office_unlicensed for status in statuses)
    return ExitCategory.OK if every else ExitCategory.FAILED


def edition(product_name: str) -> str:
    """`Windows(R), ServerStandard edition` -> `ServerStandard` (the rest is the same on every row)."""
    return product_name.removeprefix("Windows(R), ").removesuffix(" edition")


NOT_READ = "not read: interrupted"
NOT_READ_AUTH = "not read: hosts refused the credentials (--max-auth-failures); more tries could lock the account"
SCRIPT_FAILED = "script: "  # how `HostStatus.error` begins when the licence script failed


class ReadObserver(Protocol):
    """Hears how the licence reads go (progress.LiveProgress is one). Called from worker threads."""

    def host_retrying(self, host: str, what: str, attempt: int, attempts: int | None) -> None: ...

    def host_read(self, status: HostStatus) -> None: ...


def _read_once(session: HostSession, script: str) -> ScriptRun:
    session.open()
    try:
        return session.run(script, {}, STATUS_TIMEOUT_S)
    finally:
        session.close()


def read_status(
    hosts: Sequence[Host],
    connect: Connect,
    script: str | None = None,
    forks: int = 10,
    attempts: int = 4,
    backoff_s: float = 1.0,
    stop: TwoPressStop | None = None,
    max_auth_failures: int | None = 3,
    observer: ReadObserver | None = None,
) -> list[HostStatus]:
    """Read every host's licence (the license-state template unless `script` is given), `forks` at a time
    (pool.py); transient faults retried with backoff and jitter.

    The first press of `stop` starts no new read and cuts retry waits short; the second stops waiting for the
    reads in flight. A host whose read was not made or not finished because of the stop gets a status with
    error NOT_READ. Once `max_auth_failures` hosts refused the credentials, no further host is tried (a
    domain account locks out); those left get error NOT_READ_AUTH. `observer` hears of each retry and read
    (progress.LiveProgress).
    """
    stop = stop or TwoPressStop()
    auth_failures: list[int] = []
    text = script if script is not None else status_script()

    def read(index: int, host: Host) -> HostStatus:
        retrying = transient_retrying(
            tenacity.stop_after_attempt(max(1, attempts)) | tenacity.stop_when_event_set(stop.finishing),
            initial_s=backoff_s, max_s=30, sleep=stop.pause,
        )
        try:
            for attempt in retrying:
                with attempt:
                    try:
                        run = _read_once(connect(host), text)
                    except TransportError as error:
                        tries = attempt.retry_state.attempt_number
                        if observer is not None and error.transient and tries < attempts and not stop.stopped:
                            observer.host_retrying(host.label, "connect", tries + 1, attempts)
                        raise
        except TransportError as error:
            refused = error.kind == "auth"
            if refused:
                auth_failures.append(index)
            return HostStatus(host, error=f"{error.kind}: {error.message}", unreachable=True, auth_failed=refused)
        if run.script_error:
            return HostStatus(host, result=run.result, error=f"{SCRIPT_FAILED}{run.script_error}")
        return HostStatus(host, result=run.result)

    def observed(index: int, host: Host) -> HostStatus:
        status = read(index, host)
        if observer is not None:
            observer.host_read(status)
        return status

    def too_many_refusals() -> bool:
        return max_auth_failures is not None and len(auth_failures) >= max_auth_failures

    done = HostPool(hosts, observed, forks=forks, stop=stop, name="remediate-status", halt=too_many_refusals).run().done
    unread = NOT_READ if stop.stopped else NOT_READ_AUTH
    return [done.get(index) or HostStatus(host, error=unread) for index, host in enumerate(hosts)]
