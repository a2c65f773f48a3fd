"""The sandbox's PowerShell: runs a PSRP pipeline request (scripts and cmdlets) and reports its outcome.

Besides scripts and cmdlets it accepts the pipeline pypsrp's Client.execute_ps sends (execute_ps_script)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from remediate.sandbox.commands import CommandSet
from remediate.sandbox.powershell import nodes as n
from remediate.sandbox.powershell.binding import ParameterName
from remediate.sandbox.powershell.errors import (
    NotEmulated,
    PSRuntimeError,
    ScriptExit,
    ScriptSyntaxError,
    parameter_not_found,
    positional_not_found,
)
from remediate.sandbox.powershell.evaluator import Evaluator
from remediate.sandbox.powershell.formatting import out_string_stream
from remediate.sandbox.powershell.parser import parse_script
from remediate.sandbox.powershell.values import (
    Int64,
    from_seam,
    to_bool_parameter,
    to_hashtable,
    to_int32,
    to_seam,
    to_string,
    to_string_array,
)
from remediate.sandbox.seam import (
    Command,
    ErrorRecord,
    PipelineControl,
    PipelineOutcome,
    PipelineRequest,
    PipelineStopped,
    PSObject,
    RunspaceSession,
)

log = logging.getLogger(__name__)


def _converter(type_name: str | None, parameter: str) -> Callable[[Any], Any] | None:
    if type_name == "string":
        return to_string
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


@dataclass(frozen=True)
class ExecutePsScript:
    """The script inside a pipeline shaped the way pypsrp's Client.execute_ps sends one."""

    script: Command  # the Invoke-Expression text, as a script without parameters
    stream: bool  # piped to Out-String -Stream: the output becomes one string per line


def execute_ps_script(request: PipelineRequest) -> ExecutePsScript | None:
    """The script of `Invoke-Expression -Command <text>` [`| Out-String -Stream`] sent as PSRP commands, or None.

    Real PowerShell accepts this pipeline from any PSRP client, so the sandbox does too: the text then runs as a
    script under the same rules, which still fail what is not emulated loudly. Only this exact PSRP-level shape
    counts; Invoke-Expression written inside script text, or with any other parameter or follower, is not
    emulated.
    """
    if request.input or not 1 <= len(request.commands) <= 2:
        return None
    first = request.commands[0]
    if first.is_script or first.text.lower() != "invoke-expression" or len(first.parameters) != 1:
        return None
    name, text = first.parameters[0]
    if name is None or _bare(name).lower() != "command" or not isinstance(text, str):
        return None
    stream = len(request.commands) == 2
    if stream:
        second = request.commands[1]
        switches = [(_bare(name).lower() if name else None, value) for name, value in second.parameters]
        if second.is_script or second.text.lower() != "out-string":
            return None
        if switches not in ([("stream", None)], [("stream", True)]):
            return None
    return ExecutePsScript(Command(text=text, is_script=True), stream)


def _bare(parameter_name: str) -> str:
    return parameter_name[1:] if parameter_name.startswith("-") else parameter_name


def sender_info(session: RunspaceSession) -> PSObject:
    """$PSSenderInfo of a remote session: who connected and the application arguments the pool was opened with."""
    return PSObject(
        ["System.Management.Automation.Remoting.PSSenderInfo", "System.Object"],
        {
            "ConnectedUser": session.user,
            "RunAsUser": None,
            "ApplicationArguments": dict(session.application_arguments),
        },
        to_string="System.Management.Automation.Remoting.PSSenderInfo",
    )


def history_info(number: int, request: PipelineRequest, state: str, started: datetime) -> PSObject:
    """A HistoryInfo as Get-History returns it (pypsrp's recorded exchange test_psrp_with_history.yml)."""
    line = " | ".join(command.text for command in request.commands)
    return PSObject(
        ["Microsoft.PowerShell.Commands.HistoryInfo", "System.Object"],
        {
            "Id": Int64(number),
            "CommandLine": line,
            "ExecutionStatus": state,
            "StartExecutionTime": started,
            "EndExecutionTime": datetime.now(timezone.utc),
        },
        to_string=line,
    )


def _fail_on_defect(outcome: PipelineOutcome, error: Exception) -> None:
    log.exception("interpreter failure", exc_info=error)
    outcome.state = "Failed"
    outcome.failure = ErrorRecord(
        message=f"The sandbox interpreter failed: {type(error).__name__}: {error}",
        fully_qualified_error_id="SandboxInterpreterFailure",
        category="NotSpecified",
    )


