"""The template dialect's statements and expressions, with PowerShell's semantics."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest
from sandbox_powershell_fakes import FakeCommands, output_of, run, value_of

from remediate.sandbox.commands import NativeResult
from remediate.sandbox.powershell import Interpreter
from remediate.sandbox.seam import (
    Command,
    PipelineControl,
    PipelineOutcome,
    PipelineRequest,
    PSObject,
    RunspaceSession,
)

# (script, expected single output) — each a PowerShell fact a template could trip over.
CASES = [
    # variables are case-insensitive
    ("$Name = 'a'\n$NAME", "a"),
    ("$x = 1\n$X += 2\n$x", 3),
    # literals
    ("'it''s'", "it's"),
    ('"say ""hi"""', 'say "hi"'),
    ('"tab`there"', "tab\there"),
    ('"cost: `$5"', "cost: $5"),
    ("0x1F", 31),
    ("0xC004F074", -1073418124),  # a 32-bit hex literal is an Int32 bit pattern
    ("-1073418124", -1073418124),
    ("3221549172", 3221549172),
    ("1.5", 1.5),
    # string expansion
    ("$n = 'World'\n\"Hello $n!\"", "Hello World!"),
    ('"root=$env:SystemRoot"', "root=C:\\Windows"),
    ('"$env:systemroot\\System32\\slmgr.vbs"', "C:\\Windows\\System32\\slmgr.vbs"),
    ('"sum=$(1 + 2)"', "sum=3"),
    ("$h = @{ Name = 'n' }\n\"$h.Name\"", "System.Collections.Hashtable.Name"),
    ("$h = @{ Name = 'n' }\n\"$($h.Name)\"", "n"),
    ('$a = @(1, 2, 3)\n"$a"', "1 2 3"),
    ('$missing = $null\n"[$missing]"', "[]"),
    ('"${braced}x"', "x"),
    ('$t = $true\n"$t"', "True"),
    # arithmetic
    ("7 / 2", 3.5),
    ("8 / 2", 4),
    ("-7 % 3", -1),
    ("'ab' * 3", "ababab"),
    ("'5' + 1", "51"),
    ("5 + '1'", 6),
    ("$null + 1", 1),
    ("2 + 3 * 4", 14),
    ("(2 + 3) * 4", 20),
    # -f
    ("'{0}:{1}' -f 'kms', 1688", "kms:1688"),
    ("'0x{0:X8}' -f -1073418124", "0xC004F074"),
    ("'0x{0:X8}' -f 3221549172", "0xC004F074"),
    ("'0x{0:X8}' -f [uint32]3221549172", "0xC004F074"),
    ("'{0:x}' -f 255", "ff"),
    ("'{0:D4}' -f 42", "0042"),
    ("'{{{0}}}' -f 1", "{1}"),
    ("'[{0,5}]' -f 'ab'", "[   ab]"),
    ("'{0}' -f $null", ""),
    ("'{0:X8}' -f 'text'", "text"),
    # casts
    ("[int]'42'", 42),
    ("[int]2.5", 2),
    ("[int]3.5", 4),
    ("[int]' 7 '", 7),
    ("[int64]-1073418124", -1073418124),
    ("[uint32]3221549172", 3221549172),
    ("[string]42", "42"),
    ("[string]@(1, 2)", "1 2"),
    ("[bool]'False'", True),
    ("[bool]0", False),
    ("[bool]@()", False),
    # comparisons: case-insensitive, the left operand decides
    ("'ABC' -eq 'abc'", True),
    ("'abc' -ne 'ABC'", False),
    ("1 -eq '1'", True),
    ("'01' -eq 1", False),
    ("1 -eq '01'", True),
    ("1 -eq 'x'", False),
    ("$true -eq 'false'", True),
    ("$null -eq $null", True),
    ("$null -eq 0", False),
    ("0 -eq $null", False),
    ("'' -eq $null", False),
    ("'b' -gt 'A'", True),
    ("10 -gt 9", True),
    ("'10' -gt 9", False),
    ("$null -lt 0", True),
    ("$null -gt -1", True),  # against numbers $null sorts as zero
    ("5 -gt $null", True),
    ("-5 -gt $null", False),
    ("$null -lt 'a'", True),
    ("'Server.Contoso.com' -like '*.contoso.COM'", True),
    ("'abc' -like 'a?c'", True),
    ("'abc' -notlike 'a*'", False),
    ("'KMS' -like '[jk]ms'", True),
    ("@('a', 'B') -contains 'b'", True),
    ("@(1, 2) -notcontains 3", True),
    ("'b' -in @('A', 'B')", True),
    ("'c' -notin @('A', 'B')", True),
    ("5 -band 4", 4),
    ("-1073418124 -band 0xFFFF", 0xF074),
    ("@('a', 'b', 'c') -join ','", "a,b,c"),
    ("1 -and 0", False),
    ("$null -or 'x'", True),
    ("-not $null", True),
    ("!'x'", False),
    ("-not (1 -eq 2)", True),
    # members
    ("'text'.Length", 4),
    ("@(1, 2, 3).Count", 3),
    ("$null.Count", 0),
    ("'x'.Count", 1),
    ("$h = @{ Key = 1 }\n$h.key", 1),
    ("$h = @{ Key = 1 }\n$h['KEY']", 1),
    ("$h = @{ A = 1; B = 2 }\n$h.Count", 2),
    ("$h = @{ A = 1 }\n$h.ContainsKey('a')", True),
    ("$h = @{ A = 1 }\n$h.Missing", None),
    # indexing
    ("$a = @(1, 2, 3)\n$a[0]", 1),
    ("$a = @(1, 2, 3)\n$a[-1]", 3),
    ("$a = @(1, 2, 3)\n$a[5]", None),
    ("'abc'[1]", "b"),
    # string methods
    ("'  x  '.Trim()", "x"),
    ("'--x--'.Trim('-')", "x"),
    ("'abc'.ToUpper()", "ABC"),
    ("'ABC'.ToLower()", "abc"),
    ("'abc'.Contains('B')", False),  # .NET methods are case-sensitive, unlike the operators
    ("'abc'.Contains('b')", True),
    ("'abc'.StartsWith('ab')", True),
    ("'abc'.EndsWith('bc')", True),
    ("'a-b-c'.Replace('-', '+')", "a+b+c"),
    ("'abcdef'.Substring(2)", "cdef"),
    ("'abcdef'.Substring(1, 3)", "bcd"),
    ("(42).ToString()", "42"),
    ("$true.ToString()", "True"),
    # subexpressions
    ("$(if ($true) { 'yes' } else { 'no' })", "yes"),
    ("$x = if ($false) { 1 } else { 2 }\n$x", 2),
    ("@(1).Count", 1),
    ("@().Count", 0),
    ("@(@(1, 2)).Count", 2),
    ("(1, 2).Count", 2),
    ("$x = 1, 2\n$x.Count", 2),
    ("$(1; 2).Count", 2),
]


