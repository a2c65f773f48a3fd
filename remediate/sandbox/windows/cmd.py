"""cmd.exe: the shell WinRS runs every command line in, and a program PowerShell can call.

WinRS joins a command and its arguments with spaces and runs the line with `cmd.exe /c` (MS-WSMV 3.1.4.11,
WINRS_SKIP_CMD_SHELL false), so what Windows answers is what cmd answers: built-ins (echo, set, exit, cd, ver,
dir, rem), %VAR% expansion at parse time, the operators & && || and the redirections >&2 2>&1 >nul; a program
found by name with or without its extension gets the rest of the line and splits it itself (cmdline.py); an
unknown name is "not recognized" with errorlevel 9009 ("cmd /?", "Command shell overview" in Microsoft's docs).

Programs: hostname, whoami, cmd, powershell, and the host's own (cscript, ipconfig, ...). A construct or
program cmd would run but the sandbox does not emulate (pipes, file redirection, other built-ins, other System32
programs) writes `SandboxNotEmulated: ...` on stderr with errorlevel 1, never a made-up answer."""

from __future__ import annotations

import ntpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from remediate.sandbox.commands import NativeResult
from remediate.sandbox.powershell.inbox import NATIVE_PROGRAMS
from remediate.sandbox.windows import native, powershell_exe
from remediate.sandbox.windows.cmdline import split_arguments
from remediate.sandbox.windows.state import HostState, World

WINDOWS_VERSION = "10.0.17763.6414"  # Windows Server 2019, as the host's PowerShell reports its BuildVersion
_NOT_EMULATED_BUILTINS = frozenset(
    (
        "assoc", "break", "call", "chdir", "cls", "color", "copy", "date", "del", "erase", "for", "ftype",
        "goto", "if", "md", "mkdir", "mklink", "move", "path", "pause", "popd", "prompt", "pushd", "rd", "ren",
        "rename", "rmdir", "setlocal", "endlocal", "shift", "start", "time", "title", "type", "verify", "vol",
    )
)


