"""`remediate run --processes N` end to end: the console script against sandbox fleets, its hosts run by worker
processes, the audit log written by the one process the user started."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dispatch_peers import Process, content_by_host, events, free_port, names, run_fields

from remediate import audit
from remediate.cli import main
from remediate.processes import HOSTS_PER_PROCESS, process_count
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

PASSWORD = "Sbx-processes-tests-4e"
CODE = "0xC004F074"

SLOW = (Path(__file__).parent / "data" / "scenarios" / "stale-dns-slow-network.yaml").read_text(encoding="utf-8")

HUNG = (Path(__file__).parent / "data" / "scenarios" / "hung.yaml").read_text(encoding="utf-8")


def test_the_default_is_one_process_per_core_once_the_fleet_is_large_enough() -> None:
    cores = os.cpu_count() or 1
    assert process_count(None, HOSTS_PER_PROCESS - 1, 50) == 1  # a small fleet stays in one process
    assert process_count(None, 100 * HOSTS_PER_PROCESS, 50) == min(cores, 50)
    assert process_count(None, 2 * HOSTS_PER_PROCESS, 50) == min(cores, 2)
    assert process_count(4, 3, 50) == 3  # never more processes than hosts
    assert process_count(4, 1000, 2) == 2  # nor than --forks: each process runs at least one host at once
    assert process_count(1, 1000, 50) == 1


def env_of(fleet: Fleet, **extra: str) -> dict[str, str]:
    root = Path(__file__).resolve().parents[1]
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        "HOME": os.environ.get("HOME", "/tmp"),
        "REMEDIATE_USERNAME": fleet.username,
        "REMEDIATE_PASSWORD": fleet.password,
        "REMEDIATE_LEDGER": "none",
        **extra,
    }


def fleet_from(tmp_path: Path, scenario_text: str) -> Fleet:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(scenario_text, encoding="utf-8")
    return Fleet.start(build_hosts(scenario, None, 0), auth="ntlm", password=PASSWORD)


def run_on(fleet: Fleet, tmp_path: Path, name: str, *options: str) -> tuple[Process, Path]:
    hosts = fleet.write_hosts_file(tmp_path / f"{name}-hosts.txt")
    log = tmp_path / f"{name}.jsonl"
    return Process(["run", CODE, "--hosts", str(hosts), "--audit", str(log), *options], env_of(fleet)), log


def wait_for_event(log: Path, kind: str, timeout: float = 40) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            for event in events(log):
                if event["type"] == kind:
                    return event
        time.sleep(0.05)
    raise AssertionError(f"no {kind} event in {log} within {timeout} s")


def _children() -> dict[int, list[tuple[int, bytes]]]:
    """Every process's children: parent -> [(pid, command line)]."""
    found: dict[int, list[tuple[int, bytes]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        found.setdefault(int(stat[1]), []).append((int(entry.name), command))
    return found


def worker_processes(parent: int) -> list[int]:
    """The worker processes of a run: the children of the fork server it started (multiprocessing's)."""
    children = _children()
    servers = [pid for pid, command in children.get(parent, []) if b"forkserver" in command]
    return [pid for server in servers for pid, _command in children.get(server, [])]


def connected_to(pids: list[int], port: int) -> int:
    """Which of these processes has a TCP connection open to `port` on this machine (the host it runs)."""
    remote = f":{port:04X}"
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[2].endswith(remote) and fields[3] == "01":  # rem_address, ESTABLISHED
                inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    raise AssertionError(f"none of the processes {pids} is connected to port {port}")


def once_each(log: Path, fleet: Fleet) -> dict[str, list[dict[str, Any]]]:
    """Each host's events, checked: one outcome, last; one start at most; every changing step's result after
    its step_started (write-ahead), no step announced twice."""
    by_host = content_by_host(log, fleet)
    assert sorted(by_host) == sorted(names(fleet).values())
    for host, found in by_host.items():
        kinds = [event["type"] for event in found]
        assert kinds.count("outcome") == 1 and kinds[-1] == "outcome", (host, kinds)
        assert kinds.count("host_started") <= 1, (host, kinds)
        announced: list[str] = []
        for event in found:
            if event["type"] == "step_started":
                announced.append(event["step"])
            elif event["type"] == "step" and event["phase"] == "fix" and not event.get("skipped"):
                assert announced and announced[-1] == event["step"], (host, kinds)
        assert len(announced) == len(set(announced)), (host, announced)
    return by_host


@pytest.mark.slow
def test_two_processes_give_the_outcomes_and_audit_log_of_one(tmp_path: Path) -> None:
    runs = {}
    for processes in ("1", "2"):
        with Fleet.start(build_hosts("kms-moved", 16, 0), auth="ntlm", password=PASSWORD) as fleet:
            process, log = run_on(fleet, tmp_path, f"p{processes}", "--processes", processes, "--forks", "4",
                                  "--output", "json")
            if processes == "2":
                wait_for_event(log, "host_started")
                assert len(worker_processes(process.process.pid)) == 2
            assert process.wait(120) == 0, process.stderr
            runs[processes] = (fleet, log, process)
    (one_fleet, one_log, one), (two_fleet, two_log, two) = runs["1"], runs["2"]
    assert audit.verify(two_log).state == audit.COMPLETE
    # Every host has the same events, in the same order; the run the same start and summary.
    assert once_each(two_log, two_fleet) == once_each(one_log, one_fleet)
    assert run_fields(two_log) == run_fields(one_log)
    outcomes = {event["host"]: event["outcome"] for event in events(two_log) if event["type"] == "outcome"}
    assert sorted(outcomes) == sorted(names(two_fleet)) and set(outcomes.values()) == {"fixed", "healthy"}
    # The progress counts the same hosts to the same end.
    def last_progress(run: Process) -> list[str]:
        return [line for line in run.lines if line.startswith("hosts ")][-1].split("·")[:2]

    assert last_progress(two) == last_progress(one) == ["hosts 16/16 (100%) ", last_progress(one)[1]]


@pytest.mark.slow
def test_a_second_ctrl_c_abandons_the_steps_in_flight_in_every_process(tmp_path: Path) -> None:
    with fleet_from(tmp_path, HUNG) as fleet:
        process, log = run_on(fleet, tmp_path, "hung", "--processes", "2", "--forks", "2")
        names_of = [endpoint.computer_name for endpoint in fleet.endpoints]
        deadline = time.monotonic() + 30
        while sum(fleet.shell_count(name) for name in names_of) < 2:  # two hosts' first step is on its way
            assert time.monotonic() < deadline, process.stderr
            time.sleep(0.05)
        time.sleep(0.5)
        os.killpg(process.process.pid, signal.SIGINT)  # as a terminal does: the whole process group
        time.sleep(0.5)
        os.killpg(process.process.pid, signal.SIGINT)
        abandoned_at = time.monotonic()
        code = process.wait(30)
        took = time.monotonic() - abandoned_at
    assert code == 130, process.stderr
    assert took < 5  # not the steps' timeout (minutes)
    assert "finishing 2 in-flight step(s); press Ctrl-C again to abandon them" in process.stderr
    assert "abandoning 2 in-flight step(s)" in process.stderr
    check = audit.verify(log)
    assert check.ok and not check.truncated, check.describe()
    every = events(log)
    interrupted = [event for event in every if event["type"] == "interrupted"]
    # The parent knows of a step in flight only once it is a change (its step_started): these were reads.
    assert len(interrupted) == 2 and all("no change had been sent" in event["reason"] for event in interrupted)
    outcomes = {event["host"]: event["outcome"] for event in every if event["type"] == audit.OUTCOME}
    assert len(outcomes) == 4 and set(outcomes.values()) == {"skipped"}  # nothing was changed anywhere
    assert every[-1]["type"] == audit.RUN_FINISHED and every[-1]["interrupted"] is True


@pytest.mark.slow
def test_one_ctrl_c_lets_every_process_finish_its_steps_and_starts_nothing_new(tmp_path: Path) -> None:
    with fleet_from(tmp_path, SLOW) as fleet:
        process, log = run_on(fleet, tmp_path, "slow", "--processes", "2", "--forks", "4")
        wait_for_event(log, "step_started")
        os.killpg(process.process.pid, signal.SIGINT)
        code = process.wait(90)
    assert code == 130, process.stderr
    assert "interrupted: finishing" in process.stderr
    assert audit.verify(log).state == audit.COMPLETE
    by_host = once_each(log, fleet)
    outcomes = [found[-1] for found in by_host.values()]
    not_started = [event for event in outcomes if event["reason"] == "not started: the run was interrupted"]
    assert 0 < len(not_started) < len(outcomes)
    # The steps in flight finished and were recorded: nothing was abandoned, no worker was lost.
    assert not [event for found in by_host.values() for event in found if event["type"] == "interrupted"]
    assert events(log)[-1]["interrupted"] is True


@pytest.mark.slow
def test_a_worker_process_killed_mid_run_ends_its_hosts_honestly_and_the_others_finish(tmp_path: Path) -> None:
    with fleet_from(tmp_path, SLOW) as fleet:
        process, log = run_on(fleet, tmp_path, "killed", "--processes", "2", "--forks", "4", "--output", "json")
        announced = wait_for_event(log, "step_started")
        workers = worker_processes(process.process.pid)
        assert len(workers) == 2
        # The process running the host that announced a change: its change is in flight. (The other one's hosts
        # may or may not have got as far, depending on how the machine shares its cores.)
        running = connected_to(workers, int(announced["host"].rsplit(":", 1)[1]))
        os.kill(running, signal.SIGKILL)  # no goodbye: its hosts in flight, one mid-change
        code = process.wait(120)
    assert code == 1, process.stderr
    assert audit.verify(log).state == audit.COMPLETE, audit.verify(log).describe()
    by_host = once_each(log, fleet)
    outcomes = {host: found[-1] for host, found in by_host.items()}
    lost = {host: event for host, event in outcomes.items() if "was lost" in event["reason"]}
    assert lost[names(fleet)[announced["host"]]]["outcome"] == "failed", outcomes  # a change was sent
    for host, event in lost.items():
        changed = any(step["type"] == "step_started" for step in by_host[host])
        assert event["outcome"] == ("failed" if changed else "skipped"), event
        assert "not run again" in event["reason"]
        if changed:
            assert "state unknown" in event["reason"]
        assert by_host[host][-2]["type"] == "interrupted"  # what was in flight, then the outcome; nothing after
    # Every other host ran to its end in the process left, those the killed one had been sent and not begun too.
    assert {event["outcome"] for host, event in outcomes.items() if host not in lost} == {"fixed"}
    assert len(lost) <= 2  # its share of --forks


@pytest.mark.slow
def test_max_fail_percent_holds_across_processes(tmp_path: Path) -> None:
    with Fleet.start(build_hosts("kms-moved", 12, 0), auth="ntlm", password=PASSWORD) as fleet:
        hosts = tmp_path / "hosts.txt"
        closed = [f"127.0.0.1:{free_port()} scheme=http auth=ntlm" for _ in range(4)]  # refuse connections
        hosts.write_text("\n".join(closed) + "\n" + fleet.hosts_file_text(), encoding="utf-8")
        log = tmp_path / "audit.jsonl"
        process = Process(["run", CODE, "--hosts", str(hosts), "--audit", str(log), "--processes", "2",
                           "--forks", "2", "--retries", "0", "--max-fail-percent", "20"], env_of(fleet))
        code = process.wait(120)
    assert code != 0
    assert audit.verify(log).state == audit.COMPLETE
    outcomes = [event for event in events(log) if event["type"] == "outcome"]
    unreachable = [event for event in outcomes if event["outcome"] == "unreachable"]
    held_back = [event for event in outcomes if event["reason"] == "not started: --max-fail-percent was reached"]
    # The first host to fail stopped both processes: only the hosts then in flight (--forks 2 over both) ran.
    assert 1 <= len(unreachable) <= 2 and len(unreachable) + len(held_back) == 16, outcomes
    assert not [event for event in events(log) if event["type"] == "step_started"]  # no fleet host was changed
    assert events(log)[-1]["summary"]["stopped_early"] is True


AUTO_MIX = """
name: auto-mix
description: Two hosts per kind of answer run auto must give.
hosts: 6
world:
  domain: corp.example
  kms_hosts:
    - {name: kms01.corp.example, address: 10.0.0.5, count: 60}
groups:
  - {name: f074, prefix: KMSSTALE, count: 2, edition: ServerStandard, fault: 0xC004F074,
     cause: stale-dns-cache}
  - {name: c008, prefix: KMSHOSTKEY, count: 2, edition: ServerStandard, fault: 0xC004C008}
  - {name: healthy, prefix: OK, count: 2, edition: ServerStandard}
"""


@pytest.mark.slow
def test_run_auto_over_two_processes_gives_the_audit_log_of_one(tmp_path: Path) -> None:
    runs = {}
    for processes in ("1", "2"):
        with fleet_from(tmp_path, AUTO_MIX) as fleet:
            hosts = fleet.write_hosts_file(tmp_path / f"auto{processes}-hosts.txt")
            log = tmp_path / f"auto{processes}.jsonl"
            process = Process(["run", "auto", "--hosts", str(hosts), "--audit", str(log), "--processes",
                               processes], env_of(fleet))
            assert process.wait(120) == 4, process.stderr  # no failure, the hosts of 0xC004C008 need a human
            runs[processes] = (fleet, log)
    (one_fleet, one_log), (two_fleet, two_log) = runs["1"], runs["2"]
    assert audit.verify(two_log).state == audit.COMPLETE
    assert once_each(two_log, two_fleet) == once_each(one_log, one_fleet)
    assert run_fields(two_log) == run_fields(one_log)
    assert sum(1 for event in events(two_log) if event["type"] == "status") == 6


def test_processes_and_dispatch_do_not_go_together(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("127.0.0.1:5986\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["run", CODE, "--hosts", str(hosts), "--dispatch", "--processes", "2"])
    assert result.exit_code == 2 and "--processes and --dispatch" in result.output
