"""Conversion between psrpcore's CLIXML objects and the seam's plain Python values (see sandbox/seam.py)."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Any

from psrpcore.types import (
    ConsoleColor,
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSChar,
    PSDouble,
    PSList,
    PSNoteProperty,
    PSSecureString,
    add_note_property,
)
from psrpcore.types import PSObject as CoreObject

from remediate.sandbox import seam

_DESERIALIZED = "Deserialized."
CUSTOM_OBJECT_TYPE = "System.Management.Automation.PSCustomObject"
_ARRAY_TYPE_NAMES = ("System.Object[]", "System.Array", "System.Object")
_RUNTIME_EXCEPTION = "System.Management.Automation.RuntimeException"


def to_plain(value: Any) -> Any:
    """A value psrpcore deserialized from the client -> a seam value."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, PSChar):
        return seam.Char(chr(int(value)))
    if isinstance(value, enum.Enum):
        return to_plain(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (float, decimal.Decimal)):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, datetime.datetime):
        return seam.plain_datetime(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, PSSecureString):
        return seam.SecureString(value.decrypt())
    if isinstance(value, dict):
        return {str(to_plain(key)): to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, CoreObject):
        return _object_to_plain(value)
    return value


def _object_to_plain(value: CoreObject) -> seam.PSObject:
    meta = value.PSObject
    type_names = [
        name[len(_DESERIALIZED) :] if name.startswith(_DESERIALIZED) else name for name in meta.type_names
    ]
    properties: dict[str, Any] = {}
    for prop in [*meta.adapted_properties, *meta.extended_properties]:
        properties[prop.name] = to_plain(prop.get_value(value))
    return seam.PSObject(type_names=type_names, properties=properties, to_string=meta.to_string)


def display_string(value: Any) -> str:
    """What PowerShell shows for a value converted to a string (used for ToString of custom objects)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, seam.PSObject):
        return value.to_string if value.to_string is not None else _derived_string(value)
    if isinstance(value, list):
        return " ".join(display_string(item) for item in value)
    if isinstance(value, dict):
        return "System.Collections.Hashtable"
    return str(value)


def _derived_string(value: seam.PSObject) -> str:
    if not value.type_names or value.type_names[0] == CUSTOM_OBJECT_TYPE:
        pairs = "; ".join(f"{name}={display_string(item)}" for name, item in value.properties.items())
        return f"@{{{pairs}}}"
    return value.type_names[0]


def to_clixml_object(value: Any) -> Any:
    """A seam value -> something psrpcore serializes the way PowerShell would."""
    if isinstance(value, seam.SecureString):
        return PSSecureString(str(value))  # encrypted with the pool's session key when serialized
    if isinstance(value, seam.Char):
        return PSChar(str(value))
    if isinstance(value, seam.PSObject) and value.type_names[:1] == ["System.ConsoleColor"]:
        return ConsoleColor(int(value.get("value__", 0)))  # <Obj> with the enum's type names, name and Int32
    if isinstance(value, seam.PSObject):
        obj = CoreObject()
        obj.PSObject.type_names = list(value.type_names) or [CUSTOM_OBJECT_TYPE, "System.Object"]
        is_custom = obj.PSObject.type_names[0] == CUSTOM_OBJECT_TYPE
        for name, item in value.properties.items():
            converted = to_clixml_object(item)
            if is_custom or name in value.extended:
                add_note_property(obj, name, converted)
            else:
                # CIM instances and other .NET objects carry their properties as adapted properties (<Props>).
                obj.PSObject.adapted_properties.append(PSNoteProperty(name, converted))
        obj.PSObject.to_string = display_string(value)
        return obj
    if isinstance(value, list):
        array = PSList(to_clixml_object(item) for item in value)
        array.PSObject.type_names = list(_ARRAY_TYPE_NAMES)  # a PowerShell array, not an ArrayList
        return array
    if isinstance(value, dict):
        return {key: to_clixml_object(item) for key, item in value.items()}
    if isinstance(value, float):
        return PSDouble(value)  # [double], as PowerShell computes; psrpcore would write a float as [single]
    return value


def _category(name: str) -> ErrorCategory:
    try:
        return ErrorCategory[name]
    except KeyError:
        return ErrorCategory.NotSpecified


def error_record(record: seam.ErrorRecord) -> ErrorRecord:
    """A seam ErrorRecord -> psrpcore's, which serializes with the flattened ErrorCategory_* properties."""
    exception = NETException(
        Message=record.message, HResult=record.hresult if record.hresult is not None else -2146233087
    )
    exception_names = [record.exception_type]
    # PowerShell's own exceptions derive from RuntimeException; a catch of it sees them all
    if record.exception_type != _RUNTIME_EXCEPTION and "Management.Automation" in record.exception_type:
        exception_names.append(_RUNTIME_EXCEPTION)
    exception_names.extend(["System.SystemException", "System.Exception", "System.Object"])
    exception.PSObject.type_names = exception_names
    exception.PSObject.to_string = f"{record.exception_type}: {record.message}"
    target = record.target_object
    category = ErrorCategoryInfo(
        Category=_category(record.category),
        Activity=record.activity,
        Reason=record.exception_type.rsplit(".", 1)[-1],
        TargetName=display_string(target) if target is not None else None,
        TargetType=_target_type(target),
    )
    result = ErrorRecord(
        Exception=exception,
        CategoryInfo=category,
        TargetObject=to_clixml_object(target),
        FullyQualifiedErrorId=record.fully_qualified_error_id,
        ScriptStackTrace=record.script_stack_trace,
    )
    result.PSObject.to_string = record.message
    return result


def _target_type(target: Any) -> str | None:
    if target is None:
        return None
    if isinstance(target, seam.PSObject):
        return target.type_names[0] if target.type_names else "System.Management.Automation.PSCustomObject"
    return {
        str: "String",
        int: "Int32",
        bool: "Boolean",
        float: "Double",
        list: "Object[]",
        dict: "Hashtable",
    }.get(type(target), type(target).__name__)


def informational_record(type_name: str, message: str) -> CoreObject:
    """A warning/verbose/debug record with its display string, as PowerShell serializes it."""
    obj = CoreObject()
    obj.PSObject.type_names = [
        f"System.Management.Automation.{type_name}",
        "System.Management.Automation.InformationalRecord",
        "System.Object",
    ]
    add_note_property(obj, "InformationalRecord_Message", message)
    add_note_property(obj, "InformationalRecord_SerializeInvocationInfo", False)
    obj.PSObject.to_string = message
    return obj
