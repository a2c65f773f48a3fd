"""A pytest plugin for runs of pypsrp's own test suite (from its sdist) against a real server.

pypsrp marks the tests that may run against a real WinRM endpoint by parametrizing its `wsman_conn` fixture
with `[True, "<recorded exchange>"]`; the others replay recordings only. This plugin keeps the first kind, and
writes each test's outcome (node id -> passed) as JSON to the file REMEDIATE_PYPSRP_OUTCOMES names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


def _allows_real_server(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get("wsman_conn") if callspec is not None else None
    return isinstance(value, list) and len(value) == 2 and value[0] is True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept = [item for item in items if _allows_real_server(item)]
    dropped = [item for item in items if not _allows_real_server(item)]
    items[:] = kept
    config.hook.pytest_deselected(items=dropped)


_outcomes: dict[str, bool] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A test passes when its setup, call and teardown all pass; a skip is not a pass."""
    passed = report.passed if report.when == "call" else not report.failed
    _outcomes[report.nodeid] = _outcomes.get(report.nodeid, True) and passed and not report.skipped


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get("REMEDIATE_PYPSRP_OUTCOMES")
    if target:
        Path(target).write_text(json.dumps(_outcomes, indent=1, sort_keys=True), encoding="utf-8")
