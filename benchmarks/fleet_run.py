"""A live run over a sandbox fleet with latency: its wall time against the protocol's floor, and three baselines.

    python benchmarks/fleet_run.py [--hosts 100] [--latency-ms 100] [--forks 10,50] [--processes 1]
                                   [--scenario kms-moved] [--code 0xC004F074] [--engine-only] [--breakdown] [--smoke]

What one run measures (defaults: the shipped kms-moved fleet, grown to 100 hosts, every request delayed 100 ms),
for each --forks value in turn, every number from this one run:

- engine: the real engine (remediate.engine.Engine over remediate.transport.Session, one RunspacePool per host)
  runs the playbook on a sandbox started in its own process (`remediate sandbox up`), as `remediate run` would.
  Its round trips are every HTTP request this process sends, counted at the requests transport adapter; the
  sandbox adds the latency to each of them.
- floor: the least the wire allows. A host needs at least: one round trip to log on (the NTLM challenge; the last
  token rides on the first WS-Man request), two to open its pool (Create, one Receive), and two (Command, one
  Receive) per invocation: one per phase for the read-only steps that ran, one per changing step and per retry,
  as the audit log of the engine's run records them. Closing the pool is off the critical path. The floor is the
  larger of (all hosts' minimum round trips x latency / concurrency) and (the longest host's chain).
- baselines, each on a fresh sandbox, every host the steps the engine ran on it, in the same order, at the same
  concurrency: a fresh pypsrp `Client(...).execute_ps(script)` per step; one `Client` per host with
  `execute_ps` per step (pypsrp's documented use; each call still opens and closes a RunspacePool); and pywinrm's
  `Session.run_ps` per step (a WinRS shell running `powershell -encodedcommand`). execute_ps and run_ps take no
  parameters, so the baselines write each step's values into the script's own `param(...)` block as defaults
  (PowerShell literals); the rest of the script is byte for byte what the engine sent. (remediate itself never
  puts values into script text; this is for comparison only.)
- CPU: this process's (the controller's) and the sandbox's, per host; peak memory of this process.
- --processes 1,2: the engine run again for each value, each on a fresh sandbox, as `remediate run --processes N`
  runs it (processes.py: N worker processes, this one writing the audit log). With N > 1 the round trips are
  not counted (they leave the worker processes), the controller's CPU is this process's, the fork server's and the
  workers', and
  the baselines (which replay what the N = 1 run sent) follow the N = 1 run only.

Targets: wall within 1.3x of the floor; at least 2.5x faster than one pypsrp Client per host and 4x faster than
pywinrm run_ps per step; controller CPU at most 15 ms per host. --engine-only skips the baselines (a large
fleet); --breakdown adds, for the --processes 1 runs, the controller's CPU per host layer by layer
(benchmarks/cpu_breakdown.py); --smoke is a quick check of the machinery (10 hosts, 20 ms, --forks 5), not a
measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cpu_breakdown
import requests.adapters
import yaml
from pypsrp.client import Client

from remediate import audit
from remediate.audit import AuditLog, verify
from remediate.codes import ErrorCode
from remediate.connector import BatchRun, ScriptCall
from remediate.engine import Engine, EngineOptions
from remediate.inventory import Host, load_hosts
from remediate.playbook import PlaybookLibrary
from remediate.processes import ProcessRun
from remediate.render import Renderer, build_plan
from remediate.results import Outcome, ResultFormatError, StepResult
from remediate.secret import Secret
from remediate.transport import ConnectionOptions, Credentials, Session, reveal
from remediate.values import RunValues

PASSWORD = "Sbx-benchmark-9a"
USERNAME = "sandbox\\admin"
TARGET_FLOOR_RATIO = 1.3
TARGET_OVER_CLIENT_PER_HOST = 2.5
TARGET_OVER_PYWINRM = 4.0
TARGET_CPU_MS = 15.0

# The least a host needs on the wire (see the module's docstring).
LOGON_TRIPS = 1
OPEN_TRIPS = 2
INVOCATION_TRIPS = 2


# --- the sandbox ------------------------------------------------------------------------------------------


def latency_scenario(scenario: str, hosts: int, latency_ms: int, directory: Path) -> Path:
    """A copy of the scenario with `hosts` hosts and latency_ms added to every request of every group."""
    # The sandbox's modules are imported where used: each worker process of a --processes run imports this
    # script again as it starts (multiprocessing), as `remediate run`'s import the CLI, and needs none of them.
    from remediate.sandbox.scenario import SCENARIOS_DIR

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
        process.wait(timeout=60)


# --- counting round trips ---------------------------------------------------------------------------------


class RoundTrips:
    """Counts the HTTP requests this process sends (each one a round trip to a host), in all and per host."""

    def __init__(self) -> None:
        self.count = 0
        self.by_host: dict[str, int] = {}  # "address:port" -> requests
        self._lock = threading.Lock()

    @contextmanager
    def counting(self) -> Iterator[RoundTrips]:
        original = requests.adapters.HTTPAdapter.send
        counter = self

        def send(
            adapter: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, *args: Any, **kwargs: Any
        ) -> requests.Response:
            where = urlsplit(request.url or "").netloc
            with counter._lock:
                counter.count += 1
                counter.by_host[where] = counter.by_host.get(where, 0) + 1
            return original(adapter, request, *args, **kwargs)

        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign, assignment]
        try:
            yield self
        finally:
            requests.adapters.HTTPAdapter.send = original  # type: ignore[method-assign]


@dataclass
class Measured:
    seconds: float
    round_trips: int
    steps: int
    notes: dict[str, int] = field(default_factory=dict)  # outcomes, or failed steps
    client_cpu_s: float = 0.0  # CPU this process used (every thread), and its worker processes'
    sandbox_cpu_s: float | None = None  # CPU the sandbox process used
    workers_cpu_s: float = 0.0  # of client_cpu_s, what the worker processes used (--processes > 1)


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


# --- the engine run ---------------------------------------------------------------------------------------

StepCall = tuple[str, Mapping[str, Any]]  # (script, parameters) as the engine sent them


class RecordingSession(Session):
    """transport.Session that also notes every step it sends and that ran, for the baselines to replay (a step
    sent alone goes through run_batch too)."""

    def __init__(self, host: Host, sent: list[StepCall], *args: Any) -> None:
        super().__init__(host, *args)
        self.sent = sent

    def run_batch(self, calls: Sequence[ScriptCall]) -> BatchRun:
        batch = super().run_batch(calls)
        self.sent.extend((call.script, dict(call.parameters)) for call in calls[: len(batch.runs)])
        return batch


@dataclass
class EngineRun:
    measured: Measured
    minimum_trips: list[int]  # the least each host needed on the wire (see the docstring)
    trips: list[int]  # what each host took
    peak_rss_mb: float
    processes: int = 1
    problems: list[str] = field(default_factory=list)  # "host: outcome: reason" of hosts not healthy or fixed


def minimum_round_trips(log: Path, hosts: Sequence[str]) -> list[int]:
    """Each host's least round trips for what the engine did on it, from the audit log of the run."""
    invocations = {host: 0 for host in hosts}
    read_phases: dict[str, set[str]] = {host: set() for host in hosts}
    for event in audit.read_events(log):
        if event.get("type") != audit.STEP or event.get("skipped") or event.get("host") not in invocations:
            continue
        host = event["host"]
        if event.get("phase") == "fix" or int(event.get("attempt") or 1) > 1:
            invocations[host] += 1  # a changing step, or a retry: an invocation of its own
        else:
            read_phases[host].add(event["phase"])  # the phase's read-only steps go together
    return [LOGON_TRIPS + OPEN_TRIPS + INVOCATION_TRIPS * (invocations[h] + len(read_phases[h])) for h in hosts]


