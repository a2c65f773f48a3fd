"""Acceptance: the playbooks of the KMS host's own errors read the KMS host's own logs, over WinRM, on KMS hosts the
sandbox serves. A licensed KMS host whose logs show nothing wrong is `healthy` and untouched; one whose logs show
the error escalates with what it found.

- 0xC004F015: a KMS host whose key (CSVLK) is too old for a client logs event 12290 with 0xC004F015 for that
  client's requests (learn.microsoft.com/troubleshoot/windows-server/licensing-and-activation/
  error-0xc004f015-activate-windows-10); the client is told 0xC004F042.
- 0x80072338: a KMS host that may not update the _VLMCS SRV record another host owns logs event 12293 with
  0x80072338; one that published logs 12294 (.../event-12293-error-0x800723-set-kms-host).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build
from remediate.sandbox.windows import licensing
from remediate.sandbox.windows.editions import gvlk_for
from remediate.sandbox.windows.licensing import LicensingError
from remediate.sandbox.windows.state import LICENSED, HostState

pytestmark = pytest.mark.slow

SCENARIO = """
name: kms-host-logs
description: A healthy KMS host in DNS, one whose key is too old for Windows 11, one whose SRV record is another's.
world:
  domain: corp.example
  kms_hosts:
    - {name: kms01.corp.example, address: 10.0.0.5, count: 40, csvlk: ws2022, serve: true}
    - {name: kms02.corp.example, address: 10.0.0.6, count: 40, csvlk: ws2019, serve: true, publish: false}
    - {name: kms03.corp.example, address: 10.0.0.7, count: 40, csvlk: ws2022, serve: true, dns_denied: true}
groups:
  - {name: app, prefix: APP, count: 1, edition: ServerStandard}
  - {name: pc, prefix: PC, count: 1, edition: Enterprise, domain_role: 1}
