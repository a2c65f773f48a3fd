"""Runs the syntax tree: statements, pipelines, expressions, commands and error handling."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from remediate.sandbox.commands import CmdletError, CmdletSpec, CommandSet, Invocation, NativeFunction
from remediate.sandbox.powershell import nodes as n
from remediate.sandbox.powershell import operators as ops
from remediate.sandbox.powershell.binding import (
    ACTION_PREFERENCES,
    NO_VALUE,
    Bound,
    CommandShape,
    ParameterName,
    bind,
)
from remediate.sandbox.powershell.builtins import BUILTINS
from remediate.sandbox.powershell.dotnet import call_static
from remediate.sandbox.powershell.errors import (
    NotEmulated,
    PSRuntimeError,
    ScriptExit,
    command_not_found,
    runtime_record,
    throw_record,
)
from remediate.sandbox.powershell.formatting import format_operator
from remediate.sandbox.powershell.host import (
    HOST_NAMESPACE,
    HOST_TYPE,
    RAW_UI_TYPE,
    UI_TYPE,
    call_raw_ui_method,
    call_ui_method,
    get_raw_ui_property,
    raw_ui,
    remote_host,
    set_raw_ui_property,
)
from remediate.sandbox.powershell.inbox import windows_has_command
from remediate.sandbox.powershell.members import call_method, get_member, set_member
from remediate.sandbox.powershell.values import (
    CASTS,
    Array2D,
    ErrorRecordValue,
    GetDateResult,
    Hashtable,
    collect,
    dotnet_type_name,
    from_seam,
    is_true,
    to_int32,
    to_seam,
    to_string,
    unroll,
)
from remediate.sandbox.seam import ClientHost, ErrorRecord, PipelineOutcome, PipelineStopped, PSObject


class _LoopJump(Exception):
    """`break` / `continue` unwinding to the loop around it (the parser allows them only inside one)."""

    def __init__(self, keyword: str) -> None:
        super().__init__(keyword)
        self.keyword = keyword


def _no_checkpoint() -> None:
    return None


class _CommandContext:
    """What a CommandSet cmdlet or native program may do besides returning output."""

    def __init__(self, evaluator: Evaluator, bound: Bound | None) -> None:
        self._evaluator = evaluator
        self._bound = bound

    def write_error(self, record: ErrorRecord) -> None:
        self._evaluator.write_error(record, self._bound.error_action if self._bound else None)

    def write_warning(self, text: str) -> None:
        self._evaluator.write_warning(text, self._bound.warning_action if self._bound else None)

    def write_verbose(self, text: str) -> None:
        self._evaluator.write_verbose(text, self._bound.verbose if self._bound else None)

    @property
    def env(self) -> dict[str, str]:
        return self._evaluator.env


class _EnvironmentView(dict[str, str]):
    """The host's environment with case-insensitive names, as $env: reads it."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        self._folded = {key.lower(): key for key in env}
        self.assigned = False  # whether a script set a variable (only assign() changes it)

    def lookup(self, name: str) -> str | None:
        key = self._folded.get(name.lower())
        return None if key is None else self[key]

    def assign(self, name: str, value: str) -> None:
        key = self._folded.setdefault(name.lower(), name)
        self[key] = value
        self.assigned = True


