"""The real peers of a dispatched run, for the tests: a Redis server from Debian's `redis-server`, worker
processes (`python -m remediate worker --site …`) and the controller (`python -m remediate run … --dispatch`).

The Redis server listens on a free loopback port and keeps an append-only file synced on every write (as the
README asks of a broker), so that it can be stopped and started again with what it held. Without redis-server
the tests skip, saying why; except in CI (CI=true), where they fail: .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from remediate.sandbox.fleet import Fleet

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """redis-server on loopback; stop() and start() again keep what it held (appendfsync always)."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            reason = "redis-server was not found (apt-get install redis-server)"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"Redis is needed in CI and .ci/run installs it, but {reason}", pytrace=False)
            pytest.skip(f"no Redis server for the dispatch tests: {reason}")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
             "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start: {(self.directory / 'redis.log').read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Process:
    """A remediate process whose standard error is kept (and watched for a line). Every one still running when
    its test ends is killed by kill_leftovers (a failed test must not leave a controller behind)."""

    started: ClassVar[list[Process]] = []

    def __init__(self, arguments: Sequence[str], env: dict[str, str], stdout: Path | None = None) -> None:
        self.arguments = list(arguments)
        self._stdout_file = open(stdout, "wb") if stdout is not None else None  # noqa: SIM115 (closed in wait)
        self.process = subprocess.Popen([sys.executable, "-m", "remediate", *arguments], env=env,
                                        stdout=self._stdout_file or subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        Process.started.append(self)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self.lines.append(raw.decode("utf-8", "replace"))

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                self._reader.join(2)
                raise AssertionError(f"{self.arguments[:3]} ended ({self.process.returncode}): {self.stderr}")
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} from {self.arguments[:3]} in {timeout} s: {self.stderr}")

    def wait(self, timeout: float = 120) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        if self._stdout_file is not None:
            self._stdout_file.close()
        return code

    def kill(self) -> None:
        """SIGKILL to the whole process group: the worker and anything it started, with no goodbye."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def ask_to_stop(self) -> None:
        """SIGTERM to the whole process group (a worker finishes what it does and goes)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def wait_stopped(self) -> None:
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()


def kill_leftovers() -> None:
    """Kill every Process still running (and what it started)."""
    while Process.started:
        Process.started.pop().kill()


def environment(fleet: Fleet, key_file: Path, broker: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "HOME": os.environ.get("HOME", "/tmp"),
        "REMEDIATE_USERNAME": fleet.username,
        "REMEDIATE_PASSWORD": fleet.password,
        "REMEDIATE_DISPATCH_KEY_FILE": str(key_file),
        "REMEDIATE_BROKER_URL": broker,
        "REMEDIATE_LEDGER": "none",
        **extra,
    }


def start_workers(sites: dict[str, int], env: dict[str, str], concurrency: int = 5,
                  visibility_timeout: int = 10) -> dict[str, list[Process]]:
    """`count` workers for each site, ready to take hosts."""
    workers = {
        site: [Process(["worker", "--site", site, "--concurrency", str(concurrency), "--visibility-timeout",
                        str(visibility_timeout)], env) for _ in range(count)]
        for site, count in sites.items()
    }
    for processes in workers.values():
        for worker in processes:
            worker.wait_for("ready: worker", timeout=60)
    return workers


def stop_workers(workers: dict[str, list[Process]]) -> None:
    """Every worker is asked to stop, then each is waited for: they wind down together."""
    every = [worker for processes in workers.values() for worker in processes]
    for worker in every:
        worker.ask_to_stop()
    for worker in every:
        worker.wait_stopped()


def hosts_with_sites(fleet: Fleet, path: Path, sites: Sequence[str]) -> Path:
    """The fleet's hosts file, each host given a site in turn."""
    lines = [f"{endpoint.address}:{endpoint.port} scheme={endpoint.scheme} auth={fleet.auth} "
             f"site={sites[number % len(sites)]}" for number, endpoint in enumerate(fleet.endpoints)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def names(fleet: Fleet) -> dict[str, str]:
    """Host label -> computer name."""
    return {f"{endpoint.address}:{endpoint.port}": endpoint.computer_name for endpoint in fleet.endpoints}


TIMING = {"time", "seq", "prev", "hash", "durations", "duration_s", "chain"}
# A step's readings of the host's clock (its time, how long ago an event was): timings too.
HOST_CLOCK = {"host_time_utc", "age_minutes", "last_activation_error_age_minutes"}


def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def content_by_host(log: Path, fleet: Fleet) -> dict[str, list[dict[str, Any]]]:
    """Each host's events in order, timings left out, the host named by its computer name (two fleets of one
    scenario differ only in their ports)."""
    label_to_name = names(fleet)
    found: dict[str, list[dict[str, Any]]] = {}
    for event in events(log):
        if "host" not in event:
            continue
        body = {key: value for key, value in event.items() if key not in TIMING and key != "host"}
        if isinstance(body.get("data"), dict):
            body["data"] = {key: value for key, value in body["data"].items() if key not in HOST_CLOCK}
        found.setdefault(label_to_name[event["host"]], []).append(body)
    return found


def run_fields(log: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """run_started (its host list as computer names, its command line left out) and run_finished, bar timings."""
    every = events(log)
    started = {key: value for key, value in every[0].items() if key not in TIMING | {"arguments", "hosts"}}
    finished = {key: value for key, value in every[-1].items() if key not in TIMING}
    finished["summary"] = {key: value for key, value in finished["summary"].items() if key != "duration_s"}
    return started, finished
