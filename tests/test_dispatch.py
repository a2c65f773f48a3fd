"""`remediate run … --dispatch` end to end: a real Redis server, real worker processes, sandbox fleets.

Every test starts Redis, two or more `remediate worker --site` processes and the controller as processes of
their own, against hosts that speak real WinRM; so every test here is slow.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from dispatch_peers import (
    Process,
    RedisServer,
    content_by_host,
    environment,
    events,
    hosts_with_sites,
    kill_leftovers,
    names,
    redis_server,  # noqa: F401 (a fixture)
    run_fields,
    start_workers,
    stop_workers,
)

from remediate import audit
from remediate.cli import main
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

pytestmark = pytest.mark.slow

PASSWORD = "Sbx-dispatch-tests-7c"
CODE = "0xC004F074"


@pytest.fixture(autouse=True)
def no_process_left() -> Iterator[None]:
    """A controller or worker a failed test left running is killed with it."""
    yield
    kill_leftovers()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "dispatch.key"
    path.write_bytes(secrets.token_bytes(32))
    path.chmod(0o600)
    return path


@dataclass
class Sites:
    """A fleet's hosts file, each host given the site east or west in turn; the environment of the processes; the
    workers of each site; and the audit log of the run."""

    hosts: Path
    env: dict[str, str]
    workers: dict[str, list[Process]]
    log: Path

    def run(self, *arguments: str, audit: Path | None = None, stdout: Path | None = None, **env: str) -> Process:
        """`remediate run ARGUMENTS --hosts HOSTS --audit LOG --dispatch`, as a process of its own."""
        return Process(["run", *arguments, "--hosts", str(self.hosts), "--audit", str(audit or self.log),
                        "--dispatch"], {**self.env, **env}, stdout=stdout)


@pytest.fixture
def sites(redis_server: RedisServer, key_file: Path, tmp_path: Path) -> Iterator[Callable[..., Sites]]:  # noqa: F811
    """Start the workers of the sites east and west for a fleet (`workers`: how many a site); they are stopped
    when the test ends. `env`: added to every process's environment."""
    started: list[dict[str, list[Process]]] = []

    def start(fleet: Fleet, workers: dict[str, int] | None = None, concurrency: int = 5, visibility_timeout: int = 10,
              **env: str) -> Sites:
        hosts = hosts_with_sites(fleet, tmp_path / "hosts.txt", ["east", "west"])
        environ = environment(fleet, key_file, redis_server.url, **env)
        started.append(start_workers(workers or {"east": 1, "west": 1}, environ, concurrency, visibility_timeout))
        return Sites(hosts, environ, started[-1], tmp_path / "audit.jsonl")

    yield start
    for running in started:
        stop_workers(running)


def fleet_of(count: int, scenario: str = "kms-moved") -> Fleet:
    return Fleet.start(build_hosts(scenario, count, 0), auth="ntlm", password=PASSWORD)


def local_run(tmp_path: Path, count: int, name: str = "local") -> tuple[Fleet, Path, Process]:
    """The same run without --dispatch, on a fleet of its own (same scenario, same seed)."""
    fleet = fleet_of(count)
    hosts = hosts_with_sites(fleet, tmp_path / f"{name}-hosts.txt", ["east", "west"])
    log = tmp_path / f"{name}.jsonl"
    env = environment(fleet, tmp_path / "unused.key", "redis://127.0.0.1:1/0")
    run = Process(["run", CODE, "--hosts", str(hosts), "--audit", str(log), "--output", "json"], env)
    return fleet, log, run


def test_a_dispatched_run_gives_the_outcomes_and_audit_of_a_local_run(
    redis_server: RedisServer, sites: Callable[..., Sites], tmp_path: Path  # noqa: F811
) -> None:
    count = 12
    local_fleet, local_log, local = local_run(tmp_path, count)
    with local_fleet:
        assert local.wait(60) == 0, local.stderr
    fleet = fleet_of(count)
    with fleet:
        dispatched = sites(fleet)
        log = dispatched.log
        run = dispatched.run(CODE)
        assert run.wait(60) == 0, run.stderr
    assert "dispatching 12 host(s) to the workers of: east (6), west (6)" in run.stderr
    assert audit.verify(log).state == audit.COMPLETE
    # Every host has the same events, in the same order, as in the local run; the run the same summary.
    assert content_by_host(log, fleet) == content_by_host(local_log, local_fleet)
    assert run_fields(log) == run_fields(local_log)
    outcomes = {event["host"]: event["outcome"] for event in events(log) if event["type"] == "outcome"}
    assert sorted(outcomes) == sorted(names(fleet)) and set(outcomes.values()) == {"fixed", "healthy"}
    # No secret reached the broker in clear: Redis's append-only file holds every command it was sent.
    held = b"".join(path.read_bytes() for path in redis_server.directory.rglob("*") if path.is_file())
    assert b"remediate.run_host" in held  # the tasks went through it
    assert PASSWORD.encode() not in held