@pytest.mark.parametrize(("script", "expected"), CASES, ids=[case[0] for case in CASES])
def test_expression_semantics(script: str, expected: object) -> None:
    assert value_of(script) == expected


def test_eq_on_an_array_filters_instead_of_comparing() -> None:
    assert value_of("$r = @(1, 2, 1, 3) -eq 1\n$r.Count") == 2
    assert value_of("$r = @('a', 'B', 'b') -eq 'b'\n$r -join '|'") == "B|b"
    assert value_of("$r = @(1, 2, 3) -gt 1\n$r -join ','") == "2,3"
    # an array with one zero is falsy; with two elements truthy
    assert value_of("if (@(0, 1) -eq 0) { 'yes' } else { 'no' }") == "no"
    assert value_of("if (@(0, 0) -eq 0) { 'yes' } else { 'no' }") == "yes"


def test_null_on_the_left_is_the_safe_comparison() -> None:
    assert value_of("$a = @(1, $null, 2)\n$null -eq $a") is False
    assert value_of("$a = @(1, $null, 2)\n($a -eq $null).Count") == 1


def test_match_sets_matches_with_groups_and_names() -> None:
    script = (
        "$text = 'Error: 0xC004F074 occurred'\n"
        "if ($text -match '0x(?<code>[0-9A-F]{8})') { $Matches['code'] + '/' + $Matches[0] }"
    )
    assert value_of(script) == "C004F074/0xC004F074"
    # .NET numbers unnamed groups first; a named group is found by its name only
    assert value_of(
        "$null = 'abc' -match '(?<first>a)(b)'\n'{0}|{1}|{2}' -f $Matches.first, $Matches[1], $Matches[2]"
    ) == ("a|b|")
    assert value_of("'ABC' -match 'b'") is True
    assert value_of("'ABC' -notmatch 'x'") is True
    assert value_of("$r = @('a1', 'b', 'c2') -match '\\d'\n$r -join ','") == "a1,c2"


def test_split_is_a_case_insensitive_regex_and_split_method_splits_on_characters() -> None:
    assert value_of("$p = 'aXbxc' -split 'x'\n$p -join '|'") == "a|b|c"
    assert value_of("$p = 'a.b' -split '.'\n$p.Count") == 4  # '.' is a regex
    assert value_of("$p = 'a::b'.Split('::')\n$p.Count") == 3  # Windows PowerShell: Split(char[])
    assert value_of("$p = 'a,b;c'.Split(',;')\n$p -join '|'") == "a|b|c"


def test_plus_equals_on_arrays_appends_and_keeps_nested_arrays_flat() -> None:
    assert output_of("$a = @()\n$a += 'x'\n$a += 'y'\n$a") == ["x", "y"]
    assert output_of("$a = @(1)\n$a += @(2, 3)\n$a") == [1, 2, 3]
    assert value_of("$a = @()\n$a += 'x'\n$a.Count") == 1
    assert value_of("$s = 'ab'\n$s += 'c'\n$s") == "abc"


