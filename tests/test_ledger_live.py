"""The key ledger in live runs, end to end on sandbox hosts: the MAK budget guard refuses a run before any
connection, a run records every install and activation (run id, result) and counts the budget down, and a key
the activation service reports used up goes to no further host of the run. The full key appears nowhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from ledger_postgres import postgres_server, postgres_url  # noqa: F401

from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

pytestmark = pytest.mark.slow

PASSWORD = "Sbx-ledger-live-4f"
MAK = "7KQ2B-MXW4C-JD9TP-VG3HR-Y6F8K"  # made up: valid in the scenario's world only
MASKED = "XXXXX-XXXXX-XXXXX-XXXXX-Y6F8K"


def scenario(tmp_path: Path, hosts: int, remaining: int, fault: str = "0xC004F050") -> Path:
    """`hosts` Enterprise hosts whose key was rejected (0xC004F050, or `fault`); the activation service has
    `remaining` activations of the MAK."""
    path = tmp_path / "mak.yaml"
    path.write_text(f"""
name: mak-fleet
description: Enterprise hosts that need a MAK.
hosts: {hosts}
world:
  domain: corp.example
  activation:
    reachable: true
    keys:
      - {{key: {MAK}, channel: MAK, editions: [Enterprise], remaining: {remaining}}}
groups:
  - {{name: pcs, prefix: PC, count: {hosts}, edition: Enterprise, fault: {fault}, domain_role: 1}}
