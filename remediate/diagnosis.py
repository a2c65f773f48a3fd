"""Which playbook each host needs, from the licence it reports: the decision behind `run auto` and the
playbook column of `remediate status`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from remediate.codes import ErrorCode
from remediate.csvlk_groups import CsvlkGroup, group_of
from remediate.errors import UsageError
from remediate.inventory import Host
from remediate.playbook import NOT_YET_ACTIVATED_CODES, Playbook
from remediate.reasons import Localized, Reason
from remediate.results import HostReport, Outcome
from remediate.status import NOT_READ, NOT_READ_AUTH, SCRIPT_FAILED, HostStatus, TooOldKmsHost

AUTO = "auto"  # the code a run of `run auto` is recorded under


# LicenseStatusReason values that only say "not activated (yet)", not why (ref §1b 0xC004F056, §2a grace): the
# reason an attempt failed is in event 8198, or for a KMS client in event 12288 (ref §3 "Event log").
GENERIC_REASONS = frozenset(ErrorCode.parse(code) for code in NOT_YET_ACTIVATED_CODES)
NO_KEY = ErrorCode.parse("0xC004F014")
NO_FIRMWARE_KEY = ErrorCode.parse("0xC004F213")
EVALUATION = ErrorCode.parse("0xC004F069")  # its playbook converts an evaluation edition (DISM, opt-in)
# Office's licences are SoftwareLicensingProduct instances of Office's application ID (ref §2); Office 2010's are
# OfficeSoftwareProtectionProduct. ospp.vbs manages them; no playbook here does.
OFFICE_SOURCE = "ref §2 Office ApplicationId 0ff1ce15-a989-479d-af46-f275c6370663 (ospp.vbs)"


@dataclass(frozen=True)
class Finding:
    """What the evidence says: the code to fix (None: nothing to fix, or no code can be told), the evidence in
    words, and the source that makes it evidence."""

    code: ErrorCode | None
    evidence: str
    source: str


# The decision table, in the order it is read: evidence -> code (-> the playbook that handles the code). One source
# per row; the rows are documented in the README ("How run auto chooses").
def diagnose(status: HostStatus) -> Finding | None:
    """The finding for one licence read; None when the read itself failed (status.error says why)."""
    if status.result is None:
        return None
    data = status.data
    last_attempt = _code(data.get("last_activation_error"))
    if data.get("product_found") is False:
        if last_attempt == NO_FIRMWARE_KEY:
            return Finding(NO_FIRMWARE_KEY, "no product key installed, and the last activation found none in the "
                           "firmware (event 8198)", "ref §1b 0xC004F213")
        return Finding(NO_KEY, "no Windows licence has a product key installed", "ref §1a 0xC004F014")
    evaluation = data.get("evaluation") is True
    if status.licensed:
        if status.office_unlicensed:
            return Finding(None, f"Windows is licensed; {status.office_note()}", OFFICE_SOURCE)
        if evaluation:
            left = status.grace_minutes
            days = f"{left // 1440} day(s)" if left is not None else "an unknown time"
            return Finding(None, f"licensed evaluation edition: it ends in {days}", "ref §1b 0xC004F069, CONVERT")
        return Finding(None, "LicenseStatus 1 (Licensed)", "ref §3 LicenseStatus")
    if evaluation:
        return Finding(EVALUATION, "an evaluation edition that is not licensed (its period is over): convert it",
                       "ref §1b 0xC004F069, CONVERT")
    if last_attempt is not None:
        return Finding(last_attempt, f"the last activation attempt failed with {last_attempt} (event 8198)",
                       "ref §3 Event log (8198)")
    inner = _code(data.get("kms_request_hresult"))
    if data.get("kms_client") is True and inner is not None:
        return Finding(inner, f"the last KMS request failed with {inner} (event 12288)", "ref §3 Event log (12288)")
    reason = _code(data.get("license_status_reason"))
    if reason is not None and reason not in GENERIC_REASONS:
        return Finding(reason, f"LicenseStatusReason {reason}", "ref §3 LicenseStatusReason")
    if data.get("kms_client") is True and reason is not None:
        # Ambiguous: no attempt says why. The code stays what the host reports; its playbook (0xC004F074's, by
        # `also`) is the one whose detect steps tell the cause (SRV records, TCP 1688, event 12288, the clock).
        return Finding(reason, f"an unactivated KMS client ({reason}) with no failed attempt on record: the KMS "
                       "activation playbook's detect steps tell the cause", "ref §1b 0xC004F056")
    return Finding(None, "not activated, and no activation attempt on record to say why", "ref §3 Event log")


def _code(value: object) -> ErrorCode | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        code = ErrorCode.parse(value)
    except UsageError:
        return None
    return code if code.unsigned != 0 else None


def mark_shared_cmids(statuses: Sequence[HostStatus]) -> None:
    """Set `shares_cmid_with` on hosts that report the same Client Machine ID: machines cloned from an image that
    was not generalized (sysprep /generalize), which a KMS host counts as one, so its count does not grow (KMSGEN,
    "Guidelines for troubleshooting the Key Management Service")."""
    by_cmid: dict[str, list[HostStatus]] = {}
    for status in statuses:
        cmid = status.data.get("client_machine_id")
        if isinstance(cmid, str) and cmid.strip():
            by_cmid.setdefault(cmid.strip().lower(), []).append(status)
    for sharing in by_cmid.values():
        for status in sharing:
            status.shares_cmid_with = [other.host.label for other in sharing if other is not status]


CLONED = ("shares its Client Machine ID with {count} other host(s) read: cloned from an image that was not "
          "generalized (sysprep /generalize); a KMS host counts them as one (KMSGEN)")
TOO_OLD_SOURCE = "KMSPLAN (activation versions); F074 (support version mismatch between KMS client and KMS host)"


def _build(version: object) -> int | None:
    """The build of a SoftwareLicensingService.Version such as 10.0.22631.1 (None when it is not one)."""
    parts = str(version or "").split(".")
    return int(parts[2]) if len(parts) >= 3 and parts[2].isdigit() else None


def mark_kms_hosts_too_old(statuses: Sequence[HostStatus]) -> None:
    """Set `kms_host_too_old` on unactivated KMS clients whose last request (event 12288's Server:Port) went to a KMS
    host read in the same run whose host key's CSVLK group cannot activate the client's version (KMSPLAN, "Activation
    versions"; F074 names a KMS host too old for its clients as a cause)."""
    kms_hosts: dict[str, tuple[HostStatus, CsvlkGroup]] = {}
    for status in statuses:
        group = group_of(str(status.data.get("description") or ""))
        name = status.data.get("computer_name")
        if group is not None and isinstance(name, str) and name:
            kms_hosts[name.lower()] = (status, group)
    for status in statuses:
        server = str(status.data.get("kms_request_server") or "")
        build = _build(status.data.get("service_version"))
        if status.licensed or status.data.get("kms_client") is not True or not server or build is None:
            continue
        # "kms02.corp.example:1688" (or "[fd00::5]:1688"): the host's first DNS label is its computer name [inf]
        first = server.rsplit(":", 1)[0].strip("[]").split(".")[0].lower()
        found = kms_hosts.get(first)
        client_server = "server" in str(status.data.get("name") or "").lower()
        if found is None or found[1].can_activate(client_server, build):
            continue
        host, group = found
        status.kms_host_too_old = TooOldKmsHost(host=host.computer_name or host.host.label, server=server,
                                                version=str(host.data.get("service_version") or "?"),
                                                group=group.title, build=build)


def name_playbooks(statuses: Sequence[HostStatus], find: Callable[[ErrorCode], Playbook | None]) -> None:
    """Diagnose each status from its evidence and set its `playbook`: the one that handles the code found."""
    mark_shared_cmids(statuses)
    mark_kms_hosts_too_old(statuses)
    for status in statuses:
        finding = diagnose(status)
        if finding is not None:
            status.diagnosed, status.evidence, status.evidence_source = finding.code, finding.evidence, finding.source
            if finding.code is not None and status.office_unlicensed:  # the playbook is for Windows' code only
                status.evidence = f"{finding.evidence}; {status.office_note()}"
            if status.shares_cmid_with:
                status.evidence = f"{status.evidence}; {CLONED.format(count=len(status.shares_cmid_with))}"
            if status.kms_host_too_old is not None:  # a change on the KMS host: no playbook on this client
                status.evidence = f"{status.evidence}; {status.kms_host_too_old.text()}"
                status.evidence_source = f"{status.evidence_source}; {TOO_OLD_SOURCE}"
                status.playbook = None
                continue
        playbook = find(status.code) if status.code is not None and not status.licensed else None
        status.playbook = playbook.code if playbook is not None else None


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

        if status.auth_failed:
            decided(Outcome.AUTH_FAILED, Reason("auth_failed", message=status.error or ""))
        elif status.error == NOT_READ_AUTH:
            refused = sum(1 for other in statuses if other.auth_failed)
            decided(Outcome.SKIPPED, Reason("not_started_auth", count=str(refused)))
        elif status.unreachable:
            decided(
                Outcome.UNREACHABLE,
                Reason("status_unreachable", error=status.error)
                if status.error
                else Reason("status_unreachable_unknown"),
            )
        elif status.licensed and status.office_unlicensed:
            # An Office-only problem: a Windows playbook would change Windows and leave Office unlicensed.
            decided(Outcome.ESCALATE, Reason("office_not_handled", detail=_office_detail(status)))
        elif status.licensed and status.data.get("evaluation") is True:
            days = str(status.grace_minutes // 1440) if status.grace_minutes is not None else "?"
            decided(Outcome.HEALTHY, Reason("licensed_evaluation", days=days, code=str(EVALUATION),
                                            opt_in="--allow edition-conversion"))
        elif status.licensed:
            decided(Outcome.HEALTHY, Reason("licensed"))
        elif status.kms_host_too_old is not None:
            too_old = status.kms_host_too_old
            decided(Outcome.ESCALATE, Reason("kms_host_too_old", detail=Localized(too_old.text("en"),
                                                                                   too_old.text("ja"))))
        elif status.code is None:
            state = Localized(status.state)  # told in the reader's language (status.STATE_WORDS)
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


def _office_detail(status: HostStatus) -> str:
    """The Office licences that are not Licensed, and the last error Office's own activation recorded."""
    names = ", ".join(str(product.get("name") or "Office") for product in status.office_unlicensed)
    code = _code(status.data.get("office_last_activation_error"))
    return f"{names}: {code} (event 8198)" if code is not None else names


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
