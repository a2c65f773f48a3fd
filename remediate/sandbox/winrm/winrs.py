"""A WinRS cmd shell (Client.execute_cmd): each command line runs through HostEngine.run_native.

A command starts when its client first asks for output, or when it ends the command's stdin: a program that
reads stdin (powershell.exe -) then has all of it, and one that does not runs as soon as the client polls.
While it runs, a Receive answers what it has written so far with CommandState Running, or w:TimedOut once the
Receive's OperationTimeout passes with nothing new (pypsrp's recorded exchange test_winrs_operation_timeout.yml).
A Ctrl+C or Terminate signal stops it."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field, replace

from remediate.sandbox import seam
from remediate.sandbox.winrm import workers
from remediate.sandbox.winrm.wsman import (
    cmd_parameter_fault,
    command_not_found_fault,
    operation_timeout_fault,
    shell_not_found_fault,
)


@dataclass
class _Process:
    command_id: str
    command: str
    arguments: list[str]
    stdin: bytearray = field(default_factory=bytearray)
    stdin_open: bool = False  # some stdin came, its end has not
    started: bool = False
    outcome: seam.NativeOutcome | None = None
    partial_stdout: bytes = b""  # what it has written so far, while it runs
    stdout_sent: int = 0
    stderr_sent: int = 0
    control: seam.PipelineControl = field(default_factory=seam.PipelineControl)  # Ctrl+C / Terminate stop it


@dataclass
class ReceivedStreams:
    stdout: bytes
    stderr: bytes
    done: bool
    exit_code: int | None  # unsigned 32-bit, as Windows reports it


class CmdShell:
    """The server side of one pypsrp WinRS shell."""

    def __init__(self, shell_id: str, engine: seam.HostEngine, context: seam.ShellContext | None = None) -> None:
        self.shell_id = shell_id
        self.engine = engine
        self.context = context or seam.ShellContext()
        self.closed = False
        self._processes: dict[str, _Process] = {}
        self._started = 0
        self._cond = threading.Condition()

    @property
    def operations(self) -> int:
        """What this shell counts against MaxConcurrentOperationsPerUser: every command it started, until the
        shell is deleted, for Windows does not decrement that counter on a Terminate signal to a text shell
        (MS-WSMV product behaviour note <118> to 3.1.4.12; [inf] a command is one operation)."""
        with self._cond:
            return self._started

    def command(self, command_id: str | None, command: str, arguments: list[str]) -> str:
        process = _Process((command_id or str(uuid.uuid4())).upper(), command, arguments)
        with self._cond:
            if self.closed:
                raise shell_not_found_fault(self.shell_id)
            self._processes[process.command_id] = process
            self._started += 1
        return process.command_id

    def _start(self, process: _Process) -> None:
        """Run the command line on a worker; call with the condition held."""
        if process.started:
            return
        process.started = True
        context = replace(
            self.context,
            stdin=bytes(process.stdin),
            control=process.control,
            partial_stdout=lambda written: self._written_so_far(process, written),
        )
        workers.run_now(lambda: self._run(process, context))

    def _run(self, process: _Process, context: seam.ShellContext) -> None:
        try:
            outcome = self.engine.run_native(process.command, process.arguments, context)
        except Exception as error:  # the engine's bug must not take the host down
            outcome = seam.NativeOutcome(stderr=f"sandbox engine failure: {error}\r\n".encode(), exit_code=1)
        with self._cond:
            process.outcome = outcome
            self._cond.notify_all()

    def _written_so_far(self, process: _Process, written: bytes) -> None:
        with self._cond:
            if len(written) > len(process.partial_stdout):
                process.partial_stdout = written
                self._cond.notify_all()

    def receive(self, command_id: str | None, timeout: float, max_bytes: int) -> ReceivedStreams:
        deadline = time.monotonic() + timeout
        with self._cond:
            if not command_id:
                raise cmd_parameter_fault()
            while True:
                if self.closed:
                    raise shell_not_found_fault(self.shell_id)
                process = self._processes.get((command_id or "").upper())
                if process is None:
                    raise command_not_found_fault(command_id, self.shell_id)
                if not process.stdin_open:
                    self._start(process)
                if process.outcome is not None:
                    break
                if len(process.partial_stdout) > process.stdout_sent:
                    stdout = process.partial_stdout[process.stdout_sent : process.stdout_sent + max_bytes]
                    process.stdout_sent += len(stdout)
                    return ReceivedStreams(stdout, b"", False, None)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise operation_timeout_fault()
                self._cond.wait(remaining)
            outcome = process.outcome
            stdout = outcome.stdout[process.stdout_sent : process.stdout_sent + max_bytes]
            process.stdout_sent += len(stdout)
            stderr = outcome.stderr[
                process.stderr_sent : process.stderr_sent + max(0, max_bytes - len(stdout))
            ]
            process.stderr_sent += len(stderr)
            done = process.stdout_sent >= len(outcome.stdout) and process.stderr_sent >= len(outcome.stderr)
            return ReceivedStreams(stdout, stderr, done, outcome.exit_code & 0xFFFFFFFF if done else None)

    def send(self, command_id: str | None, data: bytes, end: bool = False) -> None:
        """stdin for a command that has not started yet; its end starts the command."""
        with self._cond:
            if self.closed:
                raise shell_not_found_fault(self.shell_id)
            process = self._processes.get((command_id or "").upper())
            if process is None:
                raise command_not_found_fault(command_id, self.shell_id)
            if process.started:
                return  # the program no longer reads stdin
            process.stdin += data
            process.stdin_open = not end
            if end:
                self._start(process)

    def signal(self, command_id: str | None, code: str) -> None:
        with self._cond:
            process = self._processes.pop((command_id or "").upper(), None)
            if process is not None:
                process.control.stop()  # Ctrl+C and Terminate end a program still running (a script's loop)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            for process in self._processes.values():
                process.control.stop()
            self._processes.clear()
            self._cond.notify_all()