def test_pipeline_output_is_unrolled_and_collected() -> None:
    assert output_of("@(1, 2)\n3") == [1, 2, 3]
    assert output_of("$x = @(1, 2)\n$x") == [1, 2]
    assert value_of("$one = @(5) | Where-Object { $true }\n$one") == 5
    # a command's single output object is a scalar, not a one-element array
    assert value_of("$x = 'ab' | Write-Output\n$x.Length") == 2


def test_hashtable_keys_are_case_insensitive_and_keep_first_spelling() -> None:
    table = value_of("$h = @{ Alpha = 1 }\n$h['ALPHA'] = 2\n$h.beta = 3\n$h")
    assert table == {"Alpha": 2, "beta": 3}


def test_hashtable_literal_with_newlines_and_semicolons() -> None:
    table = value_of("@{\n    a = 1\n    'b c' = 'two'; d = $true\n}")
    assert table == {"a": 1, "b c": "two", "d": True}


def test_pscustomobject_keeps_key_order_and_type_names() -> None:
    obj = value_of("[pscustomobject]@{ zeta = 1; alpha = 2; Mid = @{ k = 'v' } }")
    assert isinstance(obj, PSObject)
    assert obj.type_names == ["System.Management.Automation.PSCustomObject", "System.Object"]
    assert list(obj.properties) == ["zeta", "alpha", "Mid"]
    assert obj.properties["Mid"] == {"k": "v"}
    assert type(obj.properties["Mid"]) is dict  # plain values at the seam


def test_pscustomobject_members_are_case_insensitive_and_settable() -> None:
    assert value_of("$o = [pscustomobject]@{ Name = 'a' }\n$o.NAME = 'b'\n$o.name") == "b"


def test_member_access_on_an_array_enumerates_members() -> None:
    names = output_of("$p = Get-CimInstance -ClassName SoftwareLicensingProduct\n$p.Name")
    assert names == ["Office", "Windows(R), ServerStandard edition"]
    assert (
        value_of("$p = Get-CimInstance -ClassName SoftwareLicensingProduct\n$p.PartialProductKey") == "T83GX"
    )


def test_if_elseif_else() -> None:
    script = "param([int]$N)\nif ($N -lt 0) { 'neg' } elseif ($N -eq 0) { 'zero' } else { 'pos' }"
    assert value_of(script, {"N": -3}) == "neg"
    assert value_of(script, {"N": 0}) == "zero"
    assert value_of(script, {"N": 9}) == "pos"


def test_foreach_iterates_unrolled_values_and_skips_null() -> None:
    assert output_of("foreach ($i in @(1, 2, 3)) { $i * 10 }") == [10, 20, 30]
    assert output_of("foreach ($i in $null) { 'never' }") == []
    assert output_of("$t = 0\nforeach ($i in 1, 2) { $t += $i }\n$t") == [3]


def test_while_do_and_for_loops_with_break_and_continue() -> None:
    assert output_of("$i = 0\nwhile ($i -lt 3) { $i; $i += 1 }") == [0, 1, 2]
    assert output_of("while ($false) { 'never' }") == []
    assert output_of("do { 'once' } while ($false)") == ["once"]
    assert output_of("$n = 0\ndo { $n += 2 } until ($n -ge 5)\n$n") == [6]
    assert output_of("for ($k = 0; $k -lt 5; $k++) { if ($k -eq 1) { continue }; if ($k -eq 3) { break }; $k }") == [
        0,
        2,
    ]
    assert output_of("$n = 0\nfor (;;) { $n++; if ($n -eq 4) { break } }\n$n") == [4]
    assert output_of("foreach ($i in 1, 2, 3) { if ($i -eq 2) { continue }; $i }") == [1, 3]
    # break leaves only the innermost loop; finally blocks run on the way out
    assert output_of("foreach ($a in 1, 2) { while ($true) { try { break } finally { \"f$a\" } } }") == ["f1", "f2"]


def test_increment_and_decrement_write_nothing_as_statements_and_their_value_in_expressions() -> None:
    assert output_of("$i = 5\n$i++\n++$i\n$i") == [7]
    assert output_of("$i = 5\n$a = $i++\n$b = ++$i\n$a, $b, $i") == [5, 7, 7]
    assert output_of("$i = 5\n($i--)\n(--$i)") == [5, 3]
    assert output_of("$fresh++\n$fresh") == [1]  # $null counts as 0


def test_increment_of_a_string_is_an_error_that_ends_the_statement() -> None:
    outcome = run("$s = 'a'\n$s++\n$s")
    assert outcome.output == ["a"]
    assert [error.fully_qualified_error_id for error in outcome.errors] == ["OperatorRequiresNumber"]
    assert "The '++' operator works only on numbers. The operand is a 'System.String'." in outcome.errors[0].message


