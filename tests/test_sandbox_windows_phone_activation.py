"""Phone activation in the sandbox: the published confirmation-ID rule, and what slmgr /dti, /atp and
DepositOfflineConfirmationId make of confirmation IDs (ref §2 /dti /atp; SLERR-H codes)."""

from __future__ import annotations

import hashlib
import re

import pytest
from test_sandbox_windows_support import (
    cmdlet,
    cmdlet_error,
    gvlk_host,
    mak_host,
    slmgr,
    windows_product,
    world_with_kms,
)

from remediate import resources
from remediate.expressions import template_environment
from remediate.results import StepResult
from remediate.sandbox.commands import CmdletError
from remediate.sandbox.seam import Command, PipelineRequest
from remediate.sandbox.windows import phone_activation
from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.host import WindowsHost
from remediate.sandbox.windows.phone_activation import confirmation_id
from remediate.sandbox.windows.state import LICENSED, HostState, KeyRecord, World

ENVIRONMENT = template_environment([resources.templates_dir()])
OTHER_MAK = "BBBBB-CCCCC-DDDDD-FFFFF-MAK02"  # made up: valid in these tests' world only
INVALID_DATA, MISMATCHED, INVALID_CHECK_DIGITS = 0xC004F02C, 0xC004F031, 0xC004F04D


def rule_as_written(installation_id: str) -> str:
    """The rule exactly as phone_activation's documentation states it, step by step."""
    digits = installation_id.replace("-", "").replace(" ", "")
    number = int.from_bytes(hashlib.sha256(("remediate-sandbox-cid:" + digits).encode("ascii")).digest(), "big")
    payload = str(number % 10**40).rjust(40, "0")
    blocks = []
    for start in range(0, 40, 5):
        block = payload[start:start + 5]
        blocks.append(block + str(sum(int(d) * (i + 1) for i, d in enumerate(block)) % 7))
    return "-".join(blocks)


@pytest.mark.parametrize("installation_id", ["0" * 63, "1234567" * 9, phone_activation.installation_id("PC1", "K")])
def test_the_rule_is_the_one_the_documentation_states(installation_id: str) -> None:
    assert confirmation_id(installation_id) == rule_as_written(installation_id)
    assert re.fullmatch(r"\d{6}(-\d{6}){7}", confirmation_id(installation_id))


def test_the_documented_example_holds() -> None:
    doc = phone_activation.__doc__ or ""
    example = re.search(r"installation ID of 63 zeros it is\s+``([\d-]+)``", doc)
    assert example is not None
    assert confirmation_id("0" * 63) == example.group(1)


def test_every_installation_id_has_its_own_confirmation_id_and_separators_do_not_matter() -> None:
    iid = phone_activation.installation_id("PC1", "KEY")
    grouped = "-".join(iid[i:i + 7] for i in range(0, 63, 7))
    assert confirmation_id(grouped) == confirmation_id(iid)
    assert confirmation_id(iid) != confirmation_id(phone_activation.installation_id("PC2", "KEY"))


def offline_host() -> tuple[HostState, World, WindowsCommands]:
    world = World()
    state = mak_host(world, internet=False)
    return state, world, WindowsCommands(state, world)


def deposit(commands: WindowsCommands, iid: str, cid: str) -> int:
    """DepositOfflineConfirmationId through Invoke-CimMethod: 0, or the HRESULT of the CimException."""
    product = windows_product(commands)
    arguments = {"InstallationId": iid, "ConfirmationId": cid}
    try:
        cmdlet(commands, "Invoke-CimMethod", InputObject=product, MethodName="DepositOfflineConfirmationId",
               Arguments=arguments)
    except CmdletError as error:  # the CimException as the cmdlet raises it
        record = error.record
        match = re.match(r"HRESULT 0x([0-9a-f]{8}),", record.fully_qualified_error_id)
        assert match, record.fully_qualified_error_id
        return int(match.group(1), 16)
    return 0


def test_the_confirmation_id_of_the_hosts_installation_id_activates_it_through_cim() -> None:
    state, _, commands = offline_host()
    iid = windows_product(commands).get("OfflineInstallationId")
    assert state.license_status != LICENSED
    assert deposit(commands, iid, confirmation_id(iid)) == 0
    assert windows_product(commands).get("LicenseStatus") == LICENSED
    assert windows_product(commands).get("LicenseStatusReason") == 0


def test_refused_confirmation_ids_leave_the_licence_as_it_was() -> None:
    state, _, commands = offline_host()
    iid = windows_product(commands).get("OfflineInstallationId")
    right = confirmation_id(iid)
    last = right[-1]
    typo_in_check_digit = right[:-1] + str((int(last) + 1) % 7)
    other_hosts = confirmation_id(phone_activation.installation_id("ELSEWHERE", state.key))
    assert deposit(commands, iid, right[:-2]) == INVALID_DATA  # 47 digits
    assert deposit(commands, iid, right.replace("1", "I", 1)) == INVALID_DATA  # a letter typed for a digit
    assert deposit(commands, iid, typo_in_check_digit) == INVALID_CHECK_DIGITS
    assert deposit(commands, "9" * 63, right) == INVALID_CHECK_DIGITS  # not this licence's installation ID
    assert deposit(commands, iid, other_hosts) == MISMATCHED
    assert state.license_status != LICENSED
    assert deposit(commands, iid, right.replace("-", " ")) == 0  # read out with spaces: still the same digits


