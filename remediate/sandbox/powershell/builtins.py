"""The cmdlets the interpreter owns: the language-level ones every host has.

Where-Object, ForEach-Object, Select-Object, ConvertTo-Json, Out-String, Write-Output, Write-Error,
Write-Warning, Write-Verbose, Write-Host, Get-Location. Every other name is the CommandSet's (the Windows
model's) business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remediate.sandbox.powershell import nodes as n
from remediate.sandbox.powershell.binding import Bound, CommandShape
from remediate.sandbox.powershell.errors import (
    NotEmulated,
    PSRuntimeError,
    runtime_record,
    write_error_record,
)
from remediate.sandbox.powershell.formatting import out_string
from remediate.sandbox.powershell.host import new_object
from remediate.sandbox.powershell.json import convert_to_json
from remediate.sandbox.powershell.members import get_member
from remediate.sandbox.powershell.values import (
    as_list,
    collect,
    is_true,
    to_int32,
    to_string,
    unroll,
)
from remediate.sandbox.seam import PSObject, SecureString

if TYPE_CHECKING:
    from remediate.sandbox.powershell.evaluator import Evaluator


@dataclass
class Builtin:
    shape: CommandShape
    run: Callable[[Evaluator, Bound, list[Any], int], list[Any]]


def _script_block(value: Any, command: str, line: int) -> n.ScriptBlock:
    if not isinstance(value, n.ScriptBlock):
        raise NotEmulated(f"{command} without a script block", line)
    return value


def where_object(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    block = _script_block(bound.named.get("FilterScript"), "Where-Object", line)
    return [item for item in items if is_true(collect(evaluator.run_with_item(block, item)))]


def foreach_object(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    block = _script_block(bound.named.get("Process"), "ForEach-Object", line)
    output: list[Any] = []
    for item in items:
        output.extend(evaluator.run_with_item(block, item))
    return output


def select_object(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    named = bound.named
    selected = items
    if "ExpandProperty" in named:
        selected = _expand_property(evaluator, bound, items, to_string(named["ExpandProperty"]))
    elif "Property" in named:
        selected = _select_properties(items, [to_string(name) for name in as_list(named["Property"])])
    if "First" in named:
        selected = selected[: max(to_int32(named["First"]), 0)]
    if "Last" in named:
        count = max(to_int32(named["Last"]), 0)
        selected = selected[-count:] if count else []
    return list(selected)


def _expand_property(evaluator: Evaluator, bound: Bound, items: list[Any], name: str) -> list[Any]:
    """-ExpandProperty: the property's values, unrolled; an item without it is a non-terminating error."""
    expanded: list[Any] = []
    for item in items:
        if isinstance(item, PSObject) and item.has(name):
            expanded.extend(unroll(item.get(name)))
        else:
            evaluator.write_error(
                runtime_record(
                    f'Property "{name}" cannot be found.',
                    "ExpandPropertyNotFound,Microsoft.PowerShell.Commands.SelectObjectCommand",
                    "InvalidArgument",
                    exception_type="System.Management.Automation.PSArgumentException",
                    target=item,
                ),
                bound.error_action,
            )
    return expanded


def _select_properties(items: list[Any], names: list[str]) -> list[Any]:
    """-Property: a new object per item with just those properties, typed Selected.<the item's type>."""
    reshaped: list[Any] = []
    for item in items:
        source = item.type_names[0] if isinstance(item, PSObject) and item.type_names else "System.Object"
        properties = {
            name: get_member(item, name) if isinstance(item, PSObject) else None for name in names
        }
        reshaped.append(
            PSObject(
                type_names=[
                    f"Selected.{source}",
                    "System.Management.Automation.PSCustomObject",
                    "System.Object",
                ],
                properties=properties,
            )
        )
    return reshaped


