"""`remediate run … --dispatch` end to end: a real Redis server, real worker processes, sandbox fleets.

Every test starts Redis, two or more `remediate worker --site` processes and the controller as processes of
their own, against hosts that speak real WinRM; so every test here is slow.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from dispatch_peers import (
    Process,
    RedisServer,
    content_by_host,
    environment,
    events,
    hosts_with_sites,
    names,
    redis_server,  # noqa: F401 (a fixture)
    run_fields,
    start_workers,
    stop_workers,
)

from remediate import audit
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

pytestmark = pytest.mark.slow

PASSWORD = "Sbx-dispatch-tests-7c"
CODE = "0xC004F074"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "dispatch.key"
    path.write_bytes(secrets.token_bytes(32))
    path.chmod(0o600)
    return path


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
    redis_server: RedisServer, key_file: Path, tmp_path: Path  # noqa: F811
) -> None:
    count = 12
    local_fleet, local_log, local = local_run(tmp_path, count)
    with local_fleet:
        assert local.wait(60) == 0, local.stderr
    fleet = fleet_of(count)
    with fleet:
        hosts = hosts_with_sites(fleet, tmp_path / "hosts.txt", ["east", "west"])
        env = environment(fleet, key_file, redis_server.url)
        workers = start_workers({"east": 1, "west": 1}, env)
        try:
            log = tmp_path / "dispatched.jsonl"
            run = Process(["run", CODE, "--hosts", str(hosts), "--audit", str(log), "--dispatch"], env)
            assert run.wait(60) == 0, run.stderr
        finally:
            stop_workers(workers)
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
