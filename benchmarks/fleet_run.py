"""A live run over a sandbox fleet with latency: its wall time against the protocol floor and a naive baseline.

    python benchmarks/fleet_run.py [--hosts 100] [--latency-ms 100] [--forks 10] [--scenario kms-moved]
                                   [--code 0xC004F074] [--smoke]

What one run measures (defaults: the shipped kms-moved fleet, grown to 100 hosts, every request delayed 100 ms):

- engine: the real engine (remediate.engine.Engine over remediate.transport.Session, one RunspacePool per host)
  runs the playbook on a sandbox started in its own process (`remediate sandbox up`), as `remediate run` would.
- round trips: every HTTP request the client sends (NTLM handshakes included), counted at the requests
  transport adapter of this process. The sandbox adds the latency to each of them.
- floor: round trips x latency / concurrency, what the run would take if the wire were its only cost and every
  one of the --forks workers always had a request in flight.
- baseline: a fresh sandbox, then for every host (same --forks) every step the engine ran on it, in the same
  order, each through a fresh `pypsrp.client.Client(...).execute_ps(script)`: a new connection, logon,
  RunspacePool and pipeline per step. execute_ps takes no parameters, so the baseline does what a naive client
  has to: it writes each step's values into the script's own `param(...)` block as the parameters' default
  values (PowerShell literals); the rest of the script is byte for byte what the engine sent. (remediate itself
  never puts values into script text; this is for comparison only.)

Targets: engine within 1.3x of the floor, and at least 2x faster than the baseline. Every number comes from this
one run. --smoke is a quick check of the machinery (10 hosts, 20 ms), not a measurement.
"""

from __future__ import annotations

import argparse
import heapq
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests.adapters
import yaml
from pypsrp.client import Client

from remediate.audit import AuditLog, verify
from remediate.codes import ErrorCode
from remediate.engine import Engine, EngineOptions
from remediate.inventory import Host, load_hosts
from remediate.playbook import PlaybookLibrary
from remediate.render import Renderer, build_plan
from remediate.results import ResultFormatError, ScriptRun, StepResult
from remediate.sandbox.powershell.parser import parse_script
from remediate.sandbox.scenario import SCENARIOS_DIR
from remediate.secret import Secret
from remediate.transport import ConnectionOptions, Credentials, Session, reveal
from remediate.values import RunValues

PASSWORD = "Sbx-benchmark-9a"
USERNAME = "sandbox\\admin"
TARGET_FLOOR_RATIO = 1.3
TARGET_SPEED_UP = 2.0


# --- the sandbox ------------------------------------------------------------------------------------------


