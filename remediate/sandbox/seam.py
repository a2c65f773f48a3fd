"""The seam between the sandbox's WinRM server and what runs behind it.

The server (remediate.sandbox.winrm) speaks the protocol; for every pipeline a client invokes it hands a
PipelineRequest to the host's HostEngine and serializes the PipelineOutcome back as PSRP messages. For every WinRS
command line it calls HostEngine.run_native and sends the bytes back as stdout/stderr streams.

Values crossing this seam are plain Python values:
  None, bool, int, float, str, bytes, datetime, list (a PowerShell array), dict (a hashtable, keys str),
  and PSObject (anything with type names and properties: CIM instances, [pscustomobject], event records).
The server converts them to and from CLIXML; the engine never sees XML.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol


def plain_datetime(value: datetime) -> datetime:
    """The same moment as a plain datetime, without a subclass's wrapper (Get-Date's result, psrpcore's)."""
    if type(value) is datetime:
        return value
    return datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
        value.tzinfo,
    )


class SecureString(str):
    """A SecureString's text: what the client sent as <SS>, or what ConvertTo-SecureString made; it goes back to
    the client as <SS>, encrypted with the pool's session key, never as plain text."""


class Char(str):
    """A .NET Char (one character): it goes to the client as <C>, not as a string."""


@dataclass
class PSObject:
    """An object with properties, as PowerShell would serialize it.

    type_names: most specific first, e.g. ["Microsoft.Management.Infrastructure.CimInstance#root/cimv2/
    SoftwareLicensingProduct", "Microsoft.Management.Infrastructure.CimInstance", "System.Object"] or
    ["System.Management.Automation.PSCustomObject", "System.Object"].
    properties: name -> value, in display order. Property lookup is case-insensitive in PowerShell: use get().
    to_string: what PowerShell shows for the object as a string (ToString()); None lets the server derive one.
    handle: opaque reference the engine may keep to find the live thing again (e.g. a CIM instance path for
    Invoke-CimMethod); never serialized.
    """

    type_names: list[str]
    properties: dict[str, Any] = field(default_factory=dict)
    to_string: str | None = None
    handle: Any = None
    extended: frozenset[str] = frozenset()  # properties PowerShell adds to the .NET object (e.g. alias properties)

    def get(self, name: str, default: Any = None) -> Any:
        if name in self.properties:
            return self.properties[name]
        lowered = name.lower()
        for key, value in self.properties.items():
            if key.lower() == lowered:
                return value
        return default

    def has(self, name: str) -> bool:
        if name in self.properties:
            return True
        lowered = name.lower()
        return any(key.lower() == lowered for key in self.properties)


@dataclass
class ErrorRecord:
    """A PowerShell ErrorRecord, flattened the way PSRP carries it."""

    message: str
    fully_qualified_error_id: str = "RuntimeException"
    category: str = "NotSpecified"  # an ErrorCategory name: NotSpecified, ObjectNotFound, InvalidArgument, ...
    exception_type: str = "System.Management.Automation.RuntimeException"
    target_object: Any = None
    hresult: int | None = None  # the exception's HResult where one applies (e.g. a CIM failure), signed 32-bit
    script_stack_trace: str | None = None
    activity: str | None = None  # the command that failed, e.g. "Get-CimInstance"


@dataclass
class Command:
    """One command of a pipeline as the client sent it (PSRP CREATE_PIPELINE / Command)."""

    text: str  # the script text (is_script) or the command name
    is_script: bool
    # (name, value); name None for a positional argument
    parameters: list[tuple[str | None, Any]] = field(default_factory=list)


@dataclass
class RunspaceSession:
    """What one runspace pool keeps between its pipelines, as a Windows runspace does: global variables, changes
    to the environment, the history, and what the client opened it with."""

    variables: dict[str, Any] = field(default_factory=dict)  # lower-case name -> value
    environment: dict[str, str] = field(default_factory=dict)  # variables set or changed by its pipelines
    history: list[PSObject] = field(default_factory=list)  # HistoryInfo objects, oldest first
    application_arguments: dict[str, Any] = field(default_factory=dict)  # $PSSenderInfo.ApplicationArguments
    user: str = ""  # who opened the pool, as authenticated
    no_profile: bool = False  # WINRS_NOPROFILE


class PipelineStopped(Exception):
    """Raised inside a running pipeline at its next safe point once the client stopped it (or closed its pool):
    the pipeline ends Stopped. No script can catch it (PowerShell's PipelineStoppedException)."""


