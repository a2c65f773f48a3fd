"""End to end: `remediate kms status` reads the KMS hosts over real WinRM, and what it says the clients get is what
the clients get.

The sandbox serves the world's KMS hosts as hosts of the fleet: a healthy one that DNS publishes, one whose count
is below the client threshold, one whose key is of an older CSVLK group (Server 2019), one not activated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build
from remediate.sandbox.windows import licensing
from remediate.sandbox.windows.editions import edition, gvlk_for
from remediate.sandbox.windows.licensing import LicensingError
from remediate.sandbox.windows.state import HostState, World

pytestmark = pytest.mark.slow

SCENARIO = """
name: kms-hosts
description: Four KMS hosts served over WinRM, and two servers that activated against the one in DNS.
world:
  domain: corp.example
  kms_hosts:
    - {name: kms01.corp.example, address: 10.0.0.5, count: 40, csvlk: ws2022, serve: true}
    - {name: kms02.corp.example, address: 10.0.0.6, count: 12, csvlk: ws2022, serve: true, publish: false}
    - {name: kms03.corp.example, address: 10.0.0.7, count: 40, csvlk: ws2019, serve: true, publish: false}
    - {name: kms04.corp.example, address: 10.0.0.8, count: 40, csvlk: ws2022, serve: true, activated: false,
       publish: false}
groups:
  - {name: app, prefix: APP, count: 2, edition: ServerStandard}
"""
KMS_HOSTS = ["KMS01", "KMS02", "KMS03", "KMS04"]


@dataclass
class Lab:
    fleet: Fleet
    world: World
    keys: dict[str, str]  # computer name -> its KMS host key
    directory: Path

    def label(self, name: str) -> str:
        endpoint = self.fleet.endpoint(name)
        return f"{endpoint.address}:{endpoint.port}"

    def kms_status(self, *options: str) -> Result:
        hosts = self.directory / "kms-hosts.txt"
        hosts.write_text("".join(f"{self.label(name)} scheme=http auth=ntlm\n" for name in KMS_HOSTS), "utf-8")
        env = {"REMEDIATE_USERNAME": self.fleet.username, "REMEDIATE_PASSWORD": self.fleet.password}
        return CliRunner().invoke(main, ["kms", "status", "--hosts", str(hosts), *options], env=env)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("kms")
    scenario = directory / "kms.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    built = build(scenario, None, 0)
    keys = {spec.computer_name: spec.engine.state.key for spec in built.hosts}  # type: ignore[attr-defined]
    with Fleet.start(built.hosts, auth="ntlm") as fleet:
        yield Lab(fleet, built.world, keys, directory)


def test_kms_status_reads_each_kms_host_as_slmgr_dlv_shows_it(lab: Lab) -> None:
    result = lab.kms_status("--output", "json")
    assert result.exit_code == 1, result.output  # KMS02 below the client threshold, KMS04 not activated
    rows = {row["computer_name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == set(KMS_HOSTS)
    for name in KMS_HOSTS:
        row = rows[name]
        assert row["kms_host"] is True and row["error"] is None
        assert row["csvlk"] == f"XXXXX-XXXXX-XXXXX-XXXXX-{lab.keys[name][-5:]}"
        assert lab.keys[name] not in result.output
        assert row["listening_port"] == 1688
    healthy = rows["KMS01"]
    assert healthy["csvlk_group"] == "Volume License for Windows Server 2022"
    assert healthy["service_version"] == "10.0.20348.1"
    assert healthy["current_count"] == 42  # 40, and the two servers that activated against it through DNS
    assert (healthy["requests_total"], healthy["requests_failed"]) == (2, 0)
    assert (healthy["srv_record"], healthy["srv_priority"], healthy["srv_weight"]) == (True, 0, 0)
    assert healthy["dns_publishing"] is True
    assert codes(healthy) == {"0xC004F042"}  # only Server 2025, which needs a Server 2025 key (KMSPLAN)
    assert codes(rows["KMS02"]) == {"0xC004F038", "0xC004F042"}
    assert "count 12, below 25" in " ".join(item["text"] for item in rows["KMS02"]["clients_get"])
    assert rows["KMS02"]["srv_record"] is False and rows["KMS02"]["dns_publishing"] is False
    old = rows["KMS03"]
    assert (old["csvlk_group"], old["service_version"]) == ("Volume License for Windows Server 2019", "10.0.17763.1")
    assert "build 17763" in " ".join(item["text"] for item in old["clients_get"])
    assert codes(rows["KMS04"]) == {"0xC004F041", "0xC004F042"} and rows["KMS04"]["license_status"] != "Licensed"


def codes(row: dict[str, Any]) -> set[str]:
    return {item["code"] for item in row["clients_get"] if item["code"]}


def activation_code(world: World, edition_id: str, kms: str, name: str) -> int:
    """What a fresh KMS client of this edition, pointed at `kms` (slmgr /skms), gets when it activates."""
    state = HostState(name, edition=edition(edition_id))
    key = gvlk_for(edition_id)
    assert key is not None
    licensing.install_product_key(state, world, key)
    state.kms_machine = kms
    try:
        licensing.activate(state, world)
    except LicensingError as failure:
        return failure.hresult
    return 0


@pytest.mark.parametrize(
    ("kms", "server", "client_os"),
    [
        ("KMS01", 0, 0),
        ("KMS02", 0, 0xC004F038),  # servers activate from 5, client OSes from 25
        ("KMS03", 0xC004F042, 0xC004F042),  # Server 2022 and Windows 11 are newer than the Server 2019 group
        ("KMS04", 0xC004F041, 0xC004F041),
    ],
)
def test_what_kms_status_says_the_clients_get_is_what_they_get(
    lab: Lab, kms: str, server: int, client_os: int
) -> None:
    row = next(row for row in json.loads(lab.kms_status("--output", "json").stdout) if row["computer_name"] == kms)
    name = f"{kms.lower()}.corp.example"
    got = {activation_code(lab.world, "ServerStandard", name, f"S{kms}"),
           activation_code(lab.world, "Enterprise", name, f"C{kms}")}
    assert got == {server, client_os}
    assert {f"0x{code:08X}" for code in got if code} <= codes(row)


def test_the_table_names_each_host_and_what_its_clients_get(lab: Lab) -> None:
    result = lab.kms_status("--lang", "ja")
    assert result.exit_code == 1
    assert "KMS ホスト (4 台)" in result.stdout
    assert "0xC004F041" in result.stdout and "0xC004F038" in result.stdout
    assert "4 台中" in result.stdout


LOGS_SCENARIO = """
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
LOG_HOSTS = ["KMS01", "KMS02", "KMS03"]


