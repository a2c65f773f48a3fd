"""The errors a script meets, as PowerShell reports them, and the exceptions that carry them.

PowerShell has three kinds of failure, and the interpreter keeps them apart:
- a non-terminating error (Write-Error, most cmdlet errors) is written to the error stream and the script
  goes on, unless the effective ErrorAction is Stop;
- a statement-terminating error (unknown command, parameter binding, a failed conversion or method call)
  ends the statement; the script goes on with the next one unless it is inside try or $ErrorActionPreference
  is Stop;
- a script-terminating error (throw, an error escalated by Stop) ends the script unless a try catches it.
A construct the sandbox does not emulate is none of these: it fails the whole pipeline with the one error id
SandboxNotEmulated, naming the construct, and no try can catch it."""

from __future__ import annotations

from remediate.sandbox.seam import ErrorRecord

RUNTIME_EXCEPTION = "System.Management.Automation.RuntimeException"
NOT_EMULATED_ID = "SandboxNotEmulated"  # the one error id of everything the sandbox does not emulate


def runtime_record(
    message: str,
    error_id: str,
    category: str = "NotSpecified",
    exception_type: str = RUNTIME_EXCEPTION,
    target: object = None,
) -> ErrorRecord:
    return ErrorRecord(
        message=message,
        fully_qualified_error_id=error_id,
        category=category,
        exception_type=exception_type,
        target_object=target,
    )


class PSRuntimeError(Exception):
    """A terminating error carrying its ErrorRecord; try/catch catches it."""

    def __init__(self, record: ErrorRecord, script_terminating: bool = False) -> None:
        super().__init__(record.message)
        self.record = record
        self.script_terminating = script_terminating


class NotEmulated(Exception):
    """A construct the sandbox does not emulate: fails the pipeline with SandboxNotEmulated, which no script can
    catch and no client can mistake for a real PowerShell error."""

    def __init__(self, construct: str, line: int) -> None:
        message = f"SandboxNotEmulated: the sandbox does not emulate {construct} (line {line})"
        super().__init__(message)
        self.message = message
        self.line = line

    def record(self) -> ErrorRecord:
        return ErrorRecord(
            message=self.message,
            fully_qualified_error_id=NOT_EMULATED_ID,
            category="NotImplemented",
            exception_type="Remediate.Sandbox.SandboxNotEmulatedException",
        )


class ScriptExit(Exception):
    """`exit`: unwinds the whole script (finally blocks run, no catch sees it)."""

    def __init__(self, code: int) -> None:
        super().__init__(f"exit {code}")
        self.code = code


class ScriptSyntaxError(Exception):
    """A script that does not parse: PowerShell's ParseException."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def record(self) -> ErrorRecord:
        return ErrorRecord(
            message=self.message,
            fully_qualified_error_id="ParseException",
            category="ParserError",
            exception_type="System.Management.Automation.ParseException",
        )


def command_not_found(name: str) -> PSRuntimeError:
    message = (
        f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
        "and try again."
    )
    return PSRuntimeError(
        ErrorRecord(
            message=message,
            fully_qualified_error_id="CommandNotFoundException",
            category="ObjectNotFound",
            exception_type="System.Management.Automation.CommandNotFoundException",
            target_object=name,
        )
    )


def _binding_error(command: str, message: str, reason: str, command_type: str | None) -> PSRuntimeError:
    """A parameter binding failure; its error id names the command's .NET type where it has one."""
    return PSRuntimeError(
        ErrorRecord(
            message=message,
            fully_qualified_error_id=f"{reason},{command_type or command}",
            category="InvalidArgument",
            exception_type="System.Management.Automation.ParameterBindingException",
            activity=command,
        )
    )


def parameter_not_found(command: str, parameter: str, command_type: str | None = None) -> PSRuntimeError:
    message = f"A parameter cannot be found that matches parameter name '{parameter}'."
    return _binding_error(command, message, "NamedParameterNotFound", command_type)


def positional_not_found(command: str, argument: str, command_type: str | None = None) -> PSRuntimeError:
    message = f"A positional parameter cannot be found that accepts argument '{argument}'."
    return _binding_error(command, message, "PositionalParameterNotFound", command_type)


def missing_argument(
    command: str, parameter: str, type_name: str, command_type: str | None = None
) -> PSRuntimeError:
    message = (
        f"Missing an argument for parameter '{parameter}'. Specify a parameter of type '{type_name}' "
        "and try again."
    )
    return _binding_error(command, message, "MissingArgument", command_type)


def throw_record(value: object, message: str) -> ErrorRecord:
    """The ErrorRecord of `throw <value>`: the message is also the FullyQualifiedErrorId, as in PowerShell."""
    return ErrorRecord(
        message=message,
        fully_qualified_error_id=message,
        category="OperationStopped",
        exception_type=RUNTIME_EXCEPTION,
        target_object=value,
    )


def write_error_record(message: str) -> ErrorRecord:
    return ErrorRecord(
        message=message,
        fully_qualified_error_id="Microsoft.PowerShell.Commands.WriteErrorException",
        category="NotSpecified",
        exception_type="Microsoft.PowerShell.Commands.WriteErrorException",
        activity="Write-Error",
    )


def method_error(
    method: str, arguments: int, reason: str, error_id: str = "ArgumentOutOfRangeException"
) -> PSRuntimeError:
    return PSRuntimeError(
        runtime_record(
            f'Exception calling "{method}" with "{arguments}" argument(s): "{reason}"',
            error_id,
            "NotSpecified",
            exception_type="System.Management.Automation.MethodInvocationException",
        )
    )
