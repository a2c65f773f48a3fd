"""WindowsHost: the HostEngine (remediate.sandbox.seam) of one emulated Windows host."""

from __future__ import annotations

import importlib
from typing import Any

from remediate.sandbox.seam import NativeOutcome, PipelineOutcome, PipelineRequest, PipelineStopped, ShellContext
from remediate.sandbox.windows import durations, licensing
from remediate.sandbox.windows.cmd import CmdProcess
from remediate.sandbox.windows.codepage import console_codepage, encode_text
from remediate.sandbox.windows.commandset import WindowsCommands, environment, user_environment
from remediate.sandbox.windows.state import HostState, World

SYSTEM_PROFILE = "C:\\Windows\\system32\\config\\systemprofile"
STATUS_CONTROL_C_EXIT = 0xC000013A  # the exit code of a console process ended by Ctrl+C (ntstatus.h)


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
        self.commands = WindowsCommands(state, world, self.run_powershell, self.format_lines)
        self._interpreter: Any = None

    def environment(self) -> dict[str, str]:
        return environment(self.state)

    def _get_interpreter(self) -> Any:
        if self._interpreter is None:
            # Imported here: the interpreter package depends on nothing of this one, and tests of the Windows
            # model do not need it.
            module = importlib.import_module("remediate.sandbox.powershell")
            self._interpreter = module.Interpreter(self.commands, self.environment(), self.state.ui_language)
        return self._interpreter

    def invoke_pipeline(self, request: PipelineRequest) -> PipelineOutcome:
        interpreter = self._get_interpreter()
        # a session opened without a profile (WINRS_NOPROFILE) runs with the system profile's directory
        # (pypsrp's recorded exchange test_psrp_no_profile.yml)
        session = request.session
        environment: dict[str, str] = {}
        if session is not None and session.user:
            environment.update(user_environment(session.user, self.computer_name))
        if session is not None and session.no_profile:
            environment["USERPROFILE"] = SYSTEM_PROFILE
        # a nested pipeline runs on its parent's thread, under its own control; the parent's comes back after it
        with self.state.lock, durations.running(durations.Running(control=request.control)):
            outcome: PipelineOutcome = interpreter.run(request, environment)
        return outcome

    def run_native(self, command: str, arguments: list[str], shell: ShellContext | None = None) -> NativeOutcome:
        """A WinRS command line: the command and its arguments joined with spaces, run by cmd.exe /c (cmd.py);
        bytes in the shell's code page (WINRS_CODEPAGE, else the host's OEM code page, ref §2c)."""
        shell = shell or ShellContext()
        user = user_environment(shell.user, self.computer_name) if shell.user else {}
        environment = {**self.environment(), **user, **shell.environment}
        process = CmdProcess(
            self.state,
            self.world,
            environment,
            shell.working_directory or environment["USERPROFILE"],
            shell.user or environment["USERNAME"],
            shell.stdin,
            self.run_powershell,
            self.format_lines,
        )
        codepage = shell.codepage or console_codepage(self.state)
        partial = shell.partial_stdout

        def publish() -> None:
            if partial is not None:
                partial(encode_text(process.stdout_so_far(durations.consoles_so_far()), codepage))

        with self.state.lock, durations.running(durations.Running(control=shell.control, publish=publish)):
            try:
                exit_code = process.run_line(" ".join([command, *arguments]))
            except PipelineStopped:
                exit_code = STATUS_CONTROL_C_EXIT
        return NativeOutcome(
            stdout=encode_text("".join(process.stdout), codepage),
            stderr=encode_text("".join(process.stderr), codepage),
            exit_code=exit_code & 0xFFFFFFFF,
        )

    def restart(self) -> None:
        """Restart the host: what waits for a restart (a rearm, a DISM edition conversion) takes effect."""
        with self.state.lock:
            licensing.restart(self.state, self.world)

    def run_powershell(
        self, text: str, environment: dict[str, str], location: str | None, outcome: PipelineOutcome
    ) -> PipelineOutcome:
        """powershell.exe's script, run in this host's interpreter (filling `outcome` as it runs); stopping the
        pipeline or WinRS command that started it stops it too."""
        filled: PipelineOutcome = self._get_interpreter().run_script(
            text, None, environment, location, durations.control(), outcome
        )
        return filled

    def format_lines(self, objects: list[object]) -> list[str]:
        """Out-Default's lines for output objects (the interpreter's Out-String -Stream)."""
        formatting = importlib.import_module("remediate.sandbox.powershell.formatting")
        lines: list[str] = formatting.out_string_stream(objects)
        return lines

    def __repr__(self) -> str:
        return f"WindowsHost({self.state!r}, fault={self.fault})"
