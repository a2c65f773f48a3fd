"""Parameter binding: a command's evaluated arguments -> named values, as PowerShell binds them.

Full parameter names only (PowerShell would accept an unambiguous prefix; the sandbox does not emulate that),
switches take no value unless written `-Switch:$value`, and the common parameters -ErrorAction,
-WarningAction and -Verbose are accepted by every cmdlet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from remediate.sandbox.powershell.errors import (
    NotEmulated,
    PSRuntimeError,
    missing_argument,
    parameter_not_found,
    positional_not_found,
)
from remediate.sandbox.powershell.values import to_string
from remediate.sandbox.seam import ErrorRecord

NO_VALUE = object()

ACTION_PREFERENCES = {
    "stop": "Stop",
    "silentlycontinue": "SilentlyContinue",
    "continue": "Continue",
    "ignore": "Ignore",
}
COMMON_PARAMETERS = ("ErrorAction", "WarningAction")
COMMON_SWITCHES = ("Verbose",)


@dataclass
class ParameterName:
    """`-Name` as written, with its value when written `-Name:value` (or sent by name over PSRP)."""

    name: str
    value: Any = NO_VALUE


@dataclass(frozen=True)
class CommandShape:
    name: str
    parameters: tuple[str, ...]
    switches: tuple[str, ...] = ()
    positional: tuple[str, ...] = ()  # parameters that take positional arguments, in order
    type_name: str | None = None  # the .NET class, for FullyQualifiedErrorId
    parameter_types: dict[str, str] = field(default_factory=dict)  # for "Missing an argument" messages
    remaining: str | None = None  # the parameter that takes every positional argument left (a list)


@dataclass
class Bound:
    named: dict[str, Any]
    error_action: str | None = None  # "Stop", "SilentlyContinue", "Continue", "Ignore"
    warning_action: str | None = None
    verbose: bool | None = None


def _canonical(shape: CommandShape, written: str) -> str:
    candidate = _names(shape.parameters, shape.switches).get(written.lower())
    if candidate is None:
        raise parameter_not_found(shape.name, written, shape.type_name)
    return candidate


@lru_cache(maxsize=512)
def _names(parameters: tuple[str, ...], switches: tuple[str, ...]) -> Mapping[str, str]:
    """A command's parameter names by their lower case, the first of the same name winning (parameters, switches,
    then the common ones); made once per shape, read-only."""
    names: dict[str, str] = {}
    for candidate in (*parameters, *switches, *COMMON_PARAMETERS, *COMMON_SWITCHES):
        names.setdefault(candidate.lower(), candidate)
    return MappingProxyType(names)


def action_preference(value: Any, parameter: str) -> str:
    text = to_string(value).strip().lower()
    if text in ACTION_PREFERENCES:
        return ACTION_PREFERENCES[text]
    raise PSRuntimeError(
        ErrorRecord(
            message=(
                f"Cannot bind parameter '{parameter}'. Cannot convert value \"{to_string(value)}\" to type "
                '"System.Management.Automation.ActionPreference". Error: "Unable to match the identifier '
                f"name {to_string(value)} to a valid enumerator name. Specify one of the following "
                'enumerator names and try again: SilentlyContinue, Stop, Continue, Inquire, Ignore, Suspend"'
            ),
            fully_qualified_error_id="CannotConvertArgumentNoMessage",
            category="InvalidArgument",
            exception_type="System.Management.Automation.ParameterBindingException",
        )
    )


def _already_bound(shape: CommandShape, canonical: str) -> PSRuntimeError:
    return PSRuntimeError(
        ErrorRecord(
            message=f"Cannot bind parameter because parameter '{canonical}' is specified more than once. "
            "To provide multiple values to parameters that can accept multiple values, use the array "
            'syntax. For example, "-parameter value1,value2,value3".',
            fully_qualified_error_id=f"ParameterAlreadyBound,{shape.type_name or shape.name}",
            category="InvalidArgument",
            exception_type="System.Management.Automation.ParameterBindingException",
        )
    )


def bind(shape: CommandShape, arguments: list[Any], line: int) -> Bound:
    """Bind evaluated arguments (ParameterName markers and values, as written) to a command's parameters."""
    named: dict[str, Any] = {}
    positional: list[Any] = []
    bound = Bound(named)
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        index += 1
        if not isinstance(argument, ParameterName):
            positional.append(argument)
            continue
        canonical = _canonical(shape, argument.name)
        if canonical in named or (canonical == "ErrorAction" and bound.error_action is not None):
            raise _already_bound(shape, canonical)
        if canonical in shape.switches or canonical in COMMON_SWITCHES:
            value: Any = (
                True if argument.value is NO_VALUE or argument.value is None else bool(argument.value)
            )
        elif argument.value is not NO_VALUE:
            value = argument.value
        elif index < len(arguments) and not isinstance(arguments[index], ParameterName):
            value = arguments[index]
            index += 1
        else:
            raise missing_argument(
                shape.name, canonical, shape.parameter_types.get(canonical, "System.Object"), shape.type_name
            )
        if canonical == "ErrorAction":
            bound.error_action = action_preference(value, canonical)
        elif canonical == "WarningAction":
            bound.warning_action = action_preference(value, canonical)
        elif canonical == "Verbose":
            bound.verbose = bool(value)
        else:
            named[canonical] = value
    free = [name for name in shape.positional if name not in named]
    if positional and not shape.positional:
        raise NotEmulated(
            f"a positional argument ({to_string(positional[0])!r}) to {shape.name}",
            line,
        )
    for at, value in enumerate(positional):
        if free and free[0] == shape.remaining:
            named[free.pop(0)] = positional[at:]
            break
        if not free:
            raise positional_not_found(shape.name, to_string(value), shape.type_name)
        named[free.pop(0)] = value
    return bound
