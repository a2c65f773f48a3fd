"""pywinrm, a WinRM client written apart from pypsrp, runs commands and PowerShell on sandbox hosts.

pywinrm's Session.run_cmd sends a command and its arguments through WinRS; run_ps sends
`powershell -encodedcommand <UTF-16LE base64>` the same way. Both reach the host's cmd.exe and powershell.exe
as on Windows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import winrm

from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts
from remediate.sandbox.testing import StartFleet
from remediate.sandbox.winrm.auth import AuthScheme

pytestmark = pytest.mark.slow
SCENARIOS = Path(__file__).parent.parent / "remediate" / "sandbox" / "scenarios"

COMBINATIONS = [("ntlm", False), ("ntlm", True), ("basic", True)]


@pytest.fixture(params=COMBINATIONS, ids=[f"{auth}-{'https' if https else 'http'}" for auth, https in COMBINATIONS])
def session(request: pytest.FixtureRequest, sandbox_fleet: StartFleet) -> Iterator[winrm.Session]:
    auth, https = request.param
    scheme: AuthScheme = auth
    fleet: Fleet = sandbox_fleet(build_hosts(SCENARIOS / "healthy.yaml", 1, 0), auth=scheme, https=https)
    endpoint = fleet.endpoints[0]
    yield winrm.Session(
        endpoint.url,
        auth=(fleet.username, fleet.password),
        transport=auth,
        server_cert_validation="validate" if https else "ignore",
        ca_trust_path=str(fleet.ca_file) if https else None,
    )


def test_run_cmd_runs_a_program_with_its_arguments(session: winrm.Session) -> None:
    result = session.run_cmd("cmd", ["/c", "echo", "hello", "world"])
    assert (result.std_out, result.std_err, result.status_code) == (b"hello world\r\n", b"", 0)
    assert session.run_cmd("hostname").std_out == b"SRV01\r\n"


def test_run_cmd_passes_cscript_its_arguments_apart(session: winrm.Session) -> None:
    result = session.run_cmd("cscript.exe", ["//NoLogo", "C:\\Windows\\System32\\slmgr.vbs", "/xpr"])
    assert result.status_code == 0
    assert result.std_out.startswith(b"Windows(R), ServerStandard edition:\r\n")
    assert b"Volume activation will expire" in result.std_out


def test_run_cmd_reports_an_unknown_program_as_cmd_does(session: winrm.Session) -> None:
    result = session.run_cmd("no-such-program")
    assert result.status_code == 9009
    assert result.std_err.startswith(b"'no-such-program' is not recognized as an internal or external command")


def test_run_ps_runs_powershell_and_returns_its_console_text(session: winrm.Session) -> None:
    result = session.run_ps("$env:COMPUTERNAME; Write-Host 'from the host'; 1 + 1")
    assert (result.std_out, result.status_code) == (b"SRV01\r\nfrom the host\n2\r\n", 0)


def test_run_ps_carries_exit_codes_and_errors(session: winrm.Session) -> None:
    assert session.run_ps("exit 7").status_code == 7
    failed = session.run_ps("Get-ServiceTypo")
    assert failed.status_code == 1
    assert b"The term 'Get-ServiceTypo' is not recognized" in failed.std_err