""", encoding="utf-8")
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in ("REMEDIATE_LEDGER_SECRET_FILE", "REMEDIATE_LEDGER_ENCRYPTION_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REMEDIATE_LEDGER", str(tmp_path / "ledger.sqlite"))
    return {"OFFICE_MAK": MAK, "REMEDIATE_LEDGER": str(tmp_path / "ledger.sqlite")}


def invoke(arguments: list[str], env: dict[str, str]) -> Result:
    result = CliRunner().invoke(main, arguments, env=env, catch_exceptions=False)
    assert MAK not in result.output + result.stderr, "the full key was shown"
    return result


def start(path: Path, tmp_path: Path) -> tuple[Fleet, Path]:
    fleet = Fleet.start(build_hosts(path, None, 0), auth="ntlm", password=PASSWORD)
    return fleet, fleet.write_hosts_file(tmp_path / "hosts.txt")


def run_mak(hosts: Path, env: dict[str, str], fleet: Fleet, log: Path, *more: str) -> Result:
    credentials = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": fleet.password}
    return invoke(["run", "0xC004F050", "--hosts", str(hosts), "--secret-env", "product_key=OFFICE_MAK",
                   "--audit", str(log), "--output", "json", *more], {**env, **credentials})


def test_the_budget_guard_then_a_recorded_run(tmp_path: Path, env: dict[str, str]) -> None:
    assert invoke(["keys", "add", "office-mak", "--key-env", "OFFICE_MAK", "--budget", "10"], env).exit_code == 0
    fleet, hosts = start(scenario(tmp_path, 12, remaining=50), tmp_path)
    log = tmp_path / "audit.jsonl"
    with fleet:
        refused = run_mak(hosts, env, fleet, log)
        assert refused.exit_code == 2
        assert ("key office-mak (XXXXX-XXXXX-XXXXX-XXXXX-Y6F8K): 12 host(s) need an activation, but the budget has "
                "10 left, less a reserve of 1 (5%): 9 available, 3 short; nothing was sent") in refused.stderr
        assert not log.exists()  # refused before the run began: no host was connected to

        assert invoke(["keys", "set-budget", "office-mak", "20"], env).exit_code == 0
        done = run_mak(hosts, env, fleet, log)
        credentials = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": fleet.password}
        status = invoke(["status", "--hosts", str(hosts), "--output", "json"], {**env, **credentials})
        assert status.exit_code == 0, status.stderr
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["counts"]["fixed"] == 12
    assert "ledger: key office-mak (XXXXX-XXXXX-XXXXX-XXXXX-Y6F8K): 12 host(s) to activate; budget 20 less a " \
           "reserve of 1: 19 available" in done.stderr
    run_id = done.stderr.split("ledger: run ", 1)[1].split()[0]

    where = json.loads(invoke(["keys", "where", "--output", "json"], env).output)
    assert sorted(row["host"] for row in where) == sorted(line.split()[0] for line in hosts.read_text().splitlines()
                                                          if line.strip() and not line.startswith("#"))
    assert {(row["key"], row["last_five"], row["run_id"], row["last_action"], row["result"]) for row in where} == {
        (MASKED, "Y6F8K", run_id, "activate", "ok")}
    assert all(row["last_seen"] and row["last_seen"] > row["last_action_at"] for row in where)  # the status read
    report = json.loads(invoke(["keys", "report", "--output", "json"], env).output)
    [key] = report["keys"]
    assert (key["budget"], key["installs"], key["activations"], key["hosts"]) == (8, 12, 12, 12)
    assert len(report["hosts"]) == 12 and all(row["run_id"] == run_id for row in report["hosts"])
    table = invoke(["keys", "where"], env).output
    assert "Y6F8K" in table and run_id in table
    assert MAK not in log.read_text(encoding="utf-8")
    assert MAK.encode() not in (tmp_path / "ledger.sqlite").read_bytes()


def test_a_key_used_up_mid_run_goes_to_no_further_host(tmp_path: Path, env: dict[str, str]) -> None:
    assert invoke(["keys", "add", "office-mak", "--key-env", "OFFICE_MAK", "--budget", "20"], env).exit_code == 0
    fleet, hosts = start(scenario(tmp_path, 6, remaining=3), tmp_path)  # the portal's count was wrong
    log = tmp_path / "audit.jsonl"
    with fleet:
        done = run_mak(hosts, env, fleet, log, "--forks", "1")
    assert done.exit_code != 0
    assert "answered 0xC004C020: key office-mak (XXXXX-XXXXX-XXXXX-XXXXX-Y6F8K) is used up" in done.stderr
    report = json.loads(done.stdout)
    outcomes = [host["outcome"] for host in report["hosts"]]
    assert outcomes[:3] == ["fixed"] * 3 and outcomes[3] != "fixed"
    for held in report["hosts"][4:]:
        assert held["outcome"] == "escalate"
        assert f"key {MASKED} not installed: it is used up (an activation server answered 0xC004C020" in \
            held["reason"]
        assert "install-key" not in [step["id"] for step in held["steps"]]  # nothing was sent to install it
    shown = json.loads(invoke(["keys", "show", "office-mak", "--output", "json"], env).output)
    assert (shown["state"], shown["state_code"], shown["budget"]) == ("exhausted", "0xC004C020", 17)
    assert [(use["action"], use["result"]) for use in shown["uses"]] == [
        ("install", "ok"), ("activate", "ok")] * 3 + [("install", "ok"), ("activate", "0xC004C020")]
    again = run_mak(hosts, env, fleet, tmp_path / "again.jsonl")  # the fleet is stopped: the guard answers first
    assert again.exit_code == 2 and "is exhausted (an activation server answered 0xC004C020)" in again.stderr


def test_run_auto_reads_into_the_ledger_and_guards_the_budget(tmp_path: Path, env: dict[str, str]) -> None:
    assert invoke(["keys", "add", "office-mak", "--key-env", "OFFICE_MAK", "--budget", "3"], env).exit_code == 0
    # 0xC004F034: a generic default key that never activates, which run auto fixes with the MAK
    fleet, hosts = start(scenario(tmp_path, 4, remaining=50, fault="0xC004F034"), tmp_path)
    credentials = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": fleet.password}
    log = tmp_path / "auto.jsonl"
    with fleet:
        refused = invoke(["run", "auto", "--hosts", str(hosts), "--secret-env", "product_key=OFFICE_MAK",
                          "--audit", str(log)], {**env, **credentials})
        assert refused.exit_code == 2
        assert "4 host(s) need an activation, but the budget has 3 left" in refused.stderr
        assert not log.exists()  # the licences were read; nothing was changed
        unlogged = invoke(["run", "auto", "--hosts", str(hosts), "--secret-env", "product_key=OFFICE_MAK",
                           "--audit", str(tmp_path / "none.jsonl"), "--ledger", "none", "--output", "json"],
                          {**env, **credentials})
    assert unlogged.exit_code == 0, unlogged.stderr  # --ledger none: no guard, nothing recorded
    where = json.loads(invoke(["keys", "where", "--output", "json"], env).output)
    assert len(where) == 4 and all(row["last_seen"] and row["last_action"] is None for row in where)
    assert json.loads(invoke(["keys", "show", "office-mak", "--output", "json"], env).output)["uses"] == []


def test_two_runs_at_once_on_one_postgresql_ledger(tmp_path: Path, env: dict[str, str],
                                                   postgres_url: str) -> None:  # noqa: F811
    env = {**env, "REMEDIATE_LEDGER": postgres_url, "REMEDIATE_LEDGER_SECRET_FILE": str(tmp_path / "team.secret")}
    assert invoke(["keys", "add", "office-mak", "--key-env", "OFFICE_MAK", "--budget", "20"], env).exit_code == 0
    fleets = []
    for site in ("tokyo", "osaka"):
        folder = tmp_path / site
        folder.mkdir()
        fleets.append(start(scenario(folder, 6, remaining=50), folder))
    # Two controllers, each its own process and fleet, at the same time, into one ledger.
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "remediate", "run", "0xC004F050", "--hosts", str(hosts), "--secret-env",
             "product_key=OFFICE_MAK", "--audit", str(hosts.with_suffix(".jsonl")), "--output", "json"],
            env={**os.environ, **env, "REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": fleet.password},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for fleet, hosts in fleets
    ]
    try:
        outputs = [run.communicate(timeout=300) for run in runs]
    finally:
        for fleet, _ in fleets:
            fleet.stop()
    for run, (stdout, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr
        assert MAK not in stdout + stderr
    run_ids = {stderr.split("ledger: run ", 1)[1].split()[0] for _, stderr in outputs}
    assert len(run_ids) == 2
    shown = json.loads(invoke(["keys", "show", "office-mak", "--output", "json"], env).output)
    installs = [(use["run_id"], use["host"]) for use in shown["uses"] if use["action"] == "install"]
    assert len(installs) == len(set(installs)) == 12  # every install once, none lost, none doubled
    assert {run_id for run_id, _ in installs} == run_ids
    assert (shown["budget"], shown["held_by_runs"]) == (8, {})
