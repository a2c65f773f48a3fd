"""The CommandSet one emulated host offers the PowerShell interpreter (remediate.sandbox.commands)."""

from __future__ import annotations

import ntpath
from collections.abc import Callable
from typing import Any

from remediate.sandbox.commands import (
    CmdletError,
    CmdletFunction,
    CmdletSpec,
    CommandContext,
    Invocation,
    NativeFunction,
    NativeResult,
)
from remediate.sandbox.seam import ErrorRecord
from remediate.sandbox.windows import cim, durations, events, native, network, services
from remediate.sandbox.windows.cmd import CMD_PROGRAMS, CmdProcess
from remediate.sandbox.windows.cmdline import join_for_native
from remediate.sandbox.windows.powershell_exe import RunScript
from remediate.sandbox.windows.state import HostState, World

HostCmdlet = Callable[[HostState, World, Invocation, CommandContext], list[Any]]


def _get_date(state: HostState, world: World, call: Invocation, ctx: CommandContext) -> list[Any]:
    return [
        state.utc_now(world)
    ]  # the host's clock: true UTC plus the host's offset (the host's zone is UTC)


def _start_sleep(state: HostState, world: World, call: Invocation, ctx: CommandContext) -> list[Any]:
    seconds = call.named.get("Seconds")
    if seconds is None and call.positional:
        seconds = call.positional[0]
    millis = call.named.get("Milliseconds")
    total = float(seconds or 0) + float(millis or 0) / 1000.0
    if total < 0:
        raise CmdletError(
            ErrorRecord(
                message="Cannot validate argument on parameter 'Seconds'. The argument cannot be negative.",
                fully_qualified_error_id="ParameterArgumentValidationError,Microsoft.PowerShell.Commands.StartSleepCommand",
                category="InvalidData",
                activity="Start-Sleep",
            ),
            terminating=True,
        )
    durations.spend(world, total)  # for real: a client polling meanwhile sees the pipeline still running
    return []


_CMDLETS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], HostCmdlet], ...] = (
    ("Get-CimInstance", ("ClassName", "Namespace", "Filter"), (), cim.get_cim_instance),
    ("Invoke-CimMethod", ("InputObject", "MethodName", "Arguments"), (), cim.invoke_cim_method),
    ("Clear-DnsClientCache", (), (), network.clear_dns_client_cache),
    (
        "Resolve-DnsName",
        ("Name", "Type"),
        ("DnsOnly", "QuickTimeout", "NoHostsFile"),
        network.resolve_dns_name,
    ),
    ("Test-NetConnection", ("ComputerName", "Port", "InformationLevel"), (), network.test_net_connection),
    ("Get-WinEvent", ("FilterHashtable", "MaxEvents"), (), events.get_win_event),
    ("Get-Service", ("Name",), (), services.get_service),
    ("Get-Date", (), (), _get_date),
    ("Start-Sleep", ("Seconds", "Milliseconds"), (), _start_sleep),
)


# Parameters that take positional arguments, in position order (Get-Help <cmdlet> -Parameter *: "Position").
_POSITIONAL: dict[str, tuple[str, ...]] = {
    "Get-CimInstance": ("ClassName",),
    "Get-Service": ("Name",),
    "Resolve-DnsName": ("Name", "Type"),
    "Test-NetConnection": ("ComputerName",),
    "Start-Sleep": ("Seconds",),
}


class WindowsCommands:
    """Cmdlets and native programs bound to one host's state and its world.

    run_powershell and format_lines let cmd.exe and powershell.exe, called from a script, reach the host's
    interpreter (WindowsHost provides them)."""

    def __init__(
        self,
        state: HostState,
        world: World,
        run_powershell: RunScript | None = None,
        format_lines: Callable[[list[object]], list[str]] | None = None,
    ) -> None:
        self.state = state
        self.world = world
        self.run_powershell = run_powershell
        self.format_lines = format_lines
        self._cmdlets = {
            name.lower(): CmdletSpec(name, params, switches, self._bind(fn), _POSITIONAL.get(name, ()))
            for name, params, switches, fn in _CMDLETS
        }

    def _bind(self, fn: HostCmdlet) -> CmdletFunction:
        def run(call: Invocation, ctx: CommandContext) -> list[Any]:
            with self.state.lock:
                return fn(self.state, self.world, call, ctx)

        return run

    def _through_cmd(self, name: str) -> NativeFunction:
        """cmd.exe, powershell.exe, hostname.exe and whoami.exe, given the command line PowerShell builds."""

        def run(args: list[str], ctx: CommandContext) -> NativeResult:
            environment = dict(ctx.env)
            user = f"{environment.get('USERDOMAIN', '')}\\{environment.get('USERNAME', '')}"
            process = CmdProcess(
                self.state, self.world, environment, environment.get("USERPROFILE", "C:\\"),
                user, b"", self.run_powershell, self.format_lines,
            )  # fmt: skip
            with self.state.lock:
                code = process.run_line(f'"{name}" {join_for_native([str(a) for a in args])}')
            return NativeResult("".join(process.stdout), "".join(process.stderr), code)

        return run

    def cmdlet(self, name: str) -> CmdletSpec | None:
        return self._cmdlets.get(name.lower())

    def native(self, name: str) -> NativeFunction | None:
        program = native.program_for(name)
        stem = ntpath.basename(name).lower().removesuffix(".exe")
        if program is None and stem in CMD_PROGRAMS:
            return self._through_cmd(name)
        if program is None:
            return None

        def run(args: list[str], ctx: CommandContext) -> NativeResult:
            with self.state.lock:
                return program(self.state, self.world, [str(a) for a in args])

        return run


def user_environment(user: str, computer_name: str) -> dict[str, str]:
    """The variables that name the signed-in user: USERNAME, USERDOMAIN (the computer's name for a local user) and
    the profile directories under C:\\Users."""
    domain, _, name = user.rpartition("\\")
    name = name.split("@")[0]
    profile = f"C:\\Users\\{name}"
    return {
        "USERNAME": name,
        "USERDOMAIN": (domain or computer_name).upper(),
        "USERPROFILE": profile,
        "TEMP": f"{profile}\\AppData\\Local\\Temp",
        "TMP": f"{profile}\\AppData\\Local\\Temp",
    }


def environment(state: HostState) -> dict[str, str]:
    """The host's environment variables ($env:...)."""
    return {
        "SystemRoot": native.SYSTEM_ROOT,
        "windir": native.SYSTEM_ROOT,
        "SystemDrive": "C:",
        "COMPUTERNAME": state.computer_name.upper(),
        "USERDOMAIN": state.domain.split(".")[0].upper()
        if state.domain_role not in (0, 2)
        else state.computer_name,
        "USERDNSDOMAIN": state.domain.upper(),
        "USERNAME": "Administrator",
        "USERPROFILE": "C:\\Users\\Administrator",
        "TEMP": "C:\\Users\\Administrator\\AppData\\Local\\Temp",
        "TMP": "C:\\Users\\Administrator\\AppData\\Local\\Temp",
        "ProgramFiles": "C:\\Program Files",
        "ProgramData": "C:\\ProgramData",
        "windows_tracing_flags": "",
        "PROCESSOR_ARCHITECTURE": "AMD64",
        "NUMBER_OF_PROCESSORS": "2",
        "OS": "Windows_NT",
        "PATHEXT": ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC;.CPL",
        "Path": "C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\Wbem;"
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\",
        "PSModulePath": "C:\\Program Files\\WindowsPowerShell\\Modules;"
        "C:\\Windows\\system32\\WindowsPowerShell\\v1.0\\Modules",
    }
