"""Live runs against a sandbox fleet: wall time by --forks, and the cost of one pool per host.

    python benchmarks/fleet_run.py [--hosts 40] [--forks 1,5,10,20] [--scenario kms-moved] [--smoke]

Each measurement starts a fresh sandbox (`remediate sandbox up`, its own process, like a real fleet) so every
run meets the same broken hosts, then times the live run over it in-process through the engine. Reports ratios
measured in this one run, against the first --forks value.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from remediate.audit import AuditLog, verify
from remediate.engine import Engine, EngineOptions
from remediate.inventory import Host, load_hosts
from remediate.playbook import PlaybookLibrary
from remediate.render import Renderer, build_plan
from remediate.results import ScriptRun
from remediate.secret import Secret
from remediate.transport import ConnectionOptions, Credentials, Session
from remediate.values import RunValues

PASSWORD = "Sbx-benchmark-9a"
USERNAME = "sandbox\\admin"


def start_sandbox(scenario: str, hosts: int, directory: Path) -> tuple[subprocess.Popen[str], Path]:
    hosts_file = directory / "hosts.txt"
    process = subprocess.Popen(
        [sys.executable, "-m", "remediate", "sandbox", "up", "--scenario", scenario, "--hosts", str(hosts),
         "--hosts-file", str(hosts_file), "--password", PASSWORD],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("ready:"):
            return process, hosts_file
    raise SystemExit(f"the sandbox did not start (exit {process.wait()})")


class PoolPerStep:
    """For comparison only: a new RunspacePool for every step, as a naive client would do."""

    def __init__(self, host: Host, connection: ConnectionOptions, credentials: Credentials) -> None:
        self.host, self.connection, self.credentials = host, connection, credentials

    def open(self) -> PoolPerStep:
        return self

    def close(self) -> None:
        pass

    def run(self, script: str, parameters: Mapping[str, Any], timeout_s: float) -> ScriptRun:
        with Session(self.host, self.connection, self.credentials) as session:
            return session.run(script, parameters, timeout_s)


def timed_run(
    code: str, hosts_file: Path, forks: int, directory: Path, pool_per_step: bool = False
) -> tuple[float, dict[str, int], int]:
    library = PlaybookLibrary(())
    from remediate.codes import ErrorCode

    playbook = library.get(ErrorCode.parse(code))
    plan = build_plan(playbook, load_hosts(hosts_file), RunValues(), Renderer.for_library(library))
    connection = ConnectionOptions(auth="ntlm", scheme="http")
    credentials = Credentials(USERNAME, Secret(PASSWORD))
    log_path = directory / f"audit-{forks}.jsonl"
    began = time.perf_counter()
    with AuditLog(log_path) as log:
        def connect(host: Host) -> Session | PoolPerStep:
            if pool_per_step:
                return PoolPerStep(host, connection, credentials)
            return Session(host, connection, credentials)

        engine = Engine(connect, log, EngineOptions(forks=forks))
        report = engine.run(plan)
    elapsed = time.perf_counter() - began
    assert verify(log_path).ok
    steps = sum(len(host.steps) for host in report.hosts)
    return elapsed, {k: v for k, v in report.counts().items() if v}, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument("--forks", default="1,5,10,20")
    parser.add_argument("--scenario", default="kms-moved")
    parser.add_argument("--code", default="0xC004F074")
    parser.add_argument("--smoke", action="store_true", help="a quick check: 6 hosts, forks 1 and 3")
    parser.add_argument("--no-pool-comparison", action="store_true")
    arguments = parser.parse_args()
    if arguments.smoke:
        arguments.hosts, arguments.forks = 6, "1,3"
    forks_list = [int(value) for value in arguments.forks.split(",")]
    print(f"{arguments.hosts} hosts ({arguments.scenario}), {arguments.code}, NTLM over HTTP with sealing")
    print(f"{'forks':>5} {'seconds':>8} {'hosts/s':>8} {'steps/s':>8} {'speed-up':>9}  outcomes")
    baseline: float | None = None
    for forks in forks_list:
        with tempfile.TemporaryDirectory(prefix="remediate-bench-") as folder:
            directory = Path(folder)
            process, hosts_file = start_sandbox(arguments.scenario, arguments.hosts, directory)
            try:
                elapsed, counts, steps = timed_run(arguments.code, hosts_file, forks, directory)
            finally:
                process.terminate()
                process.wait(timeout=30)
        baseline = baseline or elapsed
        print(
            f"{forks:>5} {elapsed:>8.2f} {arguments.hosts / elapsed:>8.1f} {steps / elapsed:>8.1f} "
            f"{baseline / elapsed:>8.2f}x  {counts}"
        )
    if arguments.no_pool_comparison:
        return
    forks = forks_list[-1]
    timings: dict[bool, float] = {}
    for per_step in (False, True):
        with tempfile.TemporaryDirectory(prefix="remediate-bench-") as folder:
            directory = Path(folder)
            process, hosts_file = start_sandbox(arguments.scenario, arguments.hosts, directory)
            try:
                timings[per_step] = timed_run(arguments.code, hosts_file, forks, directory, per_step)[0]
            finally:
                process.terminate()
                process.wait(timeout=30)
    print(
        f"one pool per host: {timings[False]:.2f}s; a new pool per step: {timings[True]:.2f}s "
        f"({timings[True] / timings[False]:.2f}x slower) at --forks {forks}"
    )


if __name__ == "__main__":
    main()
