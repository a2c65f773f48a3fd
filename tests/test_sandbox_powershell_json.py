"""ConvertTo-Json as Windows PowerShell 5.1 writes it: every StepResult goes through it."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from sandbox_powershell_fakes import value_of

STEP_RESULT = (
    "param([string]$Text, [int]$Code)\n"
    "[pscustomobject]@{\n    ok = $true\n    hresult = $Code\n    license_status = $null\n"
    "    changed = $false\n    output = $Text\n"
    "    data = @{ items = @('a', 'b'); empty = @(); one = @(1); nested = @{ k = 'v' } }\n"
    "} | ConvertTo-Json -Depth 6 -Compress"
)


def test_step_result_compressed_form() -> None:
    text = value_of(STEP_RESULT, {"Text": "done", "Code": -1073418124})
    assert text == (
        '{"ok":true,"hresult":-1073418124,"license_status":null,"changed":false,"output":"done",'
        '"data":{"items":["a","b"],"empty":[],"one":[1],"nested":{"k":"v"}}}'
    )


def test_strings_are_escaped_as_javascriptserializer_does() -> None:
    text = value_of("param([string]$S)\n$S | ConvertTo-Json", {"S": 'it\'s <b> & "q" \\ \r\n\t\x01 日本語'})
    assert text == '"it\\u0027s \\u003cb\\u003e \\u0026 \\"q\\" \\\\ \\r\\n\\t\\u0001 日本語"'


def test_scalars() -> None:
    assert value_of("1.5 | ConvertTo-Json") == "1.5"
    assert value_of("42 | ConvertTo-Json") == "42"
    assert value_of("$false | ConvertTo-Json") == "false"
    assert value_of("$null | ConvertTo-Json") == "null"
    assert value_of("ConvertTo-Json -InputObject @() -Compress") == "[]"


def test_several_pipeline_objects_become_one_array() -> None:
    assert value_of("@(1, 'two', $null) | ConvertTo-Json -Compress") == '[1,"two",null]'


def test_pretty_form_matches_windows_powershell_5_1() -> None:
    text = value_of(
        "[pscustomobject]@{ a = 1; list = @(1, 2); obj = @{ k = 'v' }; none = @() } | ConvertTo-Json"
    )
    assert text == (
        "{\r\n"
        '    "a":  1,\r\n'
        '    "list":  [\r\n'
        "                 1,\r\n"
        "                 2\r\n"
        "             ],\r\n"
        '    "obj":  {\r\n'
        '                "k":  "v"\r\n'
        "            },\r\n"
        '    "none":  [\r\n'
        "\r\n"
        "             ]\r\n"
        "}"
    )
    assert json.loads(text) == {"a": 1, "list": [1, 2], "obj": {"k": "v"}, "none": []}


def test_depth_turns_deeper_objects_into_their_string_form() -> None:
    assert value_of("@{ a = @{ b = @{ c = 1 } } } | ConvertTo-Json -Depth 1 -Compress") == (
        '{"a":{"b":"System.Collections.Hashtable"}}'
    )
    nested = (
        "[pscustomobject]@{ a = [pscustomobject]@{ b = [pscustomobject]@{ c = [pscustomobject]@{ d = 1 } } } "
        "}"
    )
    assert value_of(nested + " | ConvertTo-Json -Compress") == '{"a":{"b":{"c":"@{d=1}"}}}'
    assert value_of(nested + " | ConvertTo-Json -Compress -Depth 6") == '{"a":{"b":{"c":{"d":1}}}}'


def test_datetimes_in_hashtables_and_get_date_quirk() -> None:
    assert value_of("@{ d = [datetime]'2020-01-01T00:00:00Z' } | ConvertTo-Json -Compress") == (
        '{"d":"\\/Date(1577836800000)\\/"}'
    )
    # Get-Date's output keeps its DisplayHint note property and 5.1 serializes it as an object ...
    assert value_of("$now = Get-Date\n@{ d = $now } | ConvertTo-Json -Compress") == (
        '{"d":{"value":"\\/Date(1709647629000)\\/","DisplayHint":2,'
        '"DateTime":"Tuesday, March 5, 2024 2:07:09 PM"}}'
    )
    # ... while a method's result is a plain DateTime
    assert value_of("$now = (Get-Date).ToUniversalTime()\n@{ d = $now } | ConvertTo-Json -Compress") == (
        '{"d":"\\/Date(1709647629000)\\/"}'
    )


def test_timespan_serializes_its_properties() -> None:
    text = value_of("$a = Get-Date\n@{ t = $a.AddMinutes(1) - $a } | ConvertTo-Json -Compress")
    assert json.loads(text)["t"]["TotalSeconds"] == 60
    assert json.loads(text)["t"]["Ticks"] == 600_000_000


def test_non_string_keys_are_rejected_as_in_5_1() -> None:
    text = value_of(
        "$null = 'abc' -match 'b'\ntry { $Matches | ConvertTo-Json } catch { $_.FullyQualifiedErrorId }"
    )
    assert text.startswith("NonStringKeyInDictionary")


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_any_string_parameter_survives_param_variable_json_round_trip(value: str) -> None:
    script = (
        "param([string]$Value)\n$copy = $Value\n"
        '[pscustomobject]@{ v = $copy; e = "$copy" } | ConvertTo-Json -Compress'
    )
    assert json.loads(value_of(script, {"Value": value})) == {"v": value, "e": value}


@settings(max_examples=75, deadline=None)
@given(
    st.lists(st.text(max_size=20), max_size=5),
    st.dictionaries(st.text(min_size=1, max_size=10), st.text(), max_size=4),
)
def test_string_arrays_and_hashtables_survive_the_round_trip(items: list[str], table: dict[str, str]) -> None:
    # Hashtable keys are case-insensitive: keys differing only by case collapse, so keep them distinct
    distinct = {
        key: value for key, value in table.items() if [k.lower() for k in table].count(key.lower()) == 1
    }
    script = (
        "param([string[]]$Items, [hashtable]$Table)\n"
        "[pscustomobject]@{ items = $Items; table = $Table } | ConvertTo-Json -Depth 6"
    )
    decoded = json.loads(value_of(script, {"Items": items, "Table": distinct}))
    assert decoded["items"] == items
    assert decoded["table"] == distinct
