"""ConvertTo-Json as Windows PowerShell 5.1 writes it.

5.1 first turns the input into dictionaries, lists and primitives (objects deeper than -Depth become their
string form), serializes that with .NET's JavaScriptSerializer (which escapes ' < > & as \\u0027 \\u003c
\\u003e \\u0026 and writes DateTime as "\\/Date(ms)\\/"), and, without -Compress, re-indents the text with
its own pretty printer ("key":  value, with nested blocks aligned under the key)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from remediate.sandbox.powershell.errors import PSRuntimeError, runtime_record
from remediate.sandbox.powershell.values import GetDateResult, ticks_of, to_string
from remediate.sandbox.seam import PSObject

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


class _DateValue:
    """A DateTime kept for the serializer, which writes it as \\/Date(ms)\\/."""

    __slots__ = ("value",)

    def __init__(self, value: datetime) -> None:
        self.value = value


def convert_to_json(inputs: list[Any], depth: int = 2, compress: bool = False) -> str | None:
    """The text ConvertTo-Json writes for its pipeline input; None when there was no input."""
    if not inputs:
        return None
    root = inputs[0] if len(inputs) == 1 else list(inputs)
    tree = _process(root, 0, depth)
    text = _serialize(tree)
    return text if compress else _pretty(text)


# --- object tree --------------------------------------------------------------------------------------------


def _process(value: Any, depth: int, max_depth: int) -> Any:
    if value is None:
        return None
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, GetDateResult):
        return {"value": _DateValue(value), "DisplayHint": 2, "DateTime": _long_date_time(value)}
    if isinstance(value, datetime):
        return _DateValue(value)
    if isinstance(value, timedelta):
        return _timespan(value)
    if depth > max_depth:
        return to_string(value)
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise PSRuntimeError(
                    runtime_record(
                        "The type 'System.Collections.Hashtable' is not supported for serialization or "
                        "deserialization of a dictionary. Keys must be strings.",
                        "NonStringKeyInDictionary,Microsoft.PowerShell.Commands.ConvertToJsonCommand",
                        "InvalidOperation",
                        exception_type="System.InvalidOperationException",
                    )
                )
            result[key] = _process(item, depth + 1, max_depth)
        return result
    if isinstance(value, list):
        return [_process(item, depth + 1, max_depth) for item in value]
    if isinstance(value, PSObject):
        return {key: _process(item, depth + 1, max_depth) for key, item in value.properties.items()}
    return to_string(value)


def _timespan(value: timedelta) -> dict[str, Any]:
    ticks = ticks_of(value)
    sign = -1 if ticks < 0 else 1
    magnitude = abs(ticks)
    total_seconds = ticks / 10_000_000
    return {
        "Ticks": ticks,
        "Days": sign * (magnitude // (86400 * 10_000_000)),
        "Hours": sign * (magnitude // (3600 * 10_000_000) % 24),
        "Milliseconds": sign * (magnitude // 10_000 % 1000),
        "Minutes": sign * (magnitude // (60 * 10_000_000) % 60),
        "Seconds": sign * (magnitude // 10_000_000 % 60),
        "TotalDays": total_seconds / 86400,
        "TotalHours": total_seconds / 3600,
        "TotalMilliseconds": total_seconds * 1000,
        "TotalMinutes": total_seconds / 60,
        "TotalSeconds": total_seconds,
    }


def _long_date_time(value: datetime) -> str:
    """The DateTime script property (en-US long date and long time)."""
    hour = value.hour % 12 or 12
    suffix = "AM" if value.hour < 12 else "PM"
    return (
        f"{_DAYS[value.weekday()]}, {_MONTHS[value.month - 1]} {value.day}, {value.year} "
        f"{hour}:{value.minute:02}:{value.second:02} {suffix}"
    )


# --- JavaScriptSerializer -----------------------------------------------------------------------------------


def _serialize(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return '"' + encode_string(value) + '"'
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _double(value)
    if isinstance(value, _DateValue):
        moment = value.value if value.value.tzinfo else value.value.replace(tzinfo=timezone.utc)
        milliseconds = (moment - _EPOCH) // timedelta(milliseconds=1)
        return f'"\\/Date({milliseconds})\\/"'
    if isinstance(value, dict):
        return (
            "{" + ",".join(f'"{encode_string(key)}":{_serialize(item)}' for key, item in value.items()) + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_serialize(item) for item in value) + "]"
    return '"' + encode_string(to_string(value)) + '"'


def _double(value: float) -> str:
    """Double.ToString("r", InvariantCulture)."""
    if value != value:
        return '"NaN"'
    if value in (float("inf"), float("-inf")):
        return '"Infinity"' if value > 0 else '"-Infinity"'
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        if mantissa.endswith(".0"):
            mantissa = mantissa[:-2]
        sign = "-" if exponent.startswith("-") else "+"
        digits = exponent.lstrip("+-").rjust(2, "0")
        return f"{mantissa}E{sign}{digits}"
    if text.endswith(".0"):
        return text[:-2]
    return text


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_ESCAPED = re.compile(r"""[\x00-\x1f"\\'<>&\u0085\u2028\u2029]""")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def encode_string(text: str) -> str:
    """HttpUtility.JavaScriptStringEncode (.NET Framework 4.x)."""
    return _ESCAPED.sub(_escape, text)