class Interpreter:
    """Runs PowerShell against one host's commands.

    One instance per host is enough: every run gets its own variables, so concurrent runs do not meet.
    """

    def __init__(self, commands: CommandSet, env: dict[str, str], culture: str = "en-US") -> None:
        self.commands = commands
        self.env = env
        self.culture = culture  # the host's culture, as $host.CurrentCulture shows it

    def run_script(
        self,
        text: str,
        parameters: dict[str, Any] | None = None,
        environment: dict[str, str] | None = None,
        location: str | None = None,
        control: PipelineControl | None = None,
        outcome: PipelineOutcome | None = None,
    ) -> PipelineOutcome:
        command = Command(text=text, is_script=True, parameters=list((parameters or {}).items()))
        return self.run(PipelineRequest(commands=[command], control=control), environment, location, outcome)

    def run(
        self,
        request: PipelineRequest,
        environment: dict[str, str] | None = None,
        location: str | None = None,
        outcome: PipelineOutcome | None = None,
    ) -> PipelineOutcome:
        """Run a pipeline. environment: variables over the host's own (a WinRS shell's, a profile-less
        session's); location: the current directory (default: a remote session's, the user's Documents).
        With request.session the pipeline runs in that runspace's state: its global variables, environment
        changes and history carry over to the pool's next pipelines, as in a Windows runspace. outcome: the
        object to fill (its caller may read what the script has written so far while it runs)."""
        outcome = outcome if outcome is not None else PipelineOutcome()
        session = request.session
        base = {**self.env, **(environment or {})}
        evaluator = Evaluator(self.commands, {**base, **(session.environment if session else {})}, outcome, location)
        evaluator.culture = self.culture
        if request.control is not None:
            evaluator.checkpoint = request.control.checkpoint
        evaluator.client_host = request.host
        if session is not None:
            if not session.variables:
                session.variables.update(evaluator.variables)  # a new runspace's preferences
            evaluator.variables = session.variables
            evaluator.variables["pssenderinfo"] = sender_info(session)
            evaluator.history = session.history
        started = datetime.now(timezone.utc)
        objects = [from_seam(item) for item in request.input]
        produced: list[Any] = []
        wrapped = execute_ps_script(request)
        commands = request.commands if wrapped is None else [wrapped.script]
        # Invoke-Expression as a PSRP command ends the pipeline at an error that ends a statement of its text
        # (pypsrp's recorded exchange test_client_execute_ps_failure.yml: a Failed pipeline, had_errors True)
        evaluator.terminating_fails_pipeline = wrapped is not None
        try:
            for command in commands:
                produced = []
                if command.is_script:
                    self._run_script(evaluator, command, produced, objects)
                else:
                    produced = self._run_cmdlet(evaluator, command, objects)
                objects = produced
        except ScriptExit as exit_:
            # `exit` at the top of a pipeline tells the host to exit (LocalPipeline: SetShouldExit, which a remote
            # session forwards to the client's host, MS-PSRP 2.2.3.17 method 6); in a nested pipeline it only sets
            # $LASTEXITCODE
            outcome.exit_code = exit_.code
            if request.nested:
                evaluator.variables["lastexitcode"] = exit_.code
            else:
                outcome.host_calls.append(("SetShouldExit", [exit_.code]))
        except PipelineStopped:
            outcome.state = "Stopped"
        except PSRuntimeError as error:
            outcome.state = "Failed"
            outcome.failure = error.record
        except (NotEmulated, ScriptSyntaxError) as error:
            outcome.state = "Failed"
            outcome.failure = error.record()
        except Exception as error:  # a defect here must fail the pipeline, not the server thread
            _fail_on_defect(outcome, error)
        if wrapped is not None and wrapped.stream:
            # Out-String -Stream has already passed on the lines of whatever came before a failure
            try:
                produced = out_string_stream(produced)
            except Exception as error:
                produced = []
                _fail_on_defect(outcome, error)
        outcome.output = [to_seam(item) for item in produced]
        if session is not None:
            if evaluator.env.assigned:
                changed = {key: value for key, value in evaluator.env.items() if base.get(key) != value}
                session.environment.update(changed)
            if request.add_to_history:
                session.history.append(history_info(len(session.history) + 1, request, outcome.state, started))
        return outcome

    def _run_script(self, evaluator: Evaluator, command: Command, out: list[Any], objects: list[Any]) -> None:
        """A script with its pipeline input: begin once; process once per input object ($_ and $input are that
        object; once with neither when no input came); end once, where $input holds the input no process block
        took (about_Functions_Advanced_Methods, about_Automatic_Variables)."""
        script = parse_script(command.text)
        self._bind_parameters(evaluator, script, command)
        evaluator.console_position = lambda: len(out)
        evaluator.run_block(script.begin, out)
        if script.process is not None:
            for item in objects or [None]:
                evaluator.variables["_"] = item
                evaluator.variables["input"] = [item] if objects else []
                evaluator.run_block(script.process, out)
            objects = []
        evaluator.variables["input"] = list(objects)
        evaluator.run_block(script.body, out)

    def _bind_parameters(self, evaluator: Evaluator, script: n.Script, command: Command) -> None:
        declarations = {declaration.name.lower(): declaration for declaration in script.parameters}
        bound: dict[str, Any] = {}
        positional: list[Any] = []
        for name, value in command.parameters:
            if name is None:
                positional.append(value)
                continue
            written = _bare(name)
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
                arguments.append(ParameterName(_bare(name), from_seam(value)))
        return evaluator.dispatch(command.text, True, arguments, objects, 1)
