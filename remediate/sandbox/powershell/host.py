"""$host in a remote session: the server's InternalHost, whose UI forwards to the client's host.

A remote pipeline's $host is an InternalHost over the ServerRemoteHost. $host.UI methods become PSRP host calls
to the client's host (ServerRemoteHostUserInterface), answered or not (MS-PSRP 2.2.3.17 method identifiers);
the debug, verbose and warning lines also go to their streams (InternalHostUserInterface). A client that offered
no host UI (HostInfo _isHostUINull) has writes dropped and reads fail with HostFunctionNotImplemented.
$host.UI.RawUI reads its properties from the HostDefaultData the client sent (ServerRemoteHostRawUserInterface);
setting one keeps the new value and tells the client's host; ReadKey, FlushInputBuffer, SetBufferContents and
ScrollBufferContents are host calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from remediate.sandbox.powershell.errors import NotEmulated, PSRuntimeError, runtime_record
from remediate.sandbox.powershell.values import (
    Array2D,
    EnumValue,
    Hashtable,
    as_list,
    from_seam,
    to_int32,
    to_seam,
    to_string,
)
from remediate.sandbox.seam import ClientHost, ClientHostError, PSObject

if TYPE_CHECKING:
    from remediate.sandbox.powershell.evaluator import Evaluator

HOST_NAMESPACE = "System.Management.Automation.Internal.Host."
HOST_TYPE = HOST_NAMESPACE + "InternalHost"
UI_TYPE = HOST_NAMESPACE + "InternalHostUserInterface"
RAW_UI_TYPE = HOST_NAMESPACE + "InternalHostRawUserInterface"
_HOST_API = "System.Management.Automation.Host."
# CultureInfo facts of the languages a sandbox host runs in (.NET's CultureInfo for each name)
_CULTURES = {
    "en-US": (1033, "English (United States)", "eng", "ENU", "en"),
    "ja-JP": (1041, "Japanese (Japan)", "jpn", "JPN", "ja"),
}
# PSCredentialTypes.Default and PSCredentialUIOptions.Default: what PromptForCredential with four arguments passes
_CREDENTIAL_TYPES_DEFAULT = 3
_CREDENTIAL_OPTIONS_DEFAULT = 1


def culture_info(name: str) -> PSObject:
    """A CultureInfo as PowerShell serializes it (pypsrp's recorded exchange test_psrp_pshost_methods.yml)."""
    lcid, display, three, windows, two = _CULTURES.get(name, _CULTURES["en-US"])
    return PSObject(
        ["System.Globalization.CultureInfo", "System.Object"],
        {
            "LCID": lcid,
            "Name": name,
            "DisplayName": display,
            "IetfLanguageTag": name,
            "ThreeLetterISOLanguageName": three,
            "ThreeLetterWindowsLanguageName": windows,
            "TwoLetterISOLanguageName": two,
        },
        to_string=name,
    )


def remote_host(culture: str) -> PSObject:
    """$host in a remote session: the ServerRemoteHost behind an InternalHost."""
    return PSObject(
        [HOST_TYPE, "System.Management.Automation.Host.PSHost", "System.Object"],
        {
            "Name": "ServerRemoteHost",
            "Version": "1.0.0.0",
            "CurrentCulture": culture_info(culture),
            "CurrentUICulture": culture_info(culture),
            "UI": PSObject(
                [UI_TYPE, "System.Management.Automation.Host.PSHostUserInterface", "System.Object"],
                {},
                to_string=UI_TYPE,
            ),
        },
        to_string=HOST_TYPE,
    )


def _not_interactive() -> PSRuntimeError:
    """What InternalHostUserInterface throws for a read when the client's host has no UI."""
    return PSRuntimeError(
        runtime_record(
            "A command that prompts the user failed because the host program or the command type does not support "
            "user interaction. Try a host program that supports user interaction, such as the Windows PowerShell "
            "Console or Windows PowerShell ISE, and remove prompt-related commands from command types that do not "
            "support user interaction, such as Windows PowerShell workflows.",
            "HostFunctionNotImplemented",
            "NotImplemented",
            exception_type="System.Management.Automation.Host.HostException",
        )
    )


def _color(value: Any) -> int:
    return int(value) if isinstance(value, int) else to_int32(value)


def _ui_call(name: str, arguments: list[Any]) -> tuple[str, list[Any], bool] | None:
    """$host.UI.<name>(arguments) -> (host method, its arguments, whether it reads from the user), or None."""
    count = len(arguments)
    text = [to_string(argument) for argument in arguments]
    reads: dict[tuple[str, int], tuple[str, list[Any]]] = {
        ("readline", 0): ("ReadLine", []),
        ("readlineassecurestring", 0): ("ReadLineAsSecureString", []),
    }
    if (name, count) in reads:
        method, values = reads[(name, count)]
        return method, values, True
    writes: dict[tuple[str, int], tuple[str, list[Any]]] = {
        ("write", 1): ("Write1", text),
        ("writeline", 0): ("WriteLine1", []),
        ("writeline", 1): ("WriteLine2", text),
        ("writeerrorline", 1): ("WriteErrorLine", text),
        ("writedebugline", 1): ("WriteDebugLine", text),
        ("writeverboseline", 1): ("WriteVerboseLine", text),
        ("writewarningline", 1): ("WriteWarningLine", text),
    }
    if count == 3 and name in ("write", "writeline"):
        method = "Write2" if name == "write" else "WriteLine3"
        return method, [_color(arguments[0]), _color(arguments[1]), text[2]], False
    if (name, count) in writes:
        method, values = writes[(name, count)]
        return method, values, False
    if name == "writeprogress" and count == 2:
        return "WriteProgress", [int(to_seam(arguments[0])), to_seam(arguments[1])], False
    if name == "prompt" and count == 3:
        fields = [to_seam(field) for field in as_list(arguments[2])]
        return "Prompt", [text[0], text[1], fields], True
    if name == "promptforcredential" and count in (4, 6):
        kinds = [to_int32(arguments[4]), to_int32(arguments[5])] if count == 6 else [
            _CREDENTIAL_TYPES_DEFAULT, _CREDENTIAL_OPTIONS_DEFAULT]  # fmt: skip
        return "PromptForCredential2", [*text[:4], *kinds], True
    if name == "promptforchoice" and count == 4:
        choices = [to_seam(choice) for choice in as_list(arguments[2])]
        return "PromptForChoice", [text[0], text[1], choices, to_int32(arguments[3])], True
    return None


def call_ui_method(evaluator: Evaluator, client: ClientHost | None, name: str, arguments: list[Any], line: int) -> Any:
    """$host.UI.<name>(...): a host call to the client's host; a void method writes nothing."""
    call = _ui_call(name.lower(), arguments)
    if call is None:
        raise NotEmulated(f"the host method {UI_TYPE}.{name}() with {len(arguments)} argument(s)", line)
    method, values, reads = call
    # InternalHostUserInterface writes these lines to their streams as well as to the host
    if method == "WriteDebugLine":
        evaluator.outcome.debug.append(values[0])
    elif method == "WriteVerboseLine":
        evaluator.outcome.verbose.append(values[0])
    elif method == "WriteWarningLine":
        evaluator.outcome.warnings.append(values[0])
    if client is None or not client.has_ui:
        if reads:
            raise _not_interactive()
        return []
    try:
        answer = client.call(method, values)
    except ClientHostError as error:
        raise PSRuntimeError(error.record) from None
    if not reads:
        return []
    if method == "Prompt":
        return Hashtable((key, from_seam(value)) for key, value in (answer or {}).items())
    return from_seam(answer)


# --- the host API's types a script builds for $host.UI calls ----------------------------------------------

# [System.ConsoleColor]::Name, by value
CONSOLE_COLORS = (
    "Black", "DarkBlue", "DarkGreen", "DarkCyan", "DarkRed", "DarkMagenta", "DarkYellow", "Gray",
    "DarkGray", "Blue", "Green", "Cyan", "Red", "Magenta", "Yellow", "White",
)  # fmt: skip
ENUMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "system.consolecolor": ("System.ConsoleColor", CONSOLE_COLORS),
    "consolecolor": ("System.ConsoleColor", CONSOLE_COLORS),
}


