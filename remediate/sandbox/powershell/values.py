"""PowerShell value semantics over plain Python values.

In-language values are the seam's values (None, bool, int, float, str, datetime, list, PSObject) plus a few
carriers of .NET type facts that plain Python loses: Hashtable (case-insensitive keys), Int64 / UInt32 (an
int whose .NET type is not Int32), EnumValue (an enum's Int32 that shows as its name), TimeSpan (a difference
of datetimes) and GetDateResult (a DateTime that still carries Get-Date's DisplayHint note, which ConvertTo-Json
in Windows PowerShell 5.1 serializes as an object)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from remediate.sandbox.powershell.errors import PSRuntimeError, runtime_record
from remediate.sandbox.seam import ErrorRecord, PSObject, SecureString, plain_datetime

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT32_MAX = 2**32 - 1

PSCUSTOMOBJECT_TYPES = ["System.Management.Automation.PSCustomObject", "System.Object"]


class Int64(int):
    """An int whose .NET type is Int64 (from an [int64] cast or a literal beyond Int32)."""


class UInt32(int):
    """An int whose .NET type is UInt32 (from a [uint32] cast)."""


class EnumValue(int):
    """A value of a .NET enum: an Int32 that shows as its name."""

    type_name: str
    name: str

    def __new__(cls, type_name: str, names: tuple[str, ...], value: int) -> EnumValue:
        made = super().__new__(cls, value)
        made.type_name = type_name
        made.name = names[value]
        return made

    def __str__(self) -> str:
        return self.name


class Array2D:
    """A two-dimensional .NET array (`New-Object 'T[,]' -ArgumentList rows, columns`), indexed `$a[row, column]`."""

    def __init__(self, element_type: str, rows: int, columns: int, default: Callable[[], Any] = lambda: None) -> None:
        self.element_type = element_type
        self.rows = [[default() for _ in range(columns)] for _ in range(rows)]  # default(T) in every element

    def set(self, key: Any, value: Any) -> None:
        indexes = key if isinstance(key, list) else [key]
        if len(indexes) != 2:
            raise PSRuntimeError(
                runtime_record(
                    f"Array assignment to [{to_string(key)}] failed: the array has 2 dimensions.",
                    "ArrayAssignmentFailed",
                    "InvalidOperation",
                )
            )
        row, column = (to_int32(index) for index in indexes)
        if not (0 <= row < len(self.rows) and 0 <= column < len(self.rows[0])):
            raise PSRuntimeError(
                runtime_record("Index was outside the bounds of the array.", "IndexOutOfRange", "InvalidOperation")
            )
        self.rows[row][column] = value


class TimeSpan(timedelta):
    """The difference of two datetimes."""


class GetDateResult(datetime):
    """A DateTime as Get-Date writes it: wrapped with a DisplayHint note property."""

    @classmethod
    def wrapping(cls, moment: datetime) -> GetDateResult:
        """The same moment as Get-Date writes it (fold reset, as the field-by-field copy always did)."""
        return cls.combine(moment.date(), moment.timetz()).replace(fold=0)


class ErrorRecordValue:
    """An ErrorRecord as a script sees it: `$_` in a catch block."""

    def __init__(self, record: ErrorRecord) -> None:
        self.record = record

    def __repr__(self) -> str:
        return f"ErrorRecordValue({self.record.message!r})"


class Hashtable(dict[Any, Any]):
    """A PowerShell hashtable: string keys compare case-insensitively; insertion order is kept."""

    def __init__(self, items: Iterable[tuple[Any, Any]] = ()) -> None:
        super().__init__()
        self._index: dict[Any, Any] = {}
        for key, value in items:
            self[key] = value

    @staticmethod
    def _fold(key: Any) -> Any:
        return key.lower() if isinstance(key, str) else key

    def __setitem__(self, key: Any, value: Any) -> None:
        folded = self._fold(key)
        existing = self._index.get(folded, _MISSING)
        if existing is not _MISSING:
            super().__setitem__(existing, value)
            return
        self._index[folded] = key
        super().__setitem__(key, value)

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._index[self._fold(key)])

    def __contains__(self, key: object) -> bool:
        return self._fold(key) in self._index

    def __delitem__(self, key: Any) -> None:
        original = self._index.pop(self._fold(key))
        super().__delitem__(original)

    def get(self, key: Any, default: Any = None) -> Any:
        original = self._index.get(self._fold(key), _MISSING)
        if original is _MISSING:
            return default
        return super().__getitem__(original)

    def add(self, key: Any, value: Any) -> None:
        if key in self:
            raise PSRuntimeError(
                runtime_record(
                    f"Item has already been added. Key in dictionary: '{key}'  Key being added: '{key}'",
                    "DuplicateKeyInHashLiteral",
                    "InvalidOperation",
                )
            )
        self[key] = value


_MISSING = object()


# ------------------------------------------------------------------------------------------------------------
# Collections


def unroll(value: Any) -> Iterator[Any]:
    """The objects a value writes to the pipeline: a list's elements, anything else itself."""
    if isinstance(value, list):
        yield from value
    else:
        yield value


