"""The decision table behind `run auto` and `status`: evidence -> code -> playbook, one source per row."""

from __future__ import annotations

from typing import Any

import pytest

from remediate.codes import ErrorCode
from remediate.diagnosis import choose_playbooks, diagnose, name_playbooks
from remediate.inventory import Host
from remediate.playbook import PlaybookLibrary
from remediate.results import ExitCategory, Outcome, StepResult
from remediate.status import HostStatus, fleet_category

LIBRARY = PlaybookLibrary(())


def read(license_status: int, **data: Any) -> HostStatus:
    """One licence read as the license-state template reports it."""
    facts: dict[str, Any] = {"product_found": True, "kms_client": False, "evaluation": False, **data}
    return HostStatus(Host("pc1.corp.example"), result=StepResult(ok=license_status == 1, license_status=license_status,
                                                                  data=facts))


CASES = [
    # (what the host shows, the code found, the playbook chosen, the source the row rests on)
    (read(0, product_found=False), "0xC004F014", "0xC004F014", "ref §1a 0xC004F014"),
    (read(0, product_found=False, last_activation_error="0xC004F213"), "0xC004F213", "0xC004F213", "0xC004F213"),
    (read(5, evaluation=True, license_status_reason="0xC004F009"), "0xC004F069", "0xC004F069", "CONVERT"),
    (read(5, kms_client=True, license_status_reason="0xC004F056", last_activation_error="0x8007232B"),
     "0x8007232B", "0x8007232B", "8198"),
    (read(2, kms_client=True, license_status_reason="0x4004F00C", kms_request_hresult="0xC004F074"),
     "0xC004F074", "0xC004F074", "12288"),
    (read(5, license_status_reason="0xC004F00F"), "0xC004F00F", "0xC004F00F", "LicenseStatusReason"),
    # Event 8198's "KMS contact failure" codes take 0xC004F074's steps (Microsoft's event 8198 article)
    (read(2, kms_client=True, license_status_reason="0x4004F00C", last_activation_error="0xC0020017"),
     "0xC0020017", "0xC004F074", "8198"),
    # Ambiguous: an unactivated KMS client that never said why. The code stays what it reports; the playbook
    # is the one whose detect steps can tell (0xC004F074's, which handles 0xC004F056).
    (read(5, kms_client=True, license_status_reason="0xC004F056"), "0xC004F056", "0xC004F074", "0xC004F056"),
]


@pytest.mark.parametrize(("status", "code", "playbook", "source"), CASES)
def test_each_row_of_the_table_chooses_from_the_evidence(status: HostStatus, code: str, playbook: str,
                                                         source: str) -> None:
    name_playbooks([status], LIBRARY.find)
    assert status.code == ErrorCode.parse(code)
    assert status.playbook == ErrorCode.parse(playbook)
    assert status.evidence and source in (status.evidence_source or "")
    assert status.to_dict()["evidence"] == status.evidence  # `status --output json` shows why


def test_a_failed_attempt_outweighs_the_generic_reason_licensestatusreason_holds() -> None:
    # On a real unactivated volume client LicenseStatusReason holds 0xC004F056 whatever /ato said.
    finding = diagnose(read(5, kms_client=True, license_status_reason="0xC004F056", last_activation_error="0xC004C008"))
    assert finding is not None and str(finding.code) == "0xC004C008"


def test_an_evaluation_edition_is_healthy_while_licensed_and_says_when_it_ends() -> None:
    status = read(1, evaluation=True, grace_minutes_remaining=10 * 1440 + 5)
    name_playbooks([status], LIBRARY.find)
    (decided,) = choose_playbooks([status], LIBRARY.find).decided
    assert decided.outcome is Outcome.HEALTHY
    assert "ends in 10 day(s)" in decided.reason and "0xC004F069" in decided.reason
    expired = read(5, evaluation=True, license_status_reason="0xC004F009")
    name_playbooks([expired], LIBRARY.find)
    groups = choose_playbooks([expired], LIBRARY.find).groups
    assert list(groups) == [ErrorCode.parse("0xC004F069")]  # conversion, not "activate by phone" (0xC004F009)


def test_a_licensed_host_has_nothing_to_fix_and_a_host_with_no_evidence_is_not_guessed() -> None:
    licensed = read(1)
    unknown = read(2, license_status_reason="0x4004F00C")  # a MAK host in grace that never tried to activate
    name_playbooks([licensed, unknown], LIBRARY.find)
    assert licensed.code is None and licensed.playbook is None
    assert unknown.code is None and unknown.playbook is None and "no activation attempt" in (unknown.evidence or "")


OFFICE_KMS_CLIENT = {"name": "Office 16, Office16ProPlusVL_KMS_Client edition",
                     "description": "Office 16, VOLUME_KMSCLIENT channel", "license_status": 5,
                     "license_status_reason": "0xC004F056", "partial_product_key": "WFG99"}