class PipelineControl:
    """The server's hold on one running pipeline, which the engine checks at safe points (between statements,
    at every loop iteration).

    stop(): the client's Stop signal; the pipeline raises PipelineStopped at its next safe point, and a command
    spending its modelled time (wait()) ends at once.
    run_nested(): a nested pipeline of the same runspace (PSRP IsNested, PowerShell.CreateNestedPowerShell)
    runs on the running pipeline's thread at its next safe point, the running pipeline blocked meanwhile, as
    PowerShell runs nested pipelines. Returns False once the pipeline has ended: the caller runs it itself.
    The safe point before the pipeline's first statement runs none: a nested pipeline joins one that is already
    running (pypsrp's recorded test_psrp_nested_command.yml reads a variable the running script set first,
    however soon after it the nested pipeline comes).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stopping = False
        self._ended = False
        self._nested: deque[Callable[[], None]] = deque()
        self._begun = False  # the pipeline has passed its first safe point

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def run_nested(self, work: Callable[[], None]) -> bool:
        with self._cond:
            if self._ended:
                return False
            self._nested.append(work)
            self._cond.notify_all()
            return True

    def wait(self, seconds: float) -> bool:
        """Spend up to `seconds` of real time on the pipeline's thread (a command's modelled duration); returns
        True as soon as the pipeline is stopped (at once when it already is), False once the time has passed.
        Nested pipelines that come meanwhile run at the next safe point after the wait."""
        with self._cond:
            return self._cond.wait_for(lambda: self._stopping, seconds)

    def checkpoint(self) -> None:
        """A safe point: raise PipelineStopped when stopping, else run the nested pipelines waiting."""
        if self._stopping:
            raise PipelineStopped()
        if not self._begun:
            self._begun = True
            return
        while self._nested:
            with self._cond:
                work = self._nested.popleft() if self._nested else None
            if work is not None:
                work()

    def end(self) -> list[Callable[[], None]]:
        """The pipeline has ended: nested pipelines still waiting are handed back to run elsewhere."""
        with self._cond:
            self._ended = True
            pending = list(self._nested)
            self._nested.clear()
        return pending


class ClientHostError(Exception):
    """The client's host answered a host call with an error (PSRP's `me`): a terminating error in the pipeline."""

    def __init__(self, record: ErrorRecord) -> None:
        super().__init__(record.message)
        self.record = record


class ClientHost(Protocol):
    """The client's host as a remote pipeline reaches it: PSRP host calls (MS-PSRP 2.2.2.27-2.2.2.30).

    method: a host method identifier's name (MS-PSRP 2.2.3.17): "ReadLine", "Write2", "PromptForCredential2", ...
    arguments: seam values (a Coordinates, a FieldDescription, ... is a PSObject with that type name). A void
    method returns None at once; any other waits for the client's answer and returns it (PipelineStopped if the
    pipeline is stopped meanwhile)."""

    @property
    def has_ui(self) -> bool:
        """Whether the client's host has a user interface (HostInfo: not _isHostUINull)."""
        ...

    @property
    def raw_ui(self) -> dict[str, Any] | None:
        """The raw UI's properties (ForegroundColor, CursorPosition, ... WindowTitle) from the HostDefaultData the
        client sent, which the pipeline may change; None when the client's host has no raw UI."""
        ...

    def call(self, method: str, arguments: list[Any]) -> Any: ...


@dataclass
class PipelineRequest:
    commands: list[Command]
    input: list[Any] = field(default_factory=list)  # pipeline input sent by the client, if any
    session: RunspaceSession | None = None  # the pool's state; None: a pipeline of its own
    add_to_history: bool = False  # the client's AddToHistory: record the pipeline in the session's history
    control: PipelineControl | None = None  # the server's hold on the running pipeline (stop, nested)
    nested: bool = False  # a nested pipeline (PSRP IsNested): `exit` sets $LASTEXITCODE instead of ending the host
    host: ClientHost | None = None  # the client's host; None: no client host (a WinRS powershell.exe, a test)


PipelineState = Literal["Completed", "Failed", "Stopped"]


@dataclass
class PipelineOutcome:
    output: list[Any] = field(default_factory=list)
    # non-terminating errors (Write-Error, cmdlet errors)
    errors: list[ErrorRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verbose: list[str] = field(default_factory=list)
    debug: list[str] = field(default_factory=list)
    information: list[str] = field(default_factory=list)
    state: PipelineState = "Completed"
    # the terminating error when state == "Failed" (e.g. an uncaught throw)
    failure: ErrorRecord | None = None
    exit_code: int | None = None  # set by `exit N` in a script
    succeeded: bool = True  # $? after the last statement: False when it wrote an error
    # calls of the remote host's methods the client answers nothing to, in order: ("SetShouldExit", [1])
    host_calls: list[tuple[str, list[Any]]] = field(default_factory=list)
    # Write-Host lines, each with the count of output objects written before it (the console interleaves them)
    host_lines: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class ShellContext:
    """What a WinRS shell gives the command lines it runs (the Create request's rsp:Shell and its options)."""

    environment: dict[str, str] = field(default_factory=dict)  # rsp:Environment, over the host's own
    working_directory: str | None = None  # rsp:WorkingDirectory; None: the user's profile directory
    codepage: int | None = None  # WINRS_CODEPAGE; None: the host's OEM code page
    user: str = ""  # who opened the shell, as authenticated (DOMAIN\user or user)
    no_profile: bool = False  # WINRS_NOPROFILE
    stdin: bytes = b""  # what the client sent the command's stdin before it ended
    control: PipelineControl | None = None  # the command's process: a Ctrl+C or Terminate signal stops it
    # Takes the stdout the command has written so far (always a beginning of its final stdout), for the client's
    # Receives while the command still runs.
    partial_stdout: Callable[[bytes], None] | None = None


@dataclass
class NativeOutcome:
    """What a native command line run through WinRS (cmd shell) produced."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0  # as Windows reports it: unsigned 32-bit on the wire; the server converts


class HostEngine(Protocol):
    """What one emulated host runs. One instance per host; it owns that host's state.

    A call may take time (the host's modelled durations); it returns early, with state "Stopped" (a pipeline) or
    whatever the command had written (a command line), once its `control` (PipelineRequest's, ShellContext's) is
    stopped.

    Calls may arrive from several server threads at once (several shells per host); an engine that keeps state
    serializes access itself.
    """

    computer_name: str

    def invoke_pipeline(self, request: PipelineRequest) -> PipelineOutcome: ...

    def run_native(self, command: str, arguments: list[str], shell: ShellContext | None = None) -> NativeOutcome: ...