SLOW = (Path(__file__).parent / "data" / "scenarios" / "stale-dns-slow-network.yaml").read_text(encoding="utf-8")


def slow_fleet(tmp_path: Path) -> Fleet:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text(SLOW, encoding="utf-8")
    return Fleet.start(build_hosts(scenario, None, 0), auth="ntlm", password=PASSWORD)


def wait_for_event(log: Path, kind: str, timeout: float = 40,
                   hosts: Callable[[str], bool] = lambda host: True) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists():
            for event in events(log):
                if event["type"] == kind and hosts(str(event.get("host"))):
                    return event
        time.sleep(0.1)
    raise AssertionError(f"no {kind} event in {log} within {timeout} s")


def once_each(log: Path, fleet: Fleet) -> dict[str, list[dict[str, Any]]]:
    """Each host's events, checked: one outcome, last; one start at most; no step announced twice."""
    by_host = content_by_host(log, fleet)
    assert sorted(by_host) == sorted(names(fleet).values())
    for host, found in by_host.items():
        kinds = [event["type"] for event in found]
        assert kinds.count("outcome") == 1 and kinds[-1] == "outcome", (host, kinds)
        assert kinds.count("host_started") <= 1, (host, kinds)
        announced = [event["step"] for event in found if event["type"] == "step_started"]
        assert len(announced) == len(set(announced)), (host, announced)
    return by_host


def test_a_worker_killed_mid_host_leaves_it_state_unknown_and_nothing_runs_twice(
    redis_server: RedisServer, sites: Callable[..., Sites], tmp_path: Path  # noqa: F811
) -> None:
    with slow_fleet(tmp_path) as fleet:
        dispatched = sites(fleet, {"east": 2, "west": 1}, concurrency=2, visibility_timeout=8)
        log = dispatched.log
        run = dispatched.run(CODE, "--forks", "4", "--output", "json", stdout=tmp_path / "report.json")
        # A host of east: east keeps a worker after the kill (west's only worker gone, its hosts would wait forever)
        east = {line.split()[0] for line in dispatched.hosts.read_text(encoding="utf-8").splitlines()
                if line.endswith(" site=east")}
        announced = wait_for_event(log, "step_started", hosts=east.__contains__)
        running = worker_running(redis_server, announced["host"], dispatched.workers)
        running.kill()  # SIGKILL mid-change: no goodbye, its hosts in flight, a task it had taken and not begun
        code = run.wait(90)
    assert audit.verify(log).state == audit.COMPLETE, audit.verify(log).describe()
    by_host = once_each(log, fleet)
    outcomes = {host: found[-1] for host, found in by_host.items()}
    lost = {host: event for host, event in outcomes.items() if "was lost" in event["reason"]}
    assert names(fleet)[announced["host"]] in lost, outcomes
    assert lost[names(fleet)[announced["host"]]]["outcome"] == "failed"  # a change was sent: state unknown
    for host, event in lost.items():
        changed = any(step["type"] == "step_started" for step in by_host[host])
        assert event["outcome"] == ("failed" if changed else "skipped"), event
        if changed:
            assert "state unknown" in event["reason"] and "not run again" in event["reason"]
        assert by_host[host][-2]["type"] == "interrupted"  # what was in flight, then the outcome; nothing after
    # Every other host ran to its end on the workers left, those the killed worker had taken but not begun too.
    assert {event["outcome"] for host, event in outcomes.items() if host not in lost} == {"fixed"}
    assert code == 1, run.stderr
    shown = audit.show(log)[-1]
    assert {host for host, fields in shown.hosts.items() if fields["outcome"] == "failed"} == {
        label for label, name in names(fleet).items() if name in lost and lost[name]["outcome"] == "failed"}


def worker_running(server: RedisServer, label: str, workers: dict[str, list[Process]]) -> Process:
    """The worker process running a host: the one renewing its alive key (its value is site@machine:pid)."""
    client = redis.Redis.from_url(server.url)
    [key] = client.keys(f"remediate:run:*:alive:{label}")
    pid = int(client.get(key).decode().rsplit(":", 1)[1])  # type: ignore[union-attr]
    [found] = [worker for site in workers.values() for worker in site if worker.process.pid == pid]
    return found


