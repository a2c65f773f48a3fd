"""pypsrp's own real-server tests, from its pinned sdist, against sandbox hosts.

pypsrp ships tests that run against a real Windows host when PYPSRP_SERVER, PYPSRP_USERNAME, PYPSRP_PASSWORD,
PYPSRP_AUTH and PYPSRP_PORT are set (tests/tests_pypsrp, the `wsman_conn` tests that allow a real server). This
harness serves one sandbox host for each way remediate users reach Windows - Negotiate, NTLM and Basic over HTTPS,
NTLM with message encryption over HTTP - runs those tests against it in a subprocess, and compares the tests that
pass over every combination with tests/data/pypsrp_expected.txt: a listed test that fails is a regression, and a
test that passes but is not listed asks to be added. Every other test is listed as still failing, with the reason.

The sdist is fetched when the environment is installed (.ci/run: `pip download --no-deps --no-binary :all:
-r tests/data/pypsrp_sdist.txt -d .cache/pypsrp`); nothing is downloaded here.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts

pytestmark = pytest.mark.slow

TESTS = Path(__file__).parent
ROOT = TESTS.parent
PIN = (TESTS / "data" / "pypsrp_sdist.txt").read_text(encoding="utf-8").strip()  # pypsrp==<version>
PINNED_VERSION = PIN.split("==")[1]
SDIST_DIR = Path(os.environ.get("REMEDIATE_PYPSRP_SDIST_DIR", ROOT / ".cache" / "pypsrp"))
EXPECTED = TESTS / "data" / "pypsrp_expected.txt"
STILL_FAILING = "# still failing: "


@dataclass(frozen=True)
class Combination:
    auth: str
    https: bool

    def __str__(self) -> str:
        return f"{self.auth} over {'HTTPS' if self.https else 'HTTP'}"


COMBINATIONS = [Combination("negotiate", True), Combination("ntlm", True), Combination("basic", True),
                Combination("ntlm", False)]  # fmt: skip


def _sdist() -> Path:
    found = sorted(SDIST_DIR.glob(f"pypsrp-{PINNED_VERSION}.tar.gz"))
    if not found:
        message = (
            f"pypsrp's sdist is not in {SDIST_DIR}: fetch it once with `pip download --no-deps --no-binary :all: "
            f"-r tests/data/pypsrp_sdist.txt -d {SDIST_DIR}` (.ci/run does)"
        )
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found[0]


@pytest.fixture(scope="module")
def pypsrp_tests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root of the extracted sdist (its tests are under tests/tests_pypsrp)."""
    if version("pypsrp") != PINNED_VERSION:
        pytest.fail(f"the installed pypsrp is {version('pypsrp')}, its tests are pinned at {PIN}", pytrace=False)
    target = tmp_path_factory.mktemp("pypsrp-sdist")
    with tarfile.open(_sdist()) as archive:
        archive.extractall(target, filter="data")
    return target / f"pypsrp-{PINNED_VERSION}"


def _short_id(node_id: str) -> str:
    """`tests/tests_pypsrp/test_shell.py::TestWinRS::test_x[wsman_conn0]` -> `test_shell.py::TestWinRS::test_x`"""
    path, _, rest = node_id.partition("::")
    return f"{Path(path).name}::{rest.split('[')[0]}"


def run_pypsrp_tests(root: Path, combination: Combination, out: Path) -> dict[str, bool]:
    """Serve one sandbox host for `combination` and run pypsrp's real-server tests against it: test id -> passed.

    pypsrp's tests take a port of 5985 for HTTP and any other for HTTPS, so the host listens on WinRM's own port
    at an address of its own in 127.0.0.0/8."""
    address = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}.{random.randint(1, 254)}"
    port = 5986 if combination.https else 5985
    hosts = build_hosts(ROOT / "remediate" / "sandbox" / "scenarios" / "healthy.yaml", 1, 0)
    outcomes_file = out / f"{combination.auth}-{'https' if combination.https else 'http'}.json"
    with Fleet.start(hosts, auth=combination.auth, https=combination.https, address=address, port=port) as fleet:  # type: ignore[arg-type]
        env = {
            **os.environ,
            "PYPSRP_RUN_INTEGRATION": "1",
            "PYPSRP_SERVER": address,
            "PYPSRP_USERNAME": fleet.username,
            "PYPSRP_PASSWORD": fleet.password,
            "PYPSRP_AUTH": combination.auth,
            "PYPSRP_PORT": str(port),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
            "REMEDIATE_PYPSRP_OUTCOMES": str(outcomes_file),
        }
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "pypsrp_real_server",
             "tests/tests_pypsrp"],
            cwd=root, env=env, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
    (out / f"{outcomes_file.stem}.log").write_text(completed.stdout + completed.stderr, encoding="utf-8")
    assert outcomes_file.exists(), f"pypsrp's tests did not run ({combination}):\n{completed.stdout[-3000:]}"
    outcomes = json.loads(outcomes_file.read_text(encoding="utf-8"))
    return {_short_id(node): passed for node, passed in outcomes.items()}


def read_expected() -> tuple[set[str], dict[str, str]]:
    """The tests expected to pass, and the tests still failing with the reason for each."""
    passing: set[str] = set()
    failing: dict[str, str] = {}
    for raw in EXPECTED.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith(STILL_FAILING):
            test_id, _, reason = line[len(STILL_FAILING) :].partition(" - ")
            failing[test_id.strip()] = reason.strip()
        elif line and not line.startswith("#"):
            passing.add(line)
    return passing, failing


def test_the_expected_list_gives_every_still_failing_test_a_reason() -> None:
    passing, failing = read_expected()
    assert not passing & failing.keys(), "a test is listed both as passing and as still failing"
    assert all(failing.values()), [test for test, reason in failing.items() if not reason]


def test_pypsrp_real_server_tests_pass_against_sandbox_hosts(pypsrp_tests: Path, tmp_path: Path) -> None:
    passing, failing = read_expected()
    # Two combinations at a time, each on a host of its own (an address of its own): the runs share nothing.
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(run_pypsrp_tests, pypsrp_tests, combination, tmp_path) for combination in COMBINATIONS]
        results = {combination: run.result() for combination, run in zip(COMBINATIONS, runs, strict=True)}
    collected = set().union(*(outcomes.keys() for outcomes in results.values()))
    assert collected == passing | failing.keys(), (
        "tests/data/pypsrp_expected.txt must list each of pypsrp's real-server tests once, as passing or as still "
        f"failing with a reason: not listed {sorted(collected - passing - failing.keys())}, listed but not "
        f"collected {sorted((passing | failing.keys()) - collected)}"
    )
    regressions = {
        test: [str(c) for c, outcomes in results.items() if not outcomes.get(test)]
        for test in sorted(passing)
        if not all(outcomes.get(test) for outcomes in results.values())
    }
    newly_passing = sorted(test for test in failing if all(outcomes.get(test) for outcomes in results.values()))
    logs = f"(pypsrp's output: {tmp_path}/*.log)"
    assert not regressions, f"listed as passing but failed over {regressions} {logs}"
    assert not newly_passing, f"these now pass over every combination: add them to {EXPECTED.name} {newly_passing}"
