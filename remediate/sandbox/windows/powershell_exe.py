"""powershell.exe on a command line: its parameters, the script they give, and the console text it writes.

`powershell.exe [-NoProfile] [-NonInteractive] [-ExecutionPolicy X] ... -Command <text> | -EncodedCommand <b64> |
-` ("about_PowerShell_exe", Windows PowerShell 5.1). The script runs in the host's interpreter; what it writes is
rendered as the console host writes to redirected streams: output objects as Out-Default text with CRLF line
ends, Write-Host lines with LF (pypsrp's recorded exchanges test_winrs_operation_timeout.yml and
test_winrs_unicode.yml), errors on stderr. The exit code is `exit N`'s N, else 1 when the last statement failed
and 0 otherwise.

Not emulated (each answers SandboxNotEmulated on stderr, exit code 1): -File, -OutputFormat/-InputFormat XML
(CLIXML streams), -NoExit, -Version. An error on stderr carries its message, category and error id, but not the
"At line:N char:M" position lines Windows adds."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from remediate.sandbox.seam import ErrorRecord, PipelineOutcome, PipelineStopped
from remediate.sandbox.windows import durations

# (script, environment, location, the outcome to fill while it runs)
RunScript = Callable[[str, dict[str, str], str | None, PipelineOutcome], PipelineOutcome]

_SWITCHES = ("noprofile", "noninteractive", "nologo", "sta", "mta")
_VALUED = ("executionpolicy", "windowstyle", "inputformat", "outputformat", "configurationname")
_NOT_EMULATED = ("file", "noexit", "version", "psconsolefile")


@dataclass
class ConsoleResult:
    stdout: str
    stderr: str
    exit_code: int


def _matches(written: str, name: str, shortest: int = 1) -> bool:
    """PowerShell.exe takes any unambiguous prefix of a parameter name (-nop, -noni, -ex, -enc, -c)."""
    return len(written) >= shortest and name.startswith(written)


def _not_emulated(what: str) -> ConsoleResult:
    return ConsoleResult("", f"SandboxNotEmulated: the sandbox does not emulate powershell.exe {what}\r\n", 1)


def script_of(arguments: list[str], stdin: bytes) -> str | ConsoleResult:
    """The script a powershell.exe command line runs, or the console result of a line it cannot run."""
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        if argument == "-":
            return stdin.decode("utf-8", errors="replace")
        if not argument.startswith(("-", "/")):
            return " ".join(arguments[index:])
        written = argument[1:].lower()
        if _matches(written, "command"):
            return " ".join(arguments[index + 1 :])
        if written in ("e", "ec") or _matches(written, "encodedcommand", 3):
            if index + 1 >= len(arguments):
                return ConsoleResult("", "Missing argument for parameter -EncodedCommand.\r\n", 1)
            try:
                return base64.b64decode(arguments[index + 1]).decode("utf-16-le")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return ConsoleResult("", "Cannot process the command because the value of -EncodedCommand is "
                                     "not a valid Base64 string.\r\n", 1)  # fmt: skip
        if any(_matches(written, name, 3) for name in _NOT_EMULATED) or written == "f":
            return _not_emulated(f"-{arguments[index][1:]}")
        valued = next((name for name in _VALUED if _matches(written, name, 2)), None)
        if valued in ("inputformat", "outputformat"):
            value = arguments[index + 1].lower() if index + 1 < len(arguments) else ""
            if value.startswith("x"):
                return _not_emulated(f"-{valued} xml")
        if valued is not None or written in ("ep", "ex", "w"):
            index += 2
            continue
        if any(_matches(written, name, 3) for name in _SWITCHES):
            index += 1
            continue
        return " ".join(arguments[index:])  # not a parameter: the rest is the command, as -Command takes it
    return ""


def _category_info(record: ErrorRecord) -> str:
    target = "" if record.target_object is None else str(record.target_object)
    exception = record.exception_type.rsplit(".", 1)[-1]
    typed_target = f"{target}:String" if target else ""
    return f"{record.category}: ({typed_target}) [{record.activity or ''}], {exception}"


def error_text(record: ErrorRecord) -> str:
    """An error record as the console host writes it to a redirected stderr (without the position lines)."""
    head = f"{record.activity} : {record.message}" if record.activity else record.message
    return (
        f"{head}\r\n"
        f"    + CategoryInfo          : {_category_info(record)}\r\n"
        f"    + FullyQualifiedErrorId : {record.fully_qualified_error_id}\r\n \r\n"
    )


def console_text(outcome: PipelineOutcome, lines: list[str]) -> str:
    """Output lines (Out-Default's text, CRLF) with Write-Host lines interleaved where the script wrote them."""
    out: list[str] = []
    written = 0
    for position, text in outcome.host_lines:
        while written < min(position, len(lines)):
            out.append(lines[written] + "\r\n")
            written += 1
        out.append(text)
    out.extend(line + "\r\n" for line in lines[written:])
    return "".join(out)


def leading_host_text(outcome: PipelineOutcome) -> str:
    """What is certain of a running script's console text: the Write-Host lines written before any output
    object (objects are rendered once the script ends, so the text after the first one is not known yet)."""
    return "".join(text for position, text in list(outcome.host_lines) if position == 0)


def run(arguments: list[str], stdin: bytes, environment: dict[str, str], location: str | None,
        run_script: RunScript, format_lines: Callable[[list[object]], list[str]]) -> ConsoleResult:  # fmt: skip
    """Run a powershell.exe command line (already split into arguments)."""
    script = script_of(arguments, stdin)
    if isinstance(script, ConsoleResult):
        return script
    outcome = PipelineOutcome()
    with durations.console(lambda: leading_host_text(outcome)):
        outcome = run_script(script, environment, location, outcome)
    if outcome.state == "Stopped":
        raise PipelineStopped()  # Ctrl+C or Terminate ends the process; what it wrote so far has been sent
    # Out-Default renders each top-level output object; a Write-Host position counts objects, so map it to lines
    per_object = [format_lines([item]) for item in outcome.output]
    starts = [0]
    for rendered in per_object:
        starts.append(starts[-1] + len(rendered))
    lines = [line for rendered in per_object for line in rendered]
    mapped = PipelineOutcome(host_lines=[(starts[min(p, len(per_object))], t) for p, t in outcome.host_lines])
    stdout = console_text(mapped, lines)
    stderr = "".join(error_text(record) for record in outcome.errors)
    if outcome.failure is not None:
        stderr += error_text(outcome.failure)
    if outcome.exit_code is not None:
        code = outcome.exit_code
    else:
        code = 1 if outcome.state == "Failed" or not outcome.succeeded else 0
    return ConsoleResult(stdout, stderr, code)