def collect(objects: list[Any]) -> Any:
    """A pipeline's output as one value (assignment, parentheses): none -> $null, one -> it, more -> array."""
    if not objects:
        return None
    if len(objects) == 1:
        return objects[0]
    return objects


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


# ------------------------------------------------------------------------------------------------------------
# Truthiness


def is_true(value: Any) -> bool:
    """LanguagePrimitives.IsTrue."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value != ""
    if isinstance(value, list):
        if not value:
            return False
        if len(value) == 1:
            item = value[0]
            return is_true(item) if not isinstance(item, list) else bool(item)
        return True
    return True


# ------------------------------------------------------------------------------------------------------------
# Conversion to string


def format_double(value: float) -> str:
    """Double.ToString() as Windows PowerShell shows it (15 significant digits, invariant culture)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.15G}"
    if "E" in text:
        mantissa, exponent = text.split("E")
        sign = exponent[0]
        digits = exponent[1:].lstrip("0").rjust(2, "0")
        text = f"{mantissa}E{sign}{digits}"
    return text


def format_datetime(value: datetime) -> str:
    """A DateTime converted to string by PowerShell (invariant culture)."""
    return value.strftime("%m/%d/%Y %H:%M:%S")


def ticks_of(value: timedelta) -> int:
    """A TimeSpan's Ticks: 100-nanosecond units."""
    return (value.days * 86400 + value.seconds) * 10_000_000 + value.microseconds * 10


def format_timespan(value: timedelta) -> str:
    total_ticks = ticks_of(value)
    sign = "-" if total_ticks < 0 else ""
    ticks = abs(total_ticks)
    days, rest = divmod(ticks, 86400 * 10_000_000)
    hours, rest = divmod(rest, 3600 * 10_000_000)
    minutes, rest = divmod(rest, 60 * 10_000_000)
    seconds, fraction = divmod(rest, 10_000_000)
    text = f"{sign}{days}." if days else sign
    text += f"{hours:02}:{minutes:02}:{seconds:02}"
    if fraction:
        text += f".{fraction:07}"
    return text


def to_string(value: Any) -> str:
    """LanguagePrimitives.ConvertTo(value, string) with $OFS = ' '."""
    if value is None:
        return ""
    if isinstance(value, SecureString):
        return "System.Security.SecureString"  # its text never shows as a string
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, EnumValue):
        return value.name
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return format_double(value)
    if isinstance(value, list):
        return " ".join(to_string(item) for item in value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, timedelta):
        return format_timespan(value)
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    if isinstance(value, PSObject):
        return psobject_string(value)
    if isinstance(value, ErrorRecordValue):
        return value.record.message
    return str(value)


def psobject_string(value: PSObject) -> str:
    if value.to_string is not None:
        return value.to_string
    if (value.type_names and value.type_names[0].endswith("PSCustomObject")) or any(
        name.startswith("Selected.") for name in value.type_names
    ):
        inner = "; ".join(f"{key}={to_string(item)}" for key, item in value.properties.items())
        return "@{" + inner + "}"
    return value.type_names[0] if value.type_names else ""


def dotnet_string(value: Any) -> str:
    """Object.ToString() where it differs from PowerShell's conversion (arrays inside -f)."""
    if isinstance(value, list):
        return "System.Object[]"
    return to_string(value)


# ------------------------------------------------------------------------------------------------------------
# Conversion to numbers


_HEX = re.compile(r"^\s*([+-]?)0x([0-9a-f]+)\s*$", re.IGNORECASE)
_DECIMAL = re.compile(r"^\s*[+-]?\d+\s*$")
_REAL = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$", re.IGNORECASE)


