"""The sandbox's PowerShell: runs a PSRP pipeline request (scripts and cmdlets) and reports its outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from remediate.sandbox.commands import CommandSet
from remediate.sandbox.powershell import nodes as n
from remediate.sandbox.powershell.binding import ParameterName
from remediate.sandbox.powershell.errors import (
    DialectError,
    PSRuntimeError,
    ScriptSyntaxError,
    parameter_not_found,
    positional_not_found,
)
from remediate.sandbox.powershell.evaluator import Evaluator
from remediate.sandbox.powershell.parser import parse_script
from remediate.sandbox.powershell.values import (
    from_seam,
    to_bool_parameter,
    to_hashtable,
    to_int32,
    to_seam,
    to_string,
    to_string_array,
)
from remediate.sandbox.seam import Command, ErrorRecord, PipelineOutcome, PipelineRequest

log = logging.getLogger(__name__)

_TYPE_NAMES = {
    "string": "System.String",
    "int": "System.Int32",
    "bool": "System.Boolean",
    "string[]": "System.String[]",
    "hashtable": "System.Collections.Hashtable",
}


def _string_parameter(value: Any) -> str:
    return to_string(value)


def _converter(type_name: str | None, parameter: str) -> Callable[[Any], Any] | None:
    if type_name == "string":
        return _string_parameter
    if type_name == "int":
        return to_int32
    if type_name == "bool":
        return lambda value: to_bool_parameter(value, parameter)
    if type_name == "string[]":
        return to_string_array
    if type_name == "hashtable":
        return lambda value: None if value is None else to_hashtable(value)
    return None


_UNBOUND_DEFAULTS: dict[str | None, Any] = {"string": "", "int": 0, "bool": False}


class Interpreter:
    """Runs the template dialect against one host's commands.

    One instance per host is enough: every run gets its own variables, so concurrent runs do not meet.
    """

    def __init__(self, commands: CommandSet, env: dict[str, str]) -> None:
        self.commands = commands
        self.env = env

    def run_script(self, text: str, parameters: dict[str, Any] | None = None) -> PipelineOutcome:
        command = Command(text=text, is_script=True, parameters=list((parameters or {}).items()))
        return self.run(PipelineRequest(commands=[command]))

    def run(self, request: PipelineRequest) -> PipelineOutcome:
        outcome = PipelineOutcome()
        evaluator = Evaluator(self.commands, dict(self.env), outcome)
        objects = [from_seam(item) for item in request.input]
        produced: list[Any] = []
        try:
            for command in request.commands:
                produced = []
                if command.is_script:
                    self._run_script(evaluator, command, produced)
                else:
                    produced = self._run_cmdlet(evaluator, command, objects)
                objects = produced
        except PSRuntimeError as error:
            outcome.state = "Failed"
            outcome.failure = error.record
        except (DialectError, ScriptSyntaxError) as error:
            outcome.state = "Failed"
            outcome.failure = error.record()
        except Exception as error:  # a defect here must fail the pipeline, not the server thread
            log.exception("interpreter failure")
            outcome.state = "Failed"
            outcome.failure = ErrorRecord(
                message=f"The sandbox interpreter failed: {type(error).__name__}: {error}",
                fully_qualified_error_id="SandboxInterpreterFailure",
                category="NotSpecified",
            )
        outcome.output = [to_seam(item) for item in produced]
        return outcome

    def _run_script(self, evaluator: Evaluator, command: Command, out: list[Any]) -> None:
        script = parse_script(command.text)
        self._bind_parameters(evaluator, script, command)
        evaluator.run_block(script.body, out)

    def _bind_parameters(self, evaluator: Evaluator, script: n.Script, command: Command) -> None:
        declarations = {declaration.name.lower(): declaration for declaration in script.parameters}
        bound: dict[str, Any] = {}
        positional: list[Any] = []
        for name, value in command.parameters:
            if name is None:
                positional.append(value)
                continue
            written = name[1:] if name.startswith("-") else name
            declaration = declarations.get(written.lower())
            if declaration is None:
                raise parameter_not_found("script", written, "script")
            bound[declaration.name.lower()] = from_seam(value)
        free = [declaration for declaration in script.parameters if declaration.name.lower() not in bound]
        for value in positional:
            if not free:
                raise positional_not_found("script", to_string(value), "script")
            bound[free.pop(0).name.lower()] = from_seam(value)
        for declaration in script.parameters:
            key = declaration.name.lower()
            convert = _converter(declaration.type_name, declaration.name)
            if key in bound:
                value = self._convert_argument(convert, bound[key], declaration)
            elif declaration.default is not None:
                value = evaluator.evaluate(declaration.default)
                value = convert(value) if convert is not None else value
            else:
                value = _UNBOUND_DEFAULTS.get(declaration.type_name)
            evaluator.variables[key] = value
            if convert is not None:
                evaluator.constraints[key] = convert

    @staticmethod
    def _convert_argument(
        convert: Callable[[Any], Any] | None, value: Any, declaration: n.ParameterDeclaration
    ) -> Any:
        if convert is None:
            return value
        try:
            return convert(value)
        except PSRuntimeError as error:
            if error.record.fully_qualified_error_id.startswith("ParameterArgumentTransformationError"):
                raise
            reason = error.record.message
            raise PSRuntimeError(
                ErrorRecord(
                    message=(
                        f"Cannot process argument transformation on parameter '{declaration.name}'. {reason}"
                    ),
                    fully_qualified_error_id=f"ParameterArgumentTransformationError,{declaration.name}",
                    category="InvalidData",
                    exception_type="System.Management.Automation.ParameterBindingArgumentTransformationException",
                )
            ) from None

    def _run_cmdlet(self, evaluator: Evaluator, command: Command, objects: list[Any]) -> list[Any]:
        arguments: list[Any] = []
        for name, value in command.parameters:
            if name is None:
                arguments.append(from_seam(value))
            else:
                arguments.append(ParameterName(name[1:] if name.startswith("-") else name, from_seam(value)))
        return evaluator.dispatch(command.text, True, arguments, objects, 1)
