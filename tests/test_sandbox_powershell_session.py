"""A runspace pool's state across its pipelines, as a Windows runspace keeps it: variables, environment changes,
history, $PSSenderInfo; and the session cmdlets (Set-Variable, Get-Variable, New-Item Env:, Out-Null,
Get-History)."""

from __future__ import annotations

from sandbox_powershell_fakes import FakeCommands

from remediate.sandbox.powershell import Interpreter
from remediate.sandbox.seam import Command, PipelineOutcome, PipelineRequest, PSObject, RunspaceSession


def script(text: str, session: RunspaceSession, history: bool = False) -> PipelineOutcome:
    request = PipelineRequest([Command(text, True)], session=session, add_to_history=history)
    return Interpreter(FakeCommands(), {"COMPUTERNAME": "WS01"}).run(request)


def test_variables_and_environment_changes_carry_over_to_the_next_pipeline() -> None:
    session = RunspaceSession()
    script("$greeting = 'hello'; New-Item -Path env: -Name Stage -Value two -Force | Out-Null", session)
    assert script("$greeting; $env:Stage; $env:COMPUTERNAME", session).output == ["hello", "two", "WS01"]
    assert script("$greeting", RunspaceSession()).output == [None]  # another pool starts afresh


def test_set_variable_and_get_variable() -> None:
    session = RunspaceSession()
    outcome = script("Set-Variable -Name count -Value 3; Set-Variable total 5; Get-Variable -Name count", session)
    variable = outcome.output[0]
    assert isinstance(variable, PSObject)
    assert (variable.get("Name"), variable.get("Value")) == ("count", 3)
    assert script("Get-Variable total -ValueOnly", session).output == [5]
    missing = script("Get-Variable -Name nothing", session)
    assert [record.fully_qualified_error_id for record in missing.errors] == [
        "VariableNotFound,Microsoft.PowerShell.Commands.GetVariableCommand"
    ]


def test_new_item_outside_the_env_drive_is_not_emulated() -> None:
    outcome = script("New-Item -Path C:\\temp -Name x -ItemType Directory", RunspaceSession())
    assert outcome.failure is not None and outcome.failure.fully_qualified_error_id == "SandboxNotEmulated"


def test_history_records_only_pipelines_the_client_asked_to_add() -> None:
    session = RunspaceSession()
    script("Write-Output 1; Write-Output 2", session, history=True)  # test_psrp_with_history.yml
    script("'not recorded'", session)
    entries = script("Get-History", session).output
    assert len(entries) == 1
    assert isinstance(entries[0], PSObject)
    assert entries[0].type_names[0] == "Microsoft.PowerShell.Commands.HistoryInfo"
    assert (entries[0].get("Id"), entries[0].get("CommandLine"), entries[0].get("ExecutionStatus")) == (
        1,
        "Write-Output 1; Write-Output 2",
        "Completed",
    )


def test_pssenderinfo_carries_the_application_arguments() -> None:
    session = RunspaceSession(application_arguments={"test_var": "abcdef12345"}, user="SANDBOX\\admin")
    assert script("$PSSenderInfo.ApplicationArguments", session).output == [{"test_var": "abcdef12345"}]
    assert script("$PSSenderInfo.ConnectedUser", session).output == ["SANDBOX\\admin"]
