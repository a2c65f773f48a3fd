"""Errors as PowerShell reports them, and constructs the sandbox does not emulate (SandboxNotEmulated)."""

from __future__ import annotations

import pytest
from sandbox_powershell_fakes import FakeCommands, output_of, run, value_of

from remediate.sandbox.powershell import Interpreter
from remediate.sandbox.seam import Command, PipelineRequest

# --- throw, try/catch/finally -------------------------------------------------------------------------------


def test_throw_fails_the_pipeline_with_the_message_and_keeps_earlier_output() -> None:
    outcome = run("'before'\nthrow 'KMS host unreachable'\n'after'")
    assert outcome.state == "Failed"
    assert outcome.failure is not None
    assert outcome.failure.message == "KMS host unreachable"
    assert outcome.failure.fully_qualified_error_id == "KMS host unreachable"
    assert outcome.failure.exception_type == "System.Management.Automation.RuntimeException"
    assert outcome.output == ["before"]


def test_throw_is_terminating_even_without_stop() -> None:
    outcome = run("$ErrorActionPreference = 'Continue'\nthrow 'x'\n'after'")
    assert outcome.state == "Failed"
    assert outcome.output == []


def test_try_catch_finally_run_in_order_and_catch_sees_the_error_record() -> None:
    script = (
        "$log = @()\n"
        "try {\n    $log += 'try'\n    throw 'boom'\n    $log += 'not reached'\n}\n"
        "catch {\n    $log += 'catch:' + $_.Exception.Message\n    $log += $_.FullyQualifiedErrorId\n}\n"
        "finally {\n    $log += 'finally'\n}\n"
        "$log -join '|'"
    )
    assert value_of(script) == "try|catch:boom|boom|finally"


def test_finally_runs_when_catch_rethrows_and_the_pipeline_fails() -> None:
    outcome = run(
        "try { throw 'first' } catch { throw \"wrapped: $($_.Exception.Message)\" } finally { 'cleanup' }"
    )
    assert outcome.state == "Failed"
    assert outcome.failure is not None and outcome.failure.message == "wrapped: first"
    assert outcome.output == ["cleanup"]


def test_catch_rethrowing_dollar_underscore_keeps_the_original_record() -> None:
    outcome = run("try { Get-Nothing-Here } catch { throw $_ }")
    assert outcome.failure is not None
    assert outcome.failure.fully_qualified_error_id == "CommandNotFoundException"


def test_try_without_catch_runs_finally_and_fails() -> None:
    outcome = run("try { throw 'x' } finally { 'f' }")
    assert outcome.state == "Failed"
    assert outcome.output == ["f"]


def test_string_conversion_of_the_caught_record_is_its_message() -> None:
    assert value_of("try { throw 'oops' } catch { \"$_\" }") == "oops"
    assert value_of("try { throw 'oops' } catch { $_.CategoryInfo.Category }") == "OperationStopped"


# --- non-terminating errors and ErrorAction -----------------------------------------------------------------


def test_write_error_is_non_terminating_by_default() -> None:
    outcome = run("Write-Error -Message 'soft failure'\n'still running'")
    assert outcome.state == "Completed"
    assert outcome.output == ["still running"]
    assert [error.message for error in outcome.errors] == ["soft failure"]
    assert outcome.errors[0].fully_qualified_error_id == "Microsoft.PowerShell.Commands.WriteErrorException"


def test_write_error_with_stop_preference_terminates_and_try_catches_it() -> None:
    outcome = run("$ErrorActionPreference = 'Stop'\nWrite-Error -Message 'hard'\n'after'")
    assert outcome.state == "Failed"
    assert outcome.failure is not None and outcome.failure.message == "hard"
    assert outcome.output == []
    assert value_of(
        "$ErrorActionPreference = 'Stop'\ntry { Write-Error -Message 'hard' } catch { 'caught ' + $_ }"
    ) == ("caught hard")


