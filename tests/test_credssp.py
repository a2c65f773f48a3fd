"""CredSSP: remediate logs on to sandbox hosts through pyspnego's CredSSP acceptor (TLS inside HTTP, NTLM inside
that, the password delegated to the host); over HTTP its messages are sealed with the CredSSP TLS channel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from remediate.cli import main
from remediate.inventory import Host
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts
from remediate.secret import Secret
from remediate.transport import ConnectionOptions, Credentials, Session

pytestmark = pytest.mark.slow

PASSWORD = "Sbx-credssp-tests-9a"  # one password per process: the sandbox's NTLM user file is shared


def status(fleet: Fleet, hosts: Path, password: str) -> Result:
    env = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": password}
    arguments = ["status", "--hosts", str(hosts), "--auth", "credssp", "--retries", "0", "--output", "json"]
    return CliRunner().invoke(main, arguments, env=env)


@pytest.mark.parametrize("https", [False, True], ids=["http-encrypted", "https"])
def test_status_logs_on_with_credssp(tmp_path: Path, https: bool) -> None:
    with Fleet.start(build_hosts("healthy", 2, 0), auth="credssp", https=https, password=PASSWORD) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        result = status(fleet, hosts, PASSWORD)
    assert result.exit_code == 0, result.output
    assert [host["licensed"] for host in json.loads(result.stdout)] == [True, True]
    assert PASSWORD not in result.output


def test_a_wrong_password_is_refused_by_the_host_with_its_own_message(tmp_path: Path) -> None:
    with Fleet.start(build_hosts("healthy", 1, 0), auth="credssp", password=PASSWORD) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        result = status(fleet, hosts, "Wrong-Pa55-9a")
    assert result.exit_code == 3, result.output
    assert [host["error"] for host in json.loads(result.stdout)] == [
        "auth: CredSSP: the host refused the user name or password"
    ]


def test_messages_over_16_kib_are_sealed_in_chunks_both_ways() -> None:
    """pypsrp sends a request over 16 KiB as several TLS-sealed parts (multipart/x-multi-encrypted), and so does
    the host with a long answer."""
    with Fleet.start(build_hosts("healthy", 1, 0), auth="credssp", password=PASSWORD) as fleet:
        endpoint = fleet.endpoints[0]
        host = Host(endpoint.address, endpoint.port, {"scheme": "http"})
        credentials = Credentials(fleet.username, Secret(PASSWORD))
        long_comment = "# " + "z" * 20000 + "\n"
        result = (
            "'{\"ok\": true, \"hresult\": null, \"license_status\": null, \"changed\": false, \"output\": \"' + "
            "('y' * 30000) + '\", \"data\": {}}'"
        )
        with Session(host, ConnectionOptions(auth="credssp", scheme="http"), credentials) as session:
            run = session.run(long_comment + result, {}, timeout_s=30)
    assert run.result.ok, run.script_error
    assert run.result.output == "y" * 30000