def _run_in_background(
    interpreter: Interpreter, request: PipelineRequest
) -> tuple[threading.Thread, list[PipelineOutcome]]:
    outcomes: list[PipelineOutcome] = []
    thread = threading.Thread(target=lambda: outcomes.append(interpreter.run(request)), daemon=True)
    thread.start()
    return thread, outcomes


def test_a_stopped_pipeline_ends_stopped_after_its_finally_block() -> None:
    control = PipelineControl()
    script = "$i = 0\ntry { while ($true) { $i++ } } finally { 'cleanup' }"
    request = PipelineRequest(commands=[Command(script, True)], control=control)
    thread, outcomes = _run_in_background(Interpreter(FakeCommands(), {}), request)
    time.sleep(0.05)
    control.stop()
    thread.join(timeout=10)
    assert [outcome.state for outcome in outcomes] == ["Stopped"]


def test_a_nested_pipeline_runs_inside_the_running_one_and_reads_its_variables() -> None:
    interpreter = Interpreter(FakeCommands(), {})
    session = RunspaceSession()
    control = PipelineControl()
    loop = Command("$i = 0; while ($true) { $i++ }", True)
    outer = PipelineRequest(commands=[loop], session=session, control=control)
    thread, outcomes = _run_in_background(interpreter, outer)
    time.sleep(0.05)
    nested_outcomes: list[PipelineOutcome] = []
    nested = PipelineRequest(commands=[Command("Get-Variable", False, [("Name", "i")])], session=session)
    assert control.run_nested(lambda: nested_outcomes.append(interpreter.run(nested)))
    deadline = time.monotonic() + 10
    while not nested_outcomes and time.monotonic() < deadline:
        time.sleep(0.01)
    control.stop()
    thread.join(timeout=10)
    variable = nested_outcomes[0].output[0]
    assert variable.type_names[0] == "System.Management.Automation.PSVariable"
    assert variable.get("Value") > 0
    assert outcomes[0].state == "Stopped"
    assert control.end() == []  # nothing left waiting once the pipeline has ended
    assert not control.run_nested(lambda: None)  # and nothing more is taken


def test_where_object_and_foreach_object_use_dollar_underscore() -> None:
    script = (
        "$p = Get-CimInstance -ClassName SoftwareLicensingProduct | Where-Object { $_.PartialProductKey }\n"
        "$p.LicenseStatus"
    )
    assert value_of(script) == 5
    assert output_of("@(1, 2, 3) | ForEach-Object { $_ * 2 }") == [2, 4, 6]
    assert output_of('@(1, 2, 3) | Where-Object { $_ -ge 2 } | ForEach-Object { "n$_" }') == ["n2", "n3"]


def test_select_object_first_last_property_and_expand_property() -> None:
    assert output_of("@(1, 2, 3) | Select-Object -First 2") == [1, 2]
    assert output_of("@(1, 2, 3) | Select-Object -Last 1") == [3]
    names = output_of(
        "Get-CimInstance -ClassName SoftwareLicensingProduct | Select-Object -ExpandProperty Name"
    )
    assert names == ["Office", "Windows(R), ServerStandard edition"]
    selected = value_of(
        "Get-CimInstance -ClassName SoftwareLicensingProduct | "
        "Select-Object -Property 'Name', 'LicenseStatus' "
        "-Last 1"
    )
    assert selected.properties == {"Name": "Windows(R), ServerStandard edition", "LicenseStatus": 5}
    assert selected.type_names[0].startswith("Selected.")


def test_datetime_arithmetic_and_methods() -> None:
    later = value_of("$now = Get-Date\n$now.AddMinutes(90)")
    assert later == datetime(2024, 3, 5, 15, 37, 9, tzinfo=timezone.utc)
    assert value_of("$start = Get-Date\n$end = $start.AddMinutes(3)\n($end - $start).TotalSeconds") == 180.0
    assert value_of("$start = Get-Date\n((Get-Date).AddMinutes(2) - $start).TotalMinutes") == 2.0
    assert value_of("$d = [datetime]'2024-01-02T03:04:05Z'\n$d.ToUniversalTime().Hour") == 3
    assert value_of("[datetime]'2024-01-02' -lt (Get-Date)") is True


def test_write_output_and_streams() -> None:
    outcome = run(
        "Write-Output -InputObject 'a'\nWrite-Output 'b'\nWrite-Warning -Message 'careful'\n"
        "Write-Verbose -Message 'hidden'\nWrite-Verbose -Message 'shown' -Verbose"
    )
    assert outcome.output == ["a", "b"]
    assert outcome.warnings == ["careful"]
    assert outcome.verbose == ["shown"]


def test_out_string_renders_lines_and_objects() -> None:
    assert value_of("@('line1', 'line2') | Out-String") == "line1\r\nline2\r\n"
    text = value_of("[pscustomobject]@{ Name = 'x'; LongerName = 2 } | Out-String")
    assert "Name       : x" in text
    assert "LongerName : 2" in text