class Evaluator:
    def __init__(
        self, commands: CommandSet, env: dict[str, str], outcome: PipelineOutcome, location: str | None = None
    ) -> None:
        self.commands = commands
        self.env = _EnvironmentView(env)
        self.outcome = outcome
        self.variables: dict[str, Any] = {
            "erroractionpreference": "Continue",
            "warningpreference": "Continue",
            "verbosepreference": "SilentlyContinue",
            "debugpreference": "SilentlyContinue",
            "lastexitcode": None,
        }
        self.constraints: dict[str, Callable[[Any], Any]] = {}
        self.location = location or f"{env.get('USERPROFILE', 'C:')}\\Documents"  # a remote session's default
        self.console_position: Callable[[], int] = lambda: 0  # output objects the script has written so far
        self.culture = "en-US"  # the host's culture ($host.CurrentCulture)
        self.client_host: ClientHost | None = None  # the client's host, which $host.UI calls reach
        self.terminating_fails_pipeline = False  # an error that ends a statement ends the pipeline (iex)
        self.history: list[PSObject] = []  # the runspace's HistoryInfo objects (Get-History)
        self.try_depth = 0
        self.native_failed = False  # the statement running called a native program that exited non-zero
        # a safe point, before every statement and loop iteration: where a stopped pipeline stops and nested
        # pipelines of the runspace run (seam.PipelineControl.checkpoint)
        self.checkpoint: Callable[[], None] = _no_checkpoint

    # --- streams and preferences ----------------------------------------------------------------------------

    def _preference(self, variable: str, default: str) -> str:
        value = to_string(self.variables.get(variable)).strip().lower()
        return ACTION_PREFERENCES.get(value, default)

    def write_host(self, text: str, newline: bool = True) -> None:
        self.outcome.host_lines.append((self.console_position(), text + ("\n" if newline else "")))
        self.outcome.information.append(text)

    def write_error(self, record: ErrorRecord, action: str | None) -> None:
        """A non-terminating error: written, dropped, or made terminating by -ErrorAction / the preference."""
        effective = action or self._preference("erroractionpreference", "Continue")
        if effective == "Stop":
            raise PSRuntimeError(record, script_terminating=True)
        if effective == "Continue":
            self.outcome.errors.append(record)

    def write_warning(self, text: str, action: str | None) -> None:
        effective = action or self._preference("warningpreference", "Continue")
        if effective == "Stop":
            raise PSRuntimeError(
                runtime_record(
                    'The running command stopped because the preference variable "WarningPreference" or '
                    f"common parameter is set to Stop: {text}",
                    "ActionPreferenceStop",
                    "OperationStopped",
                    exception_type="System.Management.Automation.ActionPreferenceStopException",
                ),
                script_terminating=True,
            )
        if effective == "Continue":
            self.outcome.warnings.append(text)

    def write_verbose(self, text: str, switch: bool | None) -> None:
        enabled = (
            switch
            if switch is not None
            else self._preference("verbosepreference", "SilentlyContinue") in ("Continue", "Stop")
        )
        if enabled:
            self.outcome.verbose.append(text)

    def write_debug(self, text: str) -> None:
        """Write-Debug: written when $DebugPreference is Continue or Stop."""
        if self._preference("debugpreference", "SilentlyContinue") in ("Continue", "Stop"):
            self.outcome.debug.append(text)

    # --- statements -----------------------------------------------------------------------------------------

    def run_block(self, block: n.Block, out: list[Any]) -> None:
        for statement in block:
            self.checkpoint()
            errors_before = len(self.outcome.errors)
            self.native_failed = False
            try:
                self.run_statement(statement, out)
                # $? is False after an error, and after a native program that exited with a code other than 0
                self.outcome.succeeded = len(self.outcome.errors) == errors_before and not self.native_failed
            except PSRuntimeError as error:
                self.outcome.succeeded = False
                if error.script_terminating or self.try_depth:
                    raise
                if self.terminating_fails_pipeline:
                    error.script_terminating = True
                    raise
                preference = self._preference("erroractionpreference", "Continue")
                if preference == "Stop":
                    error.script_terminating = True
                    raise
                if preference == "Continue":
                    self.outcome.errors.append(error.record)

    def run_statement(self, statement: n.Statement, out: list[Any]) -> None:
        if isinstance(statement, n.Pipeline):
            self._pipeline(statement, out)
        elif isinstance(statement, n.Assignment):
            self._assignment(statement)
        elif isinstance(statement, n.If):
            self._if(statement, out)
        elif isinstance(statement, n.Foreach):
            self._foreach(statement, out)
        elif isinstance(statement, n.Loop):
            self._loop(statement, out)
        elif isinstance(statement, n.LoopJump):
            raise _LoopJump(statement.keyword)
        elif isinstance(statement, n.Try):
            self._try(statement, out)
        elif isinstance(statement, n.Throw):
            self._throw(statement)
        elif isinstance(statement, n.Exit):
            value = self.statement_value(statement.value) if statement.value is not None else 0
            raise ScriptExit(to_int32(value) if value is not None else 0)

    def statement_value(self, statement: n.Statement) -> Any:
        """The value of a statement used as a value: an expression as is, command output collected."""
        if (
            isinstance(statement, n.Pipeline)
            and not statement.commands
            and not isinstance(statement.head, n.CommandCall)
        ):
            return self.evaluate(statement.head)
        if isinstance(statement, n.Assignment):
            self._assignment(statement)
            return self.evaluate(statement.target)
        out: list[Any] = []
        self.run_statement(statement, out)
        return collect(out)

    def _pipeline(self, pipeline: n.Pipeline, out: list[Any]) -> None:
        head = pipeline.head
        if isinstance(head, n.Increment) and not pipeline.commands:
            self.evaluate(head)  # as a statement, ++ and -- write nothing
            return
        if isinstance(head, n.CommandCall):
            objects = self.run_command(head, [])
        else:
            objects = list(unroll(self.evaluate(head)))
        for command in pipeline.commands:
            objects = self.run_command(command, objects)
        out.extend(objects)

    def _assignment(self, assignment: n.Assignment) -> None:
        value = self.statement_value(assignment.value)
        target = assignment.target
        if assignment.operator == "+=":
            value = ops.add(self.evaluate(target), value)
        if isinstance(target, n.Variable):
            self.assign_variable(target.name, value, target.line)
        elif isinstance(target, n.Member):
            owner = self.evaluate(target.target)
            if isinstance(owner, PSObject) and owner.type_names[0] == RAW_UI_TYPE:
                set_raw_ui_property(self.client_host, target.name, value, target.line)
            else:
                set_member(owner, target.name, value, target.line)
        else:
            assert isinstance(target, n.Index)
            self._assign_element(self.evaluate(target.target), self.evaluate(target.index), value)

    @staticmethod
    def _assign_element(owner: Any, key: Any, value: Any) -> None:
        """`$owner[key] = value`: a hashtable takes any key; an array only a position it already has."""
        if isinstance(owner, dict):
            owner[key] = value
        elif isinstance(owner, Array2D):
            owner.set(key, value)
        elif isinstance(owner, list):
            position = to_int32(key)
            if not -len(owner) <= position < len(owner):
                raise PSRuntimeError(
                    runtime_record(
                        "Index was outside the bounds of the array.",
                        "IndexOutOfRange",
                        "InvalidOperation",
                    )
                )
            owner[position] = value
        elif owner is None:
            raise PSRuntimeError(
                runtime_record("Cannot index into a null array.", "NullArray", "InvalidOperation")
            )
        else:
            raise PSRuntimeError(
                runtime_record(
                    f"Unable to index into an object of type {type(owner).__name__}.",
                    "CannotIndex",
                    "InvalidOperation",
                )
            )

    def assign_variable(self, name: str, value: Any, line: int) -> None:
        if name == "null":
            return
        if name in ("true", "false"):
            raise PSRuntimeError(
                runtime_record(
                    f"Cannot overwrite variable {name} because it is read-only or constant.",
                    "VariableNotWritable",
                    "WriteError",
                    exception_type="System.Management.Automation.SessionStateUnauthorizedAccessException",
                )
            )
        if name.startswith("env:"):
            self.env.assign(name[4:], to_string(value))
            return
        constraint = self.constraints.get(name)
        if constraint is not None:
            value = constraint(value)
        self.variables[name] = value

    def _if(self, statement: n.If, out: list[Any]) -> None:
        for condition, body in statement.branches:
            if is_true(self.statement_value(condition)):
                self.run_block(body, out)
                return
        if statement.otherwise is not None:
            self.run_block(statement.otherwise, out)

    def _foreach(self, statement: n.Foreach, out: list[Any]) -> None:
        source = self.statement_value(statement.source)
        for item in list(unroll(source)) if source is not None else []:
            self.assign_variable(statement.variable, item, statement.line)
            if not self._loop_body(statement.body, out):
                break

    def _loop_body(self, body: n.Block, out: list[Any]) -> bool:
        """One iteration; False when `break` ended the loop."""
        self.checkpoint()
        try:
            self.run_block(body, out)
        except _LoopJump as jump:
            return jump.keyword == "continue"
        return True

    def _loop(self, loop: n.Loop, out: list[Any]) -> None:
        if loop.initializer is not None:
            self.statement_value(loop.initializer)

        def go_on() -> bool:
            if loop.condition is None:
                return True
            return is_true(self.statement_value(loop.condition)) != loop.until

        if not loop.test_first and not self._loop_body(loop.body, out):
            return
        while go_on():
            if not self._loop_body(loop.body, out):
                return
            if loop.iterator is not None:
                self.statement_value(loop.iterator)

    def _try(self, statement: n.Try, out: list[Any]) -> None:
        pending: PSRuntimeError | None = None
        exiting: ScriptExit | _LoopJump | PipelineStopped | None = None
        self.try_depth += 1
        try:
            self.run_block(statement.body, out)
        except PSRuntimeError as error:
            pending = error
        except (ScriptExit, _LoopJump, PipelineStopped) as unwinding:
            exiting = unwinding
        finally:
            self.try_depth -= 1
        if exiting is not None:  # exit, break, continue and a stop run finally blocks, never a catch
            if statement.final is not None:
                checkpoint = self.checkpoint
                if isinstance(exiting, PipelineStopped):
                    self.checkpoint = _no_checkpoint  # the finally block of a stopping pipeline runs to its end
                try:
                    self.run_block(statement.final, out)
                finally:
                    self.checkpoint = checkpoint
            raise exiting
        if pending is not None and statement.catch is not None:
            caught, pending = pending, None
            previous = self.variables.get("_")
            self.variables["_"] = ErrorRecordValue(caught.record)
            try:
                self.run_block(statement.catch, out)
            except PSRuntimeError as error:
                pending = error
            finally:
                self.variables["_"] = previous
        if statement.final is not None:
            self.run_block(statement.final, out)
        if pending is not None:
            raise pending

    def _throw(self, statement: n.Throw) -> None:
        if statement.value is None:
            current = self.variables.get("_")
            if isinstance(current, ErrorRecordValue):
                raise PSRuntimeError(current.record, script_terminating=True)
            raise PSRuntimeError(throw_record(None, "ScriptHalted"), script_terminating=True)
        value = self.statement_value(statement.value)
        if isinstance(value, ErrorRecordValue):
            raise PSRuntimeError(value.record, script_terminating=True)
        message = to_string(value) if value is not None else "ScriptHalted"
        raise PSRuntimeError(throw_record(value, message), script_terminating=True)

    # --- commands -------------------------------------------------------------------------------------------

    def run_with_item(self, block: n.ScriptBlock, item: Any) -> list[Any]:
        """A Where-Object / ForEach-Object script block for one input object, with $_ set to it."""
        previous = self.variables.get("_")
        self.variables["_"] = item
        out: list[Any] = []
        try:
            self.run_block(block.body, out)
        finally:
            self.variables["_"] = previous
        return out

    def _arguments(self, call: n.CommandCall) -> list[Any]:
        arguments: list[Any] = []
        for element in call.elements:
            if isinstance(element, n.ParameterToken):
                value = NO_VALUE if element.value is None else self._argument(element.value)
                arguments.append(ParameterName(element.name, value))
            else:
                arguments.append(self._argument(element))
        return arguments

    def _argument(self, expr: n.Expr) -> Any:
        if isinstance(expr, n.ScriptBlock):
            return expr
        return self.evaluate(expr)

    def run_command(self, call: n.CommandCall, input_objects: list[Any]) -> list[Any]:
        name = call.name if isinstance(call.name, str) else to_string(self.evaluate(call.name))
        return self.dispatch(name, call.call_operator, self._arguments(call), input_objects, call.line)

    def dispatch(
        self, name: str, call_operator: bool, arguments: list[Any], input_objects: list[Any], line: int
    ) -> list[Any]:
        """Run the command called `name`: the interpreter's own cmdlets first, then the host's."""
        lowered = name.lower()
        builtin = BUILTINS.get(lowered)
        if builtin is not None:
            bound = bind(builtin.shape, arguments, line)
            return builtin.run(self, bound, input_objects, line)
        spec = self.commands.cmdlet(name)
        if spec is not None:
            return self.invoke_cmdlet(spec, arguments, input_objects, line)
        native = self._native(name)
        if native is not None:
            if input_objects:
                raise NotEmulated(f"piping objects into the program {name}", line)
            return self.invoke_native(native, arguments, line)
        if windows_has_command(name):
            raise NotEmulated(f"the command '{name}'", line)
        raise command_not_found(name)

    def _native(self, name: str) -> NativeFunction | None:
        """A program as Windows finds it: by its file name, or by its base name with an executable extension."""
        native = self.commands.native(name)
        if native is None and "." not in name:
            for extension in (".exe", ".com", ".cmd", ".bat"):
                native = self.commands.native(name + extension)
                if native is not None:
                    break
        return native

    def invoke_cmdlet(
        self, spec: CmdletSpec, arguments: list[Any], input_objects: list[Any], line: int
    ) -> list[Any]:
        for argument in arguments:
            value = argument.value if isinstance(argument, ParameterName) else argument
            if isinstance(value, n.ScriptBlock):
                raise NotEmulated(f"a script block argument to {spec.name}", line)
        bound = bind(_cmdlet_shape(spec.name, spec.parameters, spec.switches, spec.positional), arguments, line)
        if spec.run is None:
            raise NotEmulated(f"the command '{spec.name}'", line)
        invocation = Invocation(
            name=spec.name,
            named={key: to_seam(value) for key, value in bound.named.items()},
            input=[to_seam(item) for item in input_objects],
        )
        context = _CommandContext(self, bound)
        try:
            produced = spec.run(invocation, context)
        except CmdletError as error:
            if error.terminating:
                raise PSRuntimeError(error.record) from None
            context.write_error(error.record)
            return []
        is_get_date = spec.name.lower() == "get-date"
        output: list[Any] = []
        for item in produced:
            if is_get_date and isinstance(item, datetime) and not isinstance(item, GetDateResult):
                item = GetDateResult.wrapping(item)
            output.append(from_seam(item))
        return output

    def invoke_native(self, native: NativeFunction, arguments: list[Any], line: int) -> list[Any]:
        texts: list[str] = []
        for argument in arguments:
            if isinstance(argument, ParameterName):
                if argument.value is NO_VALUE:
                    texts.append(f"-{argument.name}")
                else:
                    texts.append(f"-{argument.name}:{to_string(argument.value)}")
                continue
            if isinstance(argument, n.ScriptBlock):
                raise NotEmulated("a script block argument to a native program", line)
            for item in unroll(argument):
                if item is not None:
                    texts.append(to_string(item))
        context = _CommandContext(self, None)
        result = native(texts, context)
        self.variables["lastexitcode"] = _signed32(result.exit_code)
        self.native_failed = result.exit_code != 0
        for text in _lines(result.stderr):
            context.write_error(
                ErrorRecord(
                    message=text,
                    fully_qualified_error_id="NativeCommandError",
                    category="NotSpecified",
                    exception_type="System.Management.Automation.RemoteException",
                    target_object=text,
                )
            )
        return list(_lines(result.stdout))

    # --- expressions ----------------------------------------------------------------------------------------

    def evaluate(self, expr: n.Expr) -> Any:
        if isinstance(expr, n.Const):  # a third of all expressions: no handler call
            return expr.value
        return _EXPRESSION_HANDLERS[type(expr)](self, expr)

    def _const(self, expr: n.Const) -> Any:
        return expr.value

    def _variable(self, expr: n.Variable) -> Any:
        name = expr.name
        if name == "true":
            return True
        if name == "false":
            return False
        if name == "null":
            return None
        if name.startswith("env:"):
            return self.env.lookup(name[4:])
        if name == "psitem":
            name = "_"
        if name not in self.variables:
            if name == "psversiontable":
                return psversiontable()
            if name == "host":
                return remote_host(self.culture)
            if name in AUTOMATIC_VARIABLES:
                # Windows always defines it: $null here would be a wrong value
                raise NotEmulated(f"the automatic variable ${expr.name}", expr.line)
        return self.variables.get(name)

    def _expandable(self, expr: n.Expandable) -> str:
        pieces: list[str] = []
        for part in expr.parts:
            if isinstance(part, str):
                pieces.append(part)
            else:
                pieces.append(to_string(self.evaluate(part)))
        return "".join(pieces)

    def _array_literal(self, expr: n.ArrayLiteral) -> list[Any]:
        return [self.evaluate(item) for item in expr.items]

    def _array_subexpression(self, expr: n.ArraySubexpression) -> list[Any]:
        out: list[Any] = []
        self.run_block(expr.body, out)
        return out

    def _subexpression(self, expr: n.Subexpression) -> Any:
        out: list[Any] = []
        self.run_block(expr.body, out)
        return collect(out)

    def _parenthesized(self, expr: n.Parenthesized) -> Any:
        return self.statement_value(expr.statement)

    def _hash_literal(self, expr: n.HashLiteral) -> Hashtable:
        table = Hashtable()
        for key_expr, value_statement in expr.entries:
            key = self.evaluate(key_expr)
            if key in table:
                raise PSRuntimeError(
                    runtime_record(
                        f"Duplicate keys '{to_string(key)}' are not allowed in hash literals.",
                        "DuplicateKeyInHashLiteral",
                        "ParserError",
                    )
                )
            table[key] = self.statement_value(value_statement)
        return table

    def _cast(self, expr: n.Cast) -> Any:
        value = self.evaluate(expr.operand)
        return CASTS[expr.type_name](value)

    def _unary(self, expr: n.Unary) -> Any:
        value = self.evaluate(expr.operand)
        if expr.operator == "-not":
            return not is_true(value)
        if expr.operator == "-":
            return ops.negate(value)
        return ops.add(0, value)

    def _binary(self, expr: n.Binary) -> Any:
        operator = expr.operator
        if operator == "-and":
            return is_true(self.evaluate(expr.left)) and is_true(self.evaluate(expr.right))
        if operator == "-or":
            return is_true(self.evaluate(expr.left)) or is_true(self.evaluate(expr.right))
        left = self.evaluate(expr.left)
        right = self.evaluate(expr.right)
        if operator in ops.FILTERING:
            return ops.comparison(operator, left, right)
        if operator in ("-match", "-notmatch"):
            return self._match(operator, left, right)
        handler = _BINARY.get(operator)
        if handler is not None:
            return handler(left, right)
        if operator == "-f":
            arguments = list(right) if isinstance(right, list) else [right]
            return format_operator(to_string(left), arguments, expr.line)
        raise NotEmulated(f"the operator '{operator}'", expr.line)

    def _match(self, operator: str, left: Any, right: Any) -> Any:
        pattern = ops.dotnet_regex(to_string(right))
        if isinstance(left, list):
            matched = [item for item in left if pattern.search(to_string(item)) is not None]
            if operator == "-match":
                return matched
            return [item for item in left if pattern.search(to_string(item)) is None]
        found = pattern.search(to_string(left))
        if found is not None:
            self.variables["matches"] = ops.match_table(found)
        return (found is not None) == (operator == "-match")

    def _member(self, expr: n.Member) -> Any:
        target = self.evaluate(expr.target)
        if isinstance(target, PSObject) and target.type_names[0] == UI_TYPE and expr.name.lower() == "rawui":
            return raw_ui()
        if isinstance(target, PSObject) and target.type_names[0] == RAW_UI_TYPE:
            return get_raw_ui_property(self.client_host, expr.name, expr.line)
        return get_member(target, expr.name)

    def _index(self, expr: n.Index) -> Any:
        target = self.evaluate(expr.target)
        key = self.evaluate(expr.index)
        if target is None:
            raise PSRuntimeError(
                runtime_record("Cannot index into a null array.", "NullArray", "InvalidOperation")
            )
        if isinstance(target, dict):
            if isinstance(key, list):
                return [target.get(item) for item in key]
            return target.get(key)
        if isinstance(target, (list, str)):
            if isinstance(key, list):
                return [self._element(target, item) for item in key]
            return self._element(target, key)
        # any other single object indexes as a one-element array
        return target if to_int32(key) in (0, -1) else None

    @staticmethod
    def _element(target: list[Any] | str, key: Any) -> Any:
        position = to_int32(key)
        if -len(target) <= position < len(target):
            return target[position]
        return None

    def _method_call(self, expr: n.MethodCall) -> Any:
        target = self.evaluate(expr.target)
        arguments = [self.evaluate(argument) for argument in expr.arguments]
        if isinstance(target, PSObject) and target.type_names[0].startswith(HOST_NAMESPACE):
            if target.type_names[0] == UI_TYPE:
                return call_ui_method(self, self.client_host, expr.name, arguments, expr.line)
            if target.type_names[0] == RAW_UI_TYPE:
                return call_raw_ui_method(self.client_host, expr.name, arguments, expr.line)
            if target.type_names[0] == HOST_TYPE and expr.name.lower() == "setshouldexit" and len(arguments) == 1:
                # a remote session's host forwards it to the client's host (MS-PSRP 2.2.3.17, method 6)
                self.outcome.host_calls.append(("SetShouldExit", [to_int32(arguments[0])]))
                return []  # a void method writes nothing
            raise NotEmulated(f"the host method {target.type_names[0]}.{expr.name}()", expr.line)
        return call_method(target, expr.name, arguments, expr.line)

    def _static_call(self, expr: n.StaticCall) -> Any:
        arguments = [self.evaluate(argument) for argument in expr.arguments]
        return call_static(expr.type_name, expr.name, arguments, dict(self.env))

    def _script_block(self, expr: n.ScriptBlock) -> Any:
        raise NotEmulated("a script block outside Where-Object / ForEach-Object", expr.line)

    def _increment(self, expr: n.Increment) -> Any:
        before = self._variable(n.Variable(expr.variable, expr.line))
        if before is not None and (isinstance(before, bool) or not isinstance(before, (int, float))):
            operator = "++" if expr.delta > 0 else "--"
            raise PSRuntimeError(
                runtime_record(
                    f"The '{operator}' operator works only on numbers. The operand is a "
                    f"'{dotnet_type_name(before)}'.",
                    "OperatorRequiresNumber",
                    "InvalidOperation",
                )
            )
        after = ops.add(before, expr.delta) if before is not None else expr.delta
        self.assign_variable(expr.variable, after, expr.line)
        return after if expr.prefix else before


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": ops.add,
    "-": ops.subtract,
    "*": ops.multiply,
    "/": ops.divide,
    "%": ops.remainder,
    "-band": ops.bitwise_and,
    "-join": ops.join,
    "-split": ops.split,
    "-contains": ops.contains,
    "-notcontains": lambda left, right: not ops.contains(left, right),
    "-in": lambda left, right: ops.contains(right, left),
    "-notin": lambda left, right: not ops.contains(right, left),
}

