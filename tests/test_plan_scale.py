"""Plans of large fleets: each script once in a saved plan and in a dry run's JSON, which is written a host at a
time. 10,000 hosts: a saved plan under 50 MB, the JSON of a dry run in under 300 MB of memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HOSTS = 10_000


def run(arguments: list[str], output: Path) -> tuple[int, int]:
    """Run remediate with stdout to `output`: its exit status and peak memory in MiB.

    The peak is measured by GNU time around the command, not by this process's wait4: a child forked from a
    pytest process that has grown counts that process's pages in its own peak until it execs."""
    peak_file = output.with_suffix(".peak")
    with output.open("wb") as file:
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(peak_file), sys.executable, "-m",
                               "remediate", *arguments], stdout=file, stderr=subprocess.DEVNULL, check=False)
    return done.returncode, int(peak_file.read_text(encoding="utf-8").split()[-1]) // 1024  # time reports KiB


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    hosts = tmp_path_factory.mktemp("fleet") / "hosts.txt"
    hosts.write_text("".join(f"host{n:05}.corp.example kms_host=kms01.corp.example\n" for n in range(HOSTS)),
                     encoding="utf-8")
    return hosts


def test_a_saved_plan_of_10000_hosts_stays_small_and_still_checks(fleet: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    code, _ = run(["run", "0xC004F074", "--hosts", str(fleet), "--dry-run", "--save-plan", str(plan)],
                  tmp_path / "out.txt")
    assert code == 0
    assert plan.stat().st_size < 50 * 2**20
    content = json.loads(plan.read_text(encoding="utf-8"))
    assert len(content["hosts"]) == HOSTS and len(content["scripts"]) < 20  # each script once
    checked, _ = run(["run", "--plan", str(plan), "--hosts", str(fleet), "--dry-run", "--output", "json"],
                     tmp_path / "again.json")
    assert checked == 0  # rendered again and compared text for text: the same plan


def test_the_json_of_a_dry_run_of_10000_hosts_needs_under_300_mb(fleet: Path, tmp_path: Path) -> None:
    output = tmp_path / "plan.json"
    code, peak = run(["run", "0xC004F074", "--hosts", str(fleet), "--dry-run", "--output", "json"], output)
    assert code == 0 and peak < 300, peak
    data = json.loads(output.read_text(encoding="utf-8"))
    assert len(data["hosts"]) == HOSTS
    step = data["hosts"][-1]["steps"][0]
    assert "param(" in data["scripts"][step["script_sha256"]]  # the last host's script, named by its sha256