def enum_value(type_name: str, member: str) -> EnumValue | None:
    """[Type]::Member of an emulated enum, or None."""
    found = ENUMS.get(type_name.lower())
    if found is None:
        return None
    full_name, names = found
    lowered = [name.lower() for name in names]
    if member.lower() not in lowered:
        return None
    return EnumValue(full_name, names, lowered.index(member.lower()))


_AUTOMATION = "System.Management.Automation."
_STRING_ASSEMBLY = "System.String, mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089"


def _progress_record(arguments: list[Any]) -> PSObject:
    activity_id, activity, status = arguments
    return PSObject(
        [_AUTOMATION + "ProgressRecord", "System.Object"],
        {
            "ActivityId": to_int32(activity_id),
            "ParentActivityId": -1,
            "Activity": to_string(activity),
            "StatusDescription": to_string(status),
            "CurrentOperation": None,
            "PercentComplete": -1,
            "SecondsRemaining": -1,
            "RecordType": "Processing",
        },
    )


def _field_description(arguments: list[Any]) -> PSObject:
    """A FieldDescription; its type is a string unless set (what Windows sends in a Prompt host call: pypsrp's
    recorded exchange test_psrp_pshost_ui_mocked_methods.yml)."""
    return PSObject(
        [_AUTOMATION + "Host.FieldDescription", "System.Object"],
        {
            "Name": to_string(arguments[0]),
            "Label": "",
            "ParameterTypeName": "String",
            "ParameterTypeFullName": "System.String",
            "ParameterAssemblyFullName": _STRING_ASSEMBLY,
            "HelpMessage": "",
            "IsMandatory": True,
            "DefaultValue": None,
            "Attributes": [],
        },
        to_string=_AUTOMATION + "Host.FieldDescription",
    )