"""


@dataclass
class Lab:
    fleet: Fleet
    states: dict[str, HostState]
    directory: Path

    def run(self, code: str, names: list[str]) -> tuple[int, dict[str, dict[str, Any]]]:
        hosts = self.directory / f"hosts-{code}.txt"
        lines = []
        for name in names:
            endpoint = self.fleet.endpoint(name)
            lines.append(f"{endpoint.address}:{endpoint.port} scheme=http auth=ntlm\n")
        hosts.write_text("".join(lines), "utf-8")
        env = {"REMEDIATE_USERNAME": self.fleet.username, "REMEDIATE_PASSWORD": self.fleet.password}
        result = CliRunner().invoke(main, ["run", code, "--hosts", str(hosts), "--output", "json", "--audit",
                                           str(self.directory / f"audit-{code}.jsonl")], env=env)
        return result.exit_code, {host["computer_name"]: host for host in json.loads(result.stdout)["hosts"]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("kms-host-logs")
    scenario = directory / "kms.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    built = build(scenario, None, 0)
    states = {spec.computer_name: spec.engine.state for spec in built.hosts}  # type: ignore[attr-defined]
    # A Windows 11 client, freshly imaged (its GVLK installed again: not activated) and pointed at KMS02 (slmgr
    # /skms), asks KMS02 to activate it: a Server 2019 CSVLK cannot.
    client = states["PC01"]
    licensing.install_product_key(client, built.world, gvlk_for("Enterprise") or "")
    client.kms_machine = "kms02.corp.example"
    with pytest.raises(LicensingError) as refused:
        licensing.activate(client, built.world)
    assert refused.value.hresult == 0xC004F042  # what the client is told
    with Fleet.start(built.hosts, auth="ntlm") as fleet:
        yield Lab(fleet, states, directory)


def test_0xc004f015_a_kms_host_whose_key_serves_its_clients_is_healthy_one_too_old_escalates(lab: Lab) -> None:
    exit_code, hosts = lab.run("0xC004F015", ["KMS01", "KMS02"])
    assert exit_code == 4
    assert hosts["KMS01"]["outcome"] == "healthy", hosts["KMS01"]["reason"]
    assert {step["phase"] for step in hosts["KMS01"]["steps"]} == {"detect"}
    assert lab.states["KMS01"].license_status == LICENSED
    answered = next(step for step in hosts["KMS01"]["steps"] if step["id"] == "kms-requests")["result"]["data"]
    assert answered["clients"] >= 1 and answered["clients_refused"] == []  # APP01 activated against it via DNS
    refused = hosts["KMS02"]
    assert refused["outcome"] == "escalate" and refused["guidance"]
    check = next(step for step in refused["steps"] if step["id"] == "kms-requests")
    assert check["result"]["hresult"] == "0xC004F015"
    assert check["result"]["data"]["clients_refused"] == ["pc01.corp.example"]


def test_0x80072338_a_kms_host_that_published_is_healthy_one_denied_the_record_escalates(lab: Lab) -> None:
    exit_code, hosts = lab.run("0x80072338", ["KMS01", "KMS03"])
    assert exit_code == 4
    assert hosts["KMS01"]["outcome"] == "healthy", hosts["KMS01"]["reason"]
    published = next(step for step in hosts["KMS01"]["steps"] if step["id"] == "dns-publishing")
    assert published["result"]["data"] == {"published": True, "domain": "corp.example", "last_event_id": 12294}
    denied = hosts["KMS03"]
    assert denied["outcome"] == "escalate" and "_VLMCS" in denied["guidance"]
    check = next(step for step in denied["steps"] if step["id"] == "dns-publishing")
    assert check["result"]["hresult"] == "0x80072338" and check["result"]["data"]["published"] is False


def test_a_kms_client_is_healthy_under_both(lab: Lab) -> None:
    for code in ("0xC004F015", "0x80072338"):
        exit_code, hosts = lab.run(code, ["APP01"])
        assert exit_code == 0 and hosts["APP01"]["outcome"] == "healthy", hosts["APP01"]["reason"]


def test_status_and_run_auto_name_the_kms_host_too_old_for_a_client(lab: Lab) -> None:
    """KMSPLAN: a Server 2019 CSVLK does not activate Windows 11. With the KMS hosts in the same read, the client's
    last request (event 12288 names kms02.corp.example:1688) is matched to KMS02, whose version and key say why; run
    auto hands the client over, naming the KMS host, instead of running a client playbook."""
    names = ["KMS01", "KMS02", "PC01", "APP01"]
    hosts = lab.directory / "hosts-auto.txt"
    hosts.write_text("".join(f"{lab.fleet.endpoint(n).address}:{lab.fleet.endpoint(n).port} scheme=http auth=ntlm\n"
                             for n in names), "utf-8")
    env = {"REMEDIATE_USERNAME": lab.fleet.username, "REMEDIATE_PASSWORD": lab.fleet.password}
    status = CliRunner().invoke(main, ["status", "--hosts", str(hosts), "--output", "json"], env=env)
    read = {entry["computer_name"]: entry for entry in json.loads(status.stdout)}
    client = read["PC01"]
    assert client["data"]["kms_request_server"] == "kms02.corp.example:1688"
    assert client["kms_host_too_old"] is not None and "KMS02" in client["kms_host_too_old"]
    assert "10.0.17763" in client["kms_host_too_old"] and "Windows Server 2019" in client["kms_host_too_old"]
    assert client["playbook"] is None and "KMSPLAN" in client["evidence_source"]
    assert all(read[name]["kms_host_too_old"] is None for name in ("KMS01", "KMS02", "APP01"))
    auto = CliRunner().invoke(main, ["run", "auto", "--hosts", str(hosts), "--output", "json", "--audit",
                                     str(lab.directory / "auto.jsonl")], env=env)
    assert auto.exit_code == 4, auto.output
    (handed,) = [host for host in json.loads(auto.stdout)["hosts"] if host["computer_name"] == "PC01"]
    assert handed["outcome"] == "escalate" and handed["reason_id"] == "kms_host_too_old" and not handed["steps"]
    assert "KMS02" in handed["reason"] and "10.0.17763" in handed["reason"]
    assert lab.states["PC01"].license_status != LICENSED
