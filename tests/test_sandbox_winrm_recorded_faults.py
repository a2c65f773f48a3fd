"""WS-Management faults as Windows words them in pypsrp's recorded exchanges (tests/tests_pypsrp/responses in its
sdist, the file named in each test): code, reason, message and the provider of a shell plugin's fault."""

from __future__ import annotations

import pytest
from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import RunspacePool
from pypsrp.shell import Process, WinRS
from pypsrp.wsman import WSMan
from sandbox_winrm_engine import EchoEngine

from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.testing import StartFleet


@pytest.fixture
def fleet(sandbox_fleet: StartFleet) -> Fleet:
    return sandbox_fleet([HostSpec("WS01", EchoEngine())], auth="ntlm")


def wsman(fleet: Fleet) -> WSMan:
    return WSMan("127.0.0.1", **fleet.client_options("WS01"))


def test_a_receive_for_an_unknown_command_is_invalid_selectors(fleet: Fleet) -> None:
    """test_psrp_receive_failure.yml"""
    with wsman(fleet) as connection, WinRS(connection) as shell, pytest.raises(WSManFaultError) as fault:
        shell.receive(command_id="D1BF48DA-B26C-4F4A-BE52-B382AC20DD1F")
    assert fault.value.code == 2150858843
    assert fault.value.reason == (
        "The Windows Remote Shell received a request to perform an operation on a command identifier that does "
        "not exist. Either the command has completed execution or the client specified an invalid command "
        "identifier."
    )


def test_a_receive_before_any_command_is_the_cmd_plugins_invalid_parameter(fleet: Fleet) -> None:
    """test_winrs_fail_poll_process.yml"""
    with wsman(fleet) as connection, WinRS(connection) as shell, pytest.raises(WSManFaultError) as fault:
        Process(shell, "cmd.exe", ["/c", "echo", "hi"]).poll_invoke()
    assert fault.value.code == 87
    assert fault.value.provider == "Shell cmd plugin"
    assert fault.value.provider_path == "%systemroot%\\system32\\winrscmd.dll"
    assert fault.value.provider_fault == "The parameter is incorrect."


def test_a_negative_operation_timeout_is_an_invalid_header(fleet: Fleet) -> None:
    """test_psrp_is_alive_other_wsman_error.yml"""
    with RunspacePool(wsman(fleet)) as pool:
        pool.shell.wsman.operation_timeout = -1
        with pytest.raises(WSManFaultError) as fault:
            pool.is_alive()
        assert fault.value.code == 2150858767
        assert fault.value.reason == (
            "The WS-Management service cannot process the request. The XML contains an invalid timeout field in "
            "the SOAP header: PT-1S."
        )
        pool.shell.wsman.operation_timeout = 30
