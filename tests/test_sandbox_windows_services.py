"""Get-Service on a sandbox host, and the table Out-Default shows for it."""

from __future__ import annotations

from test_sandbox_windows_support import gvlk_host, world_with_kms

from remediate.sandbox.seam import Command, PipelineOutcome, PipelineRequest, PSObject
from remediate.sandbox.windows.host import WindowsHost


def run(script: str) -> PipelineOutcome:
    world = world_with_kms()
    return WindowsHost(gvlk_host(world), world).invoke_pipeline(PipelineRequest([Command(script, True)]))


def execute_ps(script: str) -> PipelineOutcome:
    """The pipeline pypsrp's Client.execute_ps sends."""
    world = world_with_kms()
    request = PipelineRequest(
        [Command("Invoke-Expression", False, [("Command", script)]), Command("Out-String", False, [("Stream", True)])]
    )
    return WindowsHost(gvlk_host(world), world).invoke_pipeline(request)


def test_execute_ps_of_get_service_matches_the_recorded_exchange() -> None:
    """pypsrp's test_client_execute_ps.yml: the properties, then the default table, as Out-String -Stream lines."""
    outcome = execute_ps("$serv = Get-Service -Name winrm; $serv.Name; $serv.Status; $serv")
    assert "\n".join(outcome.output) == (
        "winrm\nRunning\n\nStatus   Name               DisplayName                           \n------"
        "   ----               -----------                           \nRunning  winrm              Wi"
        "ndows Remote Management (WS-Manag...\n\n"
    )


def test_get_service_takes_its_name_by_position_and_wildcards() -> None:
    service = run("Get-Service WinRM").output[0]
    assert isinstance(service, PSObject)
    assert service.type_names[0] == "System.ServiceProcess.ServiceController"
    assert (service.get("ServiceName"), service.get("DisplayName")) == (
        "WinRM",
        "Windows Remote Management (WS-Management)",
    )
    names = [item.get("Name") for item in run("Get-Service -Name W*").output if isinstance(item, PSObject)]
    assert names == ["W32Time", "WinRM"]


def test_a_missing_service_is_windows_not_found_error() -> None:
    outcome = run("Get-Service -Name NoSuchService; 'next'")
    assert outcome.output == ["next"]
    assert [record.fully_qualified_error_id for record in outcome.errors] == [
        "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand"
    ]
    assert outcome.errors[0].message == "Cannot find any service with service name 'NoSuchService'."


def test_get_ciminstance_takes_its_class_name_by_position() -> None:
    positional = run("Get-CimInstance SoftwareLicensingProduct | Select-Object -ExpandProperty Name")
    named = run("Get-CimInstance -ClassName SoftwareLicensingProduct | Select-Object -ExpandProperty Name")
    assert positional.failure is None
    assert positional.output == named.output != []
