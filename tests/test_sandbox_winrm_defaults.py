"""Sandbox hosts follow Windows' default WinRM configuration, as unmodified pypsrp meets it: the quotas and their
fault codes, the /wsman URL, AllowUnencrypted=false, client-chosen shell ids, and one acceptor for a fleet."""

from __future__ import annotations

import resource
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from pypsrp.client import Client
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.shell import Process, SignalCode, WinRS
from pypsrp.wsman import WSMan
from sandbox_winrm_engine import EchoEngine

from remediate.sandbox.faults import TransportFaults
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.scenario import build_hosts
from remediate.sandbox.testing import StartFleet

FAST = {"operation_timeout": 2, "read_timeout": 5}
MAX_SHELLS_FAULT = 2150859173  # ERROR_WSMAN_QUOTA_MAX_SHELLS
MAX_OPERATIONS_FAULT = 2150859174  # ERROR_WSMAN_QUOTA_MAX_OPERATIONS


def wsman(fleet: Fleet, name: str = "WS01", **extra: Any) -> WSMan:
    return WSMan("127.0.0.1", **{**fleet.client_options(name), **FAST, **extra})


def one_host(sandbox_fleet: StartFleet, faults: TransportFaults | None = None, **options: Any) -> Fleet:
    return sandbox_fleet([HostSpec("WS01", EchoEngine(), faults or TransportFaults())], **options)


# --- quotas -------------------------------------------------------------------------------------------------


def test_thirty_shells_per_user_by_default_then_the_max_shells_fault(sandbox_fleet: StartFleet) -> None:
    fleet = one_host(sandbox_fleet, auth="ntlm")
    pools = [RunspacePool(wsman(fleet)) for _ in range(31)]
    try:
        for pool in pools[:30]:
            pool.open()
        with pytest.raises(WSManFaultError) as raised:
            pools[30].open()
        assert raised.value.code == MAX_SHELLS_FAULT
        assert "maximum number of 30 concurrent shells" in raised.value.reason
    finally:
        for pool in pools[:30]:
            pool.close()


def test_concurrent_operations_quota_is_its_own_windows_fault(sandbox_fleet: StartFleet) -> None:
    fleet = one_host(sandbox_fleet, TransportFaults(max_concurrent_operations_per_user=2), auth="ntlm")
    with RunspacePool(wsman(fleet)) as pool:
        first, second = PowerShell(pool).add_script("one"), PowerShell(pool).add_script("two")
        first.invoke()
        second.invoke()  # both pipelines stay open: pypsrp only ends one with close() (the Terminate signal)
        with pytest.raises(WSManFaultError) as raised:
            PowerShell(pool).add_script("three").invoke()
        assert raised.value.code == MAX_OPERATIONS_FAULT
        assert "maximum number of 2 concurrent operations" in raised.value.reason
        first.close()
        again = PowerShell(pool).add_script("after a close")
        again.invoke()
        assert again.output[0]["text"] == "after a close"


def test_a_text_shell_keeps_its_operations_until_it_is_deleted(sandbox_fleet: StartFleet) -> None:
    fleet = one_host(sandbox_fleet, TransportFaults(max_concurrent_operations_per_user=1), auth="ntlm")
    connection = wsman(fleet)
    with WinRS(connection) as shell:
        process = Process(shell, "hostname")
        process.invoke()
        process.signal(SignalCode.TERMINATE)  # Windows does not give the operation back for a text shell
        with pytest.raises(WSManFaultError) as raised:
            Process(shell, "whoami").invoke()
        assert raised.value.code == MAX_OPERATIONS_FAULT
    with WinRS(connection) as fresh:
        again = Process(fresh, "whoami")
        again.invoke()
        assert again.rc == 0


# --- the URL ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["ntlm", "basic"])
def test_only_the_wsman_path_is_served(sandbox_fleet: StartFleet, auth: str) -> None:
    fleet = one_host(sandbox_fleet, TransportFaults(allow_unencrypted=True), auth=auth)
    with pytest.raises(WinRMTransportError) as raised:
        RunspacePool(wsman(fleet, path="powershell")).open()
    assert raised.value.code == 404
    assert "HTTP Error 404. The requested resource is not found." in raised.value.response_text
    assert Client("127.0.0.1", **{**fleet.client_options("WS01"), **FAST}).execute_cmd("hostname")[2] == 0
    with RunspacePool(wsman(fleet, path="WSMAN")) as pool:  # URL prefixes match case-insensitively
        assert PowerShell(pool).add_script("upper case").invoke()[0]["text"] == "upper case"


# --- AllowUnencrypted ---------------------------------------------------------------------------------------


def test_basic_over_http_is_refused_unless_allow_unencrypted(sandbox_fleet: StartFleet) -> None:
    fleet = sandbox_fleet(
        [
            HostSpec("WS01", EchoEngine()),
            HostSpec("WS02", EchoEngine(), TransportFaults(allow_unencrypted=True)),
        ],
        auth="basic",
    )
    with pytest.raises(AuthenticationError):  # the right credentials, refused as Windows does: HTTP 401
        Client("127.0.0.1", **{**fleet.client_options("WS01"), **FAST}).execute_cmd("hostname")
    assert Client("127.0.0.1", **{**fleet.client_options("WS02"), **FAST}).execute_cmd("hostname")[2] == 0