def test_parameters_bind_by_name_with_type_conversion_and_defaults() -> None:
    script = (
        "param(\n    [string]$Host1,\n    [int]$Port = 1688,\n    [bool]$Force = $false,\n"
        "    [string[]]$Names,\n    [hashtable]$Table\n)\n"
        "[pscustomobject]@{ h = $host1; p = $PORT; f = $Force; n = $Names; t = $Table }"
    )
    obj = value_of(script, {"host1": "kms", "Port": "1700", "Force": True, "Names": "one", "Table": {"A": 1}})
    assert obj.properties == {"h": "kms", "p": 1700, "f": True, "n": ["one"], "t": {"A": 1}}
    defaults = value_of(script)
    assert defaults.properties == {"h": "", "p": 1688, "f": False, "n": None, "t": None}


def test_typed_parameters_keep_their_type_on_later_assignment() -> None:
    assert value_of("param([int]$N)\n$N = '12'\n$N + 1", {"N": 1}) == 13


def test_positional_script_parameters() -> None:
    from remediate.sandbox.powershell import Interpreter
    from remediate.sandbox.seam import Command, PipelineRequest

    request = PipelineRequest(
        [Command("param([string]$A, [int]$B)\n'{0}-{1}' -f $A, $B", True, [(None, "x"), (None, 7)])]
    )
    outcome = Interpreter(FakeCommands(), {}).run(request)
    assert outcome.output == ["x-7"]


def test_native_call_passes_arguments_as_powershell_does_and_sets_lastexitcode() -> None:
    from remediate.sandbox.commands import NativeResult

    commands = FakeCommands(
        native_outputs={"cscript.exe": NativeResult("line one\r\n\r\nline three\r\n", "", -1073418124)}
    )
    script = (
        "param([string]$Key)\n"
        '$lines = & cscript.exe //NoLogo "$env:SystemRoot\\System32\\slmgr.vbs" /ipk $Key /ProductKey:$Key\n'
        "[pscustomobject]@{ count = $lines.Count; code = $LASTEXITCODE; hex = '0x{0:X8}' -f $LASTEXITCODE }"
    )
    obj = value_of(script, {"Key": "AAAAA-BBBBB-CCCCC-DDDDD-T83GX"}, commands=commands)
    assert commands.calls == [
        (
            "cscript.exe",
            [
                "//NoLogo",
                "C:\\Windows\\System32\\slmgr.vbs",
                "/ipk",
                "AAAAA-BBBBB-CCCCC-DDDDD-T83GX",
                "/ProductKey:AAAAA-BBBBB-CCCCC-DDDDD-T83GX",
            ],
        )
    ]
    assert obj.properties == {"count": 3, "code": -1073418124, "hex": "0xC004F074"}


def test_native_output_lines_are_strings_without_a_trailing_empty_line() -> None:
    from remediate.sandbox.commands import NativeResult

    commands = FakeCommands(native_outputs={"netsh.exe": NativeResult("a\nb\n", "", 0)})
    assert output_of("& netsh.exe winhttp show proxy", commands=commands) == ["a", "b"]
    assert commands.calls == [("netsh.exe", ["winhttp", "show", "proxy"])]


def test_a_parameter_value_with_script_syntax_stays_a_value() -> None:
    hostile = "x'; Remove-Item C:\\ -Recurse; '$(Get-Date)`n"
    obj = value_of('param([string]$V)\n[pscustomobject]@{ v = $V; e = "[$V]" }', {"V": hostile})
    assert obj.properties == {"v": hostile, "e": f"[{hostile}]"}


def test_the_readme_example_runs_end_to_end() -> None:
    from pathlib import Path

    readme = (Path(__file__).parent.parent / "templates" / "README.md").read_text(encoding="utf-8")
    script = readme.split("```powershell\n", 1)[1].split("```", 1)[0]
    commands = FakeCommands()
    outcome = run(script, {"KmsHost": "kms.example.com"}, commands=commands)
    assert outcome.state == "Completed", outcome.failure
    assert outcome.output == [
        '{"ok":true,"hresult":null,"license_status":null,"changed":true,'
        '"output":"cscript.exe ok\\r\\n","data":{"kms_machine":"kms.example.com","kms_port":1688}}'
    ]
    assert commands.calls[0] == (
        "cscript.exe",
        ["//NoLogo", "C:\\Windows\\System32\\slmgr.vbs", "/skms", "kms.example.com:1688"],
    )


def test_assigning_a_property_of_a_host_object_changes_only_the_script_copy() -> None:
    commands = FakeCommands()
    script = (
        "$s = Get-CimInstance -ClassName SoftwareLicensingService\n"
        "$s.KeyManagementServiceMachine = 'changed'\n"
        "$again = Get-CimInstance -ClassName SoftwareLicensingService\n"
        "$s.KeyManagementServiceMachine + '/' + $again.KeyManagementServiceMachine"
    )
    assert value_of(script, commands=commands) == "changed/kms.example.com"
    assert commands.service.get("KeyManagementServiceMachine") == "kms.example.com"