class NotANumber(ValueError):
    pass


def hex_literal_value(digits: str) -> int:
    """A hex literal as PowerShell reads it: up to 32 bits is an Int32 bit pattern, up to 64 an Int64 one."""
    value = int(digits, 16)
    if value <= UINT32_MAX:
        return value - 2**32 if value > INT32_MAX else value
    if value <= 2**64 - 1:
        return Int64(value - 2**64 if value > INT64_MAX else value)
    raise NotANumber(digits)


def parse_number(text: str) -> int | float:
    """A string as PowerShell converts it to a number; '' is 0."""
    if text.strip() == "":
        return 0
    if _DECIMAL.match(text):
        return int(text)
    hex_match = _HEX.match(text)
    if hex_match:
        value = hex_literal_value(hex_match.group(2))
        return -value if hex_match.group(1) == "-" else value
    if _REAL.match(text):
        return float(text)
    raise NotANumber(text)


def to_number(value: Any) -> int | float:
    """A value as an operand of arithmetic; raises NotANumber."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        return parse_number(value)
    if isinstance(value, list) and len(value) == 1:
        return to_number(value[0])
    raise NotANumber(to_string(value))


def dotnet_type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, UInt32):
        return "System.UInt32"
    if isinstance(value, int):
        return (
            "System.Int32"
            if INT32_MIN <= value <= INT32_MAX and not isinstance(value, Int64)
            else "System.Int64"
        )
    if isinstance(value, float):
        return "System.Double"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, list):
        return "System.Object[]"
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    if isinstance(value, datetime):
        return "System.DateTime"
    if isinstance(value, timedelta):
        return "System.TimeSpan"
    if isinstance(value, PSObject):
        return value.type_names[0] if value.type_names else "System.Object"
    return "System.Object"


# ------------------------------------------------------------------------------------------------------------
# Casts


_RANGE_NAMES = {"System.Int32": "an Int32", "System.Int64": "an Int64", "System.UInt32": "a UInt32"}


def conversion_error(value: Any, type_name: str, reason: str, error_id: str) -> PSRuntimeError:
    shown = to_string(value)
    return PSRuntimeError(
        runtime_record(
            f'Cannot convert value "{shown}" to type "{type_name}". Error: "{reason}"',
            error_id,
            "InvalidArgument",
            exception_type="System.Management.Automation.PSInvalidCastException",
        )
    )


def to_integer(value: Any, type_name: str, low: int, high: int) -> int:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        try:
            number: int | float = parse_number(value)
        except NotANumber:
            raise conversion_error(
                value,
                type_name,
                "Input string was not in a correct format.",
                "InvalidCastFromStringToInteger",
            ) from None
        hex_text = _HEX.match(value)
        if hex_text is not None and type_name == "System.UInt32":
            number = int(hex_text.group(2), 16)  # the bit pattern, not the Int32 a hex literal would be
    elif value is None:
        number = 0
    elif isinstance(value, bool):
        number = int(value)
    elif isinstance(value, (int, float)):
        number = value
    else:
        raise conversion_error(
            value,
            type_name,
            f"Invalid cast from '{dotnet_type_name(value)}' to '{type_name}'.",
            "InvalidCastIConvertible",
        )
    if isinstance(number, float) and math.isfinite(number):
        number = round(number)  # half to even, as .NET's Convert rounds
    if isinstance(number, float) or not low <= number <= high:
        raise conversion_error(
            value,
            type_name,
            f"Value was either too large or too small for {_RANGE_NAMES[type_name]}.",
            "InvalidCastIConvertible",
        )
    return int(number)


def to_int32(value: Any) -> int:
    return to_integer(value, "System.Int32", INT32_MIN, INT32_MAX)


def to_int64(value: Any) -> Int64:
    return Int64(to_integer(value, "System.Int64", INT64_MIN, INT64_MAX))


def to_uint32(value: Any) -> UInt32:
    return UInt32(to_integer(value, "System.UInt32", 0, UINT32_MAX))


_DATE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
)


def to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+0000"
        for pattern in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, pattern)
            except ValueError:
                continue
            return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed
        raise conversion_error(
            value,
            "System.DateTime",
            "String was not recognized as a valid DateTime.",
            "InvalidCastParseTargetInvocation",
        )
    raise conversion_error(
        value,
        "System.DateTime",
        f"Invalid cast from '{dotnet_type_name(value)}' to 'System.DateTime'.",
        "InvalidCastIConvertible",
    )


def to_pscustomobject(value: Any) -> Any:
    if isinstance(value, dict):
        return PSObject(type_names=list(PSCUSTOMOBJECT_TYPES), properties=dict(value.items()))
    return value


def to_bool_parameter(value: Any, parameter: str) -> bool:
    """A value bound to a [bool] parameter: only booleans and numbers are accepted."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    raise PSRuntimeError(
        runtime_record(
            f"Cannot process argument transformation on parameter '{parameter}'. Cannot convert value "
            f'"{to_string(value)}" to type "System.Boolean". Boolean parameters accept only Boolean values '
            "and numbers, such as $True, $False, 1 or 0.",
            f"ParameterArgumentTransformationError,{parameter}",
            "InvalidData",
            exception_type="System.Management.Automation.ParameterBindingArgumentTransformationException",
        )
    )


