"""Ctrl-C during a live run, as a user presses it: once (finish what is in flight), twice (abandon it), and
while `run auto` reads the licences. Every case exits 130 and leaves an audit log that verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from remediate import audit
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

pytestmark = pytest.mark.slow  # every test runs the console script against a fleet

PASSWORD = "Sbx-interrupt-tests-9a"  # one password per process: the sandbox's NTLM user file is shared

HUNG = (Path(__file__).parent / "data" / "scenarios" / "hung.yaml").read_text(encoding="utf-8")


def start(tmp_path: Path, scenario_text: str) -> tuple[Fleet, Path]:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(scenario_text, encoding="utf-8")
    fleet = Fleet.start(build_hosts(scenario, None, 0), auth="ntlm", password=PASSWORD)
    return fleet, fleet.write_hosts_file(tmp_path / "hosts.txt")


def remediate(fleet: Fleet, *arguments: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": fleet.password}
    return subprocess.Popen(
        [sys.executable, "-m", "remediate", *arguments],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def shells_open(fleet: Fleet, count: int) -> Callable[[], bool]:
    names = [endpoint.computer_name for endpoint in fleet.endpoints]
    return lambda: sum(fleet.shell_count(name) for name in names) >= count


def test_a_second_ctrl_c_abandons_the_steps_in_flight_and_records_them(tmp_path: Path) -> None:
    fleet, hosts = start(tmp_path, HUNG)
    log = tmp_path / "audit.jsonl"
    with fleet:
        process = remediate(fleet, "run", "0xC004F074", "--hosts", str(hosts), "--audit", str(log), "--forks", "2")
        wait_for(shells_open(fleet, 2))  # two hosts connected: their first step is on its way
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        abandoned_at = time.monotonic()
        stdout, stderr = process.communicate(timeout=30)
        took = time.monotonic() - abandoned_at
    assert process.returncode == 130, stderr
    assert took < 5  # not the steps' timeout (minutes)
    assert "finishing 2 in-flight step(s); press Ctrl-C again to abandon them" in stderr
    assert "abandoning 2 in-flight step(s)" in stderr
    check = audit.verify(log)
    assert check.ok and not check.truncated, check.describe()
    events = audit.read_events(log)
    interrupted = [event for event in events if event["type"] == "interrupted"]
    assert len(interrupted) == 2 and all(event["phase"] == "detect" for event in interrupted)
    outcomes = {event["host"]: event["outcome"] for event in events if event["type"] == audit.OUTCOME}
    assert len(outcomes) == 4 and set(outcomes.values()) == {"skipped"}  # nothing was changed anywhere
    assert events[-1]["type"] == audit.RUN_FINISHED and events[-1]["interrupted"] is True
    assert "in-flight steps were abandoned" in stdout and "finished and recorded" not in stdout
    # `audit show` names the step each abandoned host was in.
    shown = subprocess.run([sys.executable, "-m", "remediate", "audit", "show", str(log)],
                           capture_output=True, text=True, check=True).stdout
    assert shown.count("interrupted during detect step") == 2


def test_ctrl_c_while_auto_reads_the_licences_exits_130_and_changes_nothing(tmp_path: Path) -> None:
    fleet, hosts = start(tmp_path, HUNG)
    log = tmp_path / "audit.jsonl"
    with fleet:
        process = remediate(fleet, "run", "auto", "--hosts", str(hosts), "--audit", str(log), "--forks", "2")
        wait_for(shells_open(fleet, 2))  # two licence reads in flight (and hung)
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert process.poll() is None  # the first Ctrl-C waits for the reads in flight
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 130, stderr
    assert "finishing the licence reads in flight; press Ctrl-C again" in stderr
    assert "nothing was changed" in stderr
    assert not log.exists()  # no run began


SLOW = """
name: slow
description: Hosts behind a slow network.
hosts: 4
world:
  domain: corp.example
  kms_hosts:
    - {name: kms02.corp.example, address: 10.0.0.6, count: 80}
groups:
  - {name: slow, prefix: SLOW, count: 4, edition: ServerStandard, fault: 0xC004F074, cause: stale-dns-cache,
     transport: {latency_ms: 300}}
"""


def test_one_ctrl_c_while_auto_reads_lets_the_read_in_flight_finish_then_exits_130(tmp_path: Path) -> None:
    fleet, hosts = start(tmp_path, SLOW)
    log = tmp_path / "audit.jsonl"
    with fleet:
        process = remediate(fleet, "run", "auto", "--hosts", str(hosts), "--audit", str(log), "--forks", "1")
        wait_for(shells_open(fleet, 1))
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert shells_open(fleet, 1)() is False  # the read in flight finished and closed its shell
    assert process.returncode == 130, stderr
    assert "interrupted while reading the licences: nothing was changed" in stderr
    assert not log.exists()
