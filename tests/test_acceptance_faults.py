"""Acceptance: under injected transport faults (latency, refusals, drops, quota, 5xx, slow start) every host
still ends with an outcome, transient faults are retried, and the audit log verifies.

One fleet of hosts with stale KMS records in their DNS cache (0xC004F074, fixable), in groups that each suffer one
kind of transport fault, served over real WinRM and run with `remediate run` as a user runs it after imaging
(`--wait-for-winrm`). The attempts are read back from the audit log, the record a user has.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pypsrp.powershell import RunspacePool
from pypsrp.wsman import WSMan

from remediate import audit
from remediate.audit import CONNECT
from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.scenario import build

SCENARIO = """
name: faults
description: Hosts with stale KMS records in their DNS cache, one group per kind of transport fault.
world:
  domain: corp.example
  kms_hosts:
    - {name: kms02.corp.example, address: 10.0.0.6, count: 80}
groups:
  - {name: slow, prefix: SLOW, count: 2, fault: 0xC004F074, transport: {latency_ms: 120}}
  - {name: down, prefix: DOWN, count: 1, fault: 0xC004F074, transport: {refuse_connections: true}}
  - {name: wrongpw, prefix: NOAUTH, count: 1, fault: 0xC004F074, transport: {unauthorized: true}}
  - {name: dropped, prefix: DROP, count: 1, fault: 0xC004F074, transport: {drop_first: 1}}
  - {name: error500, prefix: FIVEXX, count: 1, fault: 0xC004F074, transport: {http_5xx_first: 1}}
  - {name: quota, prefix: QUOTA, count: 1, fault: 0xC004F074, transport: {max_shells_per_user: 1}}
  - {name: booting, prefix: BOOT, count: 1, fault: 0xC004F074, transport: {not_up_for_s: 4.0}}
"""
TRANSIENT = ("DROP01", "FIVEXX01", "QUOTA01", "BOOT01")
PERMANENT = ("DOWN01", "NOAUTH01")


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[Fleet, dict[str, HostSpec]]]:
    scenario = tmp_path / "faults.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    built = build(scenario, None, 0)
    with Fleet.start(built.hosts, auth="ntlm") as started:
        yield started, {spec.computer_name: spec for spec in built.hosts}


class ShellHolder:
    """Another administrator's PowerShell session on a host (one shell), closed once the run has been told
    the host's shell quota is used up: the run's retry must then get in."""

    def __init__(self, fleet: Fleet, name: str, log: Path, host_label: str) -> None:
        options = fleet.client_options(name)
        self.pool = RunspacePool(WSMan(fleet.endpoint(name).address, **options))
        self.pool.open()
        self.log, self.label = log, host_label
        self.released_after_refusal = threading.Event()
        self.thread = threading.Thread(target=self._release_after_refusal, daemon=True)
        self.thread.start()

    def _release_after_refusal(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.log.exists() and any(
                e["type"] == CONNECT and e["host"] == self.label and e.get("error_kind") == "quota"
                for e in audit.read_events(self.log)
            ):
                self.released_after_refusal.set()
                break
            time.sleep(0.02)
        self.pool.close()


def test_every_host_ends_with_an_outcome_transient_faults_are_retried_and_the_log_verifies(
    fleet: tuple[Fleet, dict[str, HostSpec]], tmp_path: Path
) -> None:
    sandbox, specs = fleet
    hosts = sandbox.write_hosts_file(tmp_path / "hosts.txt")
    log = tmp_path / "audit.jsonl"
    label = {name: f"{e.address}:{e.port}" for name in specs for e in [sandbox.endpoint(name)]}
    holder = ShellHolder(sandbox, "QUOTA01", log, label["QUOTA01"])
    env = {"REMEDIATE_USERNAME": sandbox.username, "REMEDIATE_PASSWORD": sandbox.password}
    began = time.monotonic()
    result = CliRunner().invoke(
        main,
        ["run", "0xC004F074", "--hosts", str(hosts), "--audit", str(log), "--output", "json",
         "--wait-for-winrm", "8s", "--operation-timeout", "5"],
        env=env,
    )  # fmt: skip
    took = time.monotonic() - began
    holder.thread.join(timeout=5)
    assert holder.released_after_refusal.is_set()  # the quota fault really happened, and was then lifted

    # A host that refused the credentials makes the run exit 3 (the account is in question), before the
    # exit 1 that an unreachable host alone would give.
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    outcome = {host["computer_name"] or host["host"]: host["outcome"] for host in report["hosts"]}
    by_label = {host["host"]: host for host in report["hosts"]}
    assert len(report["hosts"]) == len(specs) == 8
    events = audit.read_events(log)
    recorded = {e["host"]: e["outcome"] for e in events if e["type"] == audit.OUTCOME}
    assert sorted(recorded) == sorted(label.values())  # every host has an outcome in the log too

    def attempts(name: str) -> dict[str, Any]:
        mine = [e for e in events if e.get("host") == label[name]]
        return {
            "connect": [e for e in mine if e["type"] == CONNECT],
            "steps": [e for e in mine if e["type"] == audit.STEP],
        }

    for name in ("SLOW01", "SLOW02"):  # latency is no fault: no retry, fixed
        assert by_label[label[name]]["outcome"] == "fixed"
        assert attempts(name)["connect"] == [] and all(e["attempt"] <= 1 for e in attempts(name)["steps"])
    for name in TRANSIENT:
        assert by_label[label[name]]["outcome"] == "fixed", (name, by_label[label[name]]["reason"])
        tries = attempts(name)
        retried_connection = any(e["ok"] and e["attempt"] > 1 for e in tries["connect"])
        retried_step = any(e.get("attempt", 1) > 1 for e in tries["steps"])
        assert retried_connection or retried_step, (name, tries["connect"])
        assert all(e["transient"] for e in tries["connect"] if not e["ok"])
    drops = [e for e in attempts("DROP01")["steps"] if e.get("attempt", 1) > 1]
    assert drops and drops[0]["step"] == "license-state"  # the dropped Receive's step was sent again
    assert {e["error_kind"] for e in attempts("QUOTA01")["connect"] if not e["ok"]} == {"quota"}
    assert {e["error_kind"] for e in attempts("BOOT01")["connect"] if not e["ok"]} == {"refused"}

    down, noauth = by_label[label["DOWN01"]], by_label[label["NOAUTH01"]]
    assert (down["outcome"], noauth["outcome"]) == ("unreachable", "auth-failed")
    assert len(attempts("DOWN01")["connect"]) >= 2  # refused is transient: retried for --wait-for-winrm
    assert not any(e["ok"] for e in attempts("DOWN01")["connect"])
    assert [e["error_kind"] for e in attempts("NOAUTH01")["connect"]] == ["auth"]  # a wrong password: once
    assert attempts("DOWN01")["steps"] == [] and attempts("NOAUTH01")["steps"] == []
    assert sorted(outcome.values()).count("fixed") == 6
    assert took < 20

    verified = CliRunner().invoke(main, ["audit", "verify", str(log)])
    assert verified.exit_code == 0 and "intact" in verified.output
    assert sandbox.password not in log.read_text(encoding="utf-8")
