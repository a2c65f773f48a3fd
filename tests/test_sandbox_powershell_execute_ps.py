"""pypsrp's Client.execute_ps sends `Invoke-Expression -Command <script> | Out-String -Stream` as PSRP commands.

Real Windows runs that pipeline; the sandbox runs it too, with the script text still held to the dialect. Written
inside script text, Invoke-Expression stays outside the dialect.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypsrp.client import Client
from sandbox_powershell_fakes import FakeCommands, run

from remediate.codes import ErrorCode
from remediate.playbook import PlaybookLibrary
from remediate.render import Renderer
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.powershell import Interpreter
from remediate.sandbox.scenario import build_hosts
from remediate.sandbox.seam import Command, PipelineOutcome, PipelineRequest
from remediate.sandbox.testing import StartFleet

ENV = {"SystemRoot": "C:\\Windows", "COMPUTERNAME": "HOST1"}
STREAM = Command("Out-String", is_script=False, parameters=[("Stream", None)])


def invoke_expression(text: Any, *more: Command) -> PipelineRequest:
    return PipelineRequest([Command("Invoke-Expression", is_script=False, parameters=[("Command", text)]), *more])


def run_request(request: PipelineRequest, commands: FakeCommands | None = None) -> PipelineOutcome:
    return Interpreter(commands or FakeCommands(), dict(ENV)).run(request)


# --- in process -------------------------------------------------------------------------------------------


def test_the_invoke_expression_text_runs_as_a_script_and_out_string_stream_gives_one_string_per_line() -> None:
    script = "$name = $env:COMPUTERNAME\n'first'\n\"on $name\"\n@{ a = 1 } | ConvertTo-Json -Compress"
    outcome = run_request(invoke_expression(script, STREAM))
    assert outcome.state == "Completed", outcome.failure
    assert outcome.output == ["first", "on HOST1", '{"a":1}']


def test_a_multi_line_string_becomes_several_lines_and_objects_are_listed_as_text() -> None:
    script = "\"one`r`ntwo\"\nGet-CimInstance -ClassName SoftwareLicensingService"
    outcome = run_request(invoke_expression(script, STREAM))
    assert outcome.state == "Completed", outcome.failure
    assert outcome.output[:2] == ["one", "two"]
    assert all(isinstance(line, str) and "\r" not in line and "\n" not in line for line in outcome.output)
    assert "KeyManagementServiceMachine : kms.example.com" in outcome.output


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30), min_size=1, max_size=6))
def test_out_string_stream_gives_back_each_written_line_exactly(lines: list[str]) -> None:
    script = "\n".join("'" + line.replace("'", "''") + "'" for line in lines)
    outcome = run_request(invoke_expression(script, STREAM))
    assert outcome.state == "Completed", outcome.failure
    assert outcome.output == lines


def test_without_out_string_the_objects_come_back_as_objects() -> None:
    outcome = run_request(invoke_expression("$x = 40 + 2\n$x"))
    assert outcome.state == "Completed", outcome.failure
    assert outcome.output == [42]


def test_the_script_reaches_the_hosts_commands() -> None:
    commands = FakeCommands()
    outcome = run_request(
        invoke_expression("Get-CimInstance -ClassName SoftwareLicensingProduct | Out-String", STREAM), commands
    )
    assert outcome.state == "Completed", outcome.failure
    assert ("Get-CimInstance", {"ClassName": "SoftwareLicensingProduct"}) in commands.calls


@pytest.mark.parametrize(
    ("script", "named"),
    [
        ("Get-Date | Format-Table", "Format-Table"),
        ("Invoke-Expression -Command 'Get-Date'", "Invoke-Expression"),
        ("iex 'Get-Date'", "iex"),
        ("$sb = { 'x' }", "script block"),
    ],
)
def test_constructs_not_emulated_inside_the_text_still_fail_loudly(script: str, named: str) -> None:
    outcome = run_request(invoke_expression(script, STREAM))
    assert outcome.state == "Failed"
    assert outcome.failure is not None and named in outcome.failure.message
    assert outcome.failure.fully_qualified_error_id == "SandboxNotEmulated"
    assert outcome.output == []


def test_output_written_before_a_failure_still_arrives_as_lines() -> None:
    outcome = run_request(invoke_expression("'before'\nthrow 'it broke'", STREAM))
    assert outcome.state == "Failed"
    assert outcome.failure is not None and "it broke" in outcome.failure.message
    assert outcome.output == ["before"]


def test_invoke_expression_inside_script_text_is_still_rejected() -> None:
    outcome = run("Invoke-Expression -Command 'Get-Date'")
    assert outcome.state == "Failed"
    assert outcome.failure is not None and "Invoke-Expression" in outcome.failure.message


@pytest.mark.parametrize(
    "request_",
    [
        # another parameter besides -Command
        PipelineRequest(
            [Command("Invoke-Expression", False, [("Command", "'x'"), ("ErrorAction", "Stop")]), STREAM]
        ),
        # positional text rather than -Command
        PipelineRequest([Command("Invoke-Expression", False, [(None, "'x'")])]),
        # a follower other than Out-String -Stream
        invoke_expression("'x'", Command("Out-Null", False, [])),
        invoke_expression("'x'", Command("Out-String", False, [("Width", 80)])),
        # Invoke-Expression as script text sent by a client
        PipelineRequest([Command("Invoke-Expression -Command 'x'", True, [])]),
        # Invoke-Expression after another command
        PipelineRequest([Command("Get-Date", False, []), Command("Invoke-Expression", False, [("Command", "'x'")])]),
    ],
    ids=["extra-parameter", "positional", "out-null", "out-string-width", "as-script-text", "not-first"],
)
def test_any_other_shape_with_invoke_expression_is_rejected(request_: PipelineRequest) -> None:
    outcome = run_request(request_)
    assert outcome.state == "Failed"
    assert outcome.failure is not None and "Invoke-Expression" in outcome.failure.message
    assert outcome.output == []


# --- end to end: unmodified pypsrp against a scenario host ------------------------------------------------


def license_state_script() -> str:
    library = PlaybookLibrary(())
    playbook = library.get(ErrorCode.parse("0xC004F074"))
    step = next(step for step in playbook.steps if step.template == "license-state.ps1.j2")
    return Renderer.for_library(library).script(playbook, step)


def test_execute_ps_runs_a_rendered_template_on_a_scenario_host(sandbox_fleet: StartFleet) -> None:
    fleet: Fleet = sandbox_fleet(build_hosts("kms-moved", 2, 0), auth="ntlm")
    name = fleet.endpoints[0].computer_name
    client = Client("127.0.0.1", **fleet.client_options(name), operation_timeout=5, read_timeout=10)

    output, streams, had_errors = client.execute_ps(license_state_script())

    assert had_errors is False, [str(error) for error in streams.error]
    result = json.loads(output.splitlines()[-1])
    assert set(result) == {"ok", "hresult", "license_status", "changed", "output", "data"}
    # the kms-moved scenario's first host cannot reach its KMS host: not licensed, 0xC004F074
    assert result["ok"] is False
    assert result["hresult"] == "0xC004F074"
    assert result["license_status"] != 1
    assert result["data"]["product_found"] is True


def test_execute_ps_reports_a_dialect_violation_as_an_error(sandbox_fleet: StartFleet) -> None:
    fleet: Fleet = sandbox_fleet(build_hosts("kms-moved", 2, 0), auth="ntlm")
    name = fleet.endpoints[0].computer_name
    client = Client("127.0.0.1", **fleet.client_options(name), operation_timeout=5, read_timeout=10)

    output, streams, had_errors = client.execute_ps("Get-Date | Format-Table")

    assert had_errors is True
    assert output == ""
    assert any("Format-Table" in str(error) for error in streams.error)
