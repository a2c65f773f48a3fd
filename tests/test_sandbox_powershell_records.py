"""The exact error records and values a script meets at the edges: binding, arithmetic, indexing, TimeSpan and
DateTime members. A template's catch block and the audit log see these texts, so they must not drift."""

from __future__ import annotations

import pytest
from sandbox_powershell_fakes import output_of, run, value_of

from remediate.sandbox.seam import ErrorRecord

_BINDING = "System.Management.Automation.ParameterBindingException"
_RUNTIME = "System.Management.Automation.RuntimeException"


def _failure(script: str) -> ErrorRecord:
    outcome = run("$ErrorActionPreference = 'Stop'\n" + script)
    assert outcome.state == "Failed"
    assert outcome.failure is not None
    return outcome.failure


# --- parameter binding --------------------------------------------------------------------------------------


def test_missing_argument_names_the_parameter_type_and_the_cmdlet_class() -> None:
    failure = _failure("Get-CimInstance -ClassName")
    assert failure.message == (
        "Missing an argument for parameter 'ClassName'. Specify a parameter of type 'System.Object' and try again."
    )
    assert failure.fully_qualified_error_id == (
        "MissingArgument,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand"
    )
    assert (failure.category, failure.exception_type, failure.activity) == (
        "InvalidArgument",
        _BINDING,
        "Get-CimInstance",
    )


def test_a_surplus_positional_argument_is_positional_parameter_not_found() -> None:
    failure = _failure("Where-Object { $_ } extra")
    assert failure.message == "A positional parameter cannot be found that accepts argument 'extra'."
    assert failure.fully_qualified_error_id == (
        "PositionalParameterNotFound,Microsoft.PowerShell.Commands.WhereObjectCommand"
    )
    assert (failure.category, failure.exception_type, failure.activity) == (
        "InvalidArgument",
        _BINDING,
        "Where-Object",
    )


def test_a_parameter_given_twice_is_parameter_already_bound() -> None:
    failure = _failure("Get-CimInstance -ClassName A -ClassName B")
    assert failure.message == (
        "Cannot bind parameter because parameter 'ClassName' is specified more than once. To provide multiple "
        "values to parameters that can accept multiple values, use the array syntax. For example, "
        '"-parameter value1,value2,value3".'
    )
    assert failure.fully_qualified_error_id == (
        "ParameterAlreadyBound,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand"
    )
    assert (failure.category, failure.exception_type, failure.activity) == ("InvalidArgument", _BINDING, None)


@pytest.mark.parametrize(
    ("depth", "problem", "wanted"),
    [
        ("101", "greater than the maximum allowed range of 100", "less than or equal to 100"),
        ("-1", "less than the minimum allowed range of 0", "greater than or equal to 0"),
    ],
)
def test_convert_to_json_depth_outside_0_to_100_fails_validation(depth: str, problem: str, wanted: str) -> None:
    failure = _failure(f"@{{a=1}} | ConvertTo-Json -Depth {depth}")
    assert failure.message == (
        f"Cannot validate argument on parameter 'Depth'. The {depth} argument is {problem}. "
        f"Supply an argument that is {wanted} and then try the command again."
    )
    assert failure.fully_qualified_error_id == (
        "ParameterArgumentValidationError,Microsoft.PowerShell.Commands.ConvertToJsonCommand"
    )
    assert failure.exception_type == "System.Management.Automation.ParameterBindingValidationException"


def test_expand_property_missing_on_an_item_is_non_terminating() -> None:
    outcome = run("Get-CimInstance -ClassName SoftwareLicensingService | Select-Object -ExpandProperty Nope\n'after'")
    assert outcome.state == "Completed"
    assert outcome.output == ["after"]
    [error] = outcome.errors
    assert error.message == 'Property "Nope" cannot be found.'
    assert error.fully_qualified_error_id == "ExpandPropertyNotFound,Microsoft.PowerShell.Commands.SelectObjectCommand"
    assert error.exception_type == "System.Management.Automation.PSArgumentException"
    assert error.target_object is not None and error.target_object.get("KeyManagementServicePort") == 1688


# --- arithmetic ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", ["1 / 0", "7 % 0"])
def test_integer_division_by_zero_is_a_runtime_error(script: str) -> None:
    failure = _failure(script)
    assert (failure.message, failure.fully_qualified_error_id, failure.exception_type) == (
        "Attempted to divide by zero.",
        "RuntimeException",
        _RUNTIME,
    )


