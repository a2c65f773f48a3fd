"""Get-CimInstance -Filter: WQL conditions as WMI evaluates them (learn.microsoft.com/windows/win32/wmisdk/:
"WQL Operators", "LIKE Operator", "WHERE Clause (WMI)", "WQL (SQL for WMI)")."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from test_sandbox_windows_support import cmdlet, cmdlet_error, gvlk_host, world_with_kms

from remediate.sandbox.seam import PSObject
from remediate.sandbox.windows import office, wql
from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.durations import Durations

WINDOWS = "55c92734-d682-4d71-983e-d6ec3f16059f"


@pytest.fixture
def commands() -> WindowsCommands:
    """A KMS client: five Windows licences (one channel each), the VOLUME_KMSCLIENT one with its key."""
    world = world_with_kms()
    return WindowsCommands(gvlk_host(world), world)


def channels(commands: WindowsCommands, condition: str) -> list[str]:
    found: list[PSObject] = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct", Filter=condition)
    return [str(product.get("Description")).rsplit(", ", 1)[1].removesuffix(" channel") for product in found]


ALL = ["RETAIL", "OEM_DM", "VOLUME_MAK", "VOLUME_KMSCLIENT", "VOLUME_KMS"]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # "WQL Operators": IS NULL / IS NOT NULL
        ("PartialProductKey IS NOT NULL", ["VOLUME_KMSCLIENT"]),
        ("PartialProductKey IS NULL", ["RETAIL", "OEM_DM", "VOLUME_MAK", "VOLUME_KMS"]),
        # =, AND, OR, NOT and parentheses ("WHERE Clause (WMI)"); keywords in any case ("WQL (SQL for WMI)")
        (f"ApplicationID = '{WINDOWS}' AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE",
         ["VOLUME_KMSCLIENT"]),
        ("LicenseStatus = 2 or LicenseStatus = 1", ["VOLUME_KMSCLIENT"]),
        ("NOT (LicenseStatus = 0)", ["VOLUME_KMSCLIENT"]),
        ("LicenseStatus <> 0", ["VOLUME_KMSCLIENT"]),
        ("LicenseStatus != 2", ["RETAIL", "OEM_DM", "VOLUME_MAK", "VOLUME_KMS"]),
        ("LicenseStatus >= 1", ["VOLUME_KMSCLIENT"]),
        ("1 < LicenseStatus", ["VOLUME_KMSCLIENT"]),  # the constant may come first
        # string comparisons do not consider case; double quotes are string delimiters too
        (f"ApplicationID = '{WINDOWS.upper()}' AND PartialProductKey IS NOT NULL", ["VOLUME_KMSCLIENT"]),
        ('ApplicationID = "00000000-0000-0000-0000-000000000000"', []),
        # "LIKE Operator": %, _, [set], [^set]
        ("Description LIKE '%VOLUME_KMS%'", ["VOLUME_KMSCLIENT", "VOLUME_KMS"]),
        ("Description LIKE '%volume_kmsclient%'", ["VOLUME_KMSCLIENT"]),
        ("Description LIKE '%VOLUME_KMS%' AND NOT Description LIKE '%VOLUME_KMSCLIENT%'", ["VOLUME_KMS"]),
        ("Description LIKE '%, [OR]_____ channel'", ["RETAIL", "OEM_DM"]),
        ("Description LIKE '%, [^V]% channel'", ["RETAIL", "OEM_DM"]),
        ("Description LIKE '%, [M-P]%'", ["OEM_DM"]),
        ("Name LIKE 'Windows%'", ALL),
    ],
)
def test_a_filter_returns_the_instances_wmi_returns(
    commands: WindowsCommands, condition: str, expected: list[str]
) -> None:
    assert channels(commands, condition) == expected


def test_a_backslash_escapes_a_quote_in_a_string(commands: WindowsCommands) -> None:
    assert channels(commands, "Name = 'it\\'s not'") == []
    assert channels(commands, 'Name = "Windows(R), ServerStandard edition" AND LicenseStatus = 2') == [
        "VOLUME_KMSCLIENT"
    ]


@pytest.mark.parametrize(
    "condition",
    [
        "LicenseStatus IS 5",  # "WQL Operators": IS takes only NULL
        "PartialProductKey IS NOT 'ABCDE'",
        "NoSuchProperty = 1",
        "(LicenseStatus = 1",
        "LicenseStatus = ",
        "LicenseStatus 1",
        "",
    ],
)
def test_an_invalid_query_is_wmis_invalid_query_error(commands: WindowsCommands, condition: str) -> None:
    error = cmdlet_error(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct", Filter=condition)
    assert error.record.message == "Invalid query "
    assert error.record.fully_qualified_error_id == (
        "HRESULT 0x80041017,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand"
    )
    assert error.record.category == "InvalidArgument"


def test_the_filter_works_on_other_classes(commands: WindowsCommands) -> None:
    found = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService", Filter="Version LIKE '10.%'")
    assert len(found) == 1
    assert cmdlet(commands, "Get-CimInstance", ClassName="Win32_ComputerSystem", Filter="DomainRole = 0") == []


def test_a_filtered_query_skips_the_slow_full_enumeration() -> None:
    world = world_with_kms()
    state = gvlk_host(world)
    state.durations = Durations(licensing_enumeration_s=0.5)
    commands = WindowsCommands(state, world)
    began = time.monotonic()
    assert channels(commands, "PartialProductKey IS NOT NULL") == ["VOLUME_KMSCLIENT"]
    assert time.monotonic() - began < 0.4


@pytest.mark.parametrize(
    "condition",
    [
        f"ApplicationID = '{WINDOWS}' AND PartialProductKey IS NOT NULL AND LicenseIsAddon = FALSE",
        'ApplicationID LIKE "%-a989-479d-af46-f275c6370663" AND PartialProductKey IS NOT NULL',
        "PartialProductKey IS NULL OR LicenseIsAddon = TRUE",
    ],
)
def test_a_filter_on_a_licences_identity_returns_whole_instances(condition: str) -> None:
    """Filtered or not, a licence is the same instance: every property, in the same order, the same text."""
    world = world_with_kms(office=True)
    world.frozen_at = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)  # TrustedTime the same in both queries
    state = gvlk_host(world)
    state.office.append(office.OfficeProduct())
    commands = WindowsCommands(state, world)
    everything: list[PSObject] = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct")
    where = wql.compile_filter(condition)
    expected = [product for product in everything if where.test(lambda name, p=product: (p.has(name), p.get(name)))]
    found: list[PSObject] = cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct", Filter=condition)
    assert expected
    assert [(p.to_string, p.handle, list(p.properties.items())) for p in found] == [
        (p.to_string, p.handle, list(p.properties.items())) for p in expected
    ]