def test_a_typical_step_runs_well_over_a_hundred_times_a_second() -> None:
    import time
    from pathlib import Path

    from remediate.sandbox.powershell import Interpreter

    readme = (Path(__file__).parent.parent / "templates" / "README.md").read_text(encoding="utf-8")
    script = readme.split("```powershell\n", 1)[1].split("```", 1)[0]
    interpreter = Interpreter(FakeCommands(), {"SystemRoot": "C:\\Windows"})
    started = time.perf_counter()
    for _ in range(200):
        outcome = interpreter.run_script(script, {"KmsHost": "kms.example.com"})
        assert outcome.state == "Completed"
    assert time.perf_counter() - started < 2.0  # 100 pipelines/s is the sandbox's floor


def test_values_leave_the_interpreter_as_plain_seam_values() -> None:
    output = output_of(
        "$now = Get-Date\n"
        "[uint32]3221549172\n[int64]5\n$now\n$now.AddMinutes(1) - $now\n"
        "[pscustomobject]@{ table = @{ Inner = [pscustomobject]@{ n = [int64]1 } } }"
    )
    big, small, moment, span, obj = output
    assert (type(big), type(small), type(moment)) == (int, int, datetime)
    assert (big, small, moment) == (3221549172, 5, datetime(2024, 3, 5, 14, 7, 9, tzinfo=timezone.utc))
    assert type(span).__name__ == "timedelta" and span.total_seconds() == 60
    inner = obj.properties["table"]["Inner"]
    assert (
        type(obj.properties["table"]) is dict
        and isinstance(inner, PSObject)
        and type(inner.properties["n"]) is int
    )


def test_one_interpreter_serves_concurrent_pipelines() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from remediate.sandbox.powershell import Interpreter

    interpreter = Interpreter(FakeCommands(), {})
    script = "param([int]$N)\n$total = 0\nforeach ($i in @(1, 2, 3)) { $total += $i * $N }\n$total"

    def run_one(n: int) -> object:
        return interpreter.run_script(script, {"N": n}).output

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run_one, range(200)))
    assert results == [[6 * n] for n in range(200)]


# --- exit, Write-Host, Get-Location, positional messages ----------------------------------------------------


def test_exit_ends_the_script_with_its_code_after_finally_blocks() -> None:
    outcome = run("'before'\ntry { exit 4 } finally { 'cleanup' }\n'never'")
    assert outcome.output == ["before", "cleanup"]
    assert (outcome.state, outcome.exit_code) == ("Completed", 4)
    assert run("exit").exit_code == 0


def test_exit_tells_the_host_to_exit_and_in_a_nested_pipeline_only_sets_lastexitcode() -> None:
    assert run("'a'\nexit 3").host_calls == [("SetShouldExit", [3])]
    assert run("exit").host_calls == [("SetShouldExit", [0])]
    interpreter = Interpreter(FakeCommands(), {})
    session = RunspaceSession()
    nested = interpreter.run(PipelineRequest([Command("exit 5", True)], session=session, nested=True))
    assert (nested.host_calls, nested.exit_code) == ([], 5)
    after = interpreter.run(PipelineRequest([Command("$LASTEXITCODE", True)], session=session))
    assert after.output == [5]


def test_exit_is_not_caught_by_catch() -> None:
    outcome = run("try { exit 2 } catch { 'caught' }")
    assert (outcome.output, outcome.exit_code) == ([], 2)


def test_write_host_joins_its_arguments_and_goes_to_the_host_not_the_output() -> None:
    outcome = run("'a'\nWrite-Host one two\nWrite-Host -Object x -NoNewline\n'b'")
    assert outcome.output == ["a", "b"]
    assert outcome.host_lines == [(1, "one two\n"), (1, "x")]
    assert outcome.information == ["one two", "x"]


def test_get_location_is_a_remote_sessions_documents_folder() -> None:
    outcome = run("(Get-Location).Path", env={"USERPROFILE": "C:\\Users\\Administrator"})
    assert outcome.output == ["C:\\Users\\Administrator\\Documents"]


def test_write_error_takes_its_message_by_position() -> None:
    outcome = run("Write-Error 'broke'; 'after'")
    assert outcome.output == ["after"]
    assert [record.message for record in outcome.errors] == ["broke"]


