"""Which playbook each host needs, from the licence it reports: the decision behind `run auto` and the
playbook column of `remediate status`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from remediate.codes import ErrorCode
from remediate.inventory import Host
from remediate.playbook import Playbook
from remediate.reasons import Localized, Reason
from remediate.results import HostReport, Outcome
from remediate.status import NOT_READ, NOT_READ_AUTH, SCRIPT_FAILED, STATE_NAMES_JA, HostStatus

AUTO = "auto"  # the code a run of `run auto` is recorded under


def name_playbooks(statuses: Sequence[HostStatus], find: Callable[[ErrorCode], Playbook | None]) -> None:
    """Set each status's `playbook`: the one that handles the code keeping the host from Licensed."""
    for status in statuses:
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
