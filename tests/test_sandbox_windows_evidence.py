"""The evidence a real Windows host shows, value by value, each checked against the public source named beside it:
slmgr /dlv's URL lines, Activation IDs and Extended PIDs, the CIM instances' properties and their order, the rearm
counters, the KMS counters, the rearm that waits for a restart."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from test_sandbox_windows_support import (
    PRO_GVLK,
    SERVER_GVLK,
    Context,
    cmdlet,
    gvlk_host,
    mak_host,
    slmgr,
    windows_product,
    world_with_kms,
)

from remediate.sandbox.commands import CmdletError
from remediate.sandbox.windows import licensing
from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.editions import edition
from remediate.sandbox.windows.state import KMS_HOST, OEM, HostState, KeyRecord, World

UNUSED = 4294967295  # ref §3: an unused uint32 reads 4294967295


def lines_after(text: str, first: str, count: int) -> list[str]:
    lines = text.split("\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    return lines[start : start + count]


# --- slmgr /dlv: the URL lines -------------------------------------------------------------------------------


def test_dlv_of_a_mak_prints_only_the_two_urls_windows_has() -> None:
    # [src SLMGR] each URL is printed only when the property is not empty; [obs: alygcode/windows10esu#3, slmgr
    # /dlv of a VOLUME_MAK licence] only these two, with these addresses, between Installation ID and the key
    world = World()
    commands = WindowsCommands(mak_host(world), world)
    text, code = slmgr(commands, "/dlv")
    assert code == 0
    lines = lines_after(text, "Installation ID: ", 4)
    assert lines[1:] == [
        "Use License URL: https://activation-v2.sls.microsoft.com/SLActivateProduct/SLActivateProduct.asmx"
        "?configextension=Retail",
        "Validation URL: https://validation-v2.sls.microsoft.com/SLWGA/slwga.asmx",
        "Partial Product Key: MAK01",
    ]
    assert "Certificate URL" not in text


def test_dlv_of_a_kms_client_prints_no_url() -> None:
    # [src SLMGR] the URL lines are skipped for KMS clients (and AVMA)
    world = world_with_kms()
    text, _ = slmgr(WindowsCommands(gvlk_host(world), world), "/dlv")
    assert "URL" not in text
    assert lines_after(text, "Installation ID: ", 2)[1] == "Partial Product Key: VMK7H"


# --- Activation IDs and Extended PIDs -----------------------------------------------------------------------


def test_kms_client_activation_ids_are_windows_own() -> None:
    # The GVLK licences' Activation IDs: py-kms KmsDataBase.xml and the KMS38 table of
    # massgravel/Microsoft-Activation-Scripts; Server 2022 Standard's as a real host showed it in slmgr /dlv
    # [obs: 11notes/docker-kms#39]
    world = world_with_kms()
    server = WindowsCommands(gvlk_host(world), world)
    assert windows_product(server).get("ID") == "9bd77860-9b31-4b7b-96ad-2564017315bf"
    text, _ = slmgr(server, "/dlv")
    assert "\r\nActivation ID: 9bd77860-9b31-4b7b-96ad-2564017315bf\r\n" in text
    pro = WindowsCommands(gvlk_host(world, "PC01", "Professional"), world)
    assert windows_product(pro).get("ID") == "2de67392-b7a7-462a-b1ca-108dd189f588"
    datacenter = WindowsCommands(gvlk_host(world, "DC1", "ServerDatacenter"), world)
    assert windows_product(datacenter).get("ID") == "ef6cfc9f-8c5d-44ac-9aad-de6a2ea0ae03"


EPID = re.compile(r"^\d{5}-\d{5}-\d{3}-\d{6}-\d{2}-\d{4}-\d{5}\.\d{4}-\d{7}$")


def test_extended_pid_has_windows_shape_build_language_and_install_date() -> None:
    # [obs] "03612-05150-000-025690-03-1033-19045.0000-2962025" (a MAK installed on 23/10/2025 = day 296,
    # alygcode/windows10esu#3); "…-02-1033-17763.0000-0712019" for OEM:DM (kolide/launcher#505)
    world = World(frozen_at=datetime(2025, 10, 23, 14, 51, tzinfo=timezone.utc))
    state = mak_host(world)
    epid = windows_product(WindowsCommands(state, world)).get("ProductKeyID")
    assert EPID.match(epid), epid
    assert epid.startswith("03612-") and epid.endswith("-03-1033-20348.0000-2962025")
    oem_key = "BBBBB-CCCCC-DDDDD-FFFFF-OEM01"
    world.add_key(KeyRecord(oem_key, OEM, ("Professional",)))
    pc = HostState("PC01", edition=edition("Professional"), ui_language="ja-JP")
    licensing.install_product_key(pc, world, oem_key)
    epid = windows_product(WindowsCommands(pc, world)).get("ProductKeyID")
    assert EPID.match(epid) and epid.endswith("-02-1041-22631.0000-2962025"), epid
    # the same key installed again shows the same Extended PID; slmgr /dlv prints the property as it is
    text, _ = slmgr(WindowsCommands(pc, world), "/dlv")
    assert f"\r\n拡張 PID: {epid}\r\n" in text


# --- CIM instances ------------------------------------------------------------------------------------------

# WMI-SLP (learn.microsoft.com …/sppwmi/softwarelicensingproduct): the class as Microsoft documents it
DOCUMENTED_PRODUCT = {
    "ID", "Name", "Description", "ApplicationID", "ProcessorURL", "MachineURL", "ProductKeyURL", "UseLicenseURL",
    "LicenseStatus", "LicenseStatusReason", "GracePeriodRemaining", "EvaluationEndDate", "OfflineInstallationId",
    "PartialProductKey", "ProductKeyID", "LicenseFamily", "LicenseDependsOn", "LicenseIsAddon",
    "VLActivationInterval", "VLRenewalInterval", "KeyManagementServiceProductKeyID", "KeyManagementServiceMachine",
    "KeyManagementServicePort", "DiscoveredKeyManagementServiceMachineName",
    "DiscoveredKeyManagementServiceMachinePort", "IsKeyManagementServiceMachine", "KeyManagementServiceCurrentCount",
    "RequiredClientCount", "KeyManagementServiceUnlicensedRequests", "KeyManagementServiceLicensedRequests",
    "KeyManagementServiceOOBGraceRequests", "KeyManagementServiceOOTGraceRequests",
    "KeyManagementServiceNonGenuineGraceRequests", "KeyManagementServiceTotalRequests",
    "KeyManagementServiceFailedRequests", "KeyManagementServiceNotificationRequests", "GenuineStatus",
    "ExtendedGrace", "TokenActivationILID", "TokenActivationILVID", "TokenActivationGrantNumber",
    "TokenActivationCertificateThumbprint", "TokenActivationAdditionalInfo", "TrustedTime",
}  # fmt: skip
# [src SLMGR DisplayAllInformation]: what Windows 8 and later add and slmgr.vbs reads
READ_BY_SLMGR = {
    "ProductKeyChannel", "ValidationURL", "KeyManagementServiceLookupDomain",
    "DiscoveredKeyManagementServiceMachineIpAddress", "ADActivationObjectName", "ADActivationObjectDN",
    "ADActivationCsvlkPid", "ADActivationCsvlkSkuId", "VLActivationTypeEnabled", "VLActivationType", "IAID",
    "AutomaticVMActivationHostMachineName", "AutomaticVMActivationLastActivationTime",
    "AutomaticVMActivationHostDigitalPid2", "RemainingAppReArmCount", "RemainingSkuReArmCount",
}  # fmt: skip
# WMI-SLS (…/sppwmi/softwarelicensingservice) and WMI-VA (dn502536: KeyManagementServicePort,
# OA3xOriginalProductKeyDescription); slmgr.vbs reads KeyManagementServiceLookupDomain from the service too
DOCUMENTED_SERVICE = {
    "Version", "KeyManagementServiceMachine", "IsKeyManagementServiceMachine", "VLActivationInterval",
    "VLRenewalInterval", "KeyManagementServiceCurrentCount", "RequiredClientCount",
    "KeyManagementServiceProductKeyID", "DiscoveredKeyManagementServiceMachineName",
    "DiscoveredKeyManagementServiceMachinePort", "PolicyCacheRefreshRequired", "ClientMachineID",
    "RemainingWindowsReArmCount", "KeyManagementServiceListeningPort", "KeyManagementServiceDnsPublishing",
    "KeyManagementServiceLowPriority", "KeyManagementServiceHostCaching", "KeyManagementServiceUnlicensedRequests",
    "KeyManagementServiceLicensedRequests", "KeyManagementServiceOOBGraceRequests",
    "KeyManagementServiceOOTGraceRequests", "KeyManagementServiceNonGenuineGraceRequests",
    "KeyManagementServiceTotalRequests", "KeyManagementServiceFailedRequests",
    "KeyManagementServiceNotificationRequests", "TokenActivationILID", "TokenActivationILVID",
    "TokenActivationGrantNumber", "TokenActivationCertificateThumbprint", "TokenActivationAdditionalInfo",
    "KeyManagementServiceActivationDisabled", "KeyManagementServicePort", "OA3xOriginalProductKeyDescription",
    "KeyManagementServiceLookupDomain",
}  # fmt: skip


def test_cim_instances_have_the_documented_properties_in_windows_order() -> None:
    world = world_with_kms()
    commands = WindowsCommands(gvlk_host(world), world)
    for instance in cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct"):
        names = list(instance.properties)
        assert names[-1] == "PSComputerName"
        assert set(names) >= DOCUMENTED_PRODUCT | READ_BY_SLMGR
        # [obs: ansible-collections/ansible.windows#834] alphabetical, case-insensitive, and nothing else between
        # these neighbours on a real Windows 10
        assert names[:-1] == sorted(names[:-1], key=str.lower)
        at = names.index("KeyManagementServiceOOTGraceRequests")
        assert names[at : at + 11] == [
            "KeyManagementServiceOOTGraceRequests", "KeyManagementServicePort", "KeyManagementServiceProductKeyID",
            "KeyManagementServiceTotalRequests", "KeyManagementServiceUnlicensedRequests", "LicenseDependsOn",
            "LicenseFamily", "LicenseIsAddon", "LicenseStatus", "LicenseStatusReason", "MachineURL",
        ]  # fmt: skip
        at = names.index("Name")
        assert names[at : at + 13] == [
            "Name", "OfflineInstallationId", "PartialProductKey", "ProcessorURL", "ProductKeyChannel", "ProductKeyID",
            "ProductKeyID2", "ProductKeyURL", "RemainingAppReArmCount", "RemainingSkuReArmCount",
            "RequiredClientCount", "TokenActivationAdditionalInfo", "TokenActivationCertificateThumbprint",
        ]  # fmt: skip
    (service,) = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService")
    names = list(service.properties)
    assert set(names) >= DOCUMENTED_SERVICE and names[-1] == "PSComputerName"
    assert names[:-1] == sorted(names[:-1], key=str.lower)


def test_a_licence_without_a_key_reads_as_on_windows() -> None:
    # [obs: ansible-collections/ansible.windows#834, a Windows 10 Professional licence without a key]: these values
    world = world_with_kms()
    commands = WindowsCommands(gvlk_host(world, "PC01", "Professional"), world)
    products = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct")
    unused = next(p for p in products if not p.get("PartialProductKey") and "RETAIL" in p.get("Description"))
    assert {name: unused.get(name) for name in (
        "KeyManagementServiceOOTGraceRequests", "KeyManagementServicePort", "KeyManagementServiceTotalRequests",
        "KeyManagementServiceUnlicensedRequests", "LicenseFamily", "LicenseIsAddon", "LicenseStatus",
        "LicenseStatusReason", "MachineURL", "Name", "ProcessorURL", "ProductKeyURL", "RemainingAppReArmCount",
        "RemainingSkuReArmCount", "RequiredClientCount",
    )} == {
        "KeyManagementServiceOOTGraceRequests": UNUSED, "KeyManagementServicePort": 0,
        "KeyManagementServiceTotalRequests": UNUSED, "KeyManagementServiceUnlicensedRequests": UNUSED,
        "LicenseFamily": "Professional", "LicenseIsAddon": False, "LicenseStatus": 0, "LicenseStatusReason": 3221549076,
        "MachineURL": None, "Name": "Windows(R), Professional edition", "ProcessorURL": None, "ProductKeyURL": None,
        "RemainingAppReArmCount": 1001, "RemainingSkuReArmCount": UNUSED, "RequiredClientCount": UNUSED,
    }  # fmt: skip


def test_rearm_counters_are_the_applications_and_the_skus() -> None:
    # [obs] the licence in use: "Remaining Windows rearm count: 1001" / "Remaining SKU rearm count: 1001"
    # (alygcode/windows10esu#3); ReArmsku spends the SKU counter, ReArmWindows the Windows one (ref §2)
    world = world_with_kms()
    state = gvlk_host(world)
    commands = WindowsCommands(state, world)
    product = windows_product(commands)
    assert (product.get("RemainingAppReArmCount"), product.get("RemainingSkuReArmCount")) == (1001, 1001)
    assert slmgr(commands, "/rearm-sku", product.get("ID")) == ("Command completed successfully.\r\n", 0)
    licensing.restart(state, world)
    text, _ = slmgr(commands, "/dlv")
    assert lines_after(text, "Remaining Windows rearm count: ", 2) == [
        "Remaining Windows rearm count: 1001",
        "Remaining SKU rearm count: 1000",
    ]
    product = windows_product(commands)
    assert (product.get("RemainingAppReArmCount"), product.get("RemainingSkuReArmCount")) == (1001, 1000)


def test_kms_counters_read_4294967295_except_on_an_activated_kms_host() -> None:
    # ref §3 [obs: ansible.windows#834]: a client's KMS request counters are unused uint32s
    world = world_with_kms()
    client = windows_product(WindowsCommands(gvlk_host(world), world))
    assert client.get("KeyManagementServiceTotalRequests") == UNUSED
    assert client.get("KeyManagementServiceCurrentCount") == UNUSED
    host_key = "HHHHH-JJJJJ-KKKKK-MMMMM-CSVLK"
    world.add_key(KeyRecord(host_key, KMS_HOST, ("ServerStandard",)))
    state = HostState("KMS02", edition=edition("ServerStandard"))
    licensing.install_product_key(state, world, host_key)
    licensing.activate(state, world)
    host = windows_product(WindowsCommands(state, world))
    assert host.get("KeyManagementServiceTotalRequests") == 0 and host.get("IsKeyManagementServiceMachine") == 1
    text, _ = slmgr(WindowsCommands(state, world), "/dli")
    assert "    Total requests received: 0\r\n" in text


# --- /rearm and the restart -----------------------------------------------------------------------------------


def test_a_second_rearm_before_the_restart_fails_with_0xC004D302() -> None:
    # [obs: clong/DetectionLab#902] "Error: 0xC004D302 On a computer running Microsoft Windows non-core edition,
    # run 'slui.exe 0x2a 0xC004D302' to display the error text." — slui: "the trusted data store was rearmed";
    # ref §2b: no L_MsgError entry -> the slui sentence, exit code = the HRESULT
    world = world_with_kms()
    state = gvlk_host(world, "PC01", "Professional")
    commands = WindowsCommands(state, world)
    assert slmgr(commands, "/rearm") == (
        "Command completed successfully.\r\nPlease restart the system for the changes to take effect.\r\n",
        0,
    )
    assert slmgr(commands, "/rearm") == (
        "Error: 0xC004D302 On a computer running Microsoft Windows non-core edition, run 'slui.exe 0x2a "
        "0xC004D302' to display the error text.\r\n",
        licensing.to_signed(0xC004D302),
    )
    assert state.rearm_count == 1000
    licensing.restart(state, world)
    assert slmgr(commands, "/rearm")[1] == 0 and state.rearm_count == 999


def test_a_rearm_takes_effect_at_the_restart() -> None:
    # ref §2 /rearm: "Please restart the system for the changes to take effect." — the grace period restarts then
    world = World()
    state = HostState("PC01", edition=edition("Professional"))
    licensing.install_product_key(state, world, PRO_GVLK)
    state.oob_grace_minutes = 0
    licensing.install_product_key(state, world, PRO_GVLK)
    assert state.license_status == 5 and state.grace_minutes == 0
    licensing.rearm(state)
    assert state.license_status == 5 and state.restart_pending
    licensing.restart(state, world)
    assert (state.license_status, state.grace_minutes, state.restart_pending) == (2, 43200, False)


# --- Test-NetConnection ---------------------------------------------------------------------------------------


def test_test_net_connection_shows_f074s_ping_ok_tcp_1688_blocked_case() -> None:
    # [doc F074] "Test-NetConnection -ComputerName <KMS Host Server> -Port 1688": ComputerName, RemoteAddress,
    # RemotePort, InterfaceAlias, SourceAddress, PingSucceeded True, PingReplyDetails (RTT) 0 ms, TcpTestSucceeded
    # False — a firewall that blocks TCP 1688 and lets ping through
    world = world_with_kms(reachable=False)
    commands = WindowsCommands(gvlk_host(world), world)
    ctx = Context()
    (result,) = cmdlet(commands, "Test-NetConnection", ctx, ComputerName="kms1.corp.example", Port=1688)
    assert list(result.properties) == [
        "ComputerName", "RemoteAddress", "RemotePort", "InterfaceAlias", "SourceAddress", "PingSucceeded",
        "PingReplyDetails", "TcpTestSucceeded",
    ]  # fmt: skip
    assert (result.get("ComputerName"), result.get("RemoteAddress"), result.get("RemotePort")) == (
        "kms1.corp.example", "10.0.0.5", 1688,
    )  # fmt: skip
    assert (result.get("PingSucceeded"), result.get("TcpTestSucceeded")) == (True, False)
    assert result.get("PingReplyDetails").get("RoundtripTime") == 0  # shown as "PingReplyDetails (RTT) : 0 ms"
    assert ctx.warnings == ["TCP connect to (10.0.0.5 : 1688) failed"]


def test_test_net_connection_that_reaches_the_port_shows_no_ping() -> None:
    # Windows PowerShell 5.1: a successful TCP test is not followed by a ping, so its view has no ping lines
    world = world_with_kms()
    commands = WindowsCommands(gvlk_host(world), world)
    (result,) = cmdlet(commands, "Test-NetConnection", ComputerName="kms1.corp.example", Port=1688)
    assert list(result.properties) == [
        "ComputerName", "RemoteAddress", "RemotePort", "InterfaceAlias", "SourceAddress", "TcpTestSucceeded",
    ]  # fmt: skip
    assert result.get("TcpTestSucceeded") is True
    (ping,) = cmdlet(commands, "Test-NetConnection", ComputerName="kms1.corp.example")
    assert list(ping.properties) == [
        "ComputerName", "RemoteAddress", "InterfaceAlias", "SourceAddress", "PingSucceeded", "PingReplyDetails",
    ]  # fmt: skip
    assert ping.get("PingSucceeded") is True


# --- event 12288 ----------------------------------------------------------------------------------------------


def test_event_12288_info_is_formatted_as_windows_writes_it() -> None:
    # [doc F074] "Info: 0xC004F06C, 0x00000000, <KMS Host FQDN>:1688, 36f27b39-…, 2010/09/29 17:52, 0, 2, 41760,
    # 68531fb9-…, 5" — Level: Information, even for a refused request
    world = world_with_kms(clock_offset_s=6 * 3600)
    world.frozen_at = datetime(2010, 9, 29, 17, 52, tzinfo=timezone.utc)
    state = HostState("SRV01", edition=edition("ServerStandard"))
    licensing.install_product_key(state, world, SERVER_GVLK)
    commands = WindowsCommands(state, world)
    assert slmgr(commands, "/ato")[1] == licensing.to_signed(0xC004F06C)
    (event,) = cmdlet(
        commands, "Get-WinEvent", FilterHashtable={"LogName": "Application", "Id": 12288}, MaxEvents=1
    )
    assert event.get("Level") == 4 and event.get("LevelDisplayName") == "Information"
    info = event.get("Message").split("\n")[-1]
    assert info == (
        f"0xC004F06C, 0x00000000, kms1.corp.example:1688, {state.cmid}, 2010/09/29 17:52, 0, 2, 43200, "
        "9bd77860-9b31-4b7b-96ad-2564017315bf, 5"
    )


# --- event 12289 ----------------------------------------------------------------------------------------------


def responses(commands: WindowsCommands) -> list[str]:
    """The Info line of each event 12289 (the client processed the KMS host's response), newest first; none when
    Get-WinEvent finds none (it fails then, as on Windows)."""
    try:
        found = cmdlet(commands, "Get-WinEvent", FilterHashtable={"LogName": "Application", "Id": 12289})
    except CmdletError:
        return []
    return [event.get("Message").split("\n")[-1] for event in found]


def test_event_12289_records_the_response_of_a_kms_host_that_activated_the_client() -> None:
    # [doc EVT] HRESULT, Status flags, fBound, Unused, Count, Activation Interval, Renewal Interval, Client Time
    world = world_with_kms(count=40)
    world.frozen_at = datetime(2026, 12, 5, 9, 30, tzinfo=timezone.utc)
    state = gvlk_host(world)
    commands = WindowsCommands(state, world)
    assert slmgr(commands, "/ato")[1] == 0
    assert responses(commands) == ["0x0, 0x00000000, 1, 0, 41, 120, 10080, 2026/12/05 09:30"]
    (event,) = cmdlet(commands, "Get-WinEvent", FilterHashtable={"LogName": "Application", "Id": 12289})
    assert event.get("Message").startswith("The client has processed an activation response from the key")


def test_event_12289_of_a_count_too_low_is_the_documented_example_s_shape() -> None:
    # [doc EVT] "0x0, 0x4000008, 0, 0, 4, 120, 10080, ...": a valid response, not activated, NOT_ENOUGH_COUNT; the
    # OEM-check warning flag 0x8 is not modelled
    world = world_with_kms(count=3)
    world.frozen_at = datetime(2026, 12, 5, 9, 30, tzinfo=timezone.utc)
    state = gvlk_host(world, edition_id="Enterprise")
    commands = WindowsCommands(state, world)
    assert slmgr(commands, "/ato")[1] == licensing.to_signed(0xC004F038)
    assert responses(commands) == ["0x0, 0x04000000, 0, 0, 4, 120, 10080, 2026/12/05 09:30"]


def test_no_event_12289_when_no_kms_host_answered_or_the_refusal_is_not_documented() -> None:
    unreachable = world_with_kms(reachable=False)
    state = gvlk_host(unreachable)
    unreachable_commands = WindowsCommands(state, unreachable)
    assert slmgr(unreachable_commands, "/ato")[1] == licensing.to_signed(0xC004F074)
    not_activated = world_with_kms(activated=False)
    other = gvlk_host(not_activated, name="SRV02")
    other_commands = WindowsCommands(other, not_activated)
    assert slmgr(other_commands, "/ato")[1] == licensing.to_signed(0xC004F041)
    for commands in (unreachable_commands, other_commands):
        assert cmdlet(commands, "Get-WinEvent", FilterHashtable={"LogName": "Application", "Id": 12288})
        assert responses(commands) == []
