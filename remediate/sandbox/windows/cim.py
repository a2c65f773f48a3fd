"""CIM classes of the Software Licensing service and the OS (ref §3), and the cmdlets that read and call
them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from operator import itemgetter
from typing import Any

from remediate.sandbox.commands import CmdletError, CommandContext, Invocation
from remediate.sandbox.seam import ErrorRecord, PSObject
from remediate.sandbox.windows import durations, licensing, office, wql
from remediate.sandbox.windows.editions import WINDOWS_APPLICATION_ID
from remediate.sandbox.windows.kms_service import description_token
from remediate.sandbox.windows.licensing import LicensingError
from remediate.sandbox.windows.office import OFFICE_APPLICATION_ID, OfficeProduct
from remediate.sandbox.windows.phone_activation import derived_digits, installation_id
from remediate.sandbox.windows.slmgr_text import error_text
from remediate.sandbox.windows.state import (
    DEFAULT_ACTIVATION_INTERVAL,
    DEFAULT_RENEWAL_INTERVAL,
    DESCRIPTION_TOKEN,
    EVAL,
    GVLK,
    KMS_HOST,
    LICENSED,
    MAK,
    OEM,
    PRODUCT_KEY_CHANNEL,
    RETAIL,
    UNLICENSED,
    HostState,
    KmsHost,
    World,
    activation_id,
    key_tail,
)

NAMESPACE = "root/cimv2"
UINT32_UNUSED = 0xFFFFFFFF  # ref §3: unused uint32 counters read 4294967295
WMI_NULL_DATE = datetime(1601, 1, 1, tzinfo=timezone.utc)

WBEM_E_INVALID_CLASS = 0x80041010
WBEM_E_INVALID_NAMESPACE = 0x8004100E
WBEM_E_INVALID_PARAMETER = 0x80041008
WBEM_E_INVALID_METHOD = 0x8004102E
WBEM_E_INVALID_QUERY = 0x80041017

# System message texts for codes that slmgr's own table lacks (ref §1b: SDK wording, paraphrased there).
SYSTEM_MESSAGES_EN = {
    0xC004F069: "The Software Licensing Service reported that the product SKU is not found.",
    0xC004E016: "The Software Licensing Service reported that the product key is invalid.",
    0xC004F213: "The Software Licensing Service reported that no product key was found on the system.",
    0xC004F034: "The Software Licensing Service reported that the license could not be found or was invalid.",
    0xC004F056: "The Software Licensing Service reported that the product could not be activated using the "
    "Key "
    "Management Service (KMS).",
    0x80072EE2: "The operation timed out",
    WBEM_E_INVALID_CLASS: "Invalid class ",
    WBEM_E_INVALID_NAMESPACE: "Invalid namespace ",
    WBEM_E_INVALID_PARAMETER: "Invalid parameter ",
    WBEM_E_INVALID_METHOD: "Invalid method ",
    WBEM_E_INVALID_QUERY: "Invalid query ",
}
# ref §1c: the system text of 0xC004F074 says "product" where slmgr says "computer".
_F074_SYSTEM = (
    "The Software Licensing Service reported that the product could not be activated. No Key Management "
    "Service (KMS) could be contacted. Please see the Application Event Log for additional information."
)


# ref §3: "KMS request counters" of SoftwareLicensingProduct (the ones slmgr /dlv prints, [src SLMGR])
KMS_REQUEST_COUNTERS = (
    "KeyManagementServiceTotalRequests",
    "KeyManagementServiceFailedRequests",
    "KeyManagementServiceUnlicensedRequests",
    "KeyManagementServiceLicensedRequests",
    "KeyManagementServiceOOBGraceRequests",
    "KeyManagementServiceOOTGraceRequests",
    "KeyManagementServiceNonGenuineGraceRequests",
    "KeyManagementServiceNotificationRequests",
)


def system_message(state: HostState, code: int) -> str:
    code &= 0xFFFFFFFF
    if code == 0xC004F074 and not state.japanese:
        return _F074_SYSTEM
    text = error_text(state.japanese, code)
    if text is not None:
        return text if text.endswith(".") or text.endswith("。") else text + ("。" if state.japanese else ".")
    return SYSTEM_MESSAGES_EN.get(code, f"Unknown error (0x{code:08x})")


def _type_names(class_name: str) -> list[str]:
    return [
        f"Microsoft.Management.Infrastructure.CimInstance#{NAMESPACE}/{class_name}",
        f"Microsoft.Management.Infrastructure.CimInstance#{class_name}",
        "Microsoft.Management.Infrastructure.CimInstance",
        "System.Object",
    ]


# --- the product and service views (also what slmgr reads, ref §2) ------------------------------------------


def product_channels(state: HostState) -> list[str]:
    """The Windows licences installed for the edition: one SoftwareLicensingProduct per channel (ref §2)."""
    channels = [EVAL] if state.edition.evaluation else [RETAIL, OEM, MAK, GVLK, KMS_HOST]
    if state.channel and state.channel not in channels:
        channels.append(state.channel)
    return channels


# The Extended PID (ProductKeyID) has the shape NNNNN-NNNNN-NNN-NNNNNN-NN-NNNN-NNNNN.NNNN-NNNNNNN: platform, key
# group, key serial (3 + 6 digits), 02 for an OEM:DM key or 03 otherwise, the install language's LCID, the build,
# and the day of the year (3 digits) and year the key was installed [obs: "03612-05150-000-025690-03-1033-
# 19045.0000-2962025" on a MAK installed 23/10/2025, alygcode/windows10esu#3; "03612-03305-061-702771-02-1033-
# 17763.0000-0712019" on an OEM:DM Windows 10, kolide/launcher#505; "55041-00140-015-871562-03-1033-7078.0000-
# 0992009" in Microsoft's /dli sample, ff793426]. 03612 is Windows 10's platform code on both builds observed;
# [inf] the same for the other 10.0 builds. The group and serial are decoded from the key in Windows; here they are
# [inf] digits derived from the key, so one key always shows one Extended PID.
EPID_PLATFORM = "03612"


def extended_pid(state: HostState, world: World, channel: str) -> str:
    key = (state.key or "").strip().upper()
    group, serial = derived_digits(f"group:{key}", 5), derived_digits(f"serial:{key}", 9)
    kind = "02" if channel == OEM else "03"
    lcid = "1041" if state.japanese else "1033"
    installed = state.key_installed_at or state.utc_now(world)
    day = f"{installed.timetuple().tm_yday:03d}{installed.year:04d}"
    build = f"{state.edition.build}.0000"
    return f"{EPID_PLATFORM}-{group}-{serial[:3]}-{serial[3:]}-{kind}-{lcid}-{build}-{day}"


# The Windows licences' activation and validation services, as SoftwareLicensingProduct.UseLicenseURL and
# ValidationURL; ProcessorURL, MachineURL and ProductKeyURL are empty [obs: slmgr /dlv of a VOLUME_MAK Windows 10
# licence printed only "Use License URL: …" and "Validation URL: …", alygcode/windows10esu#3; ProcessorURL,
# MachineURL and ProductKeyURL blank in Get-CimInstance SoftwareLicensingProduct, ansible-collections/
# ansible.windows#834]. [inf] Every Windows licence carries the same two.
USE_LICENSE_URL = "https://activation-v2.sls.microsoft.com/SLActivateProduct/SLActivateProduct.asmx?configextension=Retail"
VALIDATION_URL = "https://validation-v2.sls.microsoft.com/SLWGA/slwga.asmx"


def _in_windows_order(props: dict[str, Any]) -> dict[str, Any]:
    """A CIM instance lists its properties alphabetically, case-insensitive (OOTGraceRequests, Port,
    ProductKeyID, … LicenseDependsOn, LicenseFamily, … ProductKeyID, ProductKeyID2, ProductKeyURL,
    RemainingAppReArmCount [obs: Get-CimInstance SoftwareLicensingProduct on Windows 10,
    ansible-collections/ansible.windows#834]); PowerShell adds PSComputerName after them."""
    order, values = _windows_order(tuple(props))
    ordered = dict(zip(order, values(props), strict=True))
    ordered["PSComputerName"] = None
    return ordered


@lru_cache(maxsize=64)
def _windows_order(names: tuple[str, ...]) -> tuple[tuple[str, ...], Callable[[dict[str, Any]], tuple[Any, ...]]]:
    """A class's property names in Windows' order, and what takes their values in that order (sorted once per
    class: every instance of a class has the same names)."""
    order = tuple(sorted(names, key=str.lower))
    if len(order) < 2:  # itemgetter of one name gives the value itself, not a tuple
        return order, lambda props: tuple(props[name] for name in order)
    return order, itemgetter(*order)


def _channel_token(state: HostState, channel: str) -> str:
    """The channel token of a licence's Description; a served KMS host's names its CSVLK group (kms_service)."""
    if channel == KMS_HOST and state.channel == KMS_HOST:
        return description_token(state.kms_service) or DESCRIPTION_TOKEN[channel]
    return DESCRIPTION_TOKEN[channel]


def _request_counters(served: KmsHost | None, unused: int) -> dict[str, int]:
    """The KMS request counters: a served KMS host's own, else 0 on a KMS host and unused elsewhere."""
    if served is None:
        return {name: unused for name in KMS_REQUEST_COUNTERS}
    return {name: served.requests.get(name, 0) for name in KMS_REQUEST_COUNTERS}


def _windows_probe(state: HostState, channel: str) -> dict[str, Any]:
    """The properties of a Windows licence that queries filter on (which licence, whether it has a key), each
    worked out alone; product_properties takes them from here, so both always agree."""
    installed = channel == state.channel and state.key is not None
    return {
        "ApplicationID": WINDOWS_APPLICATION_ID,
        "LicenseIsAddon": False,
        "PartialProductKey": key_tail(state.key) if installed and state.key else None,
    }


def _office_probe(product: OfficeProduct) -> dict[str, Any]:
    """_windows_probe's properties for an Office licence (office_properties takes them from here)."""
    return {
        "ApplicationID": OFFICE_APPLICATION_ID,
        "LicenseIsAddon": False,
        "PartialProductKey": product.partial_product_key,
    }


# The probes' properties, lowered as WQL matches names: a filter naming only these is tested on the probes, and only
# the licences it selects are built in full (some 60 properties each).
_PROBED = frozenset(("applicationid", "licenseisaddon", "partialproductkey"))


def product_properties(state: HostState, world: World, channel: str) -> dict[str, Any]:
    """One SoftwareLicensingProduct: the properties of the class as Microsoft documents them (WMI-SLP: ID … TrustedTime)
    and those Windows 8 and later add, which slmgr.vbs reads (ProductKeyChannel, ValidationURL, the lookup domain,
    the discovered IP address, AD, token and AVMA activation, the rearm counts, VLActivationType[Enabled], IAID
    [src SLMGR DisplayAllInformation]), plus LicenseDependsOn and ProductKeyID2 [obs: ansible.windows#834]."""
    installed = channel == state.channel and state.key is not None
    now = state.utc_now(world)
    status = state.license_status if installed else UNLICENSED
    kms_client = channel == GVLK
    kms_host = installed and channel == KMS_HOST and status == LICENSED
    # ref §3: unused uint32 counters read 4294967295 [obs: the KMS request counters, RequiredClientCount and
    # RemainingSkuReArmCount of a licence without a key, ansible.windows#834]
    counter = 0 if kms_host else UINT32_UNUSED
    served = state.kms_service if kms_host else None  # one of the world's KMS hosts: its count and counters
    discovered = state.discovered if installed else None
    props: dict[str, Any] = {
        "ADActivationCsvlkPid": None,
        "ADActivationCsvlkSkuId": None,
        "ADActivationObjectDN": None,
        "ADActivationObjectName": None,
        "AutomaticVMActivationHostDigitalPid2": None,
        "AutomaticVMActivationHostMachineName": None,
        "AutomaticVMActivationLastActivationTime": WMI_NULL_DATE,
        "Description": f"Windows(R) Operating System, {_channel_token(state, channel)} channel",
        "DiscoveredKeyManagementServiceMachineIpAddress": discovered.address if discovered else "",
        "DiscoveredKeyManagementServiceMachineName": discovered.name if discovered else "",
        "DiscoveredKeyManagementServiceMachinePort": discovered.port if discovered else 0,
        "EvaluationEndDate": (now + timedelta(minutes=state.grace_minutes)) if channel == EVAL else WMI_NULL_DATE,
        "ExtendedGrace": 0,
        "GenuineStatus": 0 if installed and state.license_status == 1 else 1,
        "GracePeriodRemaining": state.grace_minutes if installed else 0,
        "IAID": None,
        "ID": activation_id(state.edition.edition_id, channel),
        # [inf] the flag slmgr tests before KMS host settings ("can only be set on a KMS machine that is
        # also activated", ref §2): an installed, activated KMS host key
        "IsKeyManagementServiceMachine": 1 if kms_host else 0,
        "KeyManagementServiceCurrentCount": served.count if served else counter,
        **_request_counters(served, counter),
        "KeyManagementServiceLookupDomain": (state.lookup_domain or "") if kms_client else None,
        "KeyManagementServiceMachine": (state.kms_machine or "") if kms_client else None,
        "KeyManagementServicePort": (state.kms_port or 0) if kms_client else 0,
        "KeyManagementServiceProductKeyID": (state.kms_epid or "") if installed else "",
        "LicenseDependsOn": None,
        "LicenseFamily": state.edition.edition_id,
        "LicenseStatus": status,
        # ref §3: LicenseStatusReason is the HRESULT as uint32; 0xC004F014 on a licence without a key
        "LicenseStatusReason": (state.license_status_reason if installed else licensing.E_PKEY_NOT_INSTALLED)
        & 0xFFFFFFFF,
        "MachineURL": None,
        "Name": state.edition.product_name,
        # ref §2 /dti, /dlv: slmgr prints this property as "Installation ID:" for every product with a key,
        # KMS clients included
        "OfflineInstallationId": installation_id(state.computer_name, state.key) if installed else None,
        "ProcessorURL": None,
        "ProductKeyChannel": PRODUCT_KEY_CHANNEL[channel] if installed else None,
        "ProductKeyID": extended_pid(state, world, channel) if installed else None,
        "ProductKeyID2": None,  # [obs] a property of the class; its value on a real host is not public
        "ProductKeyURL": None,
        # The Windows rearm counter on every Windows licence; the SKU's own counter only on the licence in use
        # [obs: RemainingAppReArmCount 1001, RemainingSkuReArmCount 4294967295 on a licence without a key,
        # ansible.windows#834; "Remaining SKU rearm count: 1001" for a licence with its key, windows10esu#3]
        "RemainingAppReArmCount": state.rearm_count,
        "RemainingSkuReArmCount": state.sku_rearm_count if installed else UINT32_UNUSED,
        "RequiredClientCount": UINT32_UNUSED,
        "TokenActivationAdditionalInfo": None,
        "TokenActivationCertificateThumbprint": None,
        "TokenActivationGrantNumber": UINT32_UNUSED,  # [inf] unused uint32
        "TokenActivationILID": None,
        "TokenActivationILVID": UINT32_UNUSED,  # [inf] unused uint32
        "TrustedTime": now,
        "UseLicenseURL": USE_LICENSE_URL,
        "ValidationURL": VALIDATION_URL,
        "VLActivationInterval": DEFAULT_ACTIVATION_INTERVAL if kms_client else UINT32_UNUSED,
        "VLActivationType": 2 if installed and kms_client and state.license_status == 1 else 0,
        "VLActivationTypeEnabled": state.activation_type,
        "VLRenewalInterval": DEFAULT_RENEWAL_INTERVAL if kms_client else UINT32_UNUSED,
        **_windows_probe(state, channel),
    }
    return _in_windows_order(props)


def office_properties(state: HostState, world: World, product: OfficeProduct) -> dict[str, Any]:
    """An Office licence as SoftwareLicensingProduct shows it: the class's properties (those of a Windows KMS
    client licence) with Office's application ID, its SKU, name, channel and state (office.py)."""
    props = product_properties(state, world, GVLK)
    licensed = product.license_status == LICENSED
    props.update({
        **_office_probe(product),
        "Description": product.description,
        "DiscoveredKeyManagementServiceMachineIpAddress": "",
        "DiscoveredKeyManagementServiceMachineName": "",
        "DiscoveredKeyManagementServiceMachinePort": 0,
        "GenuineStatus": 0 if licensed else 1,
        "GracePeriodRemaining": product.grace_minutes,
        "ID": product.id,
        "KeyManagementServiceProductKeyID": "",
        "LicenseFamily": product.name.split(", ", 1)[-1].removesuffix(" edition"),
        "LicenseStatus": product.license_status,
        "LicenseStatusReason": product.license_status_reason & 0xFFFFFFFF,
        "Name": product.name,
        "OfflineInstallationId": None,
        "ProductKeyChannel": PRODUCT_KEY_CHANNEL[GVLK],
        "ProductKeyID": None,
        "RemainingSkuReArmCount": UINT32_UNUSED,
        "VLActivationType": 2 if licensed else 0,
    })
    return props


def service_properties(state: HostState, world: World) -> dict[str, Any]:
    """The SoftwareLicensingService instance: the properties Microsoft documents for the class (WMI-SLS, and WMI-VA's
    table for Windows 8.1 and later: KeyManagementServicePort, OA3xOriginalProductKeyDescription) and the lookup
    domain slmgr.vbs reads from it [src SLMGR KMSClientLookupClause]."""
    kms_host = state.channel == KMS_HOST and state.key is not None and state.license_status == LICENSED
    counter = 0 if kms_host else UINT32_UNUSED  # ref §3, WMI-VA: -1 (4294967295) when not a KMS host
    served = state.kms_service if kms_host else None
    props: dict[str, Any] = {
        "ClientMachineID": state.cmid,
        "DiscoveredKeyManagementServiceMachineName": state.discovered.name if state.discovered else "",
        "DiscoveredKeyManagementServiceMachinePort": state.discovered.port if state.discovered else 0,
        "IsKeyManagementServiceMachine": 1 if state.channel == KMS_HOST else 0,
        "KeyManagementServiceActivationDisabled": False,
        "KeyManagementServiceCurrentCount": served.count if served else counter,
        **_request_counters(served, counter),
        "KeyManagementServiceDnsPublishing": state.kms_dns_publishing,
        "KeyManagementServiceHostCaching": state.host_caching,
        "KeyManagementServiceListeningPort": state.kms_listening_port,
        "KeyManagementServiceLookupDomain": state.lookup_domain or "",
        "KeyManagementServiceLowPriority": state.kms_low_priority,
        "KeyManagementServiceMachine": state.kms_machine or "",
        "KeyManagementServicePort": state.kms_port or 0,
        "KeyManagementServiceProductKeyID": state.kms_epid or "",
        "OA3xOriginalProductKey": "",
        "OA3xOriginalProductKeyDescription": "",
        "PolicyCacheRefreshRequired": 0,
        "RemainingWindowsReArmCount": state.rearm_count,
        "RequiredClientCount": UINT32_UNUSED,
        "TokenActivationAdditionalInfo": None,
        "TokenActivationCertificateThumbprint": None,
        "TokenActivationGrantNumber": UINT32_UNUSED,  # [inf] unused uint32
        "TokenActivationILID": None,
        "TokenActivationILVID": UINT32_UNUSED,  # [inf] unused uint32
        "Version": f"{state.edition.version}.1",
        "VLActivationInterval": state.kms_activation_interval,
        "VLRenewalInterval": state.kms_renewal_interval,
    }
    return _in_windows_order(props)


def _os_properties(state: HostState, world: World) -> dict[str, Any]:
    ed = state.edition
    now = state.utc_now(world)
    japanese = state.japanese
    return {
        "Caption": ed.caption,
        "Version": ed.version,
        "BuildNumber": str(ed.build),
        "OperatingSystemSKU": ed.sku,
        "ProductType": 2 if state.is_domain_controller else (3 if ed.server else 1),
        "OSLanguage": 1041 if japanese else 1033,
        "MUILanguages": [state.ui_language],
        "Locale": "0411" if japanese else "0409",
        "CodeSet": "932" if japanese else "1252",
        "CSName": state.computer_name,
        "LocalDateTime": now,
        "LastBootUpTime": now - timedelta(days=3),
        "SystemDirectory": "C:\\Windows\\system32",
        "WindowsDirectory": "C:\\Windows",
        "OSArchitecture": "64 ビット" if japanese else "64-bit",
        "PSComputerName": None,
    }


def _computer_system_properties(state: HostState) -> dict[str, Any]:
    in_domain = state.domain_role not in (0, 2)
    return {
        "Name": state.computer_name,
        "DNSHostName": state.computer_name.lower(),
        "Domain": state.domain if in_domain else "WORKGROUP",
        "DomainRole": state.domain_role,
        "PartOfDomain": in_domain,
        "Workgroup": None if in_domain else "WORKGROUP",
        "Manufacturer": "Microsoft Corporation",
        "Model": "Virtual Machine",
        "PSComputerName": None,
    }


def _licences(state: HostState, world: World) -> list[tuple[dict[str, Any], Callable[[], PSObject]]]:
    """Every SoftwareLicensingProduct, Windows' then Office's: its probe (lowered names) and what builds it."""

    def windows(channel: str) -> Callable[[], PSObject]:
        return lambda: PSObject(
            _type_names("SoftwareLicensingProduct"),
            product_properties(state, world, channel),
            to_string=f'SoftwareLicensingProduct (ID = "{activation_id(state.edition.edition_id, channel)}")',
            handle=("SoftwareLicensingProduct", channel),
        )

    def office_licence(product: OfficeProduct) -> Callable[[], PSObject]:
        return lambda: PSObject(
            _type_names("SoftwareLicensingProduct"),
            office_properties(state, world, product),
            to_string=f'SoftwareLicensingProduct (ID = "{product.id}")',
            handle=("SoftwareLicensingProduct", f"office:{product.id}"),
        )

    def lowered(probe: dict[str, Any]) -> dict[str, Any]:
        return {name.lower(): value for name, value in probe.items()}

    return [(lowered(_windows_probe(state, channel)), windows(channel)) for channel in product_channels(state)] + [
        (lowered(_office_probe(product)), office_licence(product)) for product in state.office
    ]


def instances(state: HostState, world: World, class_name: str) -> list[PSObject]:
    lowered = class_name.lower()
    if lowered == "softwarelicensingproduct":
        return [build() for _, build in _licences(state, world)]
    if lowered == "softwarelicensingservice":
        return [
            PSObject(
                _type_names("SoftwareLicensingService"),
                service_properties(state, world),
                to_string=f'SoftwareLicensingService (Version = "{state.edition.version}.1")',
                handle=("SoftwareLicensingService", None),
            )
        ]
    if lowered == "win32_operatingsystem":
        return [
            PSObject(
                _type_names("Win32_OperatingSystem"),
                _os_properties(state, world),
                handle=("Win32_OperatingSystem", None),
            )
        ]
    if lowered == "win32_computersystem":
        return [
            PSObject(
                _type_names("Win32_ComputerSystem"),
                _computer_system_properties(state),
                to_string=state.computer_name,
                handle=("Win32_ComputerSystem", None),
            )
        ]
    raise KeyError(class_name)


def cim_error(state: HostState, code: int, command: str, target: Any = None) -> CmdletError:
    """A failure as a CimException carries it: the HRESULT in the error id and in the exception (signed)."""
    code &= 0xFFFFFFFF
    category = {
        WBEM_E_INVALID_CLASS: "MetadataError",
        WBEM_E_INVALID_NAMESPACE: "MetadataError",
        WBEM_E_INVALID_PARAMETER: "InvalidArgument",
        WBEM_E_INVALID_METHOD: "MetadataError",
        WBEM_E_INVALID_QUERY: "InvalidArgument",
    }
    return CmdletError(
        ErrorRecord(
            message=system_message(state, code),
            fully_qualified_error_id=f"HRESULT 0x{code:08x},"
            f"Microsoft.Management.Infrastructure.CimCmdlets.{command}Command",
            category=category.get(code, "NotSpecified"),
            exception_type="Microsoft.Management.Infrastructure.CimException",
            target_object=target,
            hresult=licensing.to_signed(code),
            activity={"GetCimInstance": "Get-CimInstance", "InvokeCimMethod": "Invoke-CimMethod"}.get(
                command, command
            ),
        )
    )


def get_cim_instance(state: HostState, world: World, call: Invocation, ctx: CommandContext) -> list[Any]:
    class_name = str(call.named.get("ClassName") or (call.positional[0] if call.positional else ""))
    namespace = str(call.named.get("Namespace") or NAMESPACE).replace("\\", "/").lower()
    if namespace != NAMESPACE:
        raise cim_error(state, WBEM_E_INVALID_NAMESPACE, "GetCimInstance", namespace)
    condition = call.named.get("Filter")
    try:
        where = wql.compile_filter(str(condition)) if condition is not None else None
    except wql.WqlError:
        raise cim_error(state, WBEM_E_INVALID_QUERY, "GetCimInstance") from None
    if where is not None and class_name.lower() == "softwarelicensingproduct" and all(
        name.lower() in _PROBED for name in where.names
    ):
        # the same licences the test below selects, without building those it rejects
        return [build() for probe, build in _licences(state, world) if where.test(_probe_lookup(probe))]
    try:
        found = list(instances(state, world, class_name))
    except KeyError:
        raise cim_error(state, WBEM_E_INVALID_CLASS, "GetCimInstance", class_name) from None
    if where is None:
        if class_name.lower() == "softwarelicensingproduct":
            durations.spend(world, state.durations.licensing_enumeration_s)  # every licence, every property
        return found
    if found and any(not found[0].has(name) for name in where.names):
        raise cim_error(state, WBEM_E_INVALID_QUERY, "GetCimInstance")
    return [instance for instance in found if where.test(_properties_of(instance))]


def _probe_lookup(probe: dict[str, Any]) -> wql.Lookup:
    return lambda name: (True, probe[name.lower()])


def _properties_of(instance: PSObject) -> wql.Lookup:
    return lambda name: (instance.has(name), instance.get(name))


def _argument(arguments: dict[str, Any], name: str, state: HostState) -> Any:
    for key, value in arguments.items():
        if key.lower() == name.lower():
            return value
    raise cim_error(state, WBEM_E_INVALID_PARAMETER, "InvokeCimMethod", name)


def _product_method(state: HostState, world: World, channel: str, method: str, args: dict[str, Any]) -> None:
    if channel.startswith("office:"):
        _office_method(state, world, channel.removeprefix("office:"), method)
        return
    installed = channel == state.channel and state.key is not None
    if method == "activate":
        if not installed:
            # the product instance carries no key (ref §1a 0xC004F014; ref §1b 0xC004F213 for a lost licence)
            if state.key is None and state.hardware_changed:
                raise LicensingError(licensing.E_NO_PRODUCT_KEY_FOUND)
            raise LicensingError(licensing.E_PKEY_NOT_INSTALLED)
        licensing.activate(state, world)
    elif method == "uninstallproductkey":
        if not installed:
            raise LicensingError(licensing.E_PKEY_NOT_INSTALLED)
        licensing.uninstall_product_key(state)
    elif method == "rearmsku":
        licensing.rearm_sku(state)
    elif method == "setvlactivationtypeenabled":
        licensing.set_activation_type(state, int(_argument(args, "ActivationType", state)))
    elif method == "clearvlactivationtypeenabled":
        licensing.set_activation_type(state, 0)
    elif method == "depositofflineconfirmationid":
        if not installed:
            raise LicensingError(licensing.E_PKEY_NOT_INSTALLED)
        licensing.deposit_confirmation_id(
            state, world, str(_argument(args, "InstallationId", state)), str(_argument(args, "ConfirmationId", state))
        )
    elif not _kms_setting_method(state, method, args):
        raise cim_error(state, WBEM_E_INVALID_METHOD, "InvokeCimMethod", method)


def _office_method(state: HostState, world: World, product_id: str, method: str) -> None:
    """Activate on an Office licence (what ospp.vbs /act calls); the model tracks no other Office method."""
    product = next(product for product in state.office if product.id == product_id)
    if method != "activate":
        raise cim_error(state, WBEM_E_INVALID_METHOD, "InvokeCimMethod", method)
    failed = office.activate(state, world, product)
    if failed:
        raise LicensingError(failed)


def _kms_setting_method(state: HostState, method: str, args: dict[str, Any]) -> bool:
    """The KMS client settings exist on both classes (ref §3)."""
    if method == "setkeymanagementservicemachine":
        licensing.set_kms_machine(state, str(_argument(args, "MachineName", state)))
    elif method == "setkeymanagementserviceport":
        licensing.set_kms_port(state, int(_argument(args, "PortNumber", state)))
    elif method == "clearkeymanagementservicemachine":
        licensing.clear_kms_machine(state)
    elif method == "clearkeymanagementserviceport":
        licensing.clear_kms_port(state)
    elif method == "setkeymanagementservicelookupdomain":
        licensing.set_lookup_domain(state, str(_argument(args, "LookupDomain", state)))
    elif method == "clearkeymanagementservicelookupdomain":
        licensing.clear_lookup_domain(state)
    else:
        return False
    return True


_ACCEPTED_SERVICE_METHODS = {
    "installlicense",
    "installlicensepackage",
    "rearmapp",
    "acquiregenuineticket",
    "disablekeymanagementserviceactivation",
}


def _service_method(state: HostState, world: World, method: str, args: dict[str, Any]) -> None:
    if method == "installproductkey":
        licensing.install_product_key(state, world, str(_argument(args, "ProductKey", state)))
    elif method == "refreshlicensestatus":
        licensing.refresh(state)
    elif method == "clearproductkeyfromregistry":
        licensing.clear_product_key_from_registry(state)
    elif method == "rearmwindows":
        licensing.rearm(state)
    elif method == "disablekeymanagementservicehostcaching":
        state.host_caching = not bool(_argument(args, "DisableCaching", state))
    elif method == "setvlactivationinterval":
        licensing.set_vl_interval(state, False, int(_argument(args, "ActivationInterval", state)))
    elif method == "setvlrenewalinterval":
        licensing.set_vl_interval(state, True, int(_argument(args, "RenewalInterval", state)))
    elif method == "setkeymanagementservicelisteningport":
        licensing.set_listening_port(state, int(_argument(args, "PortNumber", state)))
    elif method == "disablekeymanagementservicednspublishing":
        state.kms_dns_publishing = not bool(_argument(args, "DisablePublishing", state))
    elif method == "enablekeymanagementservicelowpriority":
        state.kms_low_priority = bool(_argument(args, "EnableLowPriority", state))
    elif method in _ACCEPTED_SERVICE_METHODS:
        pass  # ref §3: methods of the class whose effect this model does not track; they return 0
    elif not _kms_setting_method(state, method, args):
        raise cim_error(state, WBEM_E_INVALID_METHOD, "InvokeCimMethod", method)


def invoke_method(state: HostState, world: World, handle: Any, method: str, args: dict[str, Any]) -> None:
    """Run one method on a live instance; raises LicensingError with the HRESULT on failure."""
    class_name, channel = handle
    if class_name == "SoftwareLicensingProduct":
        _product_method(state, world, channel, method.lower(), args)
    elif class_name == "SoftwareLicensingService":
        _service_method(state, world, method.lower(), args)
    else:
        raise LicensingError(WBEM_E_INVALID_METHOD)


def invoke_cim_method(state: HostState, world: World, call: Invocation, ctx: CommandContext) -> list[Any]:
    targets = call.named.get("InputObject")
    if targets is None:
        targets = call.input
    if not isinstance(targets, list):
        targets = [targets]
    method = str(call.named.get("MethodName") or "")
    raw_args = call.named.get("Arguments") or {}
    args = dict(raw_args) if isinstance(raw_args, dict) else {}
    out: list[Any] = []
    for target in targets:
        handle = target.handle if isinstance(target, PSObject) else None
        if handle is None:
            raise CmdletError(
                ErrorRecord(
                    message="Cannot bind argument to parameter 'InputObject': "
                    "it is not a CIM instance of this host.",
                    fully_qualified_error_id="ParameterArgumentValidationError,"
                    "Microsoft.Management.Infrastructure.CimCmdlets.InvokeCimMethodCommand",
                    category="InvalidArgument",
                    activity="Invoke-CimMethod",
                ),
                terminating=True,
            )
        try:
            invoke_method(state, world, handle, method, args)
        except LicensingError as failure:
            raise cim_error(state, failure.hresult, "InvokeCimMethod", target) from None
        out.append(
            PSObject(
                ["Microsoft.Management.Infrastructure.CimMethodResult", "System.Object"],
                {"ReturnValue": 0, "PSComputerName": None},
            )
        )
    return out
