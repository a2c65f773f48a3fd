"""Certificate authentication over HTTPS: the host maps the client certificate's UPN to the account."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

NO_PASSWORD = {"REMEDIATE_USERNAME": None, "REMEDIATE_PASSWORD": None}


def status(hosts: Path, *options: str) -> Result:
    arguments = ["status", "--hosts", str(hosts), "--auth", "certificate", "--retries", "0", "--output", "json"]
    return CliRunner().invoke(main, [*arguments, *options], env=NO_PASSWORD)


@pytest.mark.slow
def test_a_client_certificate_mapped_to_the_account_logs_on_without_a_password(tmp_path: Path) -> None:
    with Fleet.start(build_hosts("healthy", 2, 0), auth="certificate", https=True) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        certificate, key = fleet.client_certificate()
        result = status(hosts, "--cert-pem", str(certificate), "--cert-key-pem", str(key))
    assert result.exit_code == 0, result.output
    assert [host["licensed"] for host in json.loads(result.stdout)] == [True, True]


@pytest.mark.slow
def test_a_certificate_of_another_user_is_refused_with_a_mapping_message(tmp_path: Path) -> None:
    with Fleet.start(build_hosts("healthy", 1, 0), auth="certificate", https=True) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        certificate, key = fleet.client_certificate("intruder@sandbox.test")
        result = status(hosts, "--cert-pem", str(certificate), "--cert-key-pem", str(key))
    assert result.exit_code == 3, result.output
    (host,) = json.loads(result.stdout)
    assert host["error"].startswith("auth: authentication failed: the host refused the client certificate; the "
                                    "host maps no account to this client certificate")


def test_certificate_auth_without_a_certificate_is_a_usage_error(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("ws01.corp.example\n", encoding="utf-8")
    result = status(hosts)
    assert result.exit_code == 2
    assert "auth certificate needs a client certificate and key" in result.output