def test_an_office_only_problem_is_escalated_as_not_handled_never_given_a_windows_playbook() -> None:
    office = read(1, kms_client=True, office=[OFFICE_KMS_CLIENT], office_last_activation_error="0xC004F042")
    name_playbooks([office], LIBRARY.find)
    assert office.code is None and office.playbook is None  # Windows is licensed: nothing of Windows' to fix
    assert "Office not licensed" in (office.evidence or "") and "0ff1ce15" in (office.evidence_source or "")
    choice = choose_playbooks([office], LIBRARY.find)
    assert not choice.groups
    (decided,) = choice.decided
    assert decided.outcome is Outcome.ESCALATE and decided.why is not None
    assert decided.why.id == "office_not_handled"
    assert decided.reason.startswith("Office: not handled") and "0xC004F042" in decided.reason
    assert "ospp.vbs" in decided.why.render("ja")


def test_a_licensed_office_beside_a_licensed_windows_is_healthy() -> None:
    both = read(1, office=[{**OFFICE_KMS_CLIENT, "license_status": 1, "license_status_reason": "0x00000000"}])
    name_playbooks([both], LIBRARY.find)
    (decided,) = choose_playbooks([both], LIBRARY.find).decided
    assert decided.outcome is Outcome.HEALTHY and both.office_note() == ""
    assert fleet_category([both]) is ExitCategory.OK


def test_windows_own_problem_keeps_its_playbook_and_the_evidence_names_office_apart() -> None:
    status = read(5, kms_client=True, license_status_reason="0xC004F056", last_activation_error="0xC004F06C",
                  office=[OFFICE_KMS_CLIENT], office_last_activation_error="0xC004F042")
    name_playbooks([status], LIBRARY.find)
    assert status.code == ErrorCode.parse("0xC004F06C") and status.playbook == ErrorCode.parse("0xC004F06C")
    assert "event 8198" in (status.evidence or "") and "Office not licensed" in (status.evidence or "")


def test_status_fails_while_an_office_licence_is_not_licensed() -> None:
    office = read(1, office=[OFFICE_KMS_CLIENT])
    assert fleet_category([office]) is ExitCategory.FAILED
    assert office.to_row()["office_not_licensed"] == OFFICE_KMS_CLIENT["name"]


def test_hosts_that_share_a_client_machine_id_are_named_as_clones() -> None:
    cloned = "5d1c3c63-3f43-4c4b-9e2a-0e8b1b7a6f10"
    first = read(5, kms_client=True, license_status_reason="0xC004F056", last_activation_error="0xC004F038",
                 client_machine_id=cloned)
    second = HostStatus(Host("pc2.corp.example"), result=StepResult(ok=False, license_status=5, data={
        **first.data, "client_machine_id": cloned.upper()}))  # CIM may spell a GUID in either case
    alone = read(1, client_machine_id="0f5e2a8c-1111-4c4b-9e2a-0e8b1b7a6f10")
    name_playbooks([first, second, alone], LIBRARY.find)
    assert first.shares_cmid_with == ["pc2.corp.example"] and second.shares_cmid_with == ["pc1.corp.example"]
    assert alone.shares_cmid_with == []
    assert first.playbook == ErrorCode.parse("0xC004F038")  # the code stays; the evidence says why the count is stuck
    assert "sysprep /generalize" in (first.evidence or "") and "sysprep" not in (alone.evidence or "")
    assert first.to_dict()["shares_cmid_with"] == "pc2.corp.example" and alone.to_dict()["shares_cmid_with"] is None
    assert first.to_row()["shares_cmid_with"] == "pc2.corp.example"


def test_a_client_whose_kms_host_is_too_old_is_handed_over_naming_the_host_and_its_version() -> None:
    """KMSPLAN: a Server 2019 CSVLK activates clients up to Windows 10 (build 19045), not Windows 11 (22631)."""
    kms = HostStatus(Host("kms02.corp.example"), result=StepResult(ok=True, license_status=1, data={
        "product_found": True, "kms_client": False, "evaluation": False, "computer_name": "KMS02",
        "description": "Windows(R) Operating System, VOLUME_KMS_WS19 channel", "service_version": "10.0.17763.1"}))
    client = read(2, kms_client=True, license_status_reason="0x4004F00C", last_activation_error="0xC004F042",
                  name="Windows(R), Enterprise edition", service_version="10.0.22631.1",
                  kms_request_server="kms02.corp.example:1688")
    older = read(2, kms_client=True, license_status_reason="0x4004F00C", last_activation_error="0xC004F042",
                 name="Windows(R), EnterpriseS edition", service_version="10.0.17763.1",
                 kms_request_server="kms02.corp.example:1688")  # LTSC 2019: the host's key covers it
    name_playbooks([kms, client, older], LIBRARY.find)
    assert client.kms_host_too_old is not None and client.playbook is None
    assert "KMS02" in (client.evidence or "") and "10.0.17763" in (client.evidence or "")
    choice = choose_playbooks([kms, client, older], LIBRARY.find)
    (decided,) = [d for d in choice.decided if d.outcome is Outcome.ESCALATE]
    assert decided.why is not None and decided.why.id == "kms_host_too_old" and "Windows Server 2019" in decided.reason
    assert older.kms_host_too_old is None and older.playbook == ErrorCode.parse("0xC004F042")
    alone = read(2, kms_client=True, license_status_reason="0x4004F00C", last_activation_error="0xC004F042",
                 service_version="10.0.22631.1", kms_request_server="kms02.corp.example:1688")
    name_playbooks([alone], LIBRARY.find)  # the KMS host was not read: nothing is guessed
    assert alone.kms_host_too_old is None and alone.playbook == ErrorCode.parse("0xC004F042")
