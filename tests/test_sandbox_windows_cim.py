"""CIM classes and methods of the licensing service (ref §3), as Get-CimInstance and Invoke-CimMethod
show them."""

from __future__ import annotations

import pytest
from test_sandbox_windows_support import (
    MAK_KEY,
    SERVER_GVLK,
    cmdlet,
    cmdlet_error,
    gvlk_host,
    mak_host,
    windows_product,
    world_with_kms,
)

from remediate.sandbox.seam import PSObject
from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.editions import WINDOWS_APPLICATION_ID, edition
from remediate.sandbox.windows.state import HostState, KeyRecord, World


def test_products_one_per_channel_only_the_installed_one_has_a_key() -> None:
    # ref §2 "current Windows licence": PartialProductKey <> null, the Windows AppId, not an add-on
    world = world_with_kms()
    commands = WindowsCommands(gvlk_host(world), world)
    products = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct")
    assert len(products) > 1
    assert all(
        p.type_names[0] == "Microsoft.Management.Infrastructure.CimInstance#root/cimv2/SoftwareLicensingProduct"
        for p in products
    )
    product = windows_product(commands)
    assert product.get("PartialProductKey") == "VMK7H"  # ref §3: last five characters
    assert product.get("ApplicationID") == WINDOWS_APPLICATION_ID
    assert product.get("Description") == "Windows(R) Operating System, VOLUME_KMSCLIENT channel"
    assert product.get("ProductKeyChannel") == "Volume:GVLK"
    assert product.get("LicenseStatus") == 2  # ref §3: OOBGrace
    keyless = [p for p in products if p is not product and not p.get("PartialProductKey")]
    assert keyless and all(p.get("LicenseStatus") == 0 for p in keyless)
    assert all(SERVER_GVLK not in repr(p.properties) for p in products)


def test_activate_failure_is_a_cim_exception_carrying_the_hresult() -> None:
    # ref §3: failures surface as WMI/CIM exceptions carrying the HRESULT; LicenseStatusReason as uint32
    world = world_with_kms(reachable=False)
    commands = WindowsCommands(gvlk_host(world), world)
    product = windows_product(commands)
    error = cmdlet_error(commands, "Invoke-CimMethod", InputObject=product, MethodName="Activate")
    record = error.record
    assert record.hresult == -1073418124  # 0xC004F074 as a signed 32-bit HResult
    assert record.exception_type == "Microsoft.Management.Infrastructure.CimException"
    assert record.fully_qualified_error_id.startswith("HRESULT 0xc004f074,")
    assert "No Key Management Service (KMS) could be contacted" in record.message
    assert not error.terminating
    # The failure is not the licence's reason: an unactivated client in out-of-box grace keeps 0x4004F00C
    # (as uint32, ref §3); the attempt's code is in event 8198.
    assert windows_product(commands).get("LicenseStatusReason") == 0x4004F00C


def test_activate_success_returns_return_value_zero() -> None:
    world = world_with_kms()
    commands = WindowsCommands(gvlk_host(world), world)
    result = cmdlet(commands, "Invoke-CimMethod", InputObject=windows_product(commands), MethodName="Activate")
    assert [r.get("ReturnValue") for r in result] == [0]
    product = windows_product(commands)
    assert product.get("LicenseStatus") == 1
    assert product.get("GracePeriodRemaining") == 259200  # ref §4: 180 days
    assert product.get("DiscoveredKeyManagementServiceMachineName") == "kms1.corp.example"
    assert product.get("DiscoveredKeyManagementServiceMachineIpAddress") == "10.0.0.5"