# --- 5.1's pretty printer -----------------------------------------------------------------------------------

_NEWLINE = "\r\n"
_INDENT = "    "


def _pretty(json: str) -> str:
    if not json.startswith(("{", "[")):
        return json
    out: list[str] = []
    _nested(json, 0, out, "", 0)
    return "".join(out)


def _quoted(json: str, index: int, out: list[str]) -> int:
    """Copy a string body starting after its opening quote; return the index of the closing quote."""
    while index < len(json):
        char = json[index]
        out.append(char)
        if char == "\\":
            index += 1
            out.append(json[index])
        elif char == '"':
            return index
        index += 1
    return len(json) - 1


def _nested(json: str, index: int, out: list[str], pad: str, spaces: int) -> int:
    """Copy the object or array opening at index; return the index of its closing bracket."""
    out.append(json[index])
    if json[index] == "{":
        return _dictionary(json, index + 1, out, pad, spaces)
    return _list(json, index + 1, out, pad, spaces)


def _list(json: str, index: int, out: list[str], pad: str, spaces: int) -> int:
    out.append(_NEWLINE)
    new_pad = pad + " " * spaces + _INDENT
    head = True
    while index < len(json):
        char = json[index]
        if char in "{[":
            out.append(new_pad)
            index = _nested(json, index, out, new_pad, 0)
            head = False
        elif char == "]":
            out.append(_NEWLINE + pad + " " * spaces + "]")
            return index
        elif char == '"':
            if head:
                out.append(new_pad)
            out.append(char)
            index = _quoted(json, index + 1, out)
            head = False
        elif char == ",":
            out.append("," + _NEWLINE)
            head = True
        else:
            if head:
                out.append(new_pad)
            out.append(char)
            head = False
        index += 1
    return len(json) - 1


def _dictionary(json: str, index: int, out: list[str], pad: str, spaces: int) -> int:
    out.append(_NEWLINE)
    new_pad = pad + " " * spaces + _INDENT
    before_key = True
    key_width = 0
    while index < len(json):
        char = json[index]
        if char in "{[":
            index = _nested(json, index, out, new_pad, key_width)
        elif char == "}":
            out.append(_NEWLINE + pad + " " * spaces + "}")
            return index
        elif char == '"':
            start = index
            if before_key:
                out.append(new_pad)
            out.append(char)
            index = _quoted(json, index + 1, out)
            if before_key:
                key_width = index - start + 1 + 3  # the quoted key, the colon and two spaces
                before_key = False
        elif char == ":":
            out.append(":  ")
        elif char == ",":
            out.append("," + _NEWLINE)
            before_key = True
        else:
            out.append(char)
        index += 1
    return len(json) - 1
