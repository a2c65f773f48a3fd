"""`remediate status`: every host's licence state over real WinRM, read-only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

PASSWORD = "Sbx-live-status-tests-9a"


@pytest.mark.slow
def test_status_reads_every_host_and_exits_1_when_one_is_not_licensed(tmp_path: Path) -> None:
    with Fleet.start(build_hosts("kms-moved", 5, 0), auth="ntlm", password=PASSWORD) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        env = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": PASSWORD}
        result = CliRunner().invoke(main, ["status", "--hosts", str(hosts), "--output", "json"], env=env)
        text = CliRunner().invoke(main, ["status", "--hosts", str(hosts)], env={**env, "COLUMNS": "200"})
        names = {f"{endpoint.address}:{endpoint.port}": endpoint.computer_name for endpoint in fleet.endpoints}
        # Status changes nothing: a second read sees the same.
        again = CliRunner().invoke(main, ["status", "--hosts", str(hosts), "--output", "json"], env=env)
    assert result.exit_code == 1, result.output
    statuses = json.loads(result.stdout)
    assert len(statuses) == 5
    broken = [status for status in statuses if not status["licensed"]]
    assert broken and all(status["hresult"] for status in broken)
    assert any(status["state"] == "Licensed" for status in statuses)
    assert json.loads(again.stdout) == statuses
    assert f"{5 - len(broken)} of 5 licensed" in text.output
    assert PASSWORD not in result.output + text.output
    # Each host is named by its address and by the computer name it reported.
    assert {status["host"]: status["computer_name"] for status in statuses} == names
    assert all(f"{address} ({name})" in text.output for address, name in names.items())


@pytest.mark.slow
def test_status_exits_0_when_every_host_is_licensed(tmp_path: Path) -> None:
    with Fleet.start(build_hosts("healthy", 3, 0), auth="ntlm", password=PASSWORD) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        env = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": PASSWORD}
        result = CliRunner().invoke(main, ["status", "--hosts", str(hosts)], env=env)
    assert result.exit_code == 0 and "3 of 3 licensed" in result.output


def test_status_exits_3_when_no_host_answers(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("127.0.0.1:9 scheme=http auth=ntlm\n", encoding="utf-8")
    env = {"REMEDIATE_USERNAME": "u", "REMEDIATE_PASSWORD": "p"}
    result = CliRunner().invoke(main, ["status", "--hosts", str(hosts), "--retries", "0"], env=env)
    assert result.exit_code == 3 and "unreachable" in result.output


STATUS_MIX = """
name: status-mix
description: A stale KMS client, a host whose code another playbook handles, a licensed host.
hosts: 3
world:
  domain: corp.example
  kms_hosts:
    - {name: kms01.corp.example, address: 10.0.0.5, count: 60}
groups:
  - {name: f074, prefix: KMSSTALE, count: 1, edition: ServerStandard, fault: 0xC004F074, cause: stale-dns-cache}
  - {name: e016, prefix: OTHERKEY, count: 1, edition: ServerStandard, fault: 0xC004E016}
  - {name: healthy, prefix: OK, count: 1, edition: ServerStandard}
"""


@pytest.mark.slow
def test_status_csv_and_json_name_each_hosts_playbook_grace_and_kms_host(tmp_path: Path) -> None:
    import csv
    import io

    scenario = tmp_path / "mix.yaml"
    scenario.write_text(STATUS_MIX, encoding="utf-8")
    with Fleet.start(build_hosts(scenario, None, 0), auth="ntlm", password=PASSWORD) as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        env = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": PASSWORD, "COLUMNS": "250"}
        as_csv = CliRunner().invoke(main, ["status", "--hosts", str(hosts), "--output", "csv"], env=env)
        as_json = CliRunner().invoke(main, ["status", "--hosts", str(hosts), "--output", "json"], env=env)
        as_text = CliRunner().invoke(main, ["status", "--hosts", str(hosts)], env=env)
    assert as_csv.exit_code == 1 and as_json.exit_code == 1, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    statuses = json.loads(as_json.stdout)
    assert len(rows) == 3
    # The CSV has JSON's top-level fields, with the same values, plus the licence facts.
    for row, status in zip(rows, statuses, strict=True):
        for key, value in status.items():
            if key == "data":
                continue
            shown = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
            assert row[key] == shown, key
        assert row["channel"] == status["data"]["channel"]
        assert row["partial_product_key"] == status["data"]["partial_product_key"]
    by_name = {row["computer_name"]: row for row in rows}
    stale, other, healthy = by_name["KMSSTALE01"], by_name["OTHERKEY01"], by_name["OK01"]
    assert stale["hresult"] == "0xC004F074" and stale["playbook"] == "0xC004F074"
    # 0xC004F056 has no playbook of its own: the 0xC004F074 playbook handles it (its `also` codes).
    assert other["hresult"] == "0xC004F056" and other["playbook"] == "0xC004F074"
    assert healthy["licensed"] == "true" and healthy["playbook"] == ""
    assert healthy["edition"] == "ServerStandard" and healthy["discovered_kms_machine"] == "kms01.corp.example"
    assert int(stale["grace_minutes_remaining"]) > 0 and int(healthy["grace_minutes_remaining"]) > 0
    assert PASSWORD not in as_csv.output + as_json.output + as_text.output
    # The table shows the playbook, the grace left in days, and the KMS host the licensed host found.
    (stale_line,) = [line for line in as_text.output.splitlines() if "KMSSTALE01" in line]
    assert stale_line.count("0xC004F074") == 2 and " d " in stale_line
    (healthy_line,) = [line for line in as_text.output.splitlines() if "OK01" in line]
    assert "kms01.corp.example (discovered)" in healthy_line
