"""WinRS command lines as Windows runs them: through cmd.exe /c, with powershell.exe routed into the interpreter.

Expected bytes come from pypsrp's recorded exchanges with Windows (tests/tests_pypsrp/responses in its sdist,
named per test) or from cmd's and powershell.exe's documented rules."""

from __future__ import annotations

import base64

import pytest
from test_sandbox_windows_support import gvlk_host, world_with_kms

from remediate.sandbox.seam import Command, NativeOutcome, PipelineRequest, ShellContext
from remediate.sandbox.windows.cmdline import join_for_native, split_arguments
from remediate.sandbox.windows.host import WindowsHost


def host(**fields: object) -> WindowsHost:
    world = world_with_kms()
    return WindowsHost(gvlk_host(world, **fields), world)


def winrs(command: str, arguments: list[str] | None = None, **shell: object) -> NativeOutcome:
    return host().run_native(command, arguments or [], ShellContext(**shell))  # type: ignore[arg-type]


def test_cmd_c_echo_as_in_the_recorded_winrs_exchange() -> None:
    outcome = winrs("cmd.exe", ["/c", "echo", "hi"])  # test_winrs_standard.yml
    assert (outcome.stdout, outcome.stderr, outcome.exit_code) == (b"hi\r\n", b"", 0)


def test_echo_keeps_the_space_before_an_operator_and_exit_sets_the_code() -> None:
    outcome = winrs("cmd.exe", ["/c echo out && echo err>&2 && exit 1"])  # test_winrs_stderr_rc.yml
    assert (outcome.stdout, outcome.stderr, outcome.exit_code) == (b"out \r\n", b"err \r\n", 1)


@pytest.mark.parametrize(
    ("line", "stdout", "code"),
    [
        ("echo a & echo b", b"a \r\nb\r\n", 0),
        ("exit 3 && echo never", b"", 3),
        ("cmd /c exit 2 || echo failed", b"failed\r\n", 0),
        ("cmd /c exit 2 && echo never", b"", 2),
        ('cmd /c "echo quoted & echo twice"', b"quoted \r\ntwice\r\n", 0),
        ("echo a^&b", b"a&b\r\n", 0),
        ("echo.", b"\r\n", 0),
        ("echo", b"ECHO is on.\r\n", 0),
        ("echo hidden >nul", b"", 0),
        ("echo %COMPUTERNAME%", b"SRV01\r\n", 0),
        ("echo %NO_SUCH_VARIABLE%", b"%NO_SUCH_VARIABLE%\r\n", 0),
        ("set A=1 & echo %A%", b"%A%\r\n", 0),  # cmd expands a line before it runs any of it
        ("hostname", b"SRV01\r\n", 0),
        ("ver", b"\r\nMicrosoft Windows [Version 10.0.17763.6414]\r\n", 0),
    ],
)
def test_cmd_built_ins_operators_and_expansion(line: str, stdout: bytes, code: int) -> None:
    outcome = winrs(line)
    assert (outcome.stdout, outcome.exit_code) == (stdout, code)


def test_an_unknown_program_is_not_recognized_with_errorlevel_9009() -> None:
    outcome = winrs("frobnicate", ["/x"])
    assert outcome.exit_code == 9009
    assert outcome.stderr == (
        b"'frobnicate' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
    )


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("notepad.exe", "the program 'notepad.exe'"),
        ("echo a | findstr a", "a pipe"),
        ("echo a > C:\\out.txt", "the redirection"),
        ("type C:\\Windows\\win.ini", "the cmd.exe command 'type"),
        ("powershell.exe -File C:\\x.ps1", "powershell.exe -File"),
    ],
)
def test_what_cmd_would_run_but_the_sandbox_does_not_emulate_says_so(line: str, named: str) -> None:
    outcome = winrs(line)
    assert outcome.exit_code == 1
    assert outcome.stderr.startswith(b"SandboxNotEmulated: the sandbox does not emulate ")
    assert named.encode() in outcome.stderr


def test_shell_environment_variables_reach_set_and_expansion() -> None:
    complex_chars = r'_-(){}[]<>*+-/\?"' "!@#$^&|;:i,.`~0"  # test_winrs_environment.yml
    environment = {"env1": "var1", "1234": "5678", complex_chars: complex_chars}
    outcome = winrs("cmd.exe", ["/c", "set"], environment=environment)
    lines = outcome.stdout.decode().splitlines()
    assert {"env1=var1", "1234=5678", f"{complex_chars}={complex_chars}"} <= set(lines)
    assert "COMPUTERNAME=SRV01" in lines
    assert lines == sorted(lines, key=lambda line: line.split("=", 1)[0].upper())
    assert winrs("echo %env1%", environment={"ENV1": "from the shell"}).stdout == b"from the shell\r\n"