@dataclass
class LogLab:
    fleet: Fleet
    told: int  # what the Windows 11 client pointed at KMS02 was told
    directory: Path

    def kms_status(self, *options: str) -> Result:
        hosts = self.directory / "kms-hosts.txt"
        lines = []
        for name in LOG_HOSTS:
            endpoint = self.fleet.endpoint(name)
            lines.append(f"{endpoint.address}:{endpoint.port} scheme=http auth=ntlm\n")
        hosts.write_text("".join(lines), "utf-8")
        env = {"REMEDIATE_USERNAME": self.fleet.username, "REMEDIATE_PASSWORD": self.fleet.password}
        return CliRunner().invoke(main, ["kms", "status", "--hosts", str(hosts), *options], env=env)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogLab]:
    directory = tmp_path_factory.mktemp("kms-logs")
    scenario = directory / "kms.yaml"
    scenario.write_text(LOGS_SCENARIO, encoding="utf-8")
    built = build(scenario, None, 0)
    states = {spec.computer_name: spec.engine.state for spec in built.hosts}  # type: ignore[attr-defined]
    # A Windows 11 client, freshly imaged (its GVLK installed again) and pointed at KMS02 (slmgr /skms), asks KMS02
    # to activate it: a Server 2019 CSVLK cannot, and KMS02 logs it (event 12290).
    client = states["PC01"]
    licensing.install_product_key(client, built.world, gvlk_for("Enterprise") or "")
    client.kms_machine = "kms02.corp.example"
    with pytest.raises(LicensingError) as refused:
        licensing.activate(client, built.world)
    with Fleet.start(built.hosts, auth="ntlm") as fleet:
        yield LogLab(fleet, refused.value.hresult, directory)


def test_kms_status_names_the_clients_a_kms_host_refused_and_the_code_they_were_told(logs: LogLab) -> None:
    rows = {row["computer_name"]: row for row in json.loads(logs.kms_status("--output", "json").stdout)}
    old = rows["KMS02"]
    assert old["clients_refused"] == [{"client": "pc01.corp.example", "code": "0xC004F015"}]
    (refusal,) = [item for item in old["clients_get"] if "12290" in item["text"]]
    assert refusal["code"] == f"0x{logs.told:08X}" == "0xC004F042"  # what the client itself was told
    assert "pc01.corp.example" in refusal["text"] and "0xC004F015" in refusal["text"]
    healthy = rows["KMS01"]
    assert healthy["clients_refused"] == [] and healthy["dns_publish_error"] is None  # APP01 activated against it
    assert not any("12290" in item["text"] or "12293" in item["text"] for item in healthy["clients_get"])


def test_kms_status_tells_a_kms_host_that_could_not_publish_its_srv_record(logs: LogLab) -> None:
    rows = {row["computer_name"]: row for row in json.loads(logs.kms_status("--output", "json").stdout)}
    denied = rows["KMS03"]
    assert denied["dns_publish_error"] == "0x80072338" and denied["srv_record"] is False
    (failed,) = [item for item in denied["clients_get"] if "12293" in item["text"]]
    assert "0x80072338" in failed["text"] and "corp.example" in failed["text"] and "_VLMCS" in failed["text"]
    assert rows["KMS02"]["dns_publish_error"] is None  # it does not publish: nothing failed
    assert rows["KMS03"]["clients_refused"] == []
    csv_rows = {line.split(",")[1]: line for line in logs.kms_status("--output", "csv").stdout.splitlines()[1:]}
    assert "pc01.corp.example 0xC004F015" in csv_rows["KMS02"] and "0x80072338" in csv_rows["KMS03"]


def test_the_table_shows_the_log_findings_in_japanese(logs: LogLab) -> None:
    shown = " ".join(logs.kms_status("--lang", "ja").stdout.split())
    assert "pc01.corp.example" in shown and "0xC004F015" in shown and "0x80072338" in shown
    assert "イベント 12290" in shown and "イベント 12293" in shown
    assert "its log shows" not in shown and "failed (event 12293)" not in shown
