"""PowerShell's operators: comparison (case-insensitive, left operand decides), arithmetic, -join, -split,
-band.

A collection on the left of a comparison filters: `@(1, 2, 1) -eq 1` is `@(1, 1)`, not a boolean.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from remediate.sandbox.powershell.errors import PSRuntimeError, runtime_record
from remediate.sandbox.powershell.values import (
    INT64_MAX,
    INT64_MIN,
    Hashtable,
    NotANumber,
    TimeSpan,
    as_list,
    dotnet_type_name,
    is_true,
    to_datetime,
    to_number,
    to_string,
)
from remediate.sandbox.seam import PSObject, plain_datetime

FILTERING = frozenset({"-eq", "-ne", "-gt", "-ge", "-lt", "-le", "-like", "-notlike"})


# --- equality and ordering ----------------------------------------------------------------------------------


def equals(left: Any, right: Any) -> bool:
    """`left -eq right` for a scalar left operand."""
    if left is None:
        return right is None
    if right is None:
        return False
    if isinstance(left, str):
        return left.lower() == to_string(right).lower()
    if isinstance(left, bool):
        return left == is_true(right)
    if isinstance(left, (int, float)):
        try:
            return left == to_number(right)
        except NotANumber:
            return False
    if isinstance(left, datetime):
        try:
            return _compare_datetimes(left, to_datetime(right)) == 0
        except PSRuntimeError:
            return False
    if isinstance(left, (PSObject, dict, list)):
        return left is right
    return bool(left == right)


def _aligned(left: datetime, right: datetime) -> tuple[datetime, datetime]:
    """Two datetimes Python can compare and subtract: when only one has a zone, the other is read as UTC."""
    a, b = plain_datetime(left), plain_datetime(right)
    if (a.tzinfo is None) != (b.tzinfo is None):
        a = a if a.tzinfo else a.replace(tzinfo=timezone.utc)
        b = b if b.tzinfo else b.replace(tzinfo=timezone.utc)
    return a, b


def _compare_datetimes(left: datetime, right: datetime) -> int:
    a, b = _aligned(left, right)
    return (a > b) - (a < b)


def _not_a_number(value: Any, target: Any) -> str:
    """Why a value is no number for an operand of the target's type, in PowerShell's words."""
    return (
        f'Cannot convert value "{to_string(value)}" to type "{dotnet_type_name(target)}". Error: '
        '"Input string was not in a correct format."'
    )


def _compare_error(left: Any, right: Any, reason: str) -> PSRuntimeError:
    return PSRuntimeError(
        runtime_record(
            f'Could not compare "{to_string(left)}" to "{to_string(right)}". Error: "{reason}"',
            "ComparisonFailure",
            "InvalidOperation",
        )
    )


def compare(left: Any, right: Any) -> int:
    """-1, 0 or 1 for the ordering operators, converting the right operand to the left one's type."""
    if left is None:
        if right is None:
            return 0
        # null sorts as zero against numbers (just below a non-negative one), below everything else
        if isinstance(right, (int, float)) and not isinstance(right, bool):
            return 1 if right < 0 else -1
        return -1
    if right is None:
        return -compare(right, left)
    if isinstance(left, str):
        a, b = left.lower(), to_string(right).lower()
        return (a > b) - (a < b)
    if isinstance(left, (bool, int, float)):
        try:
            number = to_number(right)
        except NotANumber:
            raise _compare_error(left, right, _not_a_number(right, left)) from None
        value = int(left) if isinstance(left, bool) else left
        return (value > number) - (value < number)
    if isinstance(left, datetime):
        return _compare_datetimes(left, to_datetime(right))
    if isinstance(left, timedelta) and isinstance(right, timedelta):
        return (left > right) - (left < right)
    raise _compare_error(left, right, f'Cannot compare "{to_string(left)}" because it is not IComparable.')


