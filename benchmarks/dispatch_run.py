"""One controller alone against a controller and two site workers, on this machine, over the same sandbox fleet.

    python benchmarks/dispatch_run.py [--hosts 1000] [--forks 20] [--scenario kms-moved] [--smoke]

What one run does (needs redis-server and the dispatch extra):
- starts two sandbox fleets of the same scenario and seed (`remediate sandbox up`, a process each), a Redis
  server on a free loopback port, and two workers (`remediate worker --site east|west`, --concurrency forks/2);
- local: `remediate run CODE --forks F` over the first fleet;
- dispatched: `remediate run CODE --dispatch --forks F/2` (F/2 hosts per site) over the second, half its hosts
  in each site;
- checks that both give every host the same outcome and the same audit content bar timings (each host's events
  in order, without time, seq, hash, durations and the host's clock readings), and that both logs verify;
- measures each run's wall time, the controller's CPU time (its own process), and the broker's work: Redis
  commands by kind (INFO commandstats) and bytes it received, per host.

The machine has 2 cores, shared by the fleets, Redis, the workers and the controller: the ratio says what
dispatch costs, not what it gains (it gains reach: each site's hosts are reached from inside the site, and each
site's workers bring their own cores). --smoke: 40 hosts, to check the machinery.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PASSWORD = "Sbx-dispatch-bench-9a"
CODE = "0xC004F074"
TIMING = {"time", "seq", "prev", "hash", "durations", "duration_s", "chain"}
# A step's readings of the host's clock (its time, how long ago an event was): timings too.
HOST_CLOCK = {"host_time_utc", "age_minutes", "last_activation_error_age_minutes"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def remediate(*arguments: str, env: dict[str, str], **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "remediate", *arguments], env=env, text=True, **popen)


def wait_line(process: subprocess.Popen[str], text: str, timeout: float = 300) -> None:
    assert process.stdout is not None or process.stderr is not None
    stream = process.stdout if process.stdout is not None else process.stderr
    assert stream is not None
    deadline = time.monotonic() + timeout
    for line in stream:
        if text in line:
            return
        if time.monotonic() > deadline:
            break
    raise SystemExit(f"no {text!r} from {process.args}")


def sandbox(count: int, scenario: str, hosts_file: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str],
                                                                                         dict[str, str]]:
    """A fleet in a process of its own; label -> computer name, and the hosts file given sites."""
    process = remediate("sandbox", "up", "--hosts", str(count), "--scenario", scenario, "--password", PASSWORD,
                        "--hosts-file", str(hosts_file), env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    wait_line(process, "ready:")
    text = hosts_file.read_text(encoding="utf-8")
    names = dict(re.findall(r"^#\s+(\S+) is (\S+)$", text, flags=re.M))
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    sites = ["east", "west"]
    hosts_file.write_text("".join(f"{line} site={sites[number % 2]}\n" for number, line in enumerate(lines)),
                          encoding="utf-8")
    return process, names


def content(log: Path, names: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if "host" not in event:
            continue
        body = {key: value for key, value in event.items() if key not in TIMING and key != "host"}
        if isinstance(body.get("data"), dict):
            body["data"] = {key: value for key, value in body["data"].items() if key not in HOST_CLOCK}
        found.setdefault(names[event["host"]], []).append(body)
    return found


def timed(process: subprocess.Popen[str]) -> tuple[int, float, float]:
    """Exit code, wall seconds, CPU seconds of this one child (the workers and fleets are still running)."""
    began = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = process.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return code, time.monotonic() - began, cpu


def redis_stats(port: int) -> tuple[dict[str, int], int]:
    """Commands by name, and bytes received, since the server started."""
    text = subprocess.run(["redis-cli", "-p", str(port), "INFO", "all"], capture_output=True, text=True,
                          check=True).stdout
    calls = {name: int(count) for name, count in re.findall(r"^cmdstat_(\w+):calls=(\d+)", text, flags=re.M)}
    received = int(re.search(r"^total_net_input_bytes:(\d+)", text, flags=re.M).group(1))  # type: ignore[union-attr]
    return calls, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--forks", type=int, default=20, help="hosts at once: local in all, dispatched per 2 sites")
    parser.add_argument("--scenario", default="kms-moved")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    count = 40 if args.smoke else args.hosts
    if shutil.which("redis-server") is None:
        raise SystemExit("needs redis-server (apt-get install redis-server)")
    root = Path(tempfile.mkdtemp(prefix="remediate-dispatch-bench-"))
    key_file = root / "dispatch.key"
    key_file.write_bytes(secrets.token_bytes(32))
    port = free_port()
    env = {**os.environ, "REMEDIATE_USERNAME": "sandbox\\admin", "REMEDIATE_PASSWORD": PASSWORD,
           "REMEDIATE_DISPATCH_KEY_FILE": str(key_file), "REMEDIATE_BROKER_URL": f"redis://127.0.0.1:{port}/0",
           "REMEDIATE_LEDGER": "none"}
    started: list[subprocess.Popen[str]] = []
    try:
        redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(root),
                                  "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
                                 stdout=subprocess.DEVNULL, text=True)
        started.append(redis)
        local_fleet, local_names = sandbox(count, args.scenario, root / "local-hosts.txt", env)
        started.append(local_fleet)
        remote_fleet, remote_names = sandbox(count, args.scenario, root / "dispatched-hosts.txt", env)
        started.append(remote_fleet)
        per_site = max(1, args.forks // 2)
        for site in ("east", "west"):
            worker = remediate("worker", "--site", site, "--concurrency", str(per_site), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            started.append(worker)
            wait_line(worker, "ready: worker")

        local_log, remote_log = root / "local.jsonl", root / "dispatched.jsonl"
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        local = timed(remediate("run", CODE, "--hosts", str(root / "local-hosts.txt"), "--forks", str(args.forks),
                                "--audit", str(local_log), "--summary", "short", env=env, **quiet))
        calls_before, bytes_before = redis_stats(port)
        remote = timed(remediate("run", CODE, "--hosts", str(root / "dispatched-hosts.txt"), "--dispatch",
                                 "--forks", str(per_site), "--audit", str(remote_log), "--summary", "short",
                                 env=env, **quiet))
        calls_after, bytes_after = redis_stats(port)
    finally:
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()

    local_content, remote_content = content(local_log, local_names), content(remote_log, remote_names)
    verified = [subprocess.run([sys.executable, "-m", "remediate", "audit", "verify", str(log)], env=env,
                               capture_output=True).returncode == 0 for log in (local_log, remote_log)]
    outcomes = {name: events[-1]["outcome"] for name, events in local_content.items()}
    same_outcomes = outcomes == {name: events[-1]["outcome"] for name, events in remote_content.items()}
    commands = {name: calls_after.get(name, 0) - calls_before.get(name, 0) for name in calls_after}
    commands = {name: number for name, number in sorted(commands.items(), key=lambda item: -item[1]) if number}
    total_commands = sum(commands.values())
    events_per_host = sum(len(events) for events in remote_content.values()) / count
    print(f"{count} sandbox hosts ({args.scenario}), 2 sites; local --forks {args.forks}, dispatched --forks "
          f"{per_site} per site with 2 workers of --concurrency {per_site}")
    print(f"  outcomes: {dict(sorted({o: list(outcomes.values()).count(o) for o in set(outcomes.values())}.items()))}")
    print(f"  exit codes: local {local[0]}, dispatched {remote[0]}; logs verify: {verified}")
    print(f"  same outcomes: {same_outcomes}; same audit content bar timings: {local_content == remote_content}")
    print(f"  wall: local {local[1]:.1f} s, dispatched {remote[1]:.1f} s (ratio dispatched/local "
          f"{remote[1] / local[1]:.2f})")
    print(f"  controller CPU: local {local[2]:.1f} s ({1000 * local[2] / count:.1f} ms/host, the engine and WinRM "
          f"included), dispatched {remote[2]:.1f} s ({1000 * remote[2] / count:.1f} ms/host)")
    print(f"  audit events per host: {events_per_host:.1f}")
    print(f"  broker: {total_commands} commands ({total_commands / count:.1f} per host), "
          f"{(bytes_after - bytes_before) / count / 1024:.1f} KiB received per host")
    print("  commands by kind: " + ", ".join(f"{name} {number / count:.2f}/host" for name, number in commands.items()))
    if not (same_outcomes and local_content == remote_content and all(verified)):
        for line in differences(local_content, remote_content)[:10]:
            print("  differs: " + line)
        print(f"  (logs kept in {root})")
        raise SystemExit(1)
    shutil.rmtree(root, ignore_errors=True)


def differences(local: dict[str, list[dict[str, Any]]], remote: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Where two runs' audit contents part: host, event, field, both values."""
    found = []
    for name in sorted(set(local) | set(remote)):
        mine, theirs = local.get(name, []), remote.get(name, [])
        if len(mine) != len(theirs):
            found.append(f"{name}: {len(mine)} events locally, {len(theirs)} dispatched")
        for one, other in zip(mine, theirs, strict=False):
            for key in sorted(set(one) | set(other)):
                if one.get(key) != other.get(key):
                    found.append(f"{name} {one.get('type')} {key}: {str(one.get(key))[:150]} | "
                                 f"{str(other.get(key))[:150]}")
    return found


if __name__ == "__main__":
    main()
