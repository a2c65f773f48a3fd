"""Text rendering: the -f operator (.NET composite formatting) and Out-String (with and without -Stream)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from remediate.sandbox.powershell.errors import NotEmulated, PSRuntimeError, runtime_record
from remediate.sandbox.powershell.values import (
    INT32_MAX,
    INT32_MIN,
    Int64,
    dotnet_string,
    to_string,
)
from remediate.sandbox.seam import PSObject

_ITEM = re.compile(r"\{(\d+)(?:\s*,\s*(-?\d+))?(?::([^}]*))?\}")
_NUMERIC_FORMAT = re.compile(r"^([XxDdNnFf])(\d{0,2})$")


def format_error(reason: str) -> PSRuntimeError:
    return PSRuntimeError(
        runtime_record(
            f"Error formatting a string: {reason}",
            "FormatError",
            "InvalidOperation",
        )
    )


def format_operator(template: str, arguments: list[Any], line: int) -> str:
    """`template -f arguments` with {n}, {n,align} and {n:X8}-style items; {{ and }} are literal braces."""
    out: list[str] = []
    index = 0
    length = len(template)
    while index < length:
        char = template[index]
        if char == "{":
            if template.startswith("{{", index):
                out.append("{")
                index += 2
                continue
            match = _ITEM.match(template, index)
            if not match:
                raise format_error("Input string was not in a correct format..")
            position = int(match.group(1))
            if position >= len(arguments):
                raise format_error(
                    "Index (zero based) must be greater than or equal to zero and less than the size of the "
                    "argument list.."
                )
            text = format_item(arguments[position], match.group(3), line)
            if match.group(2):
                width = int(match.group(2))
                text = text.rjust(width) if width > 0 else text.ljust(-width)
            out.append(text)
            index = match.end()
            continue
        if char == "}":
            if template.startswith("}}", index):
                out.append("}")
                index += 2
                continue
            raise format_error("Input string was not in a correct format..")
        out.append(char)
        index += 1
    return "".join(out)


def format_item(value: Any, spec: str | None, line: int) -> str:
    if not spec:
        return dotnet_string(value)
    match = _NUMERIC_FORMAT.match(spec)
    if not match or isinstance(value, (bool, datetime, timedelta)) or not isinstance(value, (int, float)):
        if isinstance(value, str) or value is None:
            return dotnet_string(value)  # .NET ignores a format string for strings
        if not match:
            raise NotEmulated(f"the format item '{{0:{spec}}}'", line)
        raise format_error("Format specifier was invalid..")
    letter, digits = match.group(1), match.group(2)
    precision = int(digits) if digits else None
    kind = letter.upper()
    if kind == "X":
        if isinstance(value, float):
            raise format_error("Format specifier was invalid..")
        number = int(value)
        if number < 0:
            wide = isinstance(value, Int64) or not INT32_MIN <= number <= INT32_MAX
            number &= 0xFFFFFFFFFFFFFFFF if wide else 0xFFFFFFFF
        text = format(number, "X" if letter == "X" else "x")
        return text.rjust(precision or 0, "0")
    if kind == "D":
        if isinstance(value, float):
            raise format_error("Format specifier was invalid..")
        number = int(value)
        digits_text = str(abs(number)).rjust(precision or 0, "0")
        return ("-" if number < 0 else "") + digits_text
    places = 2 if precision is None else precision
    if kind == "N":
        return f"{value:,.{places}f}"
    return f"{value:.{places}f}"


# Default table views of Windows PowerShell 5.1 (its *.format.ps1xml files): type name -> (label, width) columns.
TABLE_VIEWS: dict[str, tuple[tuple[str, int], ...]] = {
    "System.ServiceProcess.ServiceController": (("Status", 8), ("Name", 18), ("DisplayName", 38)),
}


def _cell(value: Any, width: int) -> str:
    text = to_string(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _table(view: tuple[tuple[str, int], ...], rows: list[PSObject]) -> list[str]:
    """A table as Format-Table writes it: blank line, header, dashes, rows, two blank lines."""

    def line(cells: list[str]) -> str:
        return " ".join(cell.ljust(width) for cell, (_, width) in zip(cells, view, strict=True))

    header = line([label for label, _ in view])
    dashes = line(["-" * len(label) for label, _ in view])
    body = [line([_cell(row.get(label), width) for label, width in view]) for row in rows]
    return ["", header, dashes, *body, "", ""]


def _same_type(candidate: Any, item: PSObject) -> bool:
    return isinstance(candidate, PSObject) and candidate.type_names[:1] == item.type_names[:1]


def out_string(objects: list[Any]) -> str:
    """Out-String: strings as lines, objects in their type's default table view or as `Name : Value` lists;
    Windows line ends, a final newline."""
    lines: list[str] = []
    index = 0
    while index < len(objects):
        item = objects[index]
        index += 1
        view = TABLE_VIEWS.get(item.type_names[0]) if isinstance(item, PSObject) and item.type_names else None
        if view is not None and isinstance(item, PSObject):
            rows = [item]
            while index < len(objects) and _same_type(objects[index], item):
                rows.append(objects[index])
                index += 1
            lines.extend(_table(view, rows))
            continue
        if isinstance(item, (PSObject, dict)):
            if lines and lines[-1] != "":
                lines.append("")
            lines.extend(_property_list(item))
            lines.append("")
        elif item is None:
            continue
        else:
            lines.extend(to_string(item).split("\n") if not isinstance(item, str) else [item])
    if not lines:
        return ""
    return "\r\n".join(lines) + "\r\n"


def out_string_stream(objects: list[Any]) -> list[str]:
    """Out-String -Stream: the same text as out_string, one string per line, without line ends."""
    text = out_string(objects)
    if not text:
        return []
    return text[: -len("\r\n")].split("\r\n")


def _property_list(item: PSObject | dict[Any, Any]) -> list[str]:
    if isinstance(item, dict):
        pairs = [(str(key), value) for key, value in item.items()]
        width = max([4, *(len(key) for key, _ in pairs)])
        header = [f"{'Name'.ljust(width)} Value", f"{'----'.ljust(width)} -----"]
        return header + [f"{key.ljust(width)} {to_string(value)}" for key, value in pairs]
    pairs = list(item.properties.items())
    if not pairs:
        return []
    width = max(len(key) for key, _ in pairs)
    return [f"{key.ljust(width)} : {to_string(value)}" for key, value in pairs]