# .NET classes of the host's cmdlets, for FullyQualifiedErrorId (NamedParameterNotFound,<class>).
# Automatic variables of Windows PowerShell 5.1 (about_Automatic_Variables) the interpreter does not define.
AUTOMATIC_VARIABLES = frozenset(
    {
        "executioncontext", "myinvocation", "pscmdlet", "psboundparameters", "args", "this", "error",
        "home", "pid", "pshome", "profile", "psscriptroot", "pscommandpath", "shellid", "psculture", "psuiculture",
        "nestedpromptlevel", "stacktrace", "matches", "foreach", "switch", "sender", "event", "eventargs",
        "eventsubscriber", "consolefilename", "psdebugcontext", "pssenderinfo", "input", "confirmpreference",
        "whatifpreference", "informationpreference", "progresspreference", "errorview", "formatenumerationlimit",
        "maximumhistorycount", "psdefaultparametervalues", "psemailserver", "pssessionapplicationname",
        "pssessionconfigurationname", "pssessionoption", "outputencoding", "ofs", "psmoduleautoloadingpreference",
    }
)  # fmt: skip


def psversiontable() -> dict[str, Any]:
    """$PSVersionTable as Windows PowerShell 5.1 on Windows Server 2019 shows it (the same facts a pool tells
    its client when it opens)."""
    return {
        "PSVersion": _version("5.1.17763.6414"),
        "PSEdition": "Desktop",
        "PSCompatibleVersions": [_version(v) for v in ("1.0", "2.0", "3.0", "4.0", "5.0", "5.1.17763.6414")],
        "BuildVersion": _version("10.0.17763.6414"),
        "CLRVersion": _version("4.0.30319.42000"),
        "WSManStackVersion": _version("3.0"),
        "PSRemotingProtocolVersion": _version("2.3"),
        "SerializationVersion": _version("1.1.0.1"),
    }


