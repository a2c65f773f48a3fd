"""End to end: phone activation of hosts that cannot reach Microsoft, as a user does it.

`remediate keys iids --hosts FILE --output csv` reads each host's installation ID over real WinRM; the
confirmation IDs are worked out by the sandbox's published rule (standing in for the activation centre); they go
into a secrets file as confirmation_id@HOST lines; `remediate run 0x80072EE2 --secrets-file FILE` deposits them
and proves each activation through CIM.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from remediate import audit
from remediate.cli import main
from remediate.engine import Engine
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.scenario import build
from remediate.sandbox.windows.phone_activation import confirmation_id
from remediate.sandbox.windows.state import LICENSED, HostState

pytestmark = pytest.mark.slow

SERVER_MAK = "4HNCB-T8RJX-2QWPV-K7MDY-G9F3C"  # made up: valid in this scenario's world only
SCENARIO = f"""
name: phone
description: Hosts with no way out to Microsoft, one whose MAK has no online activations left, one healthy.
world:
  domain: corp.example
  kms_hosts:
    - {{name: kms01.corp.example, address: 10.0.0.5, count: 60}}
  activation:
    reachable: true
    keys:
      - {{key: {SERVER_MAK}, channel: MAK, editions: [ServerStandard, ServerDatacenter], remaining: 50}}
groups:
  - {{name: offline, prefix: NOINET, count: 3, fault: 0x80072EE2}}
  - {{name: offline-ja, prefix: NOINETJA, count: 1, fault: 0x80072EE2, language: ja-JP}}
  - {{name: used-up, prefix: MAKOUT, count: 1, fault: 0xC004C020}}
  - {{name: healthy, prefix: OK, count: 1}}