def convert_to_json_cmdlet(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    inputs = items
    if "InputObject" in bound.named:
        inputs = [bound.named["InputObject"]]
    depth = to_int32(bound.named.get("Depth", 2))
    if not 0 <= depth <= 100:
        raise _depth_out_of_range(depth)
    text = convert_to_json(inputs, depth, bool(bound.named.get("Compress", False)))
    return [] if text is None else [text]


def _depth_out_of_range(depth: int) -> PSRuntimeError:
    """ConvertTo-Json's [ValidateRange(0, 100)] on -Depth, as the parameter binder reports it."""
    low = depth < 0
    problem = "less than the minimum allowed range of 0" if low else "greater than the maximum allowed range of 100"
    wanted = "greater than or equal to 0" if low else "less than or equal to 100"
    return PSRuntimeError(
        runtime_record(
            f"Cannot validate argument on parameter 'Depth'. The {depth} argument is {problem}. "
            f"Supply an argument that is {wanted} and then try the command again.",
            "ParameterArgumentValidationError,Microsoft.PowerShell.Commands.ConvertToJsonCommand",
            "InvalidData",
            exception_type="System.Management.Automation.ParameterBindingValidationException",
        )
    )


def out_string_cmdlet(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    inputs = items
    if "InputObject" in bound.named:
        inputs = list(unroll(bound.named["InputObject"]))
    return [out_string(inputs)]


def write_output(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    if "InputObject" in bound.named:
        return list(unroll(bound.named["InputObject"]))
    return list(items)


def _message(bound: Bound, command: str, line: int) -> str:
    if "Message" not in bound.named:
        raise NotEmulated(f"{command} without -Message", line)
    return to_string(bound.named["Message"])


def write_error(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    evaluator.write_error(write_error_record(_message(bound, "Write-Error", line)), bound.error_action)
    return []


def write_warning(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    evaluator.write_warning(_message(bound, "Write-Warning", line), bound.warning_action)
    return []


def write_verbose(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    evaluator.write_verbose(_message(bound, "Write-Verbose", line), bound.verbose)
    return []


def write_debug(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    evaluator.write_debug(_message(bound, "Write-Debug", line))
    return []


def write_host(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    """Write-Host: to the host (a console line; over PSRP an information record, as Windows PowerShell 5.1)."""
    objects = bound.named.get("Object", items)
    separator = to_string(bound.named.get("Separator", " "))
    text = separator.join(to_string(item) for item in (objects if isinstance(objects, list) else [objects]))
    evaluator.write_host(text, newline=not bound.named.get("NoNewline"))
    return []


def get_location(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    path = evaluator.location
    return [
        PSObject(
            ["System.Management.Automation.PathInfo", "System.Object"],
            {
                "Drive": path[:1],
                "Provider": "Microsoft.PowerShell.Core\\FileSystem",
                "ProviderPath": path,
                "Path": path,
            },
            to_string=path,
        )
    ]


def set_variable(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    name = to_string(bound.named.get("Name"))
    value = bound.named.get("Value", items[-1] if items else None)
    evaluator.variables[name.lower()] = value
    return []


def _variable_not_found(name: str) -> PSRuntimeError:
    return PSRuntimeError(
        runtime_record(
            f"Cannot find a variable with the name '{name}'.",
            "VariableNotFound,Microsoft.PowerShell.Commands.GetVariableCommand",
            "ObjectNotFound",
            exception_type="System.Management.Automation.ItemNotFoundException",
            target=name,
        )
    )


def get_variable(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    name = to_string(bound.named.get("Name"))
    if any(char in name for char in "*?["):
        raise NotEmulated(f"Get-Variable with the wildcard name {name!r}", line)
    if name.lower() not in evaluator.variables:
        evaluator.write_error(_variable_not_found(name).record, bound.error_action)
        return []
    value = evaluator.variables[name.lower()]
    if bound.named.get("ValueOnly"):
        return [value]
    return [
        PSObject(
            ["System.Management.Automation.PSVariable", "System.Object"],
            {"Name": name, "Description": "", "Value": value, "Visibility": "Public", "Options": "None"},
            to_string="System.Management.Automation.PSVariable",
        )
    ]


def new_item(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    """New-Item on the Env: drive sets an environment variable; other drives are not emulated."""
    path = to_string(bound.named.get("Path", "")).rstrip("\\/")
    if path.lower() not in ("env:", "env:\\"):
        raise NotEmulated(f"New-Item -Path {path!r} (only the Env: drive is emulated)", line)
    name = to_string(bound.named.get("Name", ""))
    value = to_string(bound.named.get("Value", ""))
    if evaluator.env.lookup(name) is not None and not bound.named.get("Force"):
        raise PSRuntimeError(
            runtime_record(
                "The item at path 'env:' already exists.",
                "NewItemIOError,Microsoft.PowerShell.Commands.NewItemCommand",
                "WriteError",
                exception_type="System.IO.IOException",
            )
        )
    evaluator.env.assign(name, value)
    entry = {"Name": name, "Key": name, "Value": value}
    type_names = ["System.Collections.DictionaryEntry", "System.ValueType", "System.Object"]
    return [PSObject(type_names, entry, to_string="System.Collections.DictionaryEntry")]


def convert_to_secure_string(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    """ConvertTo-SecureString -String <text> -AsPlainText -Force; an encrypted standard string is not emulated."""
    if not bound.named.get("AsPlainText"):
        raise NotEmulated("ConvertTo-SecureString of an encrypted standard string (DPAPI)", line)
    if not bound.named.get("Force"):
        raise PSRuntimeError(
            runtime_record(
                "The system cannot protect plain text input. To suppress this warning and convert the plain text "
                "to a SecureString, reissue the command specifying the Force parameter. For more information ,type: "
                "get-help ConvertTo-SecureString.",
                "ImportSecureString_InvalidArgument,Microsoft.PowerShell.Commands.ConvertToSecureStringCommand",
                "InvalidArgument",
                exception_type="System.ArgumentException",
            )
        )
    return [SecureString(to_string(bound.named.get("String", items[-1] if items else "")))]


def new_object_cmdlet(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    """New-Object of a host API type (the parser lets no other through)."""
    arguments = as_list(bound.named.get("ArgumentList")) if "ArgumentList" in bound.named else []
    return [new_object(to_string(bound.named.get("TypeName")), arguments, line)]


def out_null(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    return []


def get_history(evaluator: Evaluator, bound: Bound, items: list[Any], line: int) -> list[Any]:
    return list(evaluator.history)


def _builtin(
    name: str,
    parameters: tuple[str, ...],
    run: Callable[[Evaluator, Bound, list[Any], int], list[Any]],
    switches: tuple[str, ...] = (),
    positional: tuple[str, ...] = (),
    types: dict[str, str] | None = None,
    remaining: str | None = None,
) -> Builtin:
    type_name = f"Microsoft.PowerShell.Commands.{name.replace('-', '')}Command"
    return Builtin(
        CommandShape(name, parameters, switches, positional, type_name, types or {}, remaining), run
    )


BUILTINS: dict[str, Builtin] = {
    builtin.shape.name.lower(): builtin
    for builtin in (
        _builtin(
            "Where-Object",
            ("FilterScript",),
            where_object,
            positional=("FilterScript",),
            types={"FilterScript": "System.Management.Automation.ScriptBlock"},
        ),
        _builtin(
            "ForEach-Object",
            ("Process",),
            foreach_object,
            positional=("Process",),
            types={"Process": "System.Management.Automation.ScriptBlock[]"},
        ),
        _builtin(
            "Select-Object",
            ("First", "Last", "Property", "ExpandProperty"),
            select_object,
            types={
                "First": "System.Int32",
                "Last": "System.Int32",
                "Property": "System.Object[]",
                "ExpandProperty": "System.String",
            },
        ),
        _builtin(
            "ConvertTo-Json",
            ("Depth", "InputObject"),
            convert_to_json_cmdlet,
            switches=("Compress",),
            types={"Depth": "System.Int32", "InputObject": "System.Object"},
        ),
        _builtin(
            "Out-String",
            ("InputObject",),
            out_string_cmdlet,
            types={"InputObject": "System.Management.Automation.PSObject"},
        ),
        _builtin(
            "Write-Output",
            ("InputObject",),
            write_output,
            positional=("InputObject",),
            types={"InputObject": "System.Management.Automation.PSObject[]"},
        ),
        _builtin("Write-Error", ("Message",), write_error, positional=("Message",), types={"Message": "System.String"}),
        _builtin(
            "Write-Warning", ("Message",), write_warning, positional=("Message",), types={"Message": "System.String"}
        ),
        _builtin(
            "Write-Verbose", ("Message",), write_verbose, positional=("Message",), types={"Message": "System.String"}
        ),
        _builtin("Write-Debug", ("Message",), write_debug, positional=("Message",), types={"Message": "System.String"}),
        _builtin(
            "Write-Host",
            ("Object", "Separator", "ForegroundColor", "BackgroundColor"),
            write_host,
            switches=("NoNewline",),
            positional=("Object",),
            remaining="Object",
        ),
        _builtin("Get-Location", (), get_location),
        _builtin("Set-Variable", ("Name", "Value"), set_variable, positional=("Name", "Value")),
        _builtin("Get-Variable", ("Name",), get_variable, switches=("ValueOnly",), positional=("Name",)),
        _builtin(
            "New-Item", ("Path", "Name", "Value", "ItemType"), new_item, switches=("Force",), positional=("Path",)
        ),
        _builtin("Out-Null", ("InputObject",), out_null),
        _builtin(
            "New-Object", ("TypeName", "ArgumentList"), new_object_cmdlet, positional=("TypeName", "ArgumentList")
        ),
        _builtin(
            "ConvertTo-SecureString",
            ("String", "Key", "SecureKey"),
            convert_to_secure_string,
            switches=("AsPlainText", "Force"),
            positional=("String",),
        ),
        _builtin("Get-History", (), get_history),
    )
}