# How each kind of expression is evaluated (Evaluator.evaluate)
_EXPRESSION_HANDLERS: dict[type, Callable[[Evaluator, Any], Any]] = {
    n.Const: Evaluator._const,
    n.Variable: Evaluator._variable,
    n.Expandable: Evaluator._expandable,
    n.ArrayLiteral: Evaluator._array_literal,
    n.ArraySubexpression: Evaluator._array_subexpression,
    n.Subexpression: Evaluator._subexpression,
    n.Parenthesized: Evaluator._parenthesized,
    n.HashLiteral: Evaluator._hash_literal,
    n.Cast: Evaluator._cast,
    n.Unary: Evaluator._unary,
    n.Binary: Evaluator._binary,
    n.Member: Evaluator._member,
    n.Index: Evaluator._index,
    n.MethodCall: Evaluator._method_call,
    n.StaticCall: Evaluator._static_call,
    n.ScriptBlock: Evaluator._script_block,
    n.Increment: Evaluator._increment,
}


def _version(text: str) -> PSObject:
    """A System.Version: Major, Minor, Build and Revision (-1 where the text has none)."""
    parts = [int(part) for part in text.split(".")] + [-1, -1]
    names = ("Major", "Minor", "Build", "Revision")
    return PSObject(["System.Version", "System.Object"], dict(zip(names, parts[:4], strict=True)), to_string=text)