def test_basic_over_https_needs_no_allow_unencrypted(sandbox_fleet: StartFleet) -> None:
    fleet = one_host(sandbox_fleet, auth="basic", https=True)
    assert Client("127.0.0.1", **{**fleet.client_options("WS01"), **FAST}).execute_cmd("hostname")[2] == 0


def test_ntlm_without_message_encryption_over_http_is_refused_unless_allowed(
    sandbox_fleet: StartFleet,
) -> None:
    fleet = sandbox_fleet(
        [
            HostSpec("WS01", EchoEngine()),
            HostSpec("WS02", EchoEngine(), TransportFaults(allow_unencrypted=True)),
        ],
        auth="ntlm",
    )
    with pytest.raises(WinRMTransportError) as raised:
        RunspacePool(wsman(fleet, "WS01", encryption="never")).open()
    assert (raised.value.code, raised.value.response_text) == (500, "")
    with RunspacePool(wsman(fleet, "WS01")) as sealed:  # the same host, messages encrypted: served
        assert PowerShell(sealed).add_script("sealed").invoke()[0]["text"] == "sealed"
    with RunspacePool(wsman(fleet, "WS02", encryption="never")) as plain:
        assert PowerShell(plain).add_script("plain").invoke()[0]["text"] == "plain"


def test_a_scenario_can_allow_unencrypted_traffic(sandbox_fleet: StartFleet, tmp_path: Path) -> None:
    scenario = tmp_path / "lab.yaml"
    scenario.write_text(
        "name: lab\n"
        "groups:\n"
        "  - {name: open, count: 1, transport: {allow_unencrypted: true}}\n"
        "  - {name: closed, count: 1}\n",
        encoding="utf-8",
    )
    hosts = build_hosts(scenario, None, seed=0)
    fleet = sandbox_fleet(hosts, auth="basic")
    opened, closed = (host.computer_name for host in hosts)
    script = "(Get-CimInstance -ClassName Win32_OperatingSystem).Caption"
    assert Client("127.0.0.1", **{**fleet.client_options(opened), **FAST}).execute_ps(script)[2] is False
    with pytest.raises(AuthenticationError):
        Client("127.0.0.1", **{**fleet.client_options(closed), **FAST}).execute_ps(script)


# --- shell ids and idle time-outs ---------------------------------------------------------------------------


def test_the_runspace_pool_id_is_the_shell_id_and_its_idle_timeout_is_echoed(sandbox_fleet: StartFleet) -> None:
    fleet = one_host(sandbox_fleet, auth="ntlm")
    with RunspacePool(wsman(fleet), idle_timeout=60) as pool:
        assert pool.shell.id == pool.id  # pypsrp names the shell after its pool; Windows keeps that name
        assert pool.shell.idle_time_out == "PT60.000S"
        assert pool.is_alive() is True
        assert PowerShell(pool).add_script("named").invoke()[0]["text"] == "named"
    with RunspacePool(wsman(fleet)) as default:
        assert default.shell.idle_time_out == "PT7200.000S"


def test_a_winrs_shell_keeps_the_id_the_client_chose(sandbox_fleet: StartFleet) -> None:
    fleet = one_host(sandbox_fleet, auth="ntlm")
    chosen = str(uuid.uuid4()).upper()
    with WinRS(wsman(fleet), id=chosen, idle_time_out=90) as shell:
        assert (shell.id, shell.idle_time_out) == (chosen, "PT90.000S")
        process = Process(shell, "hostname")
        process.invoke()
        assert process.stdout == b"ran hostname\r\n"


def test_a_shell_id_in_use_is_not_taken_twice(sandbox_fleet: StartFleet) -> None:
    fleet = one_host(sandbox_fleet, auth="ntlm")
    with RunspacePool(wsman(fleet)) as first:
        second = RunspacePool(wsman(fleet))
        second.id = second.shell.id = first.id
        with pytest.raises(WSManFaultError):
            second.open()
        assert fleet.shell_count("WS01") == 1
        assert PowerShell(first).add_script("still mine").invoke()[0]["text"] == "still mine"


# --- one acceptor -------------------------------------------------------------------------------------------


def test_a_large_idle_fleet_costs_no_thread_per_host_and_no_cpu(sandbox_fleet: StartFleet) -> None:
    one_host(sandbox_fleet, auth="ntlm")  # the process's acceptor exists from here on
    threads_before = threading.active_count()
    names = [f"H{number:04d}" for number in range(600)]
    fleet = sandbox_fleet([HostSpec(name, EchoEngine(name)) for name in names], auth="ntlm")
    assert threading.active_count() <= threads_before  # no thread per host
    usage = resource.getrusage(resource.RUSAGE_SELF)
    before = usage.ru_utime + usage.ru_stime
    time.sleep(2.0)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    assert usage.ru_utime + usage.ru_stime - before < 0.03  # seconds of CPU in 2 s with 600 idle hosts
    for name in (names[0], names[299], names[-1]):
        client = Client("127.0.0.1", **{**fleet.client_options(name), **FAST})
        assert client.execute_cmd(f"hostname-{name}")[0] == f"ran hostname-{name}\r\n"