"""


@dataclass
class Lab:
    fleet: Fleet
    hosts: dict[str, HostSpec]
    directory: Path

    def state(self, name: str) -> HostState:
        state: HostState = self.hosts[name].engine.state  # type: ignore[attr-defined]
        return state

    def label(self, name: str) -> str:
        endpoint = self.fleet.endpoint(name)
        return f"{endpoint.address}:{endpoint.port}"

    def hosts_file(self, lines: list[str], tag: str) -> Path:
        path = self.directory / f"hosts-{tag}.txt"
        path.write_text("".join(f"{line} scheme=http auth=ntlm\n" for line in lines), encoding="utf-8")
        return path

    def remediate(self, *arguments: str) -> Result:
        env = {"REMEDIATE_USERNAME": self.fleet.username, "REMEDIATE_PASSWORD": self.fleet.password}
        return CliRunner().invoke(main, list(arguments), env=env)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    directory = tmp_path_factory.mktemp("phone")
    scenario = directory / "phone.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    built = build(scenario, None, 0)
    with Fleet.start(built.hosts, auth="ntlm") as fleet:
        yield Lab(fleet, {spec.computer_name: spec for spec in built.hosts}, directory)


def read_csv(text: str) -> dict[str, dict[str, str]]:
    return {row["host"]: row for row in csv.DictReader(io.StringIO(text))}


def test_keys_iids_then_the_confirmation_ids_activate_isolated_hosts(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["NOINET01", "NOINET02", "NOINET03", "NOINETJA01", "MAKOUT01", "OK01"]
    hosts = lab.hosts_file([lab.label(name) for name in names], "all")

    # 1. The installation IDs, as the person who phones the activation centre gets them.
    listed = lab.remediate("keys", "iids", "--hosts", str(hosts), "--output", "csv")
    assert listed.exit_code == 0, listed.output
    rows = read_csv(listed.stdout)
    assert set(rows) == {lab.label(name) for name in names}
    for name in names:
        row, state = rows[lab.label(name)], lab.state(name)
        assert row["computer_name"] == name
        assert len(row["installation_id"]) == 63 and row["installation_id"].isdigit()
        assert state.key is not None and row["partial_product_key"] == f"XXXXX-XXXXX-XXXXX-XXXXX-{state.key[-5:]}"
        assert row["activation_id"] and row["error"] == ""
    assert rows[lab.label("OK01")]["state"] == "Licensed"
    assert SERVER_MAK not in listed.output

    # 2. The activation centre's answers (the sandbox's rule), one line per host; NOINET03 is given another host's.
    cids = {name: confirmation_id(rows[lab.label(name)]["installation_id"])
            for name in ("NOINET01", "NOINET02", "NOINETJA01", "MAKOUT01")}
    cids["NOINET03"] = cids["NOINET01"]
    secrets = lab.directory / "cids.txt"
    secrets.write_text("".join(f"confirmation_id@{lab.label(name)}={cid}\n" for name, cid in cids.items()),
                       encoding="utf-8")
    secrets.chmod(0o600)

    # 3. The run deposits them and proves each activation through CIM.
    monkeypatch.setattr(Engine, "sleep", lambda self, seconds: None)
    log = lab.directory / "phone.jsonl"
    run = lab.remediate("run", "0x80072EE2", "--hosts", str(hosts), "--secrets-file", str(secrets),
                        "--output", "json", "--audit", str(log))
    assert run.exit_code == 4, run.output  # every host fixed or healthy but NOINET03: it needs a person
    report = {host["computer_name"]: host for host in json.loads(run.stdout)["hosts"]}
    for name in ("NOINET01", "NOINET02", "NOINETJA01", "MAKOUT01"):
        host = report[name]
        assert host["outcome"] == "fixed", (name, host["reason"])
        ran = {step["id"]: step for step in host["steps"] if step["status"] == "ran"}
        assert "activate" not in ran  # no online attempt: the host has no way out
        phone = ran["phone-activate"]["result"]
        assert phone["ok"] and phone["changed"] and phone["data"]["installation_id"] == rows[lab.label(name)][
            "installation_id"]
        proof = next(step for step in host["steps"] if step["phase"] == "verify")
        assert proof["result"]["ok"] and proof["result"]["license_status"] == LICENSED
        assert lab.state(name).license_status == LICENSED
    refused = report["NOINET03"]
    assert refused["outcome"] == "escalate" and "0xC004F031" in refused["guidance"]
    phone = next(step for step in refused["steps"] if step["id"] == "phone-activate")
    assert phone["result"]["hresult"] == "0xC004F031"  # the IID and the CID do not match
    assert lab.state("NOINET03").license_status != LICENSED
    assert report["OK01"]["outcome"] == "healthy"
    assert audit.verify(log).ok
    everything = run.output + log.read_text(encoding="utf-8")
    for cid in cids.values():
        assert cid not in everything and cid.replace("-", "") not in everything  # a secret never shows

    # 4. Read again: the activated hosts are Licensed; the refused one still shows the installation ID to phone.
    again = read_csv(lab.remediate("keys", "iids", "--hosts", str(hosts), "--output", "csv").stdout)
    assert {name for name in names if again[lab.label(name)]["state"] == "Licensed"} == set(names) - {"NOINET03"}
    assert again[lab.label("NOINET03")]["installation_id"] == rows[lab.label("NOINET03")]["installation_id"]


def test_keys_iids_names_the_hosts_it_could_not_read(lab: Lab) -> None:
    hosts = lab.hosts_file([lab.label("OK01"), "127.0.0.1:9"], "unreachable")
    result = lab.remediate("keys", "iids", "--hosts", str(hosts), "--output", "json", "--retries", "0",
                           "--timeout", "2")
    assert result.exit_code == 1, result.output
    rows = {row["host"]: row for row in json.loads(result.stdout)}
    assert rows[lab.label("OK01")]["installation_id"]
    assert rows["127.0.0.1:9"]["installation_id"] is None and rows["127.0.0.1:9"]["error"]
    table = lab.remediate("keys", "iids", "--hosts", str(lab.hosts_file([lab.label("OK01")], "one")), "--lang",
                          "ja")
    assert table.exit_code == 0, table.output
    iid = rows[lab.label("OK01")]["installation_id"]
    assert "-".join(iid[i:i + 7] for i in range(0, 63, 7)) in table.stdout  # read out in groups of seven
    assert "1 台中 1 台のインストール ID を読み取りました" in table.stdout