def engine_run(
    code: str, fleet: SandboxFleet, forks: int, directory: Path, sent: dict[str, list[StepCall]] | None,
    processes: int = 1,
) -> EngineRun:
    """The real engine over the fleet; `sent` (when given, with processes 1) receives every step sent, by
    computer name. processes > 1: the hosts run over that many worker processes (processes.py)."""
    hosts = fleet.hosts
    library = PlaybookLibrary(())
    playbook = library.get(ErrorCode.parse(code))
    plan = build_plan(playbook, hosts, RunValues(), Renderer.for_library(library))
    connection = ConnectionOptions(auth="ntlm", scheme="http")
    credentials = Credentials(USERNAME, Secret(PASSWORD))
    options = EngineOptions(forks=forks)

    def connect(host: Host) -> Session:
        if sent is None:
            return Session(host, connection, credentials)
        return RecordingSession(host, sent.setdefault(fleet.names[host.label], []), connection, credentials)

    log_path = directory / f"audit-forks{forks}-processes{processes}.jsonl"
    workers_before = fork_server_cpu()
    reset_peak_memory()
    with RoundTrips().counting() as trips, AuditLog(log_path) as log, timing(fleet) as taken:
        if processes > 1:
            run = ProcessRun(plan.hosts, processes, audit=log, options=options, connection=connection,
                             credentials=credentials, keys=None, playbooks=library)
            report = run.run(str(plan.code))
        else:
            report = Engine(connect, log, options).run(plan)
    workers_cpu = fork_server_cpu() - workers_before  # the worker processes are joined (reaped) by now
    peak_mb = peak_memory_mb()  # of the run, before this benchmark reads its audit log
    if not verify(log_path).ok:
        raise SystemExit("the audit log of the engine run does not verify")
    counts = {outcome: number for outcome, number in report.counts().items() if number}
    steps = sum(1 for event in audit.read_events(log_path)
                if event.get("type") == audit.STEP and not event.get("skipped"))
    measured = Measured(taken["wall"] or 0.0, trips.count, steps, counts, (taken["cpu"] or 0.0) + workers_cpu,
                        taken["sandbox_cpu"], workers_cpu_s=workers_cpu)
    return EngineRun(
        measured,
        minimum_round_trips(log_path, [host.label for host in hosts]),
        [trips.by_host.get(f"{host.name}:{host.port}", 0) for host in hosts],
        peak_mb,
        processes,
        [f"{host.host}: {host.outcome.value}: {host.reason}" for host in report.hosts
         if host.outcome not in (Outcome.HEALTHY, Outcome.FIXED)],
    )


