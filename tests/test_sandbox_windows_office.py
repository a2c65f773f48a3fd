"""Office beside Windows in the sandbox: its licence is a SoftwareLicensingProduct of Office's application ID
(ref §2), it activates only against a KMS host that has Office's host key (else 0xC004F042, ref §1a), and its
attempts are logged as Windows logs its own (events 12288 and 8198) with Office's IDs in them."""

from __future__ import annotations

from test_sandbox_windows_support import cmdlet, gvlk_host, slmgr, world_with_kms

from remediate.sandbox.windows import licensing, office
from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.editions import WINDOWS_APPLICATION_ID
from remediate.sandbox.windows.state import LICENSED, OOB_GRACE

OFFICE_APPLICATION_ID = "0ff1ce15-a989-479d-af46-f275c6370663"


def test_office_cannot_activate_against_a_kms_host_without_office_s_host_key() -> None:
    world = world_with_kms()
    state = gvlk_host(world, "PC01", "Enterprise")
    licensing.activate(state, world)
    product = office.OfficeProduct()
    state.office.append(product)
    assert office.activate(state, world, product) == 0xC004F042
    assert product.license_status == OOB_GRACE and state.license_status == LICENSED  # Windows is not touched
    failure, request = state.events[-1], state.events[-2]
    assert failure.id == 8198 and "hr=0xC004F042" in failure.message and OFFICE_APPLICATION_ID in failure.message
    assert request.id == 12288 and product.id in request.message and request.message.count("0xC004F042") == 1


def test_office_activates_against_a_kms_host_with_office_s_host_key() -> None:
    world = world_with_kms(office=True)
    state = gvlk_host(world, "PC01", "Enterprise")
    product = office.OfficeProduct()
    state.office.append(product)
    assert office.activate(state, world, product) == 0
    assert product.license_status == LICENSED


def test_cim_lists_office_beside_windows_and_slmgr_shows_only_windows() -> None:
    world = world_with_kms()
    state = gvlk_host(world, "PC01", "Enterprise")
    state.office.append(office.OfficeProduct())
    commands = WindowsCommands(state, world)
    products = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct")
    keyed = [p.properties for p in products if p.properties["PartialProductKey"]]
    by_app = {p["ApplicationID"]: p for p in keyed}
    assert set(by_app) == {WINDOWS_APPLICATION_ID, OFFICE_APPLICATION_ID}
    licence = by_app[OFFICE_APPLICATION_ID]
    assert licence["Name"] == "Office 16, Office16ProPlusVL_KMS_Client edition"
    assert licence["Description"] == "Office 16, VOLUME_KMSCLIENT channel" and licence["PartialProductKey"] == "WFG99"
    text, code = slmgr(commands, "/dli")
    assert code == 0 and "Office" not in text and "Windows(R), Enterprise edition" in text