@lru_cache(maxsize=512)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """A -like pattern (*, ?, [set], ` escapes) as a regular expression; patterns repeat, so they are cached."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "`" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append("[" + pattern[index + 1 : end].replace("\\", "\\\\") + "]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _scalar_comparison(operator: str, left: Any, right: Any) -> bool:
    if operator == "-eq":
        return equals(left, right)
    if operator == "-ne":
        return not equals(left, right)
    if operator in ("-like", "-notlike"):
        matched = _wildcard(to_string(right)).fullmatch(to_string(left)) is not None
        return matched if operator == "-like" else not matched
    order = compare(left, right)
    if operator == "-gt":
        return order > 0
    if operator == "-ge":
        return order >= 0
    if operator == "-lt":
        return order < 0
    return order <= 0


def comparison(operator: str, left: Any, right: Any) -> Any:
    """A filtering comparison: a boolean for a scalar left operand, the matching elements for an array."""
    if isinstance(left, list):
        return [item for item in left if _scalar_comparison(operator, item, right)]
    return _scalar_comparison(operator, left, right)


def contains(collection: Any, item: Any) -> bool:
    return any(equals(element, item) for element in as_list(collection))


# --- regular expressions ------------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def dotnet_regex(pattern: str) -> re.Pattern[str]:
    """A .NET regular expression (case-insensitive, as PowerShell's operators use it) for Python's re."""
    translated = re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", pattern)
    translated = re.sub(r"\\k<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P=\1)", translated)
    translated = translated.replace("\\z", "\\Z")
    try:
        return re.compile(translated, re.IGNORECASE)
    except re.error as error:
        raise PSRuntimeError(
            runtime_record(
                f"The regular expression pattern {pattern} is not valid.",
                "InvalidRegularExpression",
                "InvalidOperation",
                target=pattern,
            )
        ) from error


def match_table(match: re.Match[str]) -> Hashtable:
    """$Matches after a successful -match: only groups that took part.

    .NET numbers the unnamed groups first (1, 2, ...) and keys named groups by their names only.
    """
    table = Hashtable()
    names = {index: name for name, index in match.re.groupindex.items()}
    number = 0
    entries: list[tuple[Any, str | None]] = []
    for index in range(1, match.re.groups + 1):
        if index in names:
            entries.append((names[index], match.group(index)))
        else:
            number += 1
            entries.append((number, match.group(index)))
    for key, text in reversed(entries):
        if text is not None:
            table[key] = text
    table[0] = match.group(0)
    return table


def split(left: Any, right: Any) -> list[str]:
    pattern = dotnet_regex(to_string(right))
    parts: list[str] = []
    for item in as_list(left) if left is not None else [None]:
        parts.extend(_regex_split(pattern, to_string(item)))
    return parts


def _regex_split(pattern: re.Pattern[str], text: str) -> list[str]:
    pieces: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        if match.end() == match.start():
            continue
        pieces.append(text[position : match.start()])
        position = match.end()
    pieces.append(text[position:])
    return pieces


def join(left: Any, right: Any) -> str:
    return to_string(right).join(to_string(item) for item in as_list(left))


# --- arithmetic ---------------------------------------------------------------------------------------------


def _number(value: Any, target: Any) -> int | float:
    try:
        return to_number(value)
    except NotANumber:
        raise PSRuntimeError(
            runtime_record(
                _not_a_number(value, target),
                "InvalidCastFromStringToInteger",
                "InvalidArgument",
                exception_type="System.Management.Automation.PSInvalidCastException",
            )
        ) from None


def _normalize(value: int | float) -> int | float:
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return float(value)
    return value


_OPERATOR_METHODS = {"+": "Addition", "-": "Subtraction", "*": "Multiply", "/": "Division", "%": "Modulus"}


def _operation_error(operator: str, left: Any) -> PSRuntimeError:
    return PSRuntimeError(
        runtime_record(
            f"Method invocation failed because [{dotnet_type_name(left)}] does not contain a method named "
            f"'op_{_OPERATOR_METHODS[operator]}'.",
            "MethodNotFound",
            "InvalidOperation",
        )
    )


def add(left: Any, right: Any) -> Any:
    if left is None:
        return list(right) if isinstance(right, list) else right
    if isinstance(left, list):
        return left + (right if isinstance(right, list) else [right])
    if isinstance(left, dict):
        if not isinstance(right, dict):
            raise PSRuntimeError(
                runtime_record(
                    "A hash table can only be added to another hash table.",
                    "AddHashTableToNonHashTable",
                    "InvalidOperation",
                )
            )
        merged = Hashtable(left.items())
        for key, value in right.items():
            merged.add(key, value)
        return merged
    if isinstance(left, str):
        return left + to_string(right)
    if isinstance(left, datetime):
        if isinstance(right, timedelta):
            return plain_datetime(left) + right
        raise _operation_error("+", left)
    if isinstance(left, (bool, int, float)):
        return _normalize(_plain(left) + _number(right, left))
    raise _operation_error("+", left)


def _plain(value: int | float) -> int | float:
    return int(value) if isinstance(value, int) else value


def subtract(left: Any, right: Any) -> Any:
    if isinstance(left, datetime):
        if isinstance(right, datetime):
            a, b = _aligned(left, right)
            difference = a - b
            return TimeSpan(difference.days, difference.seconds, difference.microseconds)
        if isinstance(right, timedelta):
            return plain_datetime(left) - right
        raise _operation_error("-", left)
    if isinstance(left, (list, dict)):
        raise _operation_error("-", left)
    return _normalize(_plain(_number(left, 0)) - _number(right, left))


def multiply(left: Any, right: Any) -> Any:
    if isinstance(left, (str, list)):
        return left * int(_number(right, 0))
    if isinstance(left, dict):
        raise _operation_error("*", left)
    return _normalize(_plain(_number(left, 0)) * _number(right, left))


def _division_operands(operator: str, left: Any, right: Any) -> tuple[Any, Any]:
    """The operands of / or % as numbers; an integer divided by integer zero is an error, a double is not."""
    if isinstance(left, (list, dict)):
        raise _operation_error(operator, left)
    a, b = _number(left, 0), _number(right, left)
    if b == 0 and isinstance(a, int) and isinstance(b, int):
        raise PSRuntimeError(runtime_record("Attempted to divide by zero.", "RuntimeException", "NotSpecified"))
    return a, b


def divide(left: Any, right: Any) -> Any:
    a, b = _division_operands("/", left, right)
    if b == 0:
        return float("inf") if a > 0 else float("-inf") if a < 0 else float("nan")
    if isinstance(a, int) and isinstance(b, int) and a % b == 0:
        return _normalize(int(a) // int(b))
    return a / b


def remainder(left: Any, right: Any) -> Any:
    a, b = _division_operands("%", left, right)
    if b == 0:
        return float("nan")
    if isinstance(a, int) and isinstance(b, int):
        magnitude = abs(int(a)) % abs(int(b))
        return -magnitude if a < 0 else magnitude
    return math.fmod(a, b)


def bitwise_and(left: Any, right: Any) -> int:
    a, b = _number(left, 0), _number(right, left)
    return int(a) & int(b)


def negate(value: Any) -> Any:
    number = _number(value, 0)
    return -number