def reset_peak_memory() -> None:
    """Start this process's peak resident memory afresh (Linux: /proc/self/clear_refs, 5 resets VmHWM), so that
    the next reading is the run's own, not an earlier run's or this benchmark's reading of a log."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_memory_mb() -> float:
    """This process's peak resident memory since reset_peak_memory (VmHWM), else since it started."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fork_server_cpu() -> float:
    """CPU used so far by multiprocessing's fork server (the worker processes' parent: it imports their modules)
    and by the worker processes it has reaped (Linux /proc: utime, stime, cutime, cstime)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"forkserver" in command:
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


# --- the baselines ----------------------------------------------------------------------------------------


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
    from remediate.sandbox.powershell.parser import parse_script  # see latency_scenario

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


def _is_step_result(lines: list[str]) -> bool:
    lines = [line for line in lines if line.strip()]
    if not lines:
        return False
    try:
        StepResult.from_json(lines[-1])
    except ResultFormatError:
        return False
    return True


def _client(host: Host) -> Client:
    return Client(host.name, port=host.port, username=USERNAME, password=PASSWORD, auth="ntlm", ssl=False,
                  no_proxy=True)


def _execute_ps(client: Client, script: str) -> bool:
    output, _streams, had_errors = client.execute_ps(script)
    return not had_errors and _is_step_result(output.splitlines())


def fresh_client_per_step(host: Host, scripts: list[str]) -> int:
    """A new pypsrp Client (connection, logon, RunspacePool) for every step; returns the steps that failed."""
    return sum(not _execute_ps(_client(host), script) for script in scripts)


def client_per_host(host: Host, scripts: list[str]) -> int:
    """One pypsrp Client per host, execute_ps per step, as pypsrp's documentation shows."""
    client = _client(host)
    return sum(not _execute_ps(client, script) for script in scripts)


def pywinrm_per_step(host: Host, scripts: list[str]) -> int:
    """One pywinrm Session per host, run_ps per step (each a WinRS shell running powershell -encodedcommand)."""
    import winrm

    session = winrm.Session(f"http://{host.name}:{host.port}/wsman", auth=(USERNAME, PASSWORD), transport="ntlm")
    failed = 0
    for script in scripts:
        answer = session.run_ps(script)
        lines = answer.std_out.decode("utf-8", "replace").splitlines()
        failed += answer.status_code != 0 or not _is_step_result(lines)
    return failed