def test_integer_division_by_zero_is_statement_terminating_under_continue() -> None:
    outcome = run("-1 / 0\n'next'")
    assert outcome.state == "Completed"
    assert outcome.output == ["next"]
    assert [error.message for error in outcome.errors] == ["Attempted to divide by zero."]


def test_double_division_by_zero_is_infinity_or_nan_and_remainders_keep_the_dividend_sign() -> None:
    assert output_of("1.5 / 0\n-1.5 / 0\n-7 % 3\n7 % -3") == [float("inf"), float("-inf"), -1, 1]
    assert value_of("7 % 0.0") != value_of("7 % 0.0")  # NaN


def test_a_string_that_is_no_number_fails_arithmetic_and_comparison_in_powershell_words() -> None:
    failure = _failure("5 + 'abc'")
    assert failure.message == (
        'Cannot convert value "abc" to type "System.Int32". Error: "Input string was not in a correct format."'
    )
    assert (failure.fully_qualified_error_id, failure.exception_type) == (
        "InvalidCastFromStringToInteger",
        "System.Management.Automation.PSInvalidCastException",
    )
    failure = _failure("5 -lt 'abc'")
    assert failure.message == (
        'Could not compare "5" to "abc". Error: "Cannot convert value "abc" to type "System.Int32". Error: '
        '"Input string was not in a correct format.""'
    )
    assert failure.fully_qualified_error_id == "ComparisonFailure"


def test_multiplying_strings_and_arrays_repeats_them_and_a_hashtable_has_no_op_multiply() -> None:
    assert output_of("'ab' * 3\n(@(1,2) * 2).Count") == ["ababab", 4]
    failure = _failure("@{a=1} * 2")
    assert failure.message == (
        "Method invocation failed because [System.Collections.Hashtable] does not contain a method named "
        "'op_Multiply'."
    )


def test_integer_casts_round_half_to_even_and_reject_infinity() -> None:
    assert output_of("[int]2.5\n[int]3.5\n[int]-2.5") == [2, 4, -2]
    message = value_of("try { [int](1e308 * 10) } catch { $_.Exception.Message }")
    assert message == (
        'Cannot convert value "Infinity" to type "System.Int32". Error: "Value was either too large or too small '
        'for an Int32."'
    )


# --- index assignment ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "message", "error_id"),
    [
        ("$a = @(1,2)\n$a[5] = 3", "Index was outside the bounds of the array.", "IndexOutOfRange"),
        ("$n = $null\n$n[0] = 3", "Cannot index into a null array.", "NullArray"),
        ("$s = 'abc'\n$s[0] = 'x'", "Unable to index into an object of type str.", "CannotIndex"),
    ],
)
def test_index_assignment_that_cannot_land_fails(script: str, message: str, error_id: str) -> None:
    failure = _failure(script)
    assert (failure.message, failure.fully_qualified_error_id, failure.category) == (
        message,
        error_id,
        "InvalidOperation",
    )


# --- TimeSpan and DateTime members --------------------------------------------------------------------------


def test_timespan_members_of_a_datetime_difference() -> None:
    script = (
        "$t = [datetime]'2024-01-02T00:00:00Z' - [datetime]'2024-01-01T22:29:30.250Z'\n"
        "$t.TotalMilliseconds\n$t.TotalSeconds\n$t.TotalMinutes\n$t.Hours\n$t.Minutes\n$t.Seconds\n$t.Days\n"
        "$t.Nope"
    )
    outcome = run(script)
    assert outcome.output == [5429750.0, 5429.75, 90.49583333333334, 1, 30, 29, 0, None]


def test_datetime_members_and_a_missing_one() -> None:
    script = "$d = [datetime]'2024-03-05T14:07:09'\n$d.Year\n$d.Month\n$d.Day\n$d.Hour\n$d.Minute\n$d.Second\n$d.Nope"
    assert run(script).output == [2024, 3, 5, 14, 7, 9, None]
    assert value_of("([datetime]'2024-03-05').Count") == 1


def test_a_zoned_and_an_unzoned_datetime_compare_and_subtract_as_utc() -> None:
    assert value_of("([datetime]'2024-01-02T00:00:00Z' - [datetime]'2024-01-01T00:00:00').TotalHours") == 24.0
    assert value_of("[datetime]'2024-01-02T00:00:00Z' -gt [datetime]'2024-01-01T00:00:00'") is True
