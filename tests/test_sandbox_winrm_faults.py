"""Transport faults of sandbox hosts reach unmodified pypsrp as they would from Windows; the host survives."""

from __future__ import annotations

import dataclasses
import socket
import time
from typing import Any

import pytest
import requests
from pypsrp.complex_objects import PSInvocationState
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan
from sandbox_winrm_engine import EchoEngine

from remediate.sandbox.faults import TransportFaults
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.testing import StartFleet

FAST = {"operation_timeout": 1, "read_timeout": 2, "reconnection_backoff": 0.05}


def invoke(fleet: Fleet, name: str = "WS01", script: str = "ping", **extra: Any) -> list[Any]:
    """Open a pool, run one script, close the pool: what one remediation step does."""
    pool = RunspacePool(WSMan("127.0.0.1", **{**fleet.client_options(name), **FAST, **extra}))
    pool.open()
    try:
        ps = PowerShell(pool).add_script(script)
        output = ps.invoke()
        assert ps.state == PSInvocationState.COMPLETED
        return output
    finally:
        pool.close()


def start(sandbox_fleet: StartFleet, faults: TransportFaults, auth: str = "ntlm") -> Fleet:
    clear_text = auth == "basic"  # Basic over HTTP needs the hosts' AllowUnencrypted, as on Windows
    return sandbox_fleet(
        [
            HostSpec("WS01", EchoEngine(), TransportFaults(allow_unencrypted=clear_text)),
            HostSpec("WS02", EchoEngine(), dataclasses.replace(faults, allow_unencrypted=clear_text)),
        ],
        auth=auth,
    )


@pytest.fixture(params=["basic", "ntlm"])
def auth(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_healthy_host_answers(sandbox_fleet: StartFleet, auth: str) -> None:
    fleet = start(sandbox_fleet, TransportFaults(), auth)
    assert invoke(fleet, "WS02")[0]["text"] == "ping"


def test_wrong_password_is_401_as_from_windows(sandbox_fleet: StartFleet, auth: str) -> None:
    fleet = start(sandbox_fleet, TransportFaults(), auth)
    with pytest.raises(AuthenticationError, match="Failed to authenticate"):
        invoke(fleet, "WS01", password="not-the-password")
    with pytest.raises(AuthenticationError):
        invoke(fleet, "WS01", username="sandbox\\someone-else")
    assert invoke(fleet, "WS01")  # the right credentials still work afterwards


def test_unauthorized_host_refuses_even_the_right_credentials(sandbox_fleet: StartFleet, auth: str) -> None:
    fleet = start(sandbox_fleet, TransportFaults(unauthorized=True), auth)
    with pytest.raises(AuthenticationError):
        invoke(fleet, "WS02")
    assert invoke(fleet, "WS01")


def test_refused_connection_when_the_host_is_down(sandbox_fleet: StartFleet, auth: str) -> None:
    fleet = start(sandbox_fleet, TransportFaults(refuse_connections=True), auth)
    with pytest.raises(requests.exceptions.ConnectionError) as raised:
        invoke(fleet, "WS02")
    assert "refused" in str(raised.value).lower()
    # the port stays reserved, so a hosts file written now stays true
    probe = socket.socket()
    with pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", fleet.endpoint("WS02").port))
    probe.close()


def test_winrm_not_up_yet_refuses_then_answers(sandbox_fleet: StartFleet) -> None:
    fleet = start(sandbox_fleet, TransportFaults(not_up_for_s=0.6))
    with pytest.raises(requests.exceptions.ConnectionError):
        invoke(fleet, "WS02")
    time.sleep(0.8)
    assert invoke(fleet, "WS02")


def test_http_500_without_body_then_recovery(sandbox_fleet: StartFleet, auth: str) -> None:
    fleet = start(sandbox_fleet, TransportFaults(http_5xx_first=1), auth)
    with pytest.raises(WinRMTransportError) as raised:
        invoke(fleet, "WS02")
    assert raised.value.code == 500
    assert raised.value.response_text == ""
    assert invoke(fleet, "WS02")


def test_connection_dropped_mid_command(sandbox_fleet: StartFleet, auth: str) -> None:
    fleet = start(sandbox_fleet, TransportFaults(drop_first=1), auth)
    pool = RunspacePool(WSMan("127.0.0.1", **{**fleet.client_options("WS02"), **FAST}))
    pool.open()
    ps = PowerShell(pool).add_script("ping")
    with pytest.raises(requests.exceptions.ConnectionError, match="Remote end closed connection"):
        ps.invoke()  # the Command went through; its Receive lost the connection
    assert invoke(fleet, "WS02")  # a new session works


def test_hung_receive_fires_the_client_timeout_and_pypsrp_retries(
    sandbox_fleet: StartFleet, auth: str
) -> None:
    fleet = start(sandbox_fleet, TransportFaults(hang_receive_first=1), auth)
    began = time.monotonic()
    output = invoke(fleet, "WS02")  # pypsrp retries a Receive that timed out on the HTTP read
    assert time.monotonic() - began >= FAST["read_timeout"]
    assert output[0]["text"] == "ping"


def test_latency_is_added_to_every_request(sandbox_fleet: StartFleet) -> None:
    fleet = start(sandbox_fleet, TransportFaults(latency_ms=100), auth="basic")
    began = time.monotonic()
    invoke(fleet, "WS02")  # Create, Receive, Command, Receive, Delete
    assert time.monotonic() - began >= 0.5
    began = time.monotonic()
    invoke(fleet, "WS01")
    assert time.monotonic() - began < 0.5


def test_quota_fault_when_a_user_has_too_many_shells(sandbox_fleet: StartFleet, auth: str) -> None:
    fleet = start(sandbox_fleet, TransportFaults(max_shells_per_user=1), auth)
    first = RunspacePool(WSMan("127.0.0.1", **{**fleet.client_options("WS02"), **FAST}))
    first.open()
    with pytest.raises(WSManFaultError) as raised:
        invoke(fleet, "WS02")
    assert raised.value.code == 2150859173  # ERROR_WSMAN_QUOTA_MAX_SHELLS
    first.close()
    assert invoke(fleet, "WS02")


def test_rates_draw_from_the_seed_and_repeat(sandbox_fleet: StartFleet) -> None:
    def outcomes(seed: int) -> list[bool]:
        fleet = sandbox_fleet(
            [HostSpec("WS01", EchoEngine(), TransportFaults(http_5xx_rate=0.2, allow_unencrypted=True))],
            auth="basic",
            seed=seed,
        )
        results = []
        for _ in range(8):
            try:
                invoke(fleet, "WS01")
                results.append(True)
            except WinRMTransportError:
                results.append(False)
        fleet.stop()
        return results

    first = outcomes(7)
    assert outcomes(7) == first
    assert True in first and False in first