def latency_scenario(scenario: str, hosts: int, latency_ms: int, directory: Path) -> Path:
    """A copy of the scenario with `hosts` hosts and latency_ms added to every request of every group."""
    source = Path(scenario) if Path(scenario).is_file() else SCENARIOS_DIR / f"{scenario}.yaml"
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["hosts"] = hosts
    for group in data["groups"]:
        group["transport"] = {**(group.get("transport") or {}), "latency_ms": latency_ms}
    path = directory / f"{data['name']}-{latency_ms}ms.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class SandboxFleet:
    hosts: list[Host]
    names: dict[str, str]  # host label -> the computer name behind it (the same in every sandbox started)
    pid: int

    def cpu_seconds(self) -> float | None:
        """CPU time the sandbox process has used so far (Linux /proc; None elsewhere)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


_ENDPOINT_COMMENT = re.compile(r"^#\s+(\S+) is (\S+)$")


@contextmanager
def sandbox(scenario_file: Path, hosts: int, directory: Path) -> Iterator[SandboxFleet]:
    """`remediate sandbox up` in its own process, like a real fleet; yields the hosts of its hosts file."""
    directory.mkdir(parents=True, exist_ok=True)
    hosts_file = directory / "hosts.txt"
    process = subprocess.Popen(
        [sys.executable, "-m", "remediate", "sandbox", "up", "--scenario", str(scenario_file),
         "--hosts", str(hosts), "--hosts-file", str(hosts_file), "--password", PASSWORD],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("ready:"):
                break
        else:
            raise SystemExit(f"the sandbox did not start (exit {process.wait()})")
        # keep reading its output so that it never blocks on a full pipe
        threading.Thread(target=process.stdout.read, daemon=True).start()
        comments = (_ENDPOINT_COMMENT.match(line) for line in hosts_file.read_text("utf-8").splitlines())
        yield SandboxFleet(load_hosts(hosts_file), {m.group(1): m.group(2) for m in comments if m}, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


# --- counting round trips ---------------------------------------------------------------------------------


class RoundTrips:
    """Counts the HTTP requests this process sends (each one a round trip to a host), in all and per host."""

    def __init__(self) -> None:
        self.count = 0
        self.by_host: dict[str, int] = {}  # "address:port" -> requests
        self.waiting_s = 0.0  # time spent waiting for answers, summed over all requests
        self._lock = threading.Lock()

    @contextmanager
    def counting(self) -> Iterator[RoundTrips]:
        original = requests.adapters.HTTPAdapter.send
        counter = self

        def send(
            adapter: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any
        ) -> requests.Response:
            where = urlsplit(request.url or "").netloc
            sent = time.perf_counter()
            try:
                return original(adapter, request, *args, **kwargs)
            finally:
                waited = time.perf_counter() - sent
                with counter._lock:
                    counter.count += 1
                    counter.by_host[where] = counter.by_host.get(where, 0) + 1
                    counter.waiting_s += waited

        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign, assignment]
        try:
            yield self
        finally:
            requests.adapters.HTTPAdapter.send = original  # type: ignore[method-assign]


# --- the engine run ---------------------------------------------------------------------------------------

StepCall = tuple[str, Mapping[str, Any]]  # (script, parameters) as the engine sent them


class RecordingSession(Session):
    """transport.Session that also notes every step it sends, for the baseline to replay."""

    def __init__(self, host: Host, sent: list[StepCall], *args: Any) -> None:
        super().__init__(host, *args)
        self.sent = sent

    def run(self, script: str, parameters: Mapping[str, Any], timeout_s: float) -> ScriptRun:
        self.sent.append((script, dict(parameters)))
        return super().run(script, parameters, timeout_s)


@dataclass
class Measured:
    seconds: float
    round_trips: int
    steps: int
    notes: dict[str, int] = field(default_factory=dict)  # outcomes, or failures
    per_host: list[int] = field(default_factory=list)  # round trips of each host, in the order hosts start
    waiting_s: float = 0.0  # summed over requests: from sending one to its answer
    client_cpu_s: float = 0.0  # CPU this process used (every thread)
    sandbox_cpu_s: float | None = None  # CPU the sandbox process used


@contextmanager
def timing(fleet: SandboxFleet) -> Iterator[dict[str, float | None]]:
    """Wall time, this process's CPU time and the sandbox's CPU time of the block."""
    taken: dict[str, float | None] = {}
    wall, cpu, sandbox_cpu = time.perf_counter(), time.process_time(), fleet.cpu_seconds()
    yield taken
    taken["wall"] = time.perf_counter() - wall
    taken["cpu"] = time.process_time() - cpu
    after = fleet.cpu_seconds()
    taken["sandbox_cpu"] = None if after is None or sandbox_cpu is None else after - sandbox_cpu


def per_host(trips: RoundTrips, hosts: list[Host]) -> list[int]:
    return [trips.by_host.get(f"{host.name}:{host.port}", 0) for host in hosts]


def measured(
    taken: dict[str, float | None], trips: RoundTrips, hosts: list[Host], steps: int, notes: dict[str, int]
) -> Measured:
    return Measured(
        seconds=taken["wall"] or 0.0,
        round_trips=trips.count,
        steps=steps,
        notes=notes,
        per_host=per_host(trips, hosts),
        waiting_s=trips.waiting_s,
        client_cpu_s=taken["cpu"] or 0.0,
        sandbox_cpu_s=taken["sandbox_cpu"],
    )


def engine_run(
    code: str, fleet: SandboxFleet, forks: int, directory: Path, sent: dict[str, list[StepCall]]
) -> Measured:
    """The real engine over the fleet; `sent` receives every step sent, by computer name."""
    hosts = fleet.hosts
    library = PlaybookLibrary(())
    playbook = library.get(ErrorCode.parse(code))
    plan = build_plan(playbook, hosts, RunValues(), Renderer.for_library(library))
    connection = ConnectionOptions(auth="ntlm", scheme="http")
    credentials = Credentials(USERNAME, Secret(PASSWORD))
    log_path = directory / "audit.jsonl"
    with RoundTrips().counting() as trips, AuditLog(log_path) as log, timing(fleet) as taken:
        engine = Engine(
            lambda host: RecordingSession(host, sent.setdefault(fleet.names[host.label], []), connection, credentials),
            log,
            EngineOptions(forks=forks),
        )
        report = engine.run(plan)
    if not verify(log_path).ok:
        raise SystemExit("the audit log of the engine run does not verify")
    counts = {outcome: number for outcome, number in report.counts().items() if number}
    return measured(taken, trips, hosts, sum(len(calls) for calls in sent.values()), counts)


# --- the naive baseline -----------------------------------------------------------------------------------


def powershell_literal(value: Any) -> str:
    """A PowerShell literal for a parameter value (what a naive client pastes into its script)."""
    value = reveal(value)
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        return "$null"
    if isinstance(value, str):
        return "'" + re.sub("(['\u2018\u2019\u201a\u201b])", r"\1\1", value) + "'"
    if isinstance(value, Mapping):
        pairs = "; ".join(f"{powershell_literal(str(k))} = {powershell_literal(v)}" for k, v in value.items())
        return "@{" + pairs + "}"
    if isinstance(value, (list, tuple)):
        return "@(" + ", ".join(powershell_literal(item) for item in value) + ")"
    raise TypeError(f"no PowerShell literal for {type(value).__name__}")


def inline_parameters(script: str, parameters: Mapping[str, Any]) -> str:
    """The script with each parameter's value written into its param(...) declaration as the default."""
    if not parameters:
        return script
    lines = script.split("\n")
    declared = {declaration.name.lower(): declaration for declaration in parse_script(script).parameters}
    for name, value in parameters.items():
        declaration = declared[name.lower()]
        index = declaration.line - 1
        pattern = re.compile(rf"\${re.escape(declaration.name)}\b(\s*=[^,\r\n]*)?", re.IGNORECASE)
        assignment = f"${declaration.name} = {powershell_literal(value)}".replace("\\", "\\\\")  # re template
        replaced, found = pattern.subn(assignment, lines[index], 1)
        if not found:
            raise ValueError(f"parameter {name} is not declared on line {declaration.line} as expected")
        lines[index] = replaced
    return "\n".join(lines)