def test_dollar_question_after_the_last_statement() -> None:
    assert run("Write-Error 'x'").succeeded is False
    assert run("Write-Error 'x'; 'fine'").succeeded is True
    commands = FakeCommands()
    commands.native_outputs["cscript.exe"] = NativeResult(stdout="", exit_code=4)
    assert run("cscript.exe //NoLogo x.vbs", commands=commands).succeeded is False  # a native exit code but 0
    assert run("cscript.exe //NoLogo x.vbs\n'after'", commands=commands).succeeded is True


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("'Abc'.ToUpperInvariant()", "ABC"),
        ("'Abc'.ToLowerInvariant()", "abc"),
        ("'xxabcxx'.TrimStart('x')", "abcxx"),
        ("'  abc  '.TrimEnd()", "  abc"),
        ("'abcabc'.IndexOf('c')", 2),
        ("'abc'.IndexOf('z')", -1),
    ],
)
def test_more_string_methods(script: str, expected: object) -> None:
    assert value_of(script) == expected


# --- begin/process/end and $input ---------------------------------------------------------------------------

NAMED_BLOCKS = """begin {
    $DebugPreference = 'Continue'
    Write-Debug "Start Block"
}
process {
    $input
}
end {
    Write-Debug "End Block"
}"""


def test_named_blocks_run_process_once_per_input_object() -> None:
    """pypsrp's recorded exchange test_psrp_with_input.yml: the input comes back as sent, debug records in order."""
    request = PipelineRequest([Command(NAMED_BLOCKS, True)], input=["1", 2, {"a": "b"}, ["a", "b"]])
    outcome = Interpreter(FakeCommands(), {}).run(request)
    assert outcome.output == ["1", 2, {"a": "b"}, ["a", "b"]]
    assert outcome.debug == ["Start Block", "End Block"]


def test_without_a_process_block_the_end_block_sees_all_input() -> None:
    request = PipelineRequest([Command("$input | ForEach-Object { $_ * 2 }", True)], input=[1, 2, 3])
    assert Interpreter(FakeCommands(), {}).run(request).output == [2, 4, 6]


def test_process_runs_once_without_input_and_line_numbers_survive_the_named_block_parse() -> None:
    assert output_of("begin { 'b' }\nprocess { 'p' }\nend { 'e' }") == ["b", "p", "e"]
    failure = run("begin { 'b' }\nprocess {\n  $x = 1..3\n}").failure
    assert failure is not None and failure.message.endswith("(line 3)")


def test_write_debug_is_silent_by_default() -> None:
    assert run("Write-Debug 'quiet'").debug == []


def test_psversiontable_is_windows_powershell_5_1() -> None:
    assert output_of("$PSVersionTable.PSVersion.Major; $PSVersionTable.PSVersion.Minor; $PSVersionTable.PSEdition") == [
        5,
        1,
        "Desktop",
    ]
    assert output_of("\"$($PSVersionTable.BuildVersion)\"") == ["10.0.17763.6414"]


@pytest.mark.parametrize("variable", ["$ExecutionContext", "$MyInvocation", "$PID", "$Error"])
def test_an_automatic_variable_not_emulated_is_never_null(variable: str) -> None:
    failure = run(f"$x = {variable}.Name").failure
    assert failure is not None
    assert failure.fully_qualified_error_id == "SandboxNotEmulated"
    assert f"the automatic variable {variable.lower()}" in failure.message


def test_a_preference_variable_set_by_the_script_reads_back() -> None:
    assert output_of("$ProgressPreference = 'SilentlyContinue'; $ProgressPreference") == ["SilentlyContinue"]


def test_host_culture_and_set_should_exit_go_to_the_client() -> None:
    """pypsrp's recorded exchange test_psrp_pshost_methods.yml: the culture is output, SetShouldExit a host call."""
    outcome = run("$host.CurrentCulture; $host.SetShouldExit(1)")
    culture = outcome.output[0]
    assert isinstance(culture, PSObject)
    assert culture.type_names[0] == "System.Globalization.CultureInfo"
    assert (culture.to_string, culture.get("LCID")) == ("en-US", 1033)
    assert outcome.host_calls == [("SetShouldExit", [1])]
    assert len(outcome.output) == 1  # SetShouldExit is void: it writes nothing
    failure = run("$host.UI.RawUI.KeyAvailable").failure
    assert failure is not None and failure.fully_qualified_error_id == "SandboxNotEmulated"
    assert "$host.UI.RawUI.KeyAvailable" in failure.message


class _ClientHost:
    """A client's host with a UI: records the host calls and answers the ones that read."""

    has_ui = True

    def __init__(self, answers: dict[str, object], raw_ui: dict[str, object] | None = None) -> None:
        self.answers = answers
        self.raw_ui = raw_ui
        self.calls: list[tuple[str, list[object]]] = []

    def call(self, method: str, arguments: list[object]) -> object:
        self.calls.append((method, arguments))
        return self.answers.get(method)


def _run_with_host(script: str, host: object) -> PipelineOutcome:
    request = PipelineRequest([Command(script, True)], host=host)  # type: ignore[arg-type]
    return Interpreter(FakeCommands(), {}).run(request)