CMD_PROGRAMS = frozenset({"cmd", "powershell", "hostname", "whoami"})  # programs cmd.py itself answers


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class CmdProcess:
    """One cmd.exe: its environment (names compare case-insensitively), directory, user and output so far."""

    state: HostState
    world: World
    environment: dict[str, str]
    directory: str
    user: str
    stdin: bytes = b""
    run_powershell: powershell_exe.RunScript | None = None
    format_lines: Callable[[list[object]], list[str]] | None = None
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    # While a simple command runs: the stdout written before it, and where the command's own stdout goes.
    _running_in: tuple[list[str], str] | None = field(default=None, repr=False)

    def stdout_so_far(self, running_now: str) -> str:
        """What is certain of this cmd.exe's stdout while a command runs; `running_now`: the console text so far
        of the program that command runs (kept only when its stdout is not redirected)."""
        if self._running_in is None:
            return "".join(self.stdout)
        before, target = self._running_in
        now = "".join(self.stdout) + running_now if target == "stdout" else ""
        return "".join(before) + now

    # --- the environment ------------------------------------------------------------------------------------

    def getenv(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.environment.items() if key.lower() == lowered), None)

    def setenv(self, name: str, value: str) -> None:
        for key in [key for key in self.environment if key.lower() == name.lower()]:
            del self.environment[key]
        if value:
            self.environment[name] = value

    def expand(self, text: str) -> str:
        """%NAME% from the environment, as cmd expands a line before it runs it; unknown names stay."""

        def value(match: re.Match[str]) -> str:
            found = self.getenv(match.group(1))
            return found if found is not None else match.group(0)

        return re.sub(r"%([^%\s]+)%", value, text)

    # --- running --------------------------------------------------------------------------------------------

    def run_switches(self, line: str) -> int:
        """cmd.exe's own command line: /c (or /k) and the command after it; other switches are skipped."""
        match = re.search(r"/[cCkK]\b", line)
        if match is None:
            return self._not_emulated("cmd.exe without /c (an interactive shell)")
        command = line[match.end() :].lstrip()
        if command.startswith('"'):
            # the rule `cmd /?` gives for a command line that starts with a quote: drop it and the last one
            last = command.rfind('"')
            command = command[1:last] + command[last + 1 :] if last > 0 else command[1:]
        return self.run_line(command)

    def run_line(self, line: str) -> int:
        try:
            return self._run_commands(self.expand(line))
        except _Exit as exit_:
            return exit_.code

    def _run_commands(self, line: str) -> int:
        errorlevel = 0
        for operator, command in _split_operators(line):
            if operator == "|":
                return self._not_emulated("a pipe between commands")
            if operator == "&&" and errorlevel != 0:
                continue
            if operator == "||" and errorlevel == 0:
                continue
            errorlevel = self._run_simple(command)
        return errorlevel

    def _run_simple(self, text: str) -> int:
        text, target = _redirection(text)
        if target is None:
            return self._not_emulated(f"the redirection in {text.strip()!r}")
        captured_out, captured_err = self.stdout, self.stderr
        self.stdout, self.stderr = [], []
        self._running_in = (captured_out, target["1"])
        try:
            code = self._dispatch(text)
        finally:
            self._running_in = None
            out, err = self.stdout, self.stderr
            self.stdout, self.stderr = captured_out, captured_err
            routed = {"stdout": self.stdout, "stderr": self.stderr, "nul": []}
            routed[target["1"]].extend(out)
            routed[target["2"]].extend(err)
        return code

    def _dispatch(self, text: str) -> int:
        stripped = text.lstrip(" \t@")
        if re.match(r"echo(?=[\s.:(/]|$)", stripped, re.IGNORECASE):
            return self._echo(stripped[4:])
        match = re.match(r'"([^"]*)"|[^\s/=,;]+', stripped)
        if match is None:
            return 0
        name = match.group(1) if match.group(1) is not None else match.group(0)
        rest = stripped[match.end() :]
        builtin = name.lower()
        if builtin == "set":
            return self._set(rest)
        if builtin == "exit":
            parts = rest.split()
            if parts and parts[0].lower() == "/b":
                parts = parts[1:]
            raise _Exit(int(parts[0]) if parts and re.fullmatch(r"-?\d+", parts[0]) else 0)
        if builtin in ("cd", "chdir") and not rest.strip():
            self.stdout.append(self.directory + "\r\n")
            return 0
        if builtin == "ver":
            self.stdout.append(f"\r\nMicrosoft Windows [Version {WINDOWS_VERSION}]\r\n")
            return 0
        if builtin == "rem":
            return 0
        if builtin == "dir":
            return self._dir(rest)
        if builtin in _NOT_EMULATED_BUILTINS or builtin == "cd":
            return self._not_emulated(f"the cmd.exe command '{stripped.strip()}'")
        return self._program(name, rest)

    # --- built-ins ------------------------------------------------------------------------------------------

    def _echo(self, rest: str) -> int:
        if not rest.strip():
            self.stdout.append("ECHO is on.\r\n")
            return 0
        self.stdout.append(rest[1:] + "\r\n")  # the character after `echo` only separates
        return 0

    def _set(self, rest: str) -> int:
        argument = rest[1:] if rest[:1] in " \t" else rest
        argument = argument.strip()
        if argument.lower().startswith(("/a", "/p")):
            return self._not_emulated(f"set {argument.split()[0]}")
        if argument.startswith('"') and argument.endswith('"') and len(argument) >= 2:
            argument = argument[1:-1]
        if "=" in argument:
            name, _, value = argument.partition("=")
            if not name:
                self.stderr.append("The syntax of the command is incorrect.\r\n")
                return 1
            self.setenv(name, value)
            return 0
        shown = sorted(
            (key for key in self.environment if key.lower().startswith(argument.lower())), key=str.upper
        )
        if not shown:
            self.stderr.append(f"Environment variable {argument} not defined\r\n")
            return 1
        self.stdout.extend(f"{key}={self.environment[key]}\r\n" for key in shown)
        return 0

    def _dir(self, rest: str) -> int:
        if rest.strip():
            return self._not_emulated(f"dir {rest.strip()}")
        profile = self.getenv("USERPROFILE") or ""
        if self.directory.rstrip("\\").lower() != profile.rstrip("\\").lower():
            return self._not_emulated(f"the contents of {self.directory}")
        stamp = self.state.utc_now(self.world).strftime("%m/%d/%Y  %I:%M %p")
        folders = [".", "..", "Contacts", "Desktop", "Documents", "Downloads", "Favorites", "Links", "Music",
                   "Pictures", "Saved Games", "Searches", "Videos"]  # fmt: skip
        serial = sum(ord(char) * (index + 1) for index, char in enumerate(self.state.computer_name)) & 0xFFFFFFFF
        lines = [
            " Volume in drive C has no label.",
            f" Volume Serial Number is {serial >> 16 & 0xFFFF:04X}-{serial & 0xFFFF:04X}",
            "",
            f" Directory of {self.directory}",
            "",
            *(f"{stamp}    <DIR>          {folder}" for folder in folders),
            "               0 File(s)              0 bytes",
            f"{len(folders):>16} Dir(s)  42,949,672,960 bytes free",
        ]
        self.stdout.append("".join(line + "\r\n" for line in lines))
        return 0

    # --- programs -------------------------------------------------------------------------------------------

    def _program(self, name: str, rest: str) -> int:
        base = ntpath.basename(name).lower()
        stem = base.rsplit(".", 1)[0] if base.endswith((".exe", ".com")) else base
        if stem == "cmd":
            return CmdProcess(
                self.state, self.world, dict(self.environment), self.directory, self.user, self.stdin,
                self.run_powershell, self.format_lines, self.stdout, self.stderr,
            ).run_switches(rest)  # fmt: skip
        if stem == "powershell":
            return self._powershell(split_arguments(rest))
        if stem == "hostname":
            self.stdout.append(self.state.computer_name + "\r\n")
            return 0
        if stem == "whoami" and not rest.strip():
            self.stdout.append(whoami(self.user, self.state.computer_name) + "\r\n")
            return 0
        program = native.program_for(name)
        if program is not None:
            result = program(self.state, self.world, split_arguments(rest))
            self._write(result)
            return result.exit_code
        if base in NATIVE_PROGRAMS or any(base + ext in NATIVE_PROGRAMS for ext in (".exe", ".com", ".cmd")):
            return self._not_emulated(f"the program '{name}{rest.rstrip()}'")
        self._write(native.not_recognized(self.state, name))
        return 9009

    def _powershell(self, arguments: list[str]) -> int:
        if self.run_powershell is None or self.format_lines is None:
            return self._not_emulated("powershell.exe here")
        result = powershell_exe.run(
            arguments, self.stdin, dict(self.environment), self.directory, self.run_powershell, self.format_lines
        )
        self.stdout.append(result.stdout)
        self.stderr.append(result.stderr)
        return result.exit_code

    def _write(self, result: NativeResult) -> None:
        self.stdout.append(_crlf(result.stdout))
        self.stderr.append(_crlf(result.stderr))

    def _not_emulated(self, what: str) -> int:
        self.stderr.append(f"SandboxNotEmulated: the sandbox does not emulate {what}\r\n")
        return 1