_CMDLET_TYPES = {
    "get-ciminstance": "Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand",
    "invoke-cimmethod": "Microsoft.Management.Infrastructure.CimCmdlets.InvokeCimMethodCommand",
    "get-date": "Microsoft.PowerShell.Commands.GetDateCommand",
    "get-service": "Microsoft.PowerShell.Commands.GetServiceCommand",
    "start-sleep": "Microsoft.PowerShell.Commands.StartSleepCommand",
    "get-winevent": "Microsoft.PowerShell.Commands.GetWinEventCommand",
    "resolve-dnsname": "Microsoft.DnsClient.Commands.ResolveDnsName",
    "clear-dnsclientcache": "Clear-DnsClientCache",
    "test-netconnection": "Test-NetConnection",
}


@lru_cache(maxsize=256)
def _cmdlet_shape(
    name: str, parameters: tuple[str, ...], switches: tuple[str, ...], positional: tuple[str, ...]
) -> CommandShape:
    """A host cmdlet's shape for binding, made once: every host has the same cmdlets."""
    return CommandShape(name, parameters, switches, positional, _CMDLET_TYPES.get(name.lower()))


_LINE_BREAK = re.compile(r"\r\n|\n|\r")


def _lines(text: str) -> list[str]:
    """A native program's text as PowerShell reads it: one string per line, no trailing empty line."""
    if not text:
        return []
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - 2**32 if value > 0x7FFFFFFF else value