def test_service_methods_install_key_and_set_kms() -> None:
    # ref §3 SoftwareLicensingService: InstallProductKey, SetKeyManagementServiceMachine/Port, Clear*
    world = World()
    world.add_key(KeyRecord(MAK_KEY, "MAK", ("ServerStandard",), remaining=3))
    state = HostState("S1", edition=edition("ServerStandard"))
    commands = WindowsCommands(state, world)
    service = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService")[0]
    cmdlet(
        commands,
        "Invoke-CimMethod",
        InputObject=service,
        MethodName="InstallProductKey",
        Arguments={"ProductKey": MAK_KEY},
    )
    assert windows_product(commands).get("ProductKeyChannel") == "Volume:MAK"
    cmdlet(
        commands,
        "Invoke-CimMethod",
        InputObject=service,
        MethodName="SetKeyManagementServiceMachine",
        Arguments={"MachineName": "kms9.corp.example"},
    )
    cmdlet(
        commands,
        "Invoke-CimMethod",
        InputObject=service,
        MethodName="SetKeyManagementServicePort",
        Arguments={"PortNumber": 1700},
    )
    fresh = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService")[0]
    assert (fresh.get("KeyManagementServiceMachine"), fresh.get("KeyManagementServicePort")) == (
        "kms9.corp.example",
        1700,
    )
    cmdlet(commands, "Invoke-CimMethod", InputObject=service, MethodName="ClearKeyManagementServiceMachine")
    cmdlet(commands, "Invoke-CimMethod", InputObject=service, MethodName="ClearKeyManagementServicePort")
    fresh = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService")[0]
    assert (fresh.get("KeyManagementServiceMachine"), fresh.get("KeyManagementServicePort")) == ("", 0)


def test_install_product_key_error_never_echoes_the_key() -> None:
    world = World()
    commands = WindowsCommands(HostState("S1", edition=edition("ServerStandard")), world)
    service = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService")[0]
    error = cmdlet_error(
        commands,
        "Invoke-CimMethod",
        InputObject=service,
        MethodName="InstallProductKey",
        Arguments={"ProductKey": "QQQQQ-WWWWW-EEEEE-RRRRR-TTTTT"},
    )
    assert error.record.hresult == -1073418160  # 0xC004F050
    assert "QQQQQ-WWWWW" not in error.record.message
    assert "QQQQQ-WWWWW" not in repr(error.record.target_object)


def test_missing_method_argument_and_unknown_method_and_class() -> None:
    world = world_with_kms()
    commands = WindowsCommands(gvlk_host(world), world)
    service = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService")[0]
    error = cmdlet_error(commands, "Invoke-CimMethod", InputObject=service, MethodName="InstallProductKey")
    assert error.record.hresult == -2147217400  # 0x80041008 WBEM_E_INVALID_PARAMETER
    error = cmdlet_error(commands, "Invoke-CimMethod", InputObject=service, MethodName="Explode")
    assert error.record.fully_qualified_error_id.startswith("HRESULT 0x8004102e,")
    error = cmdlet_error(commands, "Get-CimInstance", ClassName="Win32_Nothing")
    assert error.record.fully_qualified_error_id.startswith("HRESULT 0x80041010,")
    assert error.record.category == "MetadataError"


def test_namespace_is_root_cimv2() -> None:
    world = world_with_kms()
    commands = WindowsCommands(gvlk_host(world), world)
    assert cmdlet(commands, "Get-CimInstance", ClassName="Win32_OperatingSystem", Namespace="root\\cimv2")
    assert cmdlet_error(commands, "Get-CimInstance", ClassName="Win32_OperatingSystem", Namespace="root/wmi")


def test_operating_system_and_computer_system() -> None:
    world = World()
    state = HostState("DC01", edition=edition("ServerStandardEval"), domain_role=5, ui_language="ja-JP")
    commands = WindowsCommands(state, world)
    os_ = cmdlet(commands, "Get-CimInstance", ClassName="Win32_OperatingSystem")[0]
    assert os_.get("Caption") == "Microsoft Windows Server 2022 Standard Evaluation"
    assert os_.get("OperatingSystemSKU") == 79
    assert os_.get("OSLanguage") == 1041
    assert os_.get("ProductType") == 2  # domain controller
    cs = cmdlet(commands, "Get-CimInstance", ClassName="Win32_ComputerSystem")[0]
    assert (cs.get("DomainRole"), cs.get("PartOfDomain"), cs.get("Domain")) == (5, True, "corp.example")


