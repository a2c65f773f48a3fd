"""`remediate status`: every host's licence state over real WinRM, read-only."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

PASSWORD = "Sbx-live-status-tests-9a"


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