def test_error_action_parameter_overrides_the_preference() -> None:
    outcome = run(
        "$ErrorActionPreference = 'Stop'\nWrite-Error -Message 'quiet' -ErrorAction SilentlyContinue\n'ok'"
    )
    assert (outcome.state, outcome.output, outcome.errors) == ("Completed", ["ok"], [])
    outcome = run("Write-Error -Message 'loud' -ErrorAction Stop\n'after'")
    assert outcome.state == "Failed"
    outcome = run("$ErrorActionPreference = 'Stop'\nWrite-Error -Message 'kept' -ErrorAction Continue\n'ok'")
    assert outcome.state == "Completed"
    assert [error.message for error in outcome.errors] == ["kept"]


def test_cmdlet_errors_from_the_host_honour_error_action() -> None:
    script = (
        "$r = Resolve-DnsName -Name 'missing.example' -Type SRV -ErrorAction SilentlyContinue\n$null -eq $r"
    )
    assert value_of(script) is True
    outcome = run(
        "$ErrorActionPreference = 'Stop'\nResolve-DnsName -Name 'missing.example' -Type SRV\n'after'"
    )
    assert outcome.state == "Failed"
    assert outcome.failure is not None and "DNS name does not exist" in outcome.failure.message


def test_cmdlet_error_raised_by_the_host_is_catchable_under_stop() -> None:
    script = (
        "$ErrorActionPreference = 'Stop'\n"
        "try { Get-CimInstance -ClassName NoSuchClass } catch { $_.Exception.HResult }"
    )
    assert value_of(script) == -2147217392


def test_statement_terminating_errors_continue_with_the_next_statement_under_continue() -> None:
    outcome = run("Get-Nothing-Here\n'next'")
    assert outcome.state == "Completed"
    assert outcome.output == ["next"]
    assert outcome.errors[0].fully_qualified_error_id == "CommandNotFoundException"


def test_warning_action_silently_continue_drops_warnings() -> None:
    outcome = run(
        "$r = Test-NetConnection -ComputerName 'kms' -Port 1688 -WarningAction SilentlyContinue\n"
        "$r.TcpTestSucceeded"
    )
    assert (outcome.output, outcome.warnings) == ([False], [])
    assert run("Test-NetConnection -ComputerName 'kms' -Port 1688").warnings == ["TCP connect to kms failed"]


def test_method_on_null_and_bad_conversion_are_catchable_runtime_errors() -> None:
    assert value_of("try { $null.Trim() } catch { $_.FullyQualifiedErrorId }") == "InvokeMethodOnNull"
    assert value_of("try { [int]'abc' } catch { 'bad' }") == "bad"
    assert value_of("try { [uint32]-1073418124 } catch { $_.Exception.Message }") == (
        'Cannot convert value "-1073418124" to type "System.UInt32". Error: "Value was either too large or '
        "too "
        'small for a UInt32."'
    )
    assert value_of("try { [int]3221549172 } catch { 'too large' }") == "too large"


# --- commands that PowerShell would not find or bind --------------------------------------------------------


def test_unknown_command_is_command_not_found_like_powershell() -> None:
    outcome = run("$ErrorActionPreference = 'Stop'\nFoo-Bar -Name x")
    assert outcome.state == "Failed"
    failure = outcome.failure
    assert failure is not None
    assert failure.message.startswith(
        "The term 'Foo-Bar' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program."
    )
    assert failure.fully_qualified_error_id == "CommandNotFoundException"
    assert failure.category == "ObjectNotFound"


def test_unknown_native_program_is_command_not_found() -> None:
    outcome = run("$ErrorActionPreference = 'Stop'\n& frobnicate.exe")
    assert (
        outcome.failure is not None and outcome.failure.fully_qualified_error_id == "CommandNotFoundException"
    )


@pytest.mark.parametrize(
    "script",
    [
        "Get-CimInstance -ClassNam SoftwareLicensingService",
        "Get-CimInstance -Class SoftwareLicensingService",  # an abbreviation: full names only
        "ConvertTo-Json -Dept 2",
        "Write-Error -Msg 'x'",
    ],
)
def test_unknown_or_abbreviated_parameter_is_a_parameter_binding_error(script: str) -> None:
    outcome = run("$ErrorActionPreference = 'Stop'\n" + script)
    assert outcome.state == "Failed"
    failure = outcome.failure
    assert failure is not None
    written = script.split(" -", 1)[1].split(" ")[0]
    assert failure.message == f"A parameter cannot be found that matches parameter name '{written}'."
    assert failure.fully_qualified_error_id.startswith("NamedParameterNotFound,")
    assert failure.exception_type == "System.Management.Automation.ParameterBindingException"


