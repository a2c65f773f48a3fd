"""Acceptance: killing the process with SIGKILL mid-run leaves an audit log that verifies, and `--rerun-failed`
completes the rest.

Everything is a separate process, as on an administrator's machine: `remediate sandbox up` serves hosts with stale
KMS records behind a slow network, `remediate run` works on them two at a time and is killed (SIGKILL: no handler,
no cleanup) once some hosts have an outcome and others are in flight or not started yet.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediate import audit

pytestmark = pytest.mark.slow  # separate processes against a fleet

SCENARIO = """
name: crash
description: Hosts with stale KMS records in their DNS cache, behind a slow network.
world:
  domain: corp.example
  kms_hosts:
    - {name: kms02.corp.example, address: 10.0.0.6, count: 80}
groups:
  - {name: app, prefix: APP, count: 6, fault: 0xC004F074, cause: stale-dns-cache, transport: {latency_ms: 40}}
"""
HOSTS = 6
PASSWORD = "Sbx-crash-acceptance-9a"
DONE = ("healthy", "fixed", "escalate")


def remediate(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "remediate", *arguments]


def environment() -> dict[str, str]:
    return {**os.environ, "REMEDIATE_USERNAME": "sandbox\\admin", "REMEDIATE_PASSWORD": PASSWORD}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Path]:
    """`remediate sandbox up` in its own process; yields the hosts file it wrote."""
    scenario = tmp_path / "crash.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    hosts = tmp_path / "hosts.txt"
    server = subprocess.Popen(
        remediate("sandbox", "up", "--scenario", str(scenario), "--hosts-file", str(hosts)),
        env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if line.startswith("ready:"):
                break
        else:
            raise AssertionError(f"the sandbox did not start: {server.stderr.read() if server.stderr else ''}")
        yield hosts
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)


def outcomes(log: Path) -> dict[str, str]:
    return {e["host"]: e["outcome"] for e in audit.read_events(log) if e["type"] == audit.OUTCOME}


def in_flight_after_an_outcome(log: Path) -> bool:
    """At least one host has ended, one is in flight and one has not started: the moment to kill the run."""
    events = audit.read_events(log)
    if not events:
        return False
    started = {e["host"] for e in events if e["type"] == audit.HOST_STARTED}
    ended = set(outcomes(log))
    return bool(ended) and bool(started - ended) and len(started) < len(events[0].get("hosts") or [])


def test_sigkill_mid_run_leaves_a_log_that_verifies_and_rerun_failed_completes_the_rest(
    sandbox: Path, tmp_path: Path
) -> None:
    log, rerun_log = tmp_path / "audit.jsonl", tmp_path / "rerun.jsonl"
    run = subprocess.Popen(
        remediate("run", "0xC004F074", "--hosts", str(sandbox), "--audit", str(log), "--forks", "2"),
        env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and run.poll() is None:
        if log.exists() and in_flight_after_an_outcome(log):
            break
        time.sleep(0.005)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=30)
    assert run.returncode == -signal.SIGKILL

    events = audit.read_events(log)
    everyone = set(events[0]["hosts"])
    ended = outcomes(log)
    started = {e["host"] for e in events if e["type"] == audit.HOST_STARTED}
    assert len(everyone) == HOSTS and 1 <= len(ended) < HOSTS
    assert started - set(ended), "no host was in flight when the run was killed"
    assert everyone - started, "every host had started when the run was killed"
    assert not any(e["type"] == audit.RUN_FINISHED for e in events)

    verified = subprocess.run(remediate("audit", "verify", str(log)), capture_output=True, text=True)
    assert verified.returncode == 5, verified.stdout + verified.stderr  # intact, but the run never finished
    assert "crash-cut" in verified.stdout and "hosts in flight" in verified.stdout

    rest = everyone - {host for host, outcome in ended.items() if outcome in DONE}
    rerun = subprocess.run(
        remediate("run", "0xC004F074", "--hosts", str(sandbox), "--audit", str(rerun_log), "--output", "json",
                  "--rerun-failed", str(log)),
        env=environment(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    report = json.loads(rerun.stdout)
    assert {host["host"] for host in report["hosts"]} == rest  # exactly the hosts that had not ended well
    rerun_outcome = {host["host"]: host["outcome"] for host in report["hosts"]}
    for host in everyone - started:  # never started before the kill: fixed now
        assert rerun_outcome[host] == "fixed"
    activated = {e["host"] for e in events if e["type"] == audit.STEP and e["step"] == "activate" and e["ok"]}
    for host in started & rest:  # in flight at the kill: fixed now, or found healthy if its activation had run
        assert rerun_outcome[host] == ("healthy" if host in activated else "fixed"), host
    assert audit.verify(rerun_log).ok

    # Afterwards every host is fixed: a run over the whole fleet finds nothing to do and changes nothing.
    again = subprocess.run(
        remediate("run", "0xC004F074", "--hosts", str(sandbox), "--audit", str(tmp_path / "after.jsonl"),
                  "--output", "json", "--forks", str(HOSTS)),
        env=environment(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    after = json.loads(again.stdout)
    assert after["summary"]["counts"]["healthy"] == HOSTS
    assert all(step["phase"] == "detect" for host in after["hosts"] for step in host["steps"])
    assert {h for h, outcome in ended.items() if outcome in DONE} | rest == everyone


def change_in_flight(log: Path) -> str | None:
    """A host whose changing step was announced (step_started) and has no result yet."""
    if not log.exists():
        return None
    pending: dict[tuple[str, str], int] = {}
    for event in audit.read_events(log):
        key = (str(event.get("host")), str(event.get("step")))
        if event["type"] == audit.STEP_STARTED:
            pending[key] = pending.get(key, 0) + 1
        elif event["type"] == audit.STEP and key in pending:
            pending[key] -= 1
    return next((host for (host, _), count in pending.items() if count > 0), None)


def test_sigkill_during_a_change_names_the_host_and_the_rerun_detects_before_acting(
    sandbox: Path, tmp_path: Path
) -> None:
    log, rerun_log = tmp_path / "audit.jsonl", tmp_path / "rerun.jsonl"
    run = subprocess.Popen(
        remediate("run", "0xC004F074", "--hosts", str(sandbox), "--audit", str(log), "--forks", "2"),
        env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    host = None
    while time.monotonic() < deadline and run.poll() is None and host is None:
        host = change_in_flight(log)
        time.sleep(0.002)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=30)
    assert host is not None, "no change was in flight before the run ended"

    (summary,) = audit.show(log)
    assert host in audit.changes_in_flight(summary)  # the log names the host: state unknown
    assert audit.verify(log).ok

    rerun = subprocess.run(
        remediate("run", "0xC004F074", "--hosts", str(sandbox), "--audit", str(rerun_log), "--output", "json",
                  "--rerun-failed", str(log)),
        env=environment(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert f"{host}: {audit.STATE_UNKNOWN}" in rerun.stderr
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    mine = [e for e in audit.read_events(rerun_log) if e.get("host") == host and e["type"] in (audit.STEP,
                                                                                                audit.STEP_STARTED)]
    assert mine and mine[0]["phase"] == "detect"  # detected before anything was sent that changes it
