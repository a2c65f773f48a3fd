"""Get-Service: the services of a Windows Server 2019 host that activation and remoting touch.

Each is a ServiceController as Windows PowerShell 5.1 returns it (its adapted properties; Status, StartType and
ServiceType as their names), so Out-Default shows the default table (Status, Name, DisplayName) and a script can
read any property. Only these services exist on a sandbox host; asking for another is Windows' "Cannot find any
service" error, since the model has no others."""

from __future__ import annotations

import fnmatch
from typing import Any

from remediate.sandbox.commands import CmdletError, CommandContext, Invocation
from remediate.sandbox.seam import ErrorRecord, PSObject
from remediate.sandbox.windows.state import HostState, World

SERVICE_TYPES = [
    "System.ServiceProcess.ServiceController",
    "System.ComponentModel.Component",
    "System.MarshalByRefObject",
    "System.Object",
]

# (name, display name, start type, can stop)
_SERVICES = (
    ("Dnscache", "DNS Client", "Automatic", False),
    ("sppsvc", "Software Protection", "Automatic", True),
    ("W32Time", "Windows Time", "Manual", True),
    ("WinRM", "Windows Remote Management (WS-Management)", "Automatic", True),
)


def _service(name: str, display_name: str, start_type: str, can_stop: bool) -> PSObject:
    return PSObject(
        SERVICE_TYPES,
        {
            "Name": name,
            "RequiredServices": [],
            "CanPauseAndContinue": False,
            "CanShutdown": False,
            "CanStop": can_stop,
            "DisplayName": display_name,
            "DependentServices": [],
            "MachineName": ".",
            "ServiceName": name,
            "ServicesDependedOn": [],
            "ServiceHandle": None,
            "Status": "Running",
            "ServiceType": "Win32OwnProcess",
            "StartType": start_type,
            "Site": None,
            "Container": None,
        },
        to_string=name,
        extended=frozenset({"Name"}),  # an alias of ServiceName from types.ps1xml, not a .NET property
    )


def _not_found(name: str) -> CmdletError:
    return CmdletError(
        ErrorRecord(
            message=f"Cannot find any service with service name '{name}'.",
            fully_qualified_error_id="NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand",
            category="ObjectNotFound",
            exception_type="Microsoft.PowerShell.Commands.ServiceCommandException",
            target_object=name,
            activity="Get-Service",
        )
    )


def get_service(state: HostState, world: World, call: Invocation, ctx: CommandContext) -> list[Any]:
    """Get-Service [-Name] <string[]>: by service name, case-insensitive, with wildcards; all when no name."""
    names = call.named.get("Name")
    patterns = [str(n) for n in (names if isinstance(names, list) else [names])] if names is not None else ["*"]
    found: list[Any] = []
    for pattern in patterns:
        matches = [entry for entry in _SERVICES if fnmatch.fnmatchcase(entry[0].lower(), pattern.lower())]
        if not matches and not any(char in pattern for char in "*?["):
            ctx.write_error(_not_found(pattern).record)
        # a name without wildcards is kept as written, as ServiceController(name) keeps it (pypsrp's recorded
        # exchange test_client_execute_ps.yml: Get-Service -Name winrm shows "winrm")
        wildcard = any(char in pattern for char in "*?[")
        found.extend(_service(entry[0] if wildcard else pattern, *entry[1:]) for entry in matches)
    return found