def test_a_parameter_without_its_value_is_missing_an_argument() -> None:
    outcome = run("$ErrorActionPreference = 'Stop'\nGet-CimInstance -ClassName")
    assert outcome.failure is not None
    assert outcome.failure.message.startswith("Missing an argument for parameter 'ClassName'.")


def test_host_cmdlets_receive_named_values_and_switches() -> None:
    commands = FakeCommands()
    output_of(
        "$r = Resolve-DnsName -Name '_vlmcs._tcp.example.com' -Type SRV -DnsOnly -QuickTimeout:$false",
        commands=commands,
    )
    assert commands.calls == [
        (
            "Resolve-DnsName",
            {"Name": "_vlmcs._tcp.example.com", "Type": "SRV", "DnsOnly": True, "QuickTimeout": False},
        )
    ]


def test_invoke_cim_method_receives_the_instance_and_a_plain_dict() -> None:
    commands = FakeCommands()
    value = value_of(
        "$s = Get-CimInstance -ClassName SoftwareLicensingService\n"
        "$r = Invoke-CimMethod -InputObject $s -MethodName SetKeyManagementServiceMachine "
        "-Arguments @{ MachineName = 'kms' }\n$r.ReturnValue",
        commands=commands,
    )
    assert value == 0
    name, named = commands.calls[-1]
    assert name == "Invoke-CimMethod"
    assert named["InputObject"].handle == "SoftwareLicensingService"
    assert named["Arguments"] == {"MachineName": "kms"} and type(named["Arguments"]) is dict


def test_script_parameter_binding_errors_fail_the_pipeline() -> None:
    outcome = run("param([string]$KmsHost)\n$KmsHost", {"KmsHots": "x"})
    assert outcome.state == "Failed"
    assert outcome.failure is not None
    assert outcome.failure.message == "A parameter cannot be found that matches parameter name 'KmsHots'."
    outcome = run("param([int]$Port)\n$Port", {"Port": "abc"})
    assert outcome.failure is not None
    assert outcome.failure.message.startswith("Cannot process argument transformation on parameter 'Port'.")
    outcome = run("param([bool]$Force)\n$Force", {"Force": "yes"})
    assert (
        outcome.failure is not None
        and "Boolean parameters accept only Boolean values" in outcome.failure.message
    )


def test_a_pipeline_of_cmdlet_commands_from_psrp() -> None:
    request = PipelineRequest(
        [
            Command("Get-CimInstance", False, [("ClassName", "SoftwareLicensingProduct")]),
            Command("Select-Object", False, [("First", 1)]),
            Command("ConvertTo-Json", False, [("Compress", None)]),
        ]
    )
    outcome = Interpreter(FakeCommands(), {}).run(request)
    assert outcome.output == ['{"Name":"Office","PartialProductKey":null,"LicenseStatus":0}']
    bad = Interpreter(FakeCommands(), {}).run(
        PipelineRequest([Command("Get-CimInstance", False, [("Bogus", 1)])])
    )
    assert bad.state == "Failed"
    assert bad.failure is not None and "'Bogus'" in bad.failure.message


def test_pipeline_input_from_the_client_reaches_the_first_command() -> None:
    request = PipelineRequest([Command("Select-Object", False, [("Last", 1)])], input=["a", "b"])
    assert Interpreter(FakeCommands(), {}).run(request).output == ["b"]


def test_syntax_error_is_a_parse_exception() -> None:
    outcome = run("if ($x -eq 1 {\n'a'\n")
    assert outcome.state == "Failed"
    assert outcome.failure is not None
    assert outcome.failure.exception_type == "System.Management.Automation.ParseException"
    assert outcome.failure.category == "ParserError"


# --- not emulated -------------------------------------------------------------------------------------------

