"""benchmarks/fleet_run.py still runs (a smoke, not a measurement)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "fleet_run.py"


@pytest.mark.slow
def test_the_fleet_benchmark_runs_and_reports_a_speed_up() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--smoke", "--no-pool-comparison"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.split()[:1] in (["1"], ["3"])]
    assert [row[0] for row in rows] == ["1", "3"]
    assert all(row[4].endswith("x") and "'fixed':" in " ".join(row) for row in rows)