def _choice_description(arguments: list[Any]) -> PSObject:
    return PSObject(
        [_AUTOMATION + "Host.ChoiceDescription", "System.Object"],
        {"Label": to_string(arguments[0]), "HelpMessage": to_string(arguments[1]) if len(arguments) > 1 else ""},
        to_string=_AUTOMATION + "Host.ChoiceDescription",
    )


# New-Object -TypeName <full name> -ArgumentList ...: the constructors emulated, by argument count
NEW_OBJECT_TYPES: dict[str, tuple[set[int], Callable[[list[Any]], Any]]] = {
    (_AUTOMATION + "progressrecord").lower(): ({3}, _progress_record),
    (_AUTOMATION + "host.fielddescription").lower(): ({1}, _field_description),
    (_AUTOMATION + "host.choicedescription").lower(): ({1, 2}, _choice_description),
}


def new_object(type_name: str, arguments: list[Any], line: int) -> Any:
    constructor = NEW_OBJECT_TYPES.get(type_name.lower())
    if constructor is None or len(arguments) not in constructor[0]:
        raise NotEmulated(f"New-Object -TypeName {type_name} with {len(arguments)} argument(s)", line)
    return constructor[1](arguments)


# --- $host.UI.RawUI --------------------------------------------------------------------------------------------

RAW_UI_PROPERTIES = (
    "ForegroundColor", "BackgroundColor", "CursorPosition", "WindowPosition", "CursorSize", "BufferSize",
    "WindowSize", "MaxWindowSize", "MaxPhysicalWindowSize", "WindowTitle",
)  # fmt: skip
_READ_ONLY = ("MaxWindowSize", "MaxPhysicalWindowSize")
_CONTROL_KEY_STATES = (
    "RightAltPressed", "LeftAltPressed", "RightCtrlPressed", "LeftCtrlPressed", "ShiftPressed", "NumLockOn",
    "ScrollLockOn", "CapsLockOn", "EnhancedKey",
)  # fmt: skip
# ReadKeyOptions.IncludeKeyDown: what ReadKey() without options asks for
_INCLUDE_KEY_DOWN = 4


def raw_ui() -> PSObject:
    return PSObject(
        [RAW_UI_TYPE, _HOST_API + "PSHostRawUserInterface", "System.Object"], {}, to_string=RAW_UI_TYPE
    )


def _raw_defaults(client: ClientHost | None) -> dict[str, Any]:
    defaults = client.raw_ui if client is not None and client.has_ui else None
    if defaults is None:
        raise _not_interactive()
    return defaults


def _property_name(name: str, line: int) -> str:
    for known in RAW_UI_PROPERTIES:
        if known.lower() == name.lower():
            return known
    raise NotEmulated(f"the property $host.UI.RawUI.{name}", line)


def _in_language(name: str, value: Any) -> Any:
    if name in ("ForegroundColor", "BackgroundColor") and value is not None:
        return EnumValue("System.ConsoleColor", CONSOLE_COLORS, int(value))
    return from_seam(value)


def get_raw_ui_property(client: ClientHost | None, name: str, line: int) -> Any:
    """A RawUI property: the client's HostDefaultData, as the server keeps it."""
    known = _property_name(name, line)
    return _in_language(known, _raw_defaults(client).get(known))


def set_raw_ui_property(client: ClientHost | None, name: str, value: Any, line: int) -> None:
    known = _property_name(name, line)
    if known in _READ_ONLY:
        raise PSRuntimeError(
            runtime_record(f"'{known}' is a ReadOnly property.", "PropertyAssignmentException", "InvalidOperation")
        )
    defaults = _raw_defaults(client)
    if known in ("ForegroundColor", "BackgroundColor"):
        plain: Any = _color(value)
    elif known == "CursorSize":
        plain = to_int32(value)
    elif known == "WindowTitle":
        plain = to_string(value)
    else:
        kind = "Coordinates" if known.endswith("Position") else "Size"
        if not (isinstance(value, PSObject) and value.type_names[0] == _HOST_API + kind):
            raise NotEmulated(f"setting $host.UI.RawUI.{known} to a value that is not a {kind}", line)
        plain = to_seam(value)
    defaults[known] = plain
    assert client is not None
    client.call("Set" + known, [plain])


