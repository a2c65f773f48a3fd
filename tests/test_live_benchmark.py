"""benchmarks/fleet_run.py runs end to end and reports its numbers (a smoke, not a measurement)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from remediate import audit

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "fleet_run.py"
sys.path.insert(0, str(BENCHMARK.parent))

from fleet_run import inline_parameters, powershell_literal  # noqa: E402
from sandbox_powershell_fakes import output_of  # noqa: E402


def _number(label: str, text: str) -> float:
    found = re.search(rf"^{label}:\s+([0-9.]+)", text, re.MULTILINE)
    assert found, f"no '{label}:' line in:\n{text}"
    return float(found.group(1))


@pytest.mark.slow
def test_the_smoke_run_reports_wall_time_floor_baselines_and_their_ratios(tmp_path: Path) -> None:
    work = tmp_path / "work"
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--smoke", "--breakdown", "--work-dir", str(work)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "fleet: 10 hosts, 20 ms added to every request, --forks 5" in out
    engine, floor = _number("engine", out), _number("floor", out)
    minimum = float(re.search(r"^minimum:\s+([0-9.]+) round trips per host", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    longest = int(re.search(r"the longest host (\d+) x", out).group(1))  # type: ignore[union-attr]
    assert floor == pytest.approx(max(minimum * 10 * 0.020 / 5, longest * 0.020), abs=0.02)
    # the engine ran the playbook for real: the kms-moved hosts got fixed
    assert "'fixed':" in out
    ratio = float(re.search(r"ratio to floor: ([0-9.]+)x", out).group(1))  # type: ignore[union-attr]
    assert ratio == pytest.approx(engine / floor, rel=0.02)
    engine_steps = int(re.search(r"^engine:.*?(\d+) steps", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    # each baseline replayed every step the engine ran, and every one of them produced a StepResult
    for name in ("fresh pypsrp Client per step", "one pypsrp Client per host", "pywinrm run_ps per step"):
        line = re.search(rf"^baseline {name}: ([0-9.]+) s .*? (\d+) steps .*speed-up ([0-9.]+)x", out, re.MULTILINE)
        assert line, out
        assert int(line.group(2)) == engine_steps and "{'failed steps': 0}" in line.group(0)
        assert float(line.group(3)) == pytest.approx(float(line.group(1)) / engine, rel=0.02)
    assert re.search(r"^cpu: controller [0-9.]+ ms per host .* peak memory \d+ MB$", out, re.MULTILINE)
    # --breakdown: each layer's CPU per host and calls per host; every HTTP request is one round trip
    layers = {name.strip(): (float(ms), float(calls)) for name, ms, calls in re.findall(
        r"^  (.+?)\s+([0-9.]+) ms per host\s+([0-9.]+) calls$", out, re.MULTILINE)}
    trips = float(re.search(r"\(([0-9.]+) round trips per host", out).group(1))  # type: ignore[union-attr]
    assert layers["HTTP: requests"][1] == pytest.approx(trips, abs=0.05)
    assert 0 < layers["of which urllib3 and http.client"][0] <= layers["HTTP: requests"][0]
    assert layers["HTTP: requests"][0] <= layers["WS-Man requests (all of them)"][0]
    assert layers["audit events written"][1] > 0
    # --work-dir keeps the engine run's audit log, and it verifies
    assert audit.verify(work / "audit-forks5-processes1.jsonl").ok


def test_the_baseline_writes_values_into_the_param_block_and_changes_nothing_else() -> None:
    script = "param(\n    [string]$KmsHost,\n    [int]$KmsPort = 1688\n)\n$x = \"$KmsHost`:$KmsPort\"\n$x\n"
    inlined = inline_parameters(script, {"KmsHost": "kms02.corp.example", "KmsPort": 1700})
    assert inlined == (
        "param(\n    [string]$KmsHost = 'kms02.corp.example',\n    [int]$KmsPort = 1700\n)\n"
        '$x = "$KmsHost`:$KmsPort"\n$x\n'
    )
    assert output_of(inlined) == ["kms02.corp.example:1700"]  # the sandbox's PowerShell sees the values


def test_powershell_literals_escape_quotes() -> None:
    assert powershell_literal("it's") == "'it''s'"
    assert powershell_literal(True) == "$true"
    assert powershell_literal(["a", 1]) == "@('a', 1)"
    assert powershell_literal({"k": "v"}) == "@{'k' = 'v'}"