def test_product_methods_on_a_stale_object_act_on_the_live_state() -> None:
    world = world_with_kms()
    state = gvlk_host(world)
    commands = WindowsCommands(state, world)
    old: PSObject = windows_product(commands)
    cmdlet(
        commands,
        "Invoke-CimMethod",
        InputObject=old,
        MethodName="SetKeyManagementServiceLookupDomain",
        Arguments={"LookupDomain": "kms.example"},
    )
    assert state.lookup_domain == "kms.example"
    cmdlet(commands, "Invoke-CimMethod", InputObject=old, MethodName="ClearKeyManagementServiceLookupDomain")
    assert state.lookup_domain is None
    cmdlet(commands, "Invoke-CimMethod", InputObject=old, MethodName="UninstallProductKey")
    assert state.key is None
    assert all(
        not p.get("PartialProductKey")
        for p in cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct")
    )


SERVICE_METHODS_WITH_ARGUMENTS = [
    # ref §3: methods of SoftwareLicensingService (each returns uint32 0 on success)
    ("SetVLActivationInterval", {"ActivationInterval": 60}, "VLActivationInterval", 60),
    ("SetVLRenewalInterval", {"RenewalInterval": 1440}, "VLRenewalInterval", 1440),
    ("SetKeyManagementServiceListeningPort", {"PortNumber": 1700}, "KeyManagementServiceListeningPort", 1700),
    (
        "DisableKeyManagementServiceDnsPublishing",
        {"DisablePublishing": True},
        "KeyManagementServiceDnsPublishing",
        False,
    ),
    ("EnableKeyManagementServiceLowPriority", {"EnableLowPriority": True}, "KeyManagementServiceLowPriority", True),
    ("DisableKeyManagementServiceHostCaching", {"DisableCaching": True}, "KeyManagementServiceHostCaching", False),
]


@pytest.mark.parametrize(("method", "arguments", "prop", "value"), SERVICE_METHODS_WITH_ARGUMENTS)
def test_service_kms_setting_methods_return_zero_and_show_in_the_properties(
    method: str, arguments: dict[str, object], prop: str, value: object
) -> None:
    world = World()
    commands = WindowsCommands(mak_host(world), world)
    service = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService")[0]
    result = cmdlet(commands, "Invoke-CimMethod", InputObject=service, MethodName=method, Arguments=arguments)
    assert [r.get("ReturnValue") for r in result] == [0]
    fresh = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService")[0]
    assert fresh.get(prop) == value


@pytest.mark.parametrize(
    "method", ["InstallLicense", "InstallLicensePackage", "ReArmApp", "AcquireGenuineTicket", "RefreshLicenseStatus"]
)
def test_other_documented_service_methods_exist(method: str) -> None:
    # ref §3: listed methods of the class are callable (an unknown method would fail with "Invalid method")
    world = World()
    commands = WindowsCommands(mak_host(world), world)
    service = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService")[0]
    result = cmdlet(commands, "Invoke-CimMethod", InputObject=service, MethodName=method, Arguments={})
    assert [r.get("ReturnValue") for r in result] == [0]


def test_interval_outside_15_minutes_to_30_days_is_a_cim_exception() -> None:
    # ref §2: intervals accept 15 min ... 30 days; ref §3: failures surface as CIM exceptions with the HRESULT
    world = World()
    commands = WindowsCommands(mak_host(world), world)
    service = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService")[0]
    error = cmdlet_error(
        commands,
        "Invoke-CimMethod",
        InputObject=service,
        MethodName="SetVLRenewalInterval",
        Arguments={"RenewalInterval": 43201},
    )
    assert error.record.hresult == -2147024809  # 0x80070057
    assert error.record.exception_type == "Microsoft.Management.Infrastructure.CimException"
