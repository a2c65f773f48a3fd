"""The seam between the sandbox's PowerShell interpreter and the emulated Windows behind it.

The interpreter (remediate.sandbox.powershell) evaluates PowerShell and owns the language-level cmdlets
(Where-Object, Select-Object, ForEach-Object, ConvertTo-Json, Out-String, Write-*). Every other command name it
meets is looked up in a CommandSet that the Windows model (remediate.sandbox.windows) provides: cmdlets such as
Get-CimInstance, and native programs such as cscript.exe. A name found in neither fails as PowerShell fails:
CommandNotFoundException.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from remediate.sandbox.seam import ErrorRecord


@dataclass
class Invocation:
    """One call of a cmdlet, with its arguments already evaluated and bound by name."""

    name: str  # canonical cmdlet name, e.g. "Get-CimInstance"
    named: dict[str, Any] = field(default_factory=dict)  # canonical parameter name -> value; switches -> True
    positional: list[Any] = field(default_factory=list)
    input: list[Any] = field(default_factory=list)  # objects piped in


class CommandContext(Protocol):
    """What a command may do besides returning output."""

    def write_error(self, record: ErrorRecord) -> None: ...  # a non-terminating error (honours -ErrorAction)

    def write_warning(self, text: str) -> None: ...

    def write_verbose(self, text: str) -> None: ...

    @property
    def env(self) -> dict[str, str]: ...  # the host's environment ($env:...), case-insensitive names


class CmdletError(Exception):
    """Raised by a cmdlet to report an error record.

    terminating=False (the usual cmdlet error) is written to the error stream and the script goes on, unless
    -ErrorAction Stop or $ErrorActionPreference = 'Stop' makes it terminating. terminating=True always ends the
    statement, as a parameter-binding failure or a throw does; try/catch can catch both.
    """

    def __init__(self, record: ErrorRecord, terminating: bool = False) -> None:
        super().__init__(record.message)
        self.record = record
        self.terminating = terminating


class CommandStopped(Exception):
    """The client stopped the pipeline while a command ran: the pipeline ends, state Stopped, and no script's
    try/catch or trap sees it (PipelineStoppedException)."""


CmdletFunction = Callable[[Invocation, CommandContext], list[Any]]


@dataclass
class CmdletSpec:
    name: str  # canonical name, matched case-insensitively
    parameters: tuple[str, ...]  # canonical parameter names it accepts (beyond the common -ErrorAction etc.)
    switches: tuple[str, ...] = ()  # parameters that take no value
    run: CmdletFunction | None = None
    positional: tuple[str, ...] = ()  # parameters that take positional arguments, in position order


@dataclass
class NativeResult:
    """What a native program printed (as text, before any console code page) and its exit code."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0  # signed 32-bit, as $LASTEXITCODE shows it


NativeFunction = Callable[[list[str], CommandContext], NativeResult]


class CommandSet(Protocol):
    """The commands a host offers besides the interpreter's own."""

    def cmdlet(self, name: str) -> CmdletSpec | None: ...  # case-insensitive; None if unknown

    def native(self, name: str) -> NativeFunction | None: ...  # "cscript.exe", "ipconfig.exe"; case-insensitive
