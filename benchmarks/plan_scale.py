"""Plans of a large fleet: what a dry run and a saved plan of 10,000 hosts cost (run by hand; not a test).

    python benchmarks/plan_scale.py [--hosts 10000] [--code 0xC004F074]

One run measures, each as its own `python -m remediate` process with GNU time around it (/usr/bin/time, the
`time` package), on a hosts file of --hosts hosts and on one of a tenth of them:

- the JSON of a dry run (`run CODE --dry-run --output json`, written a host at a time): wall time and peak memory,
  and how the peak grows with the hosts (its growth from a tenth to all of them, per host);
- a saved plan (`--dry-run --save-plan`): its size per host and how many distinct scripts it holds, then the
  time to check it again (`run --plan … --dry-run`: rendered again and compared text for text).

Targets: at 10,000 hosts, the dry run's JSON under 300 MB of peak memory and the saved plan under 50 MB (5 KB a
host); time and memory grow no faster than the hosts (each ratio at most the hosts' ratio, 10). The tests
(tests/test_plan_scale.py) check the same properties at a few thousand hosts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MB = 2**20


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_mb: float


def hosts_file(directory: Path, count: int) -> Path:
    path = directory / f"hosts-{count}.txt"
    path.write_text("".join(f"host{n:05}.corp.example kms_host=kms01.corp.example\n" for n in range(count)),
                    encoding="utf-8")
    return path


def remediate(arguments: list[str], output: Path) -> Measured:
    """Run remediate with stdout to `output`; its wall time and peak memory (GNU time, so the child's own)."""
    peak = output.with_suffix(".peak")
    began = time.monotonic()
    with output.open("wb") as file:
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(peak), sys.executable, "-m", "remediate",
                               *arguments], stdout=file, stderr=subprocess.PIPE, check=False)
    seconds = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"remediate {' '.join(arguments[:2])} exited {done.returncode}: {done.stderr.decode()}")
    return Measured(seconds, int(peak.read_text(encoding="utf-8").split()[-1]) / 1024)  # time reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--code", default="0xC004F074")
    args = parser.parse_args()
    small_count = max(1, args.hosts // 10)
    with tempfile.TemporaryDirectory(prefix="plan-scale-") as scratch:
        directory = Path(scratch)
        fleet, small = hosts_file(directory, args.hosts), hosts_file(directory, small_count)
        dry = ["run", args.code, "--dry-run", "--output", "json"]
        small_json = remediate([*dry, "--hosts", str(small)], directory / "small.json")
        full_json = remediate([*dry, "--hosts", str(fleet)], directory / "full.json")
        printed = json.loads((directory / "full.json").read_text(encoding="utf-8"))
        assert len(printed["hosts"]) == args.hosts, "the dry run's JSON does not hold every host"

        plan = directory / "plan.json"
        saved = remediate(["run", args.code, "--hosts", str(fleet), "--dry-run", "--save-plan", str(plan)],
                          directory / "saved.txt")
        checked = remediate(["run", "--plan", str(plan), "--hosts", str(fleet), "--dry-run", "--output", "json"],
                            directory / "checked.json")
        content = json.loads(plan.read_text(encoding="utf-8"))
        size = plan.stat().st_size

    ratio = args.hosts / small_count
    growth = (full_json.peak_mb - small_json.peak_mb) / (args.hosts - small_count) * 1024 if ratio > 1 else 0.0
    print(f"fleet: {args.hosts} hosts ({small_count} for the growth), {args.code}")
    print(f"dry run JSON: {full_json.seconds:.1f} s, peak {full_json.peak_mb:.0f} MB "
          f"({small_count} hosts: {small_json.seconds:.1f} s, peak {small_json.peak_mb:.0f} MB)")
    print(f"  memory growth: {growth:.1f} KB a host; peak ratio {full_json.peak_mb / small_json.peak_mb:.2f} "
          f"for {ratio:.0f}x the hosts (target: under 300 MB at 10,000 hosts)")
    print(f"  time ratio: {full_json.seconds / small_json.seconds:.2f} for {ratio:.0f}x the hosts")
    print(f"saved plan: {size / MB:.1f} MB ({size / args.hosts / 1024:.2f} KB a host; target under 50 MB at 10,000 "
          f"hosts), {len(content['scripts'])} distinct scripts, saved in {saved.seconds:.1f} s "
          f"(peak {saved.peak_mb:.0f} MB)")
    print(f"checked again (--plan): {checked.seconds:.1f} s, peak {checked.peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
