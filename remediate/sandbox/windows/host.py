"""WindowsHost: the HostEngine (remediate.sandbox.seam) of one emulated Windows host."""

from __future__ import annotations

import importlib
import re
import shlex
from typing import Any

from remediate.sandbox.seam import NativeOutcome, PipelineOutcome, PipelineRequest
from remediate.sandbox.windows import licensing, native
from remediate.sandbox.windows.codepage import encode_console
from remediate.sandbox.windows.commandset import WindowsCommands, environment
from remediate.sandbox.windows.state import HostState, World


class WindowsHost:
    """One emulated host: its state, the world it shares, and the commands it answers.

    Pipelines and native command lines of one host run one at a time (the host's lock); hosts of a fleet run
    in parallel and meet only in the world, which has its own lock.
    """

    def __init__(self, state: HostState, world: World, fault: str = "healthy") -> None:
        self.state = state
        self.world = world
        self.computer_name = state.computer_name
        self.fault = fault  # the scenario's label for this host, e.g. "0xC004F074" or "healthy"
        self.commands = WindowsCommands(state, world)
        self._interpreter: Any = None

    def environment(self) -> dict[str, str]:
        return environment(self.state)

    def _get_interpreter(self) -> Any:
        if self._interpreter is None:
            # Imported here: the interpreter package depends on nothing of this one, and tests of the Windows
            # model do not need it.
            module = importlib.import_module("remediate.sandbox.powershell")
            self._interpreter = module.Interpreter(self.commands, self.environment())
        return self._interpreter

    def invoke_pipeline(self, request: PipelineRequest) -> PipelineOutcome:
        interpreter = self._get_interpreter()
        with self.state.lock:
            outcome: PipelineOutcome = interpreter.run(request)
        return outcome

    def run_native(self, command: str, arguments: list[str]) -> NativeOutcome:
        """A WinRS command line: bytes in the console code page with CRLF line ends (ref §2c)."""
        name, args = command, list(arguments)
        if not args and " " in command.strip():
            parts = shlex.split(command, posix=False)
            name, args = parts[0], parts[1:]
        args = [a[1:-1] if len(a) >= 2 and a[0] == a[-1] == '"' else a for a in args]
        name, args = self._expand(name), [self._expand(a) for a in args]
        program = native.program_for(name)
        with self.state.lock:
            result = (
                program(self.state, self.world, args)
                if program is not None
                else native.not_recognized(self.state, name)
            )
        return NativeOutcome(
            stdout=encode_console(self.state, result.stdout),
            stderr=encode_console(self.state, result.stderr),
            exit_code=result.exit_code & 0xFFFFFFFF,
        )

    def restart(self) -> None:
        """Restart the host: what waits for a restart (a rearm, a DISM edition conversion) takes effect."""
        with self.state.lock:
            licensing.restart(self.state, self.world)

    def _expand(self, text: str) -> str:
        """cmd.exe expands %NAME% from the environment (any case); unknown names stay as typed."""
        env = {k.lower(): v for k, v in self.environment().items()}
        return re.sub(r"%([^%]+)%", lambda m: env.get(m.group(1).lower(), m.group(0)), text)

    def __repr__(self) -> str:
        return f"WindowsHost({self.state!r}, fault={self.fault})"
