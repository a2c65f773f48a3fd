"""Shared pytest configuration: the sandbox fixtures, and the two lanes.

`pytest -m "not slow"` is the fast lane: the core, in this process. A test is slow when it starts a sandbox
fleet (WinRM servers on loopback) or a subprocess (the console script, a wheel build, a venv). Such a test is
marked slow here when it uses a fixture of SLOW_FIXTURES, by `pytestmark = pytest.mark.slow` in a module where
every test is end to end, and by `@pytest.mark.slow` otherwise. A test without the mark that starts a fleet, a
server or a process fails and says which mark to add, so the fast lane stays fast.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Generator
from typing import Any, NoReturn

import pytest

from remediate.sandbox.fleet import Fleet

pytest_plugins = ["remediate.sandbox.testing", "kdc"]  # kdc: tests/kdc.py, the `realm` fixture (a real KDC)

# Fixtures that start a sandbox fleet, a server on loopback or a subprocess: every test using one (directly or
# through another fixture) is slow.
SLOW_FIXTURES = frozenset(
    {
        "sandbox_fleet",  # remediate.sandbox.testing
        "fleet",  # test_transport, test_acceptance_faults
        "fleet_and_hosts",  # test_saved_plan
        "kms_moved",  # test_live_cli
        "lab_factory",  # test_engine
        "ntlm_fleet",  # test_sandbox_winrm_protocol
        "pools",  # test_templates_on_sandbox
        "realm",  # tests/kdc.py: a Kerberos KDC
        "redis_server",  # dispatch_peers: a Redis server for the dispatch tests
        "silent_port",  # test_transport
        "wheel",  # test_packaging
        "world",  # test_acceptance_playbooks
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def _refuse(what: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        pytest.fail(
            f"this test {what} but is not marked slow: add @pytest.mark.slow to it, `pytestmark = "
            "pytest.mark.slow` to its module when every test there is end to end, or the name of the fixture "
            "that does it to SLOW_FIXTURES in tests/conftest.py",
            pytrace=False,
        )

    return refuse


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Outside the slow lane no fleet, server or process: in setup, call and teardown, module fixtures included."""
    if item.get_closest_marker("slow") is not None:
        return (yield)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Fleet, "start", _refuse("starts a sandbox fleet"))
        patch.setattr(socket.socket, "listen", _refuse("starts a server"))
        patch.setattr(subprocess.Popen, "__init__", _refuse("starts a subprocess"))
        return (yield)