def test_installing_another_key_changes_the_installation_id() -> None:
    _, world, commands = offline_host()
    before = windows_product(commands).get("OfflineInstallationId")
    world.add_key(KeyRecord(OTHER_MAK, "MAK", ("ServerStandard",), remaining=5))
    slmgr(commands, "/ipk", OTHER_MAK)
    after = windows_product(commands).get("OfflineInstallationId")
    assert before != after
    assert deposit(commands, after, confirmation_id(before)) == MISMATCHED


def test_a_kms_client_cannot_be_activated_by_phone() -> None:
    world = world_with_kms()
    commands = WindowsCommands(gvlk_host(world), world)
    iid = windows_product(commands).get("OfflineInstallationId")
    error = cmdlet_error(commands, "Invoke-CimMethod", InputObject=windows_product(commands),
                         MethodName="DepositOfflineConfirmationId",
                         Arguments={"InstallationId": iid, "ConfirmationId": confirmation_id(iid)})
    assert error.record.fully_qualified_error_id.startswith("HRESULT 0xc004f07d,")


def test_slmgr_dti_then_atp_activates_an_offline_host() -> None:
    # ref §2 /dti: "Installation ID: <IID>"; /atp <CID> [ActID]: "Confirmation ID for product %ACTID% deposited
    # successfully."
    state, _, commands = offline_host()
    text, code = slmgr(commands, "/ato")
    assert code != 0 and state.license_status != LICENSED  # 0x80072EE2: no way out to Microsoft
    text, code = slmgr(commands, "/dti")
    iid = re.search(r"Installation ID: (\d{63})", text)
    assert code == 0 and iid is not None
    activation_id = windows_product(commands).get("ID")
    text, code = slmgr(commands, "/atp", confirmation_id(iid.group(1)), activation_id)
    assert code == 0, text
    assert f"Confirmation ID for product {activation_id} deposited successfully." in text
    assert state.license_status == LICENSED
    text, _ = slmgr(commands, "/dli")
    assert "License Status: Licensed" in text


def test_slmgr_atp_with_a_wrong_confirmation_id_exits_with_its_code() -> None:
    # ref §2b: on a WMI failure slmgr quits with the HRESULT as its exit code
    state, _, commands = offline_host()
    text, code = slmgr(commands, "/atp", "111111" * 8)  # well-formed (each block's check digit is 1), not its own
    assert code & 0xFFFFFFFF == MISMATCHED
    assert text.startswith("Error: 0xC004F031 ")
    assert state.license_status != LICENSED


# --- the templates on an offline host (in process; the end-to-end run over WinRM is test_phone_activation.py) ---


def run_template(host: WindowsHost, name: str, **parameters: str) -> StepResult:
    script = ENVIRONMENT.get_template(name).render(options={}, step={"id": "step", "phase": "fix"})
    outcome = host.invoke_pipeline(PipelineRequest([Command(script, True, list(parameters.items()))]))
    assert outcome.state == "Completed", outcome.failure
    return StepResult.from_json(outcome.output[-1])


def test_the_templates_read_the_installation_id_then_deposit_its_confirmation_id() -> None:
    state, world, _ = offline_host()
    host = WindowsHost(state, world)
    read = run_template(host, "installation-id.ps1.j2")
    iid = read.data["installation_id"]
    assert read.ok and iid == windows_product(host.commands).get("OfflineInstallationId")
    assert state.key is not None and read.data["partial_product_key"] == state.key[-5:]
    assert read.data["activation_id"] == windows_product(host.commands).get("ID")
    assert read.license_status != LICENSED

    wrong = run_template(host, "confirmation-id.ps1.j2",
                         ConfirmationId=confirmation_id(phone_activation.installation_id("ELSEWHERE", state.key)))
    assert (wrong.ok, wrong.changed, str(wrong.hresult)) == (False, False, "0xC004F031")
    assert wrong.data["deposited"] is False and state.license_status != LICENSED

    done = run_template(host, "confirmation-id.ps1.j2", ConfirmationId=confirmation_id(iid))
    assert (done.ok, done.changed, done.license_status, done.hresult) == (True, True, LICENSED, None)
    assert done.data["installation_id"] == iid and done.data["deposited"] is True
    assert state.license_status == LICENSED

    again = run_template(host, "confirmation-id.ps1.j2", ConfirmationId=confirmation_id(iid))
    assert (again.ok, again.changed, again.data["deposited"]) == (True, False, False)  # licensed: left as it is