def whoami(user: str, computer_name: str) -> str:
    """whoami's answer for the signed-in user: DOMAIN\\user in lower case (a local user under the computer name)."""
    if "\\" not in user:
        user = f"{computer_name}\\{user.split('@')[0]}"
    return user.lower()


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _split_operators(line: str) -> list[tuple[str, str]]:
    """The commands of a line with the operator before each: & && || | outside quotes; ^ escapes one character."""
    parts: list[tuple[str, str]] = []
    current: list[str] = []
    operator = ""
    quoted = False
    index = 0
    while index < len(line):
        char = line[index]
        if char == '"':
            quoted = not quoted
        elif char == "^" and not quoted and index + 1 < len(line):
            current.append(line[index + 1])
            index += 2
            continue
        elif char in "&|" and not quoted and not (char == "&" and current and current[-1] in "<>"):
            doubled = line[index : index + 2] in ("&&", "||")
            parts.append((operator, "".join(current)))
            current = []
            operator = line[index : index + 2] if doubled else char
            index += 2 if doubled else 1
            continue
        current.append(char)
        index += 1
    parts.append((operator, "".join(current)))
    return [(op, command) for op, command in parts if command.strip() or op]


# [n]>target or [n]>>target; a handle digit counts only after whitespace (`echo a2>nul` writes "a2")
_REDIRECTION = re.compile(r"(?:(?<!\S)([12]))?(>>?)(&[12]|\s*[^\s&|<>]+)")


def _redirection(text: str) -> tuple[str, dict[str, str] | None]:
    """The command without its redirections, and where stdout ("1") and stderr ("2") go: "stdout", "stderr" or
    "nul"; None when a redirection goes to a file (not emulated)."""
    target = {"1": "stdout", "2": "stderr"}
    to_file = False

    def take(match: re.Match[str]) -> str:
        nonlocal to_file
        stream = match.group(1) or "1"
        where = match.group(3).strip()
        if where == "&1":
            target[stream] = target["1"] if stream != "1" else "stdout"
        elif where == "&2":
            target[stream] = target["2"] if stream != "2" else "stderr"
        elif where.lower() == "nul":
            target[stream] = "nul"
        else:
            to_file = True
        return ""

    remaining = _REDIRECTION.sub(take, text)
    return remaining, None if to_file else target
