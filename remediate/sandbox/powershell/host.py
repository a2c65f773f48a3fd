"""$host in a remote session: the server's InternalHost, whose UI forwards to the client's host.

A remote pipeline's $host is an InternalHost over the ServerRemoteHost. $host.UI methods become PSRP host calls
to the client's host (ServerRemoteHostUserInterface), answered or not (MS-PSRP 2.2.3.17 method identifiers);
the debug, verbose and warning lines also go to their streams (InternalHostUserInterface). A client that offered
no host UI (HostInfo _isHostUINull) has writes dropped and reads fail with HostFunctionNotImplemented. The raw UI
($host.UI.RawUI) is not emulated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from remediate.sandbox.powershell.errors import NotEmulated, PSRuntimeError, runtime_record
from remediate.sandbox.powershell.values import (
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
NEW_OBJECT_TYPES = {
    (_AUTOMATION + "progressrecord").lower(): ({3}, _progress_record),
    (_AUTOMATION + "host.fielddescription").lower(): ({1}, _field_description),
    (_AUTOMATION + "host.choicedescription").lower(): ({1, 2}, _choice_description),
}


def new_object(type_name: str, arguments: list[Any], line: int) -> PSObject:
    constructor = NEW_OBJECT_TYPES.get(type_name.lower())
    if constructor is None or len(arguments) not in constructor[0]:
        raise NotEmulated(f"New-Object -TypeName {type_name} with {len(arguments)} argument(s)", line)
    return constructor[1](arguments)