def test_set_with_a_prefix_lists_matches_or_fails() -> None:
    assert winrs("set COMPUTER").stdout == b"COMPUTERNAME=SRV01\r\n"
    missing = winrs("set NOPE")
    assert (missing.stderr, missing.exit_code) == (b"Environment variable NOPE not defined\r\n", 1)


def test_whoami_is_the_user_who_opened_the_shell() -> None:
    assert winrs("whoami", user="SANDBOX\\Admin").stdout == b"sandbox\\admin\r\n"
    assert winrs("whoami.exe", user="operator").stdout == b"srv01\\operator\r\n"


def test_dir_lists_the_profile_directory_with_its_volume_header() -> None:
    outcome = winrs("dir")
    text = outcome.stdout.decode()
    assert text.startswith(" Volume in drive C has no label.\r\n Volume Serial Number is ")
    assert " Directory of C:\\Users\\Administrator\r\n" in text
    assert "<DIR>          Documents\r\n" in text
    assert outcome.exit_code == 0


# --- powershell.exe ------------------------------------------------------------------------------------------


def test_powershell_exe_output_is_crlf_and_write_host_is_lf() -> None:
    outcome = winrs("powershell.exe", ["(pwd).Path"], working_directory="C:\\Windows")  # test_winrs_extra_opts.yml
    assert (outcome.stdout, outcome.exit_code) == (b"C:\\Windows\r\n", 0)
    mixed = winrs("powershell.exe", ["'one'; Write-Host two; 'three'"])
    assert mixed.stdout == b"one\r\ntwo\nthree\r\n"


def test_powershell_exe_writes_in_the_shell_code_page() -> None:
    outcome = winrs("powershell.exe", ["Write-Host こんにちは"], codepage=65001)  # test_winrs_unicode.yml
    assert outcome.stdout.decode("utf-8") == "こんにちは\n"


def test_powershell_exe_reads_its_script_from_stdin_with_a_dash() -> None:
    outcome = winrs("powershell.exe", ["-"], stdin=b'Write-Host "output 1";Write-Host "output 2";')
    assert (outcome.stdout, outcome.exit_code) == (b"output 1\noutput 2\n", 0)  # test_winrs_send.yml


def test_powershell_exe_encoded_command_and_exit_code() -> None:
    script = "Write-Output 1; exit 3"
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    outcome = winrs(f"powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {encoded}")
    assert (outcome.stdout, outcome.exit_code) == (b"1\r\n", 3)


def test_powershell_exe_command_sees_the_shell_environment() -> None:
    outcome = winrs("powershell", ["-Command", "$env:Greeting"], environment={"Greeting": "hello"})
    assert outcome.stdout == b"hello\r\n"


def test_powershell_exe_reports_an_error_on_stderr_and_exit_code_1() -> None:
    outcome = winrs("powershell.exe", ["Get-ServiceTypo"])
    assert outcome.exit_code == 1
    assert outcome.stdout == b""
    assert outcome.stderr.startswith(b"The term 'Get-ServiceTypo' is not recognized as the name of a cmdlet")
    assert b"+ FullyQualifiedErrorId : CommandNotFoundException" in outcome.stderr


def test_cmd_called_from_powershell_gets_powershells_quoting() -> None:
    """PowerShell 5.1 quotes an argument with spaces; cmd then finds /c inside the quotes and echoes the rest,
    closing quote included (pypsrp's test_psrp_multiple_commands.yml: 'hi"')."""
    request = PipelineRequest([Command("cmd.exe /c echo hi; & cmd.exe '/c echo hi'", is_script=True)])
    outcome = host().invoke_pipeline(request)
    assert outcome.output == ["hi", 'hi"']


# --- command lines ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "arguments"),
    [
        ('a "b c" d', ["a", "b c", "d"]),
        ('"a\\"b"', ['a"b']),
        ('a\\\\"b c"', ["a\\b c"]),
        ("a\\\\b", ["a\\\\b"]),
        ('"a""b"', ['a"b']),
        ('""', [""]),
        ("  spaced   out  ", ["spaced", "out"]),
    ],
)
def test_split_arguments_follows_the_c_runtime(line: str, arguments: list[str]) -> None:
    assert split_arguments(line) == arguments


def test_join_for_native_quotes_whitespace_and_drops_empty_arguments() -> None:
    assert join_for_native(["/c", "echo hi", "", '"kept as is"']) == '/c "echo hi" "kept as is"'