def test_host_ui_methods_are_host_calls_of_the_client_with_windows_arguments() -> None:
    credential = PSObject(["System.Management.Automation.PSCredential", "System.Object"], {"UserName": "u"})
    host = _ClientHost({"ReadLine": "typed", "Prompt": {"f": "v"}, "PromptForCredential2": credential,
                        "PromptForChoice": 1})  # fmt: skip
    script = (
        "$host.UI.ReadLine()\n"
        "$host.UI.Write([System.ConsoleColor]::Blue, [ConsoleColor]::White, 'w')\n"
        "$host.UI.WriteLine()\n"
        "$host.UI.WriteDebugLine('d')\n"
        "$field = New-Object -TypeName System.Management.Automation.Host.FieldDescription -ArgumentList 'f'\n"
        "$field.Label = 'L'\n"
        "$host.UI.Prompt('c', 'm', $field)\n"
        "$host.UI.PromptForCredential('c', 'm', 'u', 't')\n"
        "$a = New-Object System.Management.Automation.Host.ChoiceDescription 'A', 'help'\n"
        "$host.UI.PromptForChoice('c', 'm', @($a), 0)"
    )
    outcome = _run_with_host(script, host)
    assert outcome.state == "Completed", outcome.failure
    assert outcome.output == ["typed", {"f": "v"}, credential, 1]  # void methods write nothing
    methods = [method for method, _ in host.calls]
    assert methods == ["ReadLine", "Write2", "WriteLine1", "WriteDebugLine", "Prompt", "PromptForCredential2",
                       "PromptForChoice"]  # fmt: skip
    assert host.calls[1][1] == [9, 15, "w"]  # ConsoleColor Blue and White
    field = host.calls[4][1][2][0]
    assert (field.get("Name"), field.get("Label"), field.get("ParameterTypeFullName")) == ("f", "L", "System.String")
    assert host.calls[5][1] == ["c", "m", "u", "t", 3, 1]  # PSCredentialTypes.Default, PSCredentialUIOptions.Default
    assert outcome.debug == ["d"]  # the debug line goes to the debug stream too


def test_raw_ui_properties_come_from_the_clients_host_data_and_setting_one_tells_the_client() -> None:
    size = PSObject(["System.Management.Automation.Host.Size", "System.ValueType", "System.Object"],
                    {"Width": 80, "Height": 25}, to_string="80,25")  # fmt: skip
    host = _ClientHost({}, {"ForegroundColor": 15, "BufferSize": size, "WindowTitle": "t"})
    script = (
        "$raw = $host.UI.RawUI\n"
        "\"$($raw.ForegroundColor)\"\n"
        "$raw.ForegroundColor = [System.ConsoleColor]::Green\n"
        "\"$($raw.ForegroundColor)\"\n"
        "$raw.BufferSize = New-Object -TypeName System.Management.Automation.Host.Size -ArgumentList 8, 9\n"
        "\"$($raw.BufferSize)\"\n"
        "$cells = New-Object -TypeName 'System.Management.Automation.Host.BufferCell[,]' -ArgumentList 1, 2\n"
        "$cell = New-Object System.Management.Automation.Host.BufferCell 'A', 0, 15, "
        "([System.Management.Automation.Host.BufferCellType]::Leading)\n"
        "$cells[0,1] = $cell\n"
        "$at = New-Object System.Management.Automation.Host.Coordinates 1, 2\n"
        "$raw.SetBufferContents($at, $cells)"
    )
    outcome = _run_with_host(script, host)
    assert outcome.state == "Completed", outcome.failure
    assert outcome.output == ["White", "Green", "8,9"]
    assert [method for method, _ in host.calls] == ["SetForegroundColor", "SetBufferSize", "SetBufferContents2"]
    assert host.calls[0][1] == [10]
    origin, rows = host.calls[2][1]
    assert (origin.get("X"), origin.get("Y")) == (1, 2)
    assert rows[0][0].get("Character") == "\0"  # default(BufferCell) where the script set none
    assert rows[0][1].get("Character") == "A" and rows[0][1].get("BufferCellType") == 1


def test_without_a_client_host_ui_writes_are_dropped_and_reads_fail() -> None:
    outcome = run("$host.UI.WriteLine('gone')\n$host.UI.ReadLine()\n$host.UI.RawUI.WindowTitle\n'after'")
    assert outcome.output == ["after"]
    assert [error.fully_qualified_error_id for error in outcome.errors] == ["HostFunctionNotImplemented"] * 2
    assert outcome.errors[0].exception_type == "System.Management.Automation.Host.HostException"


def test_new_object_builds_only_the_host_types_emulated() -> None:
    failure = run("New-Object -TypeName System.Net.WebClient").failure
    assert failure is not None and "New-Object -TypeName System.Net.WebClient" in failure.message
    failure = run("$t = 'System.Management.Automation.ProgressRecord'\nNew-Object -TypeName $t").failure
    assert failure is not None and failure.fully_qualified_error_id == "SandboxNotEmulated"