def baseline_step(host: Host, script: str) -> bool:
    """One step the naive way; True when it ended with a StepResult and no error."""
    client = Client(
        host.name, port=host.port, username=USERNAME, password=PASSWORD, auth="ntlm", ssl=False, no_proxy=True
    )
    output, _streams, had_errors = client.execute_ps(script)
    lines = output.splitlines()
    if had_errors or not lines:
        return False
    try:
        StepResult.from_json(lines[-1])
    except ResultFormatError:
        return False
    return True


def baseline_run(fleet: SandboxFleet, sent: Mapping[str, list[StepCall]], forks: int) -> Measured:
    hosts = fleet.hosts
    scripts = {
        host.label: [inline_parameters(script, values) for script, values in sent.get(fleet.names[host.label], [])]
        for host in hosts
    }
    failed = 0
    lock = threading.Lock()

    def one_host(host: Host) -> None:
        nonlocal failed
        for script in scripts[host.label]:
            if not baseline_step(host, script):
                with lock:
                    failed += 1

    workers = max(1, min(forks, len(hosts)))
    with RoundTrips().counting() as trips, timing(fleet) as taken, ThreadPoolExecutor(workers) as pool:
        list(pool.map(one_host, hosts))
    steps = sum(len(listed) for listed in scripts.values())
    return measured(taken, trips, hosts, steps, {"failed steps": failed})


# --- the report -------------------------------------------------------------------------------------------