def test_a_broker_outage_mid_run_changes_nothing_twice_and_the_run_completes(
    redis_server: RedisServer, sites: Callable[..., Sites], tmp_path: Path  # noqa: F811
) -> None:
    with slow_fleet(tmp_path) as fleet:
        dispatched = sites(fleet, concurrency=3, visibility_timeout=8)
        log = dispatched.log
        run = dispatched.run(CODE, "--forks", "3")
        wait_for_event(log, "step_started")
        redis_server.stop()
        time.sleep(4)
        redis_server.start()
        code = run.wait(90)
    assert "broker unreachable" in run.stderr and "broker reachable again" in run.stderr
    assert audit.verify(log).state == audit.COMPLETE, audit.verify(log).describe()
    by_host = once_each(log, fleet)
    assert {found[-1]["outcome"] for found in by_host.values()} == {"fixed"}
    assert code == 0, run.stderr


def test_ctrl_c_at_the_controller_winds_down_every_site(sites: Callable[..., Sites], tmp_path: Path) -> None:
    with slow_fleet(tmp_path) as fleet:
        dispatched = sites(fleet, concurrency=2)
        log = dispatched.log
        run = dispatched.run(CODE, "--forks", "2")
        wait_for_event(log, "step_started")
        os.kill(run.process.pid, signal.SIGINT)  # the first press: start nothing new, finish what runs
        code = run.wait(60)
    assert code == 130, run.stderr
    assert "interrupted: finishing" in run.stderr
    assert audit.verify(log).state == audit.COMPLETE
    outcomes = [found[-1] for found in once_each(log, fleet).values()]
    not_started = [event for event in outcomes if event["reason"] == "not started: the run was interrupted"]
    assert 0 < len(not_started) < len(outcomes)
    assert events(log)[-1]["interrupted"] is True


def test_max_auth_failures_holds_across_sites(sites: Callable[..., Sites]) -> None:
    with fleet_of(16) as fleet:
        dispatched = sites(fleet, concurrency=2, REMEDIATE_PASSWORD="not-the-password")
        log = dispatched.log
        run = dispatched.run(CODE, "--forks", "2", "--max-auth-failures", "3")
        code = run.wait(60)
    assert audit.verify(log).state == audit.COMPLETE
    outcomes = [found[-1]["outcome"] for found in once_each(log, fleet).values()]
    refused, held_back = outcomes.count("auth-failed"), outcomes.count("skipped")
    # Once 3 hosts refused the credentials, wherever they were, no site started another: only those already in
    # flight (at most --forks per site) could still fail.
    assert 3 <= refused <= 3 + 2 * 2 - 1 and refused + held_back == 16, outcomes
    assert code != 0
    assert "not-the-password" not in log.read_text(encoding="utf-8")


MAK = "7KQ2B-MXW4C-JD9TP-VG3HR-Y6F8K"  # made up: valid in the scenario's world only
MAK_FLEET = f"""
name: mak-fleet
description: Enterprise hosts that need a MAK; the activation service has 3 activations of it left.
hosts: 6
world:
  domain: corp.example
  activation:
    reachable: true
    keys:
      - {{key: {MAK}, channel: MAK, editions: [Enterprise], remaining: 3}}
groups:
  - {{name: pcs, prefix: PC, count: 6, edition: Enterprise, fault: 0xC004F050, domain_role: 1}}
"""