def to_hashtable(value: Any) -> Hashtable:
    if isinstance(value, Hashtable):
        return value
    if isinstance(value, dict):
        return Hashtable(value.items())
    raise conversion_error(
        value,
        "System.Collections.Hashtable",
        f'Cannot convert the "{to_string(value)}" value of type "{dotnet_type_name(value)}" to type '
        '"System.Collections.Hashtable".',
        "ConvertToFinalInvalidCastException",
    )


def to_string_array(value: Any) -> list[Any] | None:
    if value is None:
        return None
    return [to_string(item) if item is not None else None for item in as_list(value)]


# The casts emulated, by the lower-cased type name a script writes: [int]$x, [datetime]'2024-01-01', ...
CASTS: dict[str, Callable[[Any], Any]] = {
    "int": to_int32,
    "int64": to_int64,
    "uint32": to_uint32,
    "string": to_string,
    "bool": is_true,
    "datetime": to_datetime,
    "pscustomobject": to_pscustomobject,
}


# Types from_seam passes on as they are, checked exactly (a CIM instance is mostly these): the quick way out
_AS_IS: frozenset[type] = frozenset({str, int, float, bool, type(None), datetime})


def from_seam(value: Any) -> Any:
    """A value arriving from the seam (parameters, pipeline input, cmdlet output) as an in-language value."""
    if type(value) in _AS_IS:
        return value
    if isinstance(value, dict) and not isinstance(value, Hashtable):
        return Hashtable((key, from_seam(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [from_seam(item) for item in value]
    if isinstance(value, PSObject):
        # A copy: assigning a property in a script must not reach into the host's own objects.
        return PSObject(
            type_names=list(value.type_names),
            properties={
                key: item if type(item) in _AS_IS else from_seam(item) for key, item in value.properties.items()
            },
            to_string=value.to_string,
            handle=value.handle,
            extended=value.extended,
        )
    return value


def to_seam(value: Any) -> Any:
    """An in-language value as a plain seam value."""
    if value is None or isinstance(value, (str, float, bool)):
        return value
    if isinstance(value, EnumValue):
        # an enum goes to the client as the enum (its name and Int32 value), as PowerShell serializes one
        types = [value.type_name, "System.Enum", "System.ValueType", "System.Object"]
        return PSObject(types, {"value__": int(value)}, to_string=value.name)
    if isinstance(value, Array2D):
        return [[to_seam(item) for item in row] for row in value.rows]
    if isinstance(value, int):
        return int(value)
    if isinstance(value, dict):
        return {key: to_seam(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_seam(item) for item in value]
    if isinstance(value, GetDateResult):
        return plain_datetime(value)
    if isinstance(value, TimeSpan):
        return timedelta(value.days, value.seconds, value.microseconds)
    if isinstance(value, PSObject):
        return PSObject(
            type_names=value.type_names,
            properties={key: to_seam(item) for key, item in value.properties.items()},
            to_string=value.to_string,
            handle=value.handle,
            extended=value.extended,
        )
    if isinstance(value, ErrorRecordValue):
        record = value.record
        return PSObject(
            type_names=["System.Management.Automation.ErrorRecord", "System.Object"],
            properties={
                "Exception": record.message,
                "FullyQualifiedErrorId": record.fully_qualified_error_id,
                "CategoryInfo": record.category,
            },
            to_string=record.message,
        )
    return value