def _key_info(answer: Any) -> PSObject:
    """The KeyInfo ReadKey returns, as PowerShell shows it: "65,a,CapsLockOn,True"."""
    fields = answer.properties if isinstance(answer, PSObject) else {}
    state = int(fields.get("ControlKeyState") or 0)
    names = [name for bit, name in enumerate(_CONTROL_KEY_STATES) if state & (1 << bit)]
    state_text = ", ".join(names) if names else "0"
    code, character, down = fields.get("VirtualKeyCode"), fields.get("Character"), bool(fields.get("KeyDown"))
    return PSObject(
        [_HOST_API + "KeyInfo", "System.ValueType", "System.Object"],
        {"VirtualKeyCode": code, "Character": character, "ControlKeyState": state_text, "KeyDown": down},
        to_string=f"{code},{character},{state_text},{down}",
    )


def call_raw_ui_method(client: ClientHost | None, name: str, arguments: list[Any], line: int) -> Any:
    lowered, count = name.lower(), len(arguments)
    plain = [to_seam(argument) for argument in arguments]
    if lowered == "readkey" and count <= 1:
        options = to_int32(arguments[0]) if arguments else _INCLUDE_KEY_DOWN
        _raw_defaults(client)
        assert client is not None
        return _key_info(client.call("ReadKey", [options]))
    if lowered == "flushinputbuffer" and count == 0:
        method = "FlushInputBuffer"
    elif lowered == "setbuffercontents" and count == 2:
        method = "SetBufferContents2" if isinstance(arguments[1], Array2D) else "SetBufferContents1"
    elif lowered == "scrollbuffercontents" and count == 4:
        method = "ScrollBufferContents"
    else:
        raise NotEmulated(f"the host method {RAW_UI_TYPE}.{name}() with {count} argument(s)", line)
    _raw_defaults(client)
    assert client is not None
    client.call(method, plain)
    return []


def _coordinates(arguments: list[Any]) -> PSObject:
    x, y = (to_int32(argument) for argument in arguments)
    return PSObject([_HOST_API + "Coordinates", "System.ValueType", "System.Object"], {"X": x, "Y": y},
                    to_string=f"{x},{y}")  # fmt: skip


def _size(arguments: list[Any]) -> PSObject:
    width, height = (to_int32(argument) for argument in arguments)
    return PSObject([_HOST_API + "Size", "System.ValueType", "System.Object"], {"Width": width, "Height": height},
                    to_string=f"{width},{height}")  # fmt: skip


def _rectangle(arguments: list[Any]) -> PSObject:
    left, top, right, bottom = (to_int32(argument) for argument in arguments)
    return PSObject(
        [_HOST_API + "Rectangle", "System.ValueType", "System.Object"],
        {"Left": left, "Top": top, "Right": right, "Bottom": bottom},
        to_string=f"{left},{top} ; {right},{bottom}",
    )


def _buffer_cell(arguments: list[Any]) -> PSObject:
    character, foreground, background, kind = arguments
    text = to_string(character)
    return PSObject(
        [_HOST_API + "BufferCell", "System.ValueType", "System.Object"],
        {
            "Character": text[:1],
            "ForegroundColor": _color(foreground),
            "BackgroundColor": _color(background),
            "BufferCellType": _color(kind),
        },
        to_string=f"{text[:1]} {_color(foreground)} {_color(background)} {_color(kind)}",
    )


def _buffer_cells(arguments: list[Any]) -> Array2D:
    rows, columns = (to_int32(argument) for argument in arguments)
    return Array2D(_HOST_API + "BufferCell", rows, columns, lambda: _buffer_cell(["\0", 0, 0, 0]))


NEW_OBJECT_TYPES.update(
    {
        (_HOST_API + "coordinates").lower(): ({2}, _coordinates),
        (_HOST_API + "size").lower(): ({2}, _size),
        (_HOST_API + "rectangle").lower(): ({4}, _rectangle),
        (_HOST_API + "buffercell").lower(): ({4}, _buffer_cell),
        (_HOST_API + "buffercell[,]").lower(): ({2}, _buffer_cells),
    }
)
ENUMS.update(
    {
        (_HOST_API + "buffercelltype").lower(): (_HOST_API + "BufferCellType", ("Complete", "Leading", "Trailing")),
    }
)