Baseline = Callable[[Host, list[str]], int]
BASELINES: dict[str, Baseline] = {
    "fresh pypsrp Client per step": fresh_client_per_step,
    "one pypsrp Client per host": client_per_host,
    "pywinrm run_ps per step": pywinrm_per_step,
}


def baseline_run(baseline: Baseline, fleet: SandboxFleet, sent: Mapping[str, list[StepCall]], forks: int) -> Measured:
    hosts = fleet.hosts
    scripts = {
        host.label: [inline_parameters(script, values) for script, values in sent.get(fleet.names[host.label], [])]
        for host in hosts
    }
    failed = 0
    lock = threading.Lock()

    def one_host(host: Host) -> None:
        nonlocal failed
        count = baseline(host, scripts[host.label])
        with lock:
            failed += count

    with RoundTrips().counting() as trips, timing(fleet) as taken, ThreadPoolExecutor(max(1, forks)) as pool:
        list(pool.map(one_host, hosts))
    steps = sum(len(listed) for listed in scripts.values())
    return Measured(taken["wall"] or 0.0, trips.count, steps, {"failed steps": failed}, taken["cpu"] or 0.0,
                    taken["sandbox_cpu"])


# --- the report -------------------------------------------------------------------------------------------


@dataclass
class Report:
    hosts: int
    latency_ms: int
    forks: int
    engine: EngineRun
    baselines: dict[str, Measured]
    layers: cpu_breakdown.Breakdown | None = None  # --breakdown

    @property
    def concurrency(self) -> int:
        return max(1, min(self.forks, self.hosts))

    @property
    def floor_s(self) -> float:
        latency = self.latency_ms / 1000
        spread = sum(self.engine.minimum_trips) * latency / self.concurrency
        return max(spread, max(self.engine.minimum_trips, default=0) * latency)

    @property
    def floor_ratio(self) -> float:
        return self.engine.measured.seconds / self.floor_s

    def speed_up(self, name: str) -> float | None:
        baseline = self.baselines.get(name)
        if baseline is None:
            return None
        return baseline.seconds / self.engine.measured.seconds

    def lines(self) -> list[str]:
        engine, run = self.engine, self.engine.measured
        hosts = max(1, self.hosts)
        floor_ok = "met" if self.floor_ratio <= TARGET_FLOOR_RATIO else "MISSED"
        cpu_ms = 1000 * run.client_cpu_s / hosts
        sandbox_ms = "?" if run.sandbox_cpu_s is None else f"{1000 * run.sandbox_cpu_s / hosts:.1f}"
        processes = engine.processes
        trips = (f"{run.round_trips:6d} round trips  {run.steps:5d} steps  ({run.round_trips / hosts:.1f} round "
                 "trips per host, closing the pool included)" if processes == 1 else
                 f"round trips not counted (worker processes)  {run.steps:5d} steps")
        lines = [
            f"fleet: {self.hosts} hosts, {self.latency_ms} ms added to every request, --forks {self.forks}, "
            f"--processes {processes}",
            f"engine:   {run.seconds:8.2f} s  {trips}  {run.notes}",
            f"minimum:  {sum(engine.minimum_trips) / hosts:.1f} round trips per host (logon {LOGON_TRIPS}, pool "
            f"{OPEN_TRIPS}, {INVOCATION_TRIPS} per invocation; the close off the critical path)",
            f"floor:    {self.floor_s:8.2f} s  = max({sum(engine.minimum_trips)} x {self.latency_ms} ms / "
            f"{self.concurrency}, the longest host {max(engine.minimum_trips, default=0)} x {self.latency_ms} ms)",
            f"ratio to floor: {self.floor_ratio:.2f}x (target <= {TARGET_FLOOR_RATIO}x: {floor_ok})",
        ]
        targets = {"one pypsrp Client per host": TARGET_OVER_CLIENT_PER_HOST,
                   "pywinrm run_ps per step": TARGET_OVER_PYWINRM}
        for name, baseline in self.baselines.items():
            speed_up = baseline.seconds / run.seconds
            target = targets.get(name)
            verdict = "" if target is None else (
                f" (target >= {target}x: {'met' if speed_up >= target else 'MISSED'})")
            lines.append(
                f"baseline {name}: {baseline.seconds:.2f} s  {baseline.round_trips} round trips  "
                f"{baseline.steps} steps  {baseline.notes}; controller cpu {1000 * baseline.client_cpu_s / hosts:.1f} "
                f"ms per host; speed-up {speed_up:.2f}x{verdict}"
            )
        cpu_ok = "met" if cpu_ms <= TARGET_CPU_MS else "MISSED"
        workers = (f" (this process {1000 * (run.client_cpu_s - run.workers_cpu_s) / hosts:.1f}, its worker "
                   f"processes {1000 * run.workers_cpu_s / hosts:.1f})" if processes > 1 else "")
        lines.append(
            f"cpu: controller {cpu_ms:.1f} ms per host{workers} (target <= {TARGET_CPU_MS:g} ms: {cpu_ok}), sandbox "
            f"{sandbox_ms} ms per host; peak memory {engine.peak_rss_mb:.0f} MB"
        )
        for problem in engine.problems[:10]:
            lines.append(f"not healthy or fixed: {problem}")
        if len(engine.problems) > 10:
            lines.append(f"... and {len(engine.problems) - 10} more (--work-dir keeps the audit log)")
        if self.layers is not None:
            lines.append("where the controller's CPU goes (CPU time of the calling thread, inclusive; --breakdown):")
            lines.extend(self.layers.lines(hosts))
        return lines


