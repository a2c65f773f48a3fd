"""pytest fixtures for tests that need sandbox hosts (registered in tests/conftest.py).

def test_something(sandbox_fleet):
    fleet = sandbox_fleet([HostSpec("WS01", engine)], auth="basic")
    options = fleet.client_options("WS01")   # pypsrp WSMan/Client keyword arguments
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import pytest

from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec


class StartFleet(Protocol):
    def __call__(self, hosts: list[HostSpec], **options: Any) -> Fleet: ...


@pytest.fixture
def sandbox_fleet() -> Iterator[StartFleet]:
    """A factory: start a fleet with Fleet.start's arguments; every fleet it started stops after the test."""
    fleets: list[Fleet] = []

    def start(hosts: list[HostSpec], **options: Any) -> Fleet:
        fleet = Fleet.start(hosts, **options)
        fleets.append(fleet)
        return fleet

    yield start
    for fleet in fleets:
        fleet.stop()
