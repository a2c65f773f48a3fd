"""Properties and methods of values: the members the sandbox emulates, with PowerShell's lookup rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from remediate.sandbox.powershell.errors import NotEmulated, PSRuntimeError, method_error, runtime_record
from remediate.sandbox.powershell.values import (
    ErrorRecordValue,
    Hashtable,
    TimeSpan,
    collect,
    to_int32,
    to_number,
    to_string,
)
from remediate.sandbox.seam import PSObject, plain_datetime

# .NET properties of TimeSpan and DateTime the sandbox reads (lower-cased names)
_TIMESPAN_PROPERTIES: dict[str, Callable[[timedelta], Any]] = {
    "totalminutes": lambda span: span.total_seconds() / 60.0,
    "totalseconds": lambda span: span.total_seconds(),
    "totalhours": lambda span: span.total_seconds() / 3600.0,
    "totaldays": lambda span: span.total_seconds() / 86400.0,
    "totalmilliseconds": lambda span: span.total_seconds() / 0.001,
    "days": lambda span: span.days,
    "hours": lambda span: span.seconds // 3600,
    "minutes": lambda span: span.seconds // 60 % 60,
    "seconds": lambda span: span.seconds % 60,
}
_DATETIME_PROPERTIES: dict[str, Callable[[datetime], Any]] = {
    "year": lambda moment: moment.year,
    "month": lambda moment: moment.month,
    "day": lambda moment: moment.day,
    "hour": lambda moment: moment.hour,
    "minute": lambda moment: moment.minute,
    "second": lambda moment: moment.second,
}


def get_member(target: Any, name: str) -> Any:
    """`target.name`: case-insensitive; member enumeration on arrays; $null for a missing property."""
    lowered = name.lower()
    if target is None:
        return 0 if lowered in ("count", "length") else None
    if isinstance(target, list):
        if lowered in ("count", "length"):
            return len(target)
        return _enumerate_member(target, name)
    if isinstance(target, dict):
        if name in target:
            return target[name]
        if lowered == "count":
            return len(target)
        if lowered == "keys":
            return list(target.keys())
        if lowered == "values":
            return list(target.values())
        return None
    if isinstance(target, PSObject):
        if target.has(name):
            return target.get(name)
        if lowered in ("count", "length"):
            return 1
        return None
    if isinstance(target, str):
        if lowered == "length":
            return len(target)
        if lowered == "count":
            return 1
        return None
    if isinstance(target, timedelta) and lowered in _TIMESPAN_PROPERTIES:
        return _TIMESPAN_PROPERTIES[lowered](target)
    if isinstance(target, datetime) and lowered in _DATETIME_PROPERTIES:
        return _DATETIME_PROPERTIES[lowered](target)
    if isinstance(target, ErrorRecordValue):
        return _error_record_member(target, lowered)
    if isinstance(target, _ExceptionValue):
        if lowered == "message":
            return target.record.message
        if lowered == "hresult":
            return target.record.hresult
        return None
    if isinstance(target, _CategoryInfoValue):
        if lowered == "category":
            return target.record.category
        if lowered == "activity":
            return target.record.activity
        return None
    if lowered in ("count", "length"):
        return 1
    return None


def _enumerate_member(items: list[Any], name: str) -> Any:
    """Member enumeration: the member of every item, flattened one level, without the items that have none."""
    values: list[Any] = []
    for item in items:
        value = get_member(item, name)
        if isinstance(value, list):
            values.extend(value)
        elif value is not None:
            values.append(value)
    return collect(values)


class _ExceptionValue:
    def __init__(self, record: Any) -> None:
        self.record = record

    def __str__(self) -> str:
        return str(self.record.message)


class _CategoryInfoValue:
    def __init__(self, record: Any) -> None:
        self.record = record

    def __str__(self) -> str:
        return str(self.record.category)


def _error_record_member(target: ErrorRecordValue, lowered: str) -> Any:
    record = target.record
    if lowered == "exception":
        return _ExceptionValue(record)
    if lowered == "fullyqualifiederrorid":
        return record.fully_qualified_error_id
    if lowered == "categoryinfo":
        return _CategoryInfoValue(record)
    if lowered == "targetobject":
        return record.target_object
    if lowered == "scriptstacktrace":
        return record.script_stack_trace
    return None


def set_member(target: Any, name: str, value: Any, line: int) -> None:
    if isinstance(target, dict):
        target[name] = value
        return
    if isinstance(target, PSObject):
        for key in target.properties:
            if key.lower() == name.lower():
                target.properties[key] = value
                return
    raise PSRuntimeError(
        runtime_record(
            f"The property '{name}' cannot be found on this object. Verify that the property exists and "
            "can be set.",
            "PropertyAssignmentException",
            "InvalidOperation",
        )
    )


# --- methods ------------------------------------------------------------------------------------------------

_STRING_METHODS = frozenset(
    {
        "trim",
        "toupper",
        "toupperinvariant",
        "tolower",
        "tolowerinvariant",
        "trimstart",
        "trimend",
        "indexof",
        "contains",
        "startswith",
        "endswith",
        "split",
        "replace",
        "tostring",
        "substring",
    }
)


def call_method(target: Any, name: str, arguments: list[Any], line: int) -> Any:
    lowered = name.lower()
    if target is None:
        raise PSRuntimeError(
            runtime_record(
                "You cannot call a method on a null-valued expression.",
                "InvokeMethodOnNull",
                "InvalidOperation",
            )
        )
    if lowered == "tostring" and not arguments:
        return to_string(plain_datetime(target) if isinstance(target, datetime) else target)
    if isinstance(target, list):
        if lowered == "contains" and len(arguments) == 1:
            return any(_dotnet_equals(item, arguments[0]) for item in target)
        return [call_method(item, name, arguments, line) for item in target]
    if isinstance(target, str) and lowered in _STRING_METHODS:
        return _string_method(target, lowered, name, arguments, line)
    if isinstance(target, Hashtable) and lowered == "containskey" and len(arguments) == 1:
        return arguments[0] in target
    if isinstance(target, datetime) and not isinstance(target, timedelta):
        if lowered == "addminutes" and len(arguments) == 1:
            return plain_datetime(target) + timedelta(minutes=float(to_number(arguments[0])))
        if lowered == "touniversaltime" and not arguments:
            moment = plain_datetime(target)
            return moment.astimezone(timezone.utc) if moment.tzinfo else moment
    raise NotEmulated(f"the method .{name}() with {len(arguments)} argument(s) on {_describe(target)}", line)


def _describe(target: Any) -> str:
    if isinstance(target, str):
        return "a string"
    if isinstance(target, dict):
        return "a hashtable"
    if isinstance(target, PSObject):
        return f"an object of type {target.type_names[0] if target.type_names else 'unknown'}"
    if isinstance(target, datetime):
        return "a datetime"
    if isinstance(target, TimeSpan):
        return "a timespan"
    return f"a value of type {type(target).__name__}"


def _dotnet_equals(left: Any, right: Any) -> bool:
    return bool(type(left) is type(right) and left == right)


def _string_method(text: str, lowered: str, name: str, arguments: list[Any], line: int) -> Any:
    count = len(arguments)
    if lowered == "trim":
        if count == 0:
            return text.strip()
        return text.strip("".join(to_string(argument) for argument in arguments))
    if lowered in ("toupper", "toupperinvariant") and count == 0:
        return text.upper()
    if lowered in ("tolower", "tolowerinvariant") and count == 0:
        return text.lower()
    if lowered in ("trimstart", "trimend"):
        strip = text.lstrip if lowered == "trimstart" else text.rstrip
        return strip("".join(to_string(argument) for argument in arguments) or None)
    if lowered == "indexof" and count == 1 and isinstance(arguments[0], str):
        return text.find(arguments[0])
    if lowered in ("contains", "startswith", "endswith") and count == 1:
        needle = to_string(arguments[0])
        if arguments[0] is None:
            raise method_error(
                name, 1, "Value cannot be null.\r\nParameter name: value", "ArgumentNullException"
            )
        if lowered == "contains":
            return needle in text
        if lowered == "startswith":
            return text.startswith(needle)
        return text.endswith(needle)
    if lowered == "split" and count >= 1:
        # Windows PowerShell binds .Split('ab') to Split(params char[]): every character is a separator.
        separators = set("".join(to_string(argument) for argument in arguments))
        parts: list[str] = []
        current: list[str] = []
        for char in text:
            if char in separators:
                parts.append("".join(current))
                current = []
            else:
                current.append(char)
        parts.append("".join(current))
        return parts
    if lowered == "replace" and count == 2:
        old = to_string(arguments[0])
        if old == "":
            raise method_error(
                name, 2, "String cannot be of zero length.\r\nParameter name: oldValue", "ArgumentException"
            )
        return text.replace(old, to_string(arguments[1]))
    if lowered == "substring" and count in (1, 2):
        start = to_int32(arguments[0])
        if start < 0 or start > len(text):
            raise method_error(
                name,
                count,
                "startIndex cannot be larger than length of string.\r\nParameter name: startIndex",
            )
        if count == 1:
            return text[start:]
        length = to_int32(arguments[1])
        if length < 0 or start + length > len(text):
            raise method_error(
                name,
                count,
                "Index and length must refer to a location within the string.\r\nParameter name: length",
            )
        return text[start : start + length]
    raise NotEmulated(f"the method .{name}() with {count} argument(s) on a string", line)