def machine_load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def measure(
    scenario: str, code: str, hosts: int, latency_ms: int, forks: int, baselines: Sequence[str], directory: Path,
    processes: Sequence[int] = (1,), breakdown: bool = False,
) -> list[Report]:
    scenario_file = latency_scenario(scenario, hosts, latency_ms, directory)
    reports = []
    for count in processes:
        sent: dict[str, list[StepCall]] | None = {} if baselines and count == 1 else None
        layers: cpu_breakdown.Breakdown | None = None
        with sandbox(scenario_file, hosts, directory / f"engine-{forks}-{count}") as fleet:
            if breakdown and count == 1:
                with cpu_breakdown.measuring() as layers:
                    engine = engine_run(code, fleet, forks, directory, sent, count)
            else:
                engine = engine_run(code, fleet, forks, directory, sent, count)
        measured: dict[str, Measured] = {}
        for name in baselines if sent is not None else ():
            with sandbox(scenario_file, hosts, directory / f"baseline-{forks}-{len(measured)}") as fleet:
                measured[name] = baseline_run(BASELINES[name], fleet, sent or {}, forks)
        reports.append(Report(hosts, latency_ms, forks, engine, measured, layers))
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--forks", default="10,50", help="one or more values, comma-separated")
    parser.add_argument("--processes", default="1", help="worker processes: one or more values, comma-separated "
                        "(each run on a fresh sandbox; the baselines follow the run with 1)")
    parser.add_argument("--scenario", default="kms-moved", help="a sandbox scenario NAME or FILE")
    parser.add_argument("--code", default="0xC004F074")
    parser.add_argument("--engine-only", action="store_true", help="no baselines (a large fleet)")
    parser.add_argument("--smoke", action="store_true", help="a quick check: 10 hosts, 20 ms, --forks 5")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep the sandboxes' files and the runs' audit logs in this folder (default: a "
                             "temporary one, removed at the end)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also where the controller's CPU goes, layer by layer (--processes 1 runs only)")
    arguments = parser.parse_args()
    if arguments.smoke:
        arguments.hosts, arguments.latency_ms, arguments.forks = 10, 20, "5"
    baselines = [] if arguments.engine_only else list(BASELINES)
    processes = [int(value) for value in str(arguments.processes).split(",")]
    print(f"machine: {os.cpu_count()} cores, load average {machine_load()} (1, 5, 15 min) at the start")
    with contextlib.ExitStack() as stack:
        if arguments.work_dir is not None:
            arguments.work_dir.mkdir(parents=True, exist_ok=True)
            folder = str(arguments.work_dir)
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="remediate-bench-"))
        for forks in (int(value) for value in str(arguments.forks).split(",")):
            for report in measure(arguments.scenario, arguments.code, arguments.hosts, arguments.latency_ms, forks,
                                  baselines, Path(folder), processes, arguments.breakdown):
                print("\n".join(report.lines()), flush=True)
    print(f"machine: load average {machine_load()} at the end")


if __name__ == "__main__":
    main()