@dataclass
class Report:
    hosts: int
    latency_ms: int
    forks: int
    engine: Measured
    baseline: Measured

    @property
    def concurrency(self) -> int:
        return max(1, min(self.forks, self.hosts))

    @property
    def floor_s(self) -> float:
        return self.engine.round_trips * (self.latency_ms / 1000) / self.concurrency

    @property
    def floor_ratio(self) -> float:
        return self.engine.seconds / self.floor_s

    @property
    def schedule_floor_s(self) -> float:
        """The floor once hosts are what they are: sequential chains of round trips, taken in order by the
        first free worker (as the engine's thread pool does). Above `floor_s` when the hosts do not divide
        evenly among the workers: the last ones run with workers idle."""
        latency = self.latency_ms / 1000
        free_at = [0.0] * self.concurrency
        for trips in self.engine.per_host:
            start = heapq.heappop(free_at)
            heapq.heappush(free_at, start + trips * latency)
        return max(free_at)

    def time_line(self, name: str, run: Measured) -> str:
        """Where the workers' time went, per round trip: waiting for answers (the added latency, then the
        sandbox's own work) against everything else (the client's work between requests, and workers left
        idle at the end when fewer hosts than workers remain)."""
        busy = run.seconds * self.concurrency
        answer_ms = 1000 * run.waiting_s / max(1, run.round_trips)
        other_ms = 1000 * (busy - run.waiting_s) / max(1, run.round_trips)
        return (
            f"per round trip ({name}): {answer_ms:.1f} ms waiting for the answer ({self.latency_ms} ms of it "
            f"added latency), {other_ms:.1f} ms not waiting (client work between requests, idle workers)"
        )

    def cpu_line(self, name: str, run: Measured) -> str:
        sandbox = "?" if run.sandbox_cpu_s is None else f"{run.sandbox_cpu_s:.1f}"
        used = run.client_cpu_s + (run.sandbox_cpu_s or 0.0)
        cores = os.cpu_count() or 1
        return (
            f"cpu ({name}): client {run.client_cpu_s:.1f} s + sandbox {sandbox} s = {used / run.seconds:.2f} "
            f"of {cores} cores busy on average"
        )

    @property
    def speed_up(self) -> float:
        return self.baseline.seconds / self.engine.seconds

    def lines(self) -> list[str]:
        floor_ok = "met" if self.floor_ratio <= TARGET_FLOOR_RATIO else "MISSED"
        speed_ok = "met" if self.speed_up >= TARGET_SPEED_UP else "MISSED"
        engine, baseline = self.engine, self.baseline
        return [
            f"fleet: {self.hosts} hosts, {self.latency_ms} ms added to every request, --forks {self.forks}",
            f"engine:    {engine.seconds:8.2f} s  {engine.round_trips:6d} round trips  {engine.steps:5d} steps  "
            f"({engine.round_trips / max(1, self.hosts):.1f} round trips per host)  {engine.notes}",
            f"floor:     {self.floor_s:8.2f} s  = {engine.round_trips} x {self.latency_ms} ms / {self.concurrency}",
            f"baseline:  {baseline.seconds:8.2f} s  {baseline.round_trips:6d} round trips  {baseline.steps:5d} steps  "
            f"(fresh Client.execute_ps per step)  {baseline.notes}",
            f"ratio to floor: {self.floor_ratio:.2f}x (target <= {TARGET_FLOOR_RATIO}x: {floor_ok})",
            f"speed-up over baseline: {self.speed_up:.2f}x (target >= {TARGET_SPEED_UP}x: {speed_ok})",
            f"schedule floor: {self.schedule_floor_s:.2f} s (hosts as whole chains of round trips); "
            f"engine at {self.engine.seconds / self.schedule_floor_s:.2f}x of it",
            self.time_line("engine", engine),
            self.time_line("baseline", baseline),
            self.cpu_line("engine", engine),
            self.cpu_line("baseline", baseline),
        ]


def measure(scenario: str, code: str, hosts: int, latency_ms: int, forks: int) -> Report:
    with tempfile.TemporaryDirectory(prefix="remediate-bench-") as folder:
        directory = Path(folder)
        scenario_file = latency_scenario(scenario, hosts, latency_ms, directory)
        sent: dict[str, list[StepCall]] = {}
        with sandbox(scenario_file, hosts, directory / "engine-run") as fleet:
            engine = engine_run(code, fleet, forks, directory, sent)
        with sandbox(scenario_file, hosts, directory / "baseline-run") as fleet:
            baseline = baseline_run(fleet, sent, forks)
    return Report(hosts, latency_ms, forks, engine, baseline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--forks", type=int, default=EngineOptions().forks)
    parser.add_argument("--scenario", default="kms-moved", help="a sandbox scenario NAME or FILE")
    parser.add_argument("--code", default="0xC004F074")
    parser.add_argument("--smoke", action="store_true", help="a quick check: 10 hosts, 20 ms, --forks 5")
    arguments = parser.parse_args()
    if arguments.smoke:
        arguments.hosts, arguments.latency_ms, arguments.forks = 10, 20, 5
    report = measure(arguments.scenario, arguments.code, arguments.hosts, arguments.latency_ms, arguments.forks)
    print("\n".join(report.lines()))


if __name__ == "__main__":
    main()
