"""Fleets of sandbox hosts: own ports and names, hosts files, verified HTTPS, `remediate sandbox up`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from pypsrp.client import Client
from pypsrp.complex_objects import PSInvocationState
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan
from sandbox_winrm_engine import EchoEngine

from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.testing import StartFleet

pytestmark = pytest.mark.slow  # every test starts a fleet

FAST = {"operation_timeout": 2, "read_timeout": 5}


def test_each_host_has_its_own_port_name_and_engine(sandbox_fleet: StartFleet) -> None:
    engines = {name: EchoEngine(name) for name in ("WS01", "WS02", "DC01")}
    fleet = sandbox_fleet([HostSpec(name, engine) for name, engine in engines.items()], auth="ntlm")
    assert [endpoint.computer_name for endpoint in fleet.endpoints] == ["WS01", "WS02", "DC01"]
    assert len({endpoint.port for endpoint in fleet.endpoints}) == 3
    for name in engines:
        Client("127.0.0.1", **{**fleet.client_options(name), **FAST}).execute_cmd(f"hostname-{name}")
    for name, engine in engines.items():
        assert engine.native_calls == [(f"hostname-{name}", [])]


def test_faults_carry_the_computer_name_as_machine(sandbox_fleet: StartFleet) -> None:
    from pypsrp.exceptions import WSManFaultError

    from remediate.sandbox.faults import TransportFaults

    fleet = sandbox_fleet(
        [HostSpec("KMSCLIENT7", EchoEngine(), TransportFaults(max_shells_per_user=0, allow_unencrypted=True))],
        auth="basic",
    )
    with pytest.raises(WSManFaultError) as raised:
        RunspacePool(WSMan("127.0.0.1", **{**fleet.client_options("KMSCLIENT7"), **FAST})).open()
    assert raised.value.machine == "KMSCLIENT7"


def test_hosts_file_lists_every_host_without_the_password(sandbox_fleet: StartFleet, tmp_path: Path) -> None:
    fleet = sandbox_fleet(
        [HostSpec("WS01", EchoEngine()), HostSpec("WS02", EchoEngine())],
        auth="ntlm",
        password="Sandbox-Pass-123",
    )
    path = fleet.write_hosts_file(tmp_path / "hosts.txt")
    text = path.read_text(encoding="utf-8")
    assert "Sandbox-Pass-123" not in text
    assert "sandbox\\admin" in text
    entries = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert entries == [f"127.0.0.1:{endpoint.port} scheme=http auth=ntlm" for endpoint in fleet.endpoints]


def test_https_hosts_file_names_the_ca_and_clients_verify_against_it(
    sandbox_fleet: StartFleet, tmp_path: Path
) -> None:
    ca_file = tmp_path / "hosts.txt.ca.pem"
    fleet = sandbox_fleet([HostSpec("WS01", EchoEngine())], auth="basic", https=True, ca_file=ca_file)
    assert fleet.ca_file == ca_file and ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    (entry,) = [line for line in fleet.hosts_file_text().splitlines() if not line.startswith("#")]
    assert entry == f"127.0.0.1:{fleet.endpoint('WS01').port} scheme=https auth=basic ca_file={ca_file}"
    options = {**fleet.client_options("WS01"), **FAST}
    assert options["cert_validation"] == str(ca_file)
    assert Client("127.0.0.1", **options).execute_cmd("whoami")[2] == 0
    # verification is real: the system trust store does not know the sandbox CA, so a default client fails
    with pytest.raises(requests.exceptions.SSLError):
        Client("127.0.0.1", **{**options, "cert_validation": True}).execute_cmd("whoami")
    # and "localhost" is in the certificate too
    assert Client("localhost", **options).execute_cmd("whoami")[2] == 0


def test_ntlm_over_https_without_message_encryption(sandbox_fleet: StartFleet) -> None:
    fleet = sandbox_fleet([HostSpec("WS01", EchoEngine())], auth="ntlm", https=True)
    with RunspacePool(WSMan("127.0.0.1", **{**fleet.client_options("WS01"), **FAST})) as pool:
        ps = PowerShell(pool).add_script("over tls")
        ps.invoke()
    assert ps.state == PSInvocationState.COMPLETED


def test_one_user_cannot_have_two_passwords_in_one_process(sandbox_fleet: StartFleet) -> None:
    sandbox_fleet([HostSpec("WS01", EchoEngine())], auth="ntlm", username="lab\\ops", password="First-Pass-1")
    with pytest.raises(ValueError, match="already served with another password"):
        Fleet.start(
            [HostSpec("WS02", EchoEngine())], auth="ntlm", username="lab\\ops", password="Other-Pass-2"
        )


def test_a_stopped_fleet_refuses_connections(sandbox_fleet: StartFleet) -> None:
    fleet = sandbox_fleet([HostSpec("WS01", EchoEngine())], auth="ntlm")
    options = {**fleet.client_options("WS01"), **FAST}
    pool = RunspacePool(WSMan("127.0.0.1", **options))
    pool.open()  # an idle keep-alive connection stays open until the fleet stops
    fleet.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        Client("127.0.0.1", **options).execute_cmd("whoami")


def test_sandbox_up_serves_until_interrupted(tmp_path: Path) -> None:
    hosts_file = tmp_path / "hosts.txt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("REMEDIATE_PASSWORD", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "remediate",
            "sandbox",
            "up",
            "--hosts",
            "2",
            "--https",
            "--auth",
            "basic",
            "--hosts-file",
            str(hosts_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        lines: list[str] = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "ready" in line:
                break
        assert any("ready" in line for line in lines), lines
        password = next(line.split()[1] for line in lines if line.startswith("password:"))
        entries = [line.split() for line in hosts_file.read_text().splitlines() if not line.startswith("#")]
        assert len(entries) == 2
        address, port = entries[0][0].split(":")
        variables = dict(item.split("=", 1) for item in entries[0][1:])
        assert variables["scheme"] == "https" and Path(variables["ca_file"]) == Path(f"{hosts_file}.ca.pem")
        client = Client(
            address,
            port=int(port),
            username="sandbox\\admin",
            password=password,
            auth="basic",
            ssl=True,
            cert_validation=variables["ca_file"],
            **FAST,
        )
        with RunspacePool(client.wsman) as pool:
            ps = PowerShell(pool).add_script("$PSVersionTable")
            ps.invoke()
        assert ps.state in (
            PSInvocationState.COMPLETED,
            PSInvocationState.FAILED,
        )  # the pipeline ran to its end
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "sandbox stopped" in out
    assert password not in hosts_file.read_text()
