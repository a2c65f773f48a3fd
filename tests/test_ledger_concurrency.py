"""Two controllers recording into one ledger at once lose nothing and double nothing: every install is recorded
exactly once and the budget goes down by exactly the activations recorded. On a real PostgreSQL server (the
shared ledger of several controllers and CI runners) and on SQLite (several runs on one machine)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ledger_postgres import postgres_server, postgres_url  # noqa: F401

from remediate.ledger.store import Ledger
from remediate.productkey import ProductKey

pytestmark = pytest.mark.slow

WRITER = Path(__file__).with_name("ledger_writer.py")
KEY = ProductKey.parse("W269N-WFGWX-YVC9B-4J6C9-T83GX")
BUDGET = 500


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_ledger(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("REMEDIATE_LEDGER_SECRET_FILE", str(tmp_path / "ledger.secret"))
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite")
    url: str = request.getfixturevalue("postgres_url")
    return url


def start_together(url: str, jobs: list[list[str]], folder: Path) -> list[subprocess.Popen[str]]:
    """One ledger_writer process per job (RUN_ID FIRST LAST [HOLD]), released at the same moment."""
    go = folder / "go"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"),
                                                                            str(Path.cwd())]))}
    writers = [subprocess.Popen([sys.executable, str(WRITER), url, "fleet-mak", job[0], job[1], job[2], str(go),
                                 *job[3:]], env=environment, stderr=subprocess.PIPE, text=True) for job in jobs]
    deadline = time.monotonic() + 120
    while len(list(folder.glob("go.ready-*"))) < len(writers) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # every writer has the ledger open: they start together
    return writers


def test_two_runs_at_once_record_every_install_exactly_once(shared_ledger: str, tmp_path: Path) -> None:
    with Ledger.open(shared_ledger) as ledger:
        ledger.add_key("fleet-mak", KEY, budget=BUDGET)
    # Run A: hosts 0-59. Run B: hosts 60-119. Both also replay the same "shared" run on hosts 0-29, as two
    # workers retrying one run would: it must count once.
    jobs = [("run-a", 0, 59), ("run-b", 60, 119), ("shared", 0, 29), ("shared", 0, 29)]
    for writer in start_together(shared_ledger, [[run, str(first), str(last)] for run, first, last in jobs],
                                 tmp_path):
        _, errors = writer.communicate(timeout=240)
        assert writer.returncode == 0, errors

    with Ledger.open(shared_ledger) as ledger:
        recorded = [(use.run_id, use.host, use.action) for use in ledger.uses("fleet-mak")]
        key = ledger.key("fleet-mak")
    assert len(recorded) == len(set(recorded))  # nothing doubled
    expected = {(run, f"host-{n:03d}", action) for run, first, last in jobs for n in range(first, last + 1)
                for action in ("install", "activate")}
    assert set(recorded) == expected  # nothing lost
    activations = len({(run, n) for run, first, last in jobs for n in range(first, last + 1)})
    assert activations == 150
    assert key.budget == BUDGET - activations


def test_two_runs_at_once_cannot_both_plan_the_last_activations(shared_ledger: str, tmp_path: Path) -> None:
    with Ledger.open(shared_ledger) as ledger:
        ledger.add_key("fleet-mak", KEY, budget=20)  # 19 after the 5% reserve: room for one run of 12, not two
    writers = start_together(shared_ledger, [["run-a", "0", "11", "12"], ["run-b", "12", "23", "12"]], tmp_path)
    results = []
    for writer in writers:
        _, errors = writer.communicate(timeout=240)
        results.append((writer.returncode, errors))
    assert sorted(code for code, _ in results) == [0, 3]
    [refusal] = [errors for code, errors in results if code == 3]
    # Whenever the second run checks, the first holds (or has spent) what the second would need.
    assert "12 host(s) need an activation" in refusal and "short; nothing was sent" in refusal
    with Ledger.open(shared_ledger) as ledger:
        assert ledger.key("fleet-mak").budget == 8
        assert len(ledger.uses("fleet-mak")) == 24  # one run's 12 installs and 12 activations, nothing of the other
        assert ledger.held_by_runs("fleet-mak") == {}