OUTSIDE = [
    ("function Get-Thing { 1 }", "function definition", 1),
    ("'a'\nbreak", "'break' outside a loop", 2),
    ("foreach ($i in 1, 2) { @(1) | ForEach-Object { continue } }", "'continue' outside a loop", 1),
    ("switch (1) { 1 { 'a' } }", "switch", 1),
    ("Invoke-Expression -Command 'Get-Date'", "Invoke-Expression", 1),
    ("Start-Process -FilePath cmd.exe", "Start-Process", 1),
    ("$x = [System.Math]::Abs(-1)", ".NET static", 1),
    ("[Environment]::Exit(1)", ".NET static", 1),
    ("Get-Date > C:\\out.txt", "redirection", 1),
    ("Get-Date 2>&1", "redirection", 1),
    ("$sb = { 'x' }", "script block", 1),
    ("$x = $using:Thing", "$using:Thing", 1),
    ("$x = 'a' -replace 'a', 'b'", "-replace", 1),
    ("$x = 1..3", "1..3", 1),
    ("$x = [xml]'<a/>'", "[xml]", 1),
    ("$x = 'abc'.PadLeft(5)", ".PadLeft()", 1),
    ("$x = '{0:yyyy-MM-dd}' -f (Get-Date)", "format item", 1),
    ("Get-Date | Format-Table", "Format-Table", 1),
    ("'x'\ngwmi SoftwareLicensingProduct", "the command 'Get-WmiObject'", 2),  # an alias of a command not emulated
    ("Get-Service -Name WinRM", "the command 'Get-Service'", 1),
    ("& notepad.exe", "the command 'notepad.exe'", 1),
    ("Get-Date | & cscript.exe //NoLogo", "piping objects into the program cscript.exe", 1),
    (". .\\helper.ps1", "dot-sourcing", 1),
    ("param([Parameter(Mandatory)][string]$X)\n$X", "parameter attribute", 1),
    ("param([string]$X = (Get-Date))\n$X", "parameter default", 1),
    ("try { 1 } catch [System.Exception] { 2 }", "typed catch", 1),
    ("$h = @{ n = 1 }\n$h.n++", "operator", 2),
    ("@(1) | Select-Object 1", "positional argument", 1),
    ("Get-CimInstance SoftwareLicensingProduct", "positional argument", 1),
    ("$x = 1\nreturn $x", "'return' statement", 2),
]


@pytest.mark.parametrize(("script", "construct", "line"), OUTSIDE, ids=[case[0] for case in OUTSIDE])
def test_constructs_not_emulated_fail_with_one_error_id_naming_the_construct_and_line(
    script: str, construct: str, line: int
) -> None:
    commands = FakeCommands()
    outcome = run(script, commands=commands)
    assert outcome.state == "Failed"
    failure = outcome.failure
    assert failure is not None
    assert failure.message.startswith("SandboxNotEmulated: the sandbox does not emulate ")
    assert construct in failure.message
    assert failure.message.endswith(f"(line {line})")
    assert failure.fully_qualified_error_id == "SandboxNotEmulated"
    assert outcome.errors == []  # the one record is the pipeline's failure
    assert all(call[0] != "cscript.exe" for call in commands.calls)


def test_not_emulated_cannot_be_caught_by_the_script() -> None:
    outcome = run("try { $x = 'abc'.PadLeft(5) } catch { 'swallowed' }")
    assert outcome.state == "Failed"
    assert outcome.output == []


def test_a_construct_not_emulated_anywhere_stops_the_script_before_it_changes_anything() -> None:
    commands = FakeCommands()
    outcome = run("& cscript.exe //NoLogo /ato\n$x = 1..3", commands=commands)
    assert outcome.state == "Failed"
    assert commands.calls == []


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("@(1, 2) | ? { $_ -gt 1 }", [2]),
        ("@(1, 2) | % { $_ * 10 }", [10, 20]),
        ("@(3) | where { $_ }", [3]),
        ("echo 'hi'", ["hi"]),
    ],
)
def test_aliases_resolve_to_their_commands_as_in_windows_powershell(script: str, expected: list[object]) -> None:
    assert output_of(script) == expected


def test_a_native_program_runs_without_the_call_operator_and_without_its_extension() -> None:
    commands = FakeCommands()
    run("cscript.exe //NoLogo /dli\ncscript //NoLogo /xpr", commands=commands)
    assert [call for call in commands.calls if call[0] == "cscript.exe"] == [
        ("cscript.exe", ["//NoLogo", "/dli"]),
        ("cscript.exe", ["//NoLogo", "/xpr"]),
    ]
