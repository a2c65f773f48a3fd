"""Ansible as a judge of the sandbox: its `raw` module against a sandbox host over connection psrp and winrm.

Ansible's two Windows connection plugins reach a host differently. `psrp` (pypsrp) runs the raw command as a
script in a runspace pool with `exit $LASTEXITCODE` appended, and takes the return code from the
SetShouldExit host call that `exit` makes. `winrm` (pywinrm) opens a WinRS shell and runs
`PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand <UTF-16LE base64>`,
taking the process's exit code. Each connection runs as a user would run it: `ansible` ad hoc, an inventory
with the connection's variables, NTLM over HTTPS with the sandbox's CA certificate validated.

Modules other than raw (win_ping, every ansible.windows module) run Ansible's PowerShell module wrapper, which
compiles C# with Add-Type; the sandbox does not emulate it, so they must fail with SandboxNotEmulated.

Ansible (the `ansible` package: ansible-core and the ansible.windows collection) is in the dev extra.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
ANSIBLE = Path(sys.executable).parent / "ansible"
NOT_EMULATED = re.compile(r"SandboxNotEmulated: the sandbox does not emulate .+ \(line \d+\)")


def _require(what: str, found: bool) -> None:
    if not found:
        message = f"{what} is not installed: install the dev extra (pip install -e '.[dev]')"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@dataclass(frozen=True)
class Target:
    fleet: Fleet
    computer_name: str
    directory: Path


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """One healthy sandbox host for the module, NTLM over HTTPS."""
    _require("ansible", ANSIBLE.exists())
    hosts = build_hosts(ROOT / "remediate" / "sandbox" / "scenarios" / "healthy.yaml", 1, 0)
    with Fleet.start(hosts, auth="ntlm", https=True) as fleet:
        yield Target(fleet, hosts[0].computer_name, tmp_path_factory.mktemp("ansible"))


def _inventory(target: Target, connection: str) -> Path:
    endpoint = target.fleet.endpoint(target.computer_name)
    ca_file = str(target.fleet.ca_file)
    variables: dict[str, Any] = {
        "ansible_connection": connection,
        "ansible_host": endpoint.address,
        "ansible_port": endpoint.port,
        "ansible_user": target.fleet.username,
        "ansible_password": target.fleet.password,
    }
    if connection == "psrp":
        variables |= {"ansible_psrp_protocol": "https", "ansible_psrp_auth": "ntlm",
                      "ansible_psrp_cert_validation": "validate", "ansible_psrp_ca_cert": ca_file}  # fmt: skip
    else:
        variables |= {"ansible_winrm_scheme": "https", "ansible_winrm_transport": "ntlm",
                      "ansible_winrm_server_cert_validation": "validate",
                      "ansible_winrm_ca_trust_path": ca_file}  # fmt: skip
    path = target.directory / f"inventory-{connection}.json"
    path.write_text(json.dumps({"all": {"hosts": {target.computer_name: variables}}}), encoding="utf-8")
    return path


def ansible(target: Target, connection: str, module: str, arguments: str | None = None) -> dict[str, Any]:
    """Run `ansible <host> -m <module> [-a <arguments>]` and return the host's result."""
    command = [str(ANSIBLE), "-i", str(_inventory(target, connection)), target.computer_name, "-m", module]
    if arguments is not None:
        command += ["-a", arguments]
    home = target.directory / "home"
    config = target.directory / "ansible.cfg"
    config.touch()
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(config),  # an empty one: no ansible.cfg of the machine or the working directory
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_NOCOLOR": "1",
    }
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"ansible wrote no JSON report:\n{completed.stdout}\n{completed.stderr}", pytrace=False)
    result: dict[str, Any] = report["plays"][0]["tasks"][0]["hosts"][target.computer_name]
    return result


# A command line as administrators write them: native output, a cmdlet, and an exit code to report.
RAW = (
    "hostname; (Get-CimInstance -ClassName Win32_OperatingSystem).Caption; "
    "cscript.exe //NoLogo C:\\Windows\\System32\\slmgr.vbs /xpr; exit 3"
)


@pytest.mark.parametrize("connection", ["psrp", "winrm"])
def test_raw_runs_powershell_on_the_host_and_reports_its_output_and_exit_code(
    target: Target, connection: str
) -> None:
    result = ansible(target, connection, "raw", RAW)
    assert result["rc"] == 3, result
    assert result["failed"] is True and result["msg"] == "non-zero return code"
    lines = [line.strip() for line in result["stdout_lines"] if line.strip()]
    assert lines[0] == target.computer_name
    assert lines[1].startswith("Microsoft Windows Server"), lines
    assert lines[2].startswith("Windows(R)") and "activation will expire" in lines[3], lines
    assert result["stderr"].strip() == ""


@pytest.mark.parametrize("connection", ["psrp", "winrm"])
def test_raw_succeeds_with_rc_0_and_a_failing_native_command_fails_it(target: Target, connection: str) -> None:
    ok = ansible(target, connection, "raw", "Write-Output 'ok'")
    assert (ok["rc"], ok.get("failed", False), ok["stdout"].strip()) == (0, False, "ok")
    # psrp's `exit $LASTEXITCODE` passes the native code on; powershell.exe -EncodedCommand exits 1 when $? is false
    failed = ansible(target, connection, "raw", "cmd.exe /c exit 4")
    assert failed["rc"] == (4 if connection == "psrp" else 1), failed


@pytest.mark.parametrize("connection", ["psrp", "winrm"])
def test_win_ping_fails_with_sandbox_not_emulated(target: Target, connection: str) -> None:
    _require("the ansible.windows collection", _has_ansible_windows())
    result = ansible(target, connection, "win_ping")
    assert result["failed"] is True, result
    assert "ping" not in result  # no pong: the module never ran
    assert NOT_EMULATED.search(result["module_stderr"]), result["module_stderr"]
    assert "FullyQualifiedErrorId : SandboxNotEmulated" in result["module_stderr"]


def _has_ansible_windows() -> bool:
    from importlib.util import find_spec

    spec = find_spec("ansible_collections")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return any((Path(location) / "ansible" / "windows").is_dir() for location in locations)