def test_the_key_ledger_holds_a_used_up_key_back_from_every_site_and_the_key_never_reaches_the_broker(
    redis_server: RedisServer, sites: Callable[..., Sites], tmp_path: Path  # noqa: F811
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    added = CliRunner().invoke(main, ["keys", "add", "office-mak", "--key-env", "OFFICE_MAK", "--budget", "20"],
                               env={"OFFICE_MAK": MAK, "REMEDIATE_LEDGER": str(ledger)}, catch_exceptions=False)
    assert added.exit_code == 0, added.output
    scenario = tmp_path / "mak.yaml"
    scenario.write_text(MAK_FLEET, encoding="utf-8")
    with Fleet.start(build_hosts(scenario, None, 0), auth="ntlm", password=PASSWORD) as fleet:
        dispatched = sites(fleet, concurrency=1)
        log = dispatched.log
        run = dispatched.run("0xC004F050", "--secret-env", "product_key=OFFICE_MAK", "--forks", "1", "--output",
                             "json", stdout=tmp_path / "report.json", OFFICE_MAK=MAK, REMEDIATE_LEDGER=str(ledger))
        code = run.wait(90)
    assert code != 0 and "is used up" in run.stderr, run.stderr
    outcomes = [found[-1] for found in once_each(log, fleet).values()]
    assert sum(event["outcome"] == "fixed" for event in outcomes) == 3
    # Once the activation service said the key is used up, the controller held it back from the hosts of every
    # site that had not yet installed it: they are escalated, the key not sent.
    held = [event for event in outcomes if "not installed: it is used up" in event["reason"]]
    assert held and all(event["outcome"] == "escalate" for event in held)
    shown = CliRunner().invoke(main, ["keys", "show", "office-mak", "--output", "json"],
                               env={"REMEDIATE_LEDGER": str(ledger)}, catch_exceptions=False)
    assert '"state": "exhausted"' in shown.output
    assert audit.verify(log).state == audit.COMPLETE
    everything = b"".join(path.read_bytes() for path in redis_server.directory.rglob("*") if path.is_file())
    assert MAK.encode() not in everything and PASSWORD.encode() not in everything
    assert MAK not in log.read_text(encoding="utf-8") + (tmp_path / "report.json").read_text(encoding="utf-8")


def test_a_second_ctrl_c_gives_up_the_hosts_in_flight_and_records_each_once(
    sites: Callable[..., Sites], tmp_path: Path
) -> None:
    with slow_fleet(tmp_path) as fleet:
        dispatched = sites(fleet, concurrency=2)
        log = dispatched.log
        run = dispatched.run(CODE, "--forks", "2")
        wait_for_event(log, "step_started")
        os.kill(run.process.pid, signal.SIGINT)
        time.sleep(0.3)
        os.kill(run.process.pid, signal.SIGINT)  # the second press: stop waiting for the steps in flight
        code = run.wait(30)
    assert code == 130, run.stderr
    assert "abandoning" in run.stderr
    assert audit.verify(log).state == audit.COMPLETE
    by_host = once_each(log, fleet)
    given_up = {host: found for host, found in by_host.items() if found[-1]["reason"].startswith("abandoned")}
    assert given_up, by_host
    for found in given_up.values():  # failed when a change had been announced, skipped when none had
        changed = any(event["type"] == "step_started" for event in found)
        assert found[-1]["outcome"] == ("failed" if changed else "skipped"), found[-1]
        assert found[-2]["type"] == "interrupted"
    assert events(log)[-1]["abandoned"] is True


def test_an_approved_plan_runs_dispatched_as_saved_and_a_changed_one_is_refused_before_any_dispatch(
    sites: Callable[..., Sites], tmp_path: Path
) -> None:
    with fleet_of(6) as fleet:
        dispatched = sites(fleet)
        hosts, plan_file, log = dispatched.hosts, tmp_path / "plan.json", dispatched.log
        saved = Process(["run", CODE, "--hosts", str(hosts), "--dry-run", "--save-plan", str(plan_file)],
                        dispatched.env)
        assert saved.wait(60) == 0, saved.stderr
        run = dispatched.run("--plan", str(plan_file))
        assert run.wait(60) == 0, run.stderr
        hosts.write_text(hosts.read_text(encoding="utf-8").replace("site=west", "site=west kms_host=kms9.x", 1),
                         encoding="utf-8")
        changed = dispatched.run("--plan", str(plan_file), audit=tmp_path / "changed.jsonl")
        assert changed.wait(60) == 2, changed.stderr
    started = events(log)[0]
    assert started["plan_sha256"] == hashlib.sha256(plan_file.read_bytes()).hexdigest()
    assert {found[-1]["outcome"] for found in once_each(log, fleet).values()} <= {"fixed", "healthy"}
    assert not (tmp_path / "changed.jsonl").exists() and "dispatching" not in changed.stderr


DOWN = """
name: down
description: Hosts whose WinRM refuses every connection.
hosts: 12
world:
  domain: corp.example
groups:
  - {name: down, prefix: DOWN, count: 12, edition: ServerStandard, fault: 0xC004F074, cause: stale-dns-cache,
     transport: {refuse_connections: true}}
"""


def test_max_fail_percent_counts_every_site(sites: Callable[..., Sites], tmp_path: Path) -> None:
    scenario = tmp_path / "down.yaml"
    scenario.write_text(DOWN, encoding="utf-8")
    with Fleet.start(build_hosts(scenario, None, 0), auth="ntlm", password=PASSWORD) as fleet:
        dispatched = sites(fleet, concurrency=1)
        log = dispatched.log
        run = dispatched.run(CODE, "--forks", "1", "--retries", "0", "--max-fail-percent", "10")
        code = run.wait(60)
    outcomes = [found[-1] for found in once_each(log, fleet).values()]
    unreachable = [event for event in outcomes if event["outcome"] == "unreachable"]
    held = [event for event in outcomes if event["reason"] == "not started: --max-fail-percent was reached"]
    # One host per site may be in flight when the first one fails: at most two ran, the ten others never started.
    assert 1 <= len(unreachable) <= 2 and len(unreachable) + len(held) == 12, outcomes
    assert code == 1 and audit.verify(log).state == audit.COMPLETE
