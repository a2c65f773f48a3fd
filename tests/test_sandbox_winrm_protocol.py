"""Unmodified pypsrp against the sandbox's WinRM server: every client API, every auth, values both ways."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypsrp.client import Client
from pypsrp.complex_objects import PSInvocationState
from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan
from sandbox_winrm_engine import CIM_TYPE, EchoEngine

from remediate.sandbox.faults import TransportFaults
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.testing import StartFleet

FAST = {"operation_timeout": 2, "read_timeout": 5}


def wsman(fleet: Fleet, name: str = "WS01", **extra: Any) -> WSMan:
    return WSMan("127.0.0.1", **{**fleet.client_options(name), **FAST, **extra})


def client(fleet: Fleet, name: str = "WS01") -> Client:
    return Client("127.0.0.1", **{**fleet.client_options(name), **FAST})


# Basic over HTTP needs the host's AllowUnencrypted, as on Windows
CLEAR_TEXT_ALLOWED = TransportFaults(allow_unencrypted=True)
TRANSPORTS = [
    pytest.param({"auth": "basic", "allow_unencrypted": True}, id="basic-http"),
    pytest.param({"auth": "ntlm"}, id="ntlm-http-encrypted"),
    pytest.param({"auth": "negotiate"}, id="negotiate-http-encrypted"),
    pytest.param({"auth": "basic", "https": True}, id="basic-https"),
    pytest.param({"auth": "ntlm", "https": True}, id="ntlm-https"),
]


@pytest.fixture(params=TRANSPORTS)
def any_fleet(request: pytest.FixtureRequest, sandbox_fleet: StartFleet) -> tuple[Fleet, EchoEngine]:
    options = dict(request.param)
    faults = TransportFaults(allow_unencrypted=options.pop("allow_unencrypted", False))
    engine = EchoEngine("WS01")
    return sandbox_fleet([HostSpec("WS01", engine, faults)], **options), engine


@pytest.fixture(scope="module")
def ntlm_fleet() -> Iterator[tuple[Fleet, EchoEngine]]:
    engine = EchoEngine("WS01")
    with Fleet.start([HostSpec("WS01", engine)], auth="ntlm") as fleet:
        yield fleet, engine


def test_execute_ps_reaches_the_engine_and_returns_its_output(any_fleet: tuple[Fleet, EchoEngine]) -> None:
    fleet, engine = any_fleet
    output, streams, had_errors = client(fleet).execute_ps("Get-Service WinRM")
    # execute_ps wraps the script in Invoke-Expression | Out-String -Stream; the engine sees both commands
    request = engine.requests[-1]
    assert [command.text for command in request.commands] == ["Invoke-Expression", "Out-String"]
    assert request.commands[0].parameters == [("Command", "Get-Service WinRM")]
    assert output == "ran: Get-Service WinRM"
    assert had_errors is False
    assert streams.error == []


def test_execute_cmd_runs_a_native_command_with_exit_code(any_fleet: tuple[Fleet, EchoEngine]) -> None:
    fleet, engine = any_fleet
    stdout, stderr, rc = client(fleet).execute_cmd("ipconfig /flushdns")
    assert (stdout, stderr, rc) == ("ran ipconfig /flushdns\r\n", "", 0)
    assert engine.native_calls == [("ipconfig /flushdns", [])]


def test_a_native_failure_reports_stderr_and_the_unsigned_exit_code(
    ntlm_fleet: tuple[Fleet, EchoEngine],
) -> None:
    fleet, _ = ntlm_fleet
    stdout, stderr, rc = client(fleet).execute_cmd("cscript.exe fail")
    assert stdout == ""
    assert stderr == "Error: 0xC004F074\r\n"
    assert rc == 0xC004F074  # Windows reports exit codes as unsigned 32-bit on the wire


def test_runspace_pool_with_cmdlets_and_parameters(any_fleet: tuple[Fleet, EchoEngine]) -> None:
    fleet, engine = any_fleet
    with RunspacePool(wsman(fleet)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-CimInstance").add_parameter("ClassName", "SoftwareLicensingProduct")
        ps.add_parameter("Filter", "PartialProductKey IS NOT NULL")
        ps.add_cmdlet("Select-Object").add_parameter("First", 1)
        ps.invoke()
        assert ps.state == PSInvocationState.COMPLETED
        second = PowerShell(pool)
        second.add_script("param($Server, $Port) 'x'").add_parameter("Server", "kms01").add_parameter(
            "Port", 1688
        )
        second.invoke()
    first_request, second_request = engine.requests[-2:]
    assert [(c.text, c.is_script, c.parameters) for c in first_request.commands] == [
        (
            "Get-CimInstance",
            False,
            [("ClassName", "SoftwareLicensingProduct"), ("Filter", "PartialProductKey IS NOT NULL")],
        ),
        ("Select-Object", False, [("First", 1)]),
    ]
    assert second_request.commands[0].is_script is True
    assert second_request.commands[0].parameters == [("Server", "kms01"), ("Port", 1688)]
    assert second.output == [
        {
            "text": "param($Server, $Port) 'x'",
            "is_script": True,
            "parameters": {"Server": "kms01", "Port": 1688},
            "commands": ["param($Server, $Port) 'x'"],
            "input": [],
        }
    ]


def test_parameter_values_arrive_as_plain_python_values(ntlm_fleet: tuple[Fleet, EchoEngine]) -> None:
    fleet, engine = ntlm_fleet
    with RunspacePool(wsman(fleet)) as pool:
        ps = PowerShell(pool).add_script("echo")
        ps.add_parameter("Text", "日本語 <&>").add_parameter("Big", 2**31 - 1).add_parameter("Flag", False)
        ps.add_parameter("List", [1, "a", None]).add_parameter("Table", {"Key": "v", "n": 2.5})
        ps.invoke()
    parameters = dict(engine.requests[-1].commands[0].parameters)
    assert parameters == {
        "Text": "日本語 <&>",
        "Big": 2**31 - 1,
        "Flag": False,
        "List": [1, "a", None],
        "Table": {"Key": "v", "n": 2.5},
    }
    assert all(type(value) in (str, int, bool, list, dict) for value in parameters.values())


def test_pipeline_input_reaches_the_engine(ntlm_fleet: tuple[Fleet, EchoEngine]) -> None:
    fleet, engine = ntlm_fleet
    with RunspacePool(wsman(fleet)) as pool:
        ps = PowerShell(pool).add_script("$input")
        ps.invoke(input=(batch for batch in [["one", 2, "three"]]))  # pypsrp sends a generator's lists
    assert engine.requests[-1].input == ["one", 2, "three"]


def test_statements_run_in_order_as_separate_requests(ntlm_fleet: tuple[Fleet, EchoEngine]) -> None:
    fleet, engine = ntlm_fleet
    before = len(engine.requests)
    with RunspacePool(wsman(fleet)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Set-Item").add_parameter("Path", "env:A").add_statement()
        ps.add_script("second")
        result = ps.invoke()
    texts = [[command.text for command in request.commands] for request in engine.requests[before:]]
    assert texts == [["Set-Item"], ["second"]]
    assert len(result) == 2


def test_output_objects_keep_type_names_properties_and_display_string(
    ntlm_fleet: tuple[Fleet, EchoEngine],
) -> None:
    fleet, _ = ntlm_fleet
    with RunspacePool(wsman(fleet)) as pool:
        ps = PowerShell(pool).add_script("objects")
        product, custom = ps.invoke()
    assert product.types[0] == f"Deserialized.{CIM_TYPE}" or product.types[0] == CIM_TYPE
    assert product.adapted_properties == {
        "Name": "Windows(R), Professional edition",
        "LicenseStatus": 5,
        "GracePeriodRemaining": 0,
    }
    assert custom.extended_properties["ok"] is True
    assert custom.extended_properties["hresult"] is None
    assert custom.extended_properties["data"] == {"kms": "kms01.example.com"}
    assert custom.extended_properties["items"] == [1, "two"]
    assert custom.extended_properties["ratio"] == 0.1  # a double: a single would come back as 0.100000001...
    assert custom.extended_properties["big"] == 2**40
    assert str(custom).startswith("@{ok=True;")


def test_non_terminating_error_is_in_the_error_stream_without_had_errors(
    ntlm_fleet: tuple[Fleet, EchoEngine],
) -> None:
    fleet, _ = ntlm_fleet
    with RunspacePool(wsman(fleet)) as pool:
        ps = PowerShell(pool).add_script("error")
        output = ps.invoke()
    assert output == ["still here"]
    assert ps.had_errors is False  # as against Windows: only a Failed pipeline sets it
    (record,) = ps.streams.error
    assert str(record) == "no such product"
    assert record.fq_error == "CmdletizationQuery_NotFound,Get-CimInstance"
    assert record.category == 13  # ObjectNotFound
    assert record.activity == "Get-CimInstance"
    assert record.reason == "CimException"
    assert record.target_name == "SoftwareLicensingProduct"


def test_a_failed_pipeline_sets_had_errors_and_carries_the_failure(
    ntlm_fleet: tuple[Fleet, EchoEngine],
) -> None:
    fleet, _ = ntlm_fleet
    with RunspacePool(wsman(fleet)) as pool:
        ps = PowerShell(pool).add_script("fail")
        output = ps.invoke()
        assert ps.state == PSInvocationState.FAILED
        assert ps.had_errors is True
        assert output == ["before the throw"]
        assert [str(error) for error in ps.streams.error] == ["activation failed"]
        # the pool is still usable after a failed pipeline
        after = PowerShell(pool).add_script("again")
        after.invoke()
        assert after.state == PSInvocationState.COMPLETED


def test_an_engine_crash_fails_the_pipeline_and_the_host_keeps_serving(
    ntlm_fleet: tuple[Fleet, EchoEngine],
) -> None:
    fleet, _ = ntlm_fleet
    _, streams, had_errors = client(fleet).execute_ps("crash")
    assert had_errors is True
    assert "engine bug" in str(streams.error[0])
    assert client(fleet).execute_ps("fine")[2] is False


def test_warning_verbose_and_information_records_carry_their_text(
    ntlm_fleet: tuple[Fleet, EchoEngine],
) -> None:
    fleet, _ = ntlm_fleet
    with RunspacePool(wsman(fleet)) as pool:
        ps = PowerShell(pool).add_script("streams")
        ps.invoke()
    assert [record.message for record in ps.streams.warning] == ["警告: check KMS"]
    assert [record.message for record in ps.streams.verbose] == ["looking up DNS"]
    assert [record.message_data for record in ps.streams.information] == ["info line"]


def test_a_large_script_split_between_command_and_send_arrives_whole(
    ntlm_fleet: tuple[Fleet, EchoEngine],
) -> None:
    fleet, engine = ntlm_fleet
    script = "# " + "あ" * 200_000 + "\nWrite-Output 1"  # about 600 KB of UTF-8: several fragments
    with RunspacePool(wsman(fleet)) as pool:
        ps = PowerShell(pool).add_script(script)
        ps.invoke()
    assert engine.requests[-1].commands[0].text == script


def test_large_output_comes_back_over_several_receives(ntlm_fleet: tuple[Fleet, EchoEngine]) -> None:
    fleet, _ = ntlm_fleet
    with RunspacePool(wsman(fleet)) as pool:
        ps = PowerShell(pool).add_script("big:1000000")
        (text,) = ps.invoke()
    assert text == "x" * 1_000_000


def test_a_slow_pipeline_is_polled_through_operation_timeouts(ntlm_fleet: tuple[Fleet, EchoEngine]) -> None:
    fleet, _ = ntlm_fleet
    with RunspacePool(wsman(fleet, operation_timeout=1, read_timeout=3)) as pool:
        ps = PowerShell(pool).add_script("sleep:1.6")
        output = ps.invoke()  # pypsrp retries Receive on the operation-timeout fault 2150858793
    assert ps.state == PSInvocationState.COMPLETED
    assert output[0]["text"] == "sleep:1.6"


def test_operation_timeout_is_the_windows_fault(ntlm_fleet: tuple[Fleet, EchoEngine]) -> None:
    fleet, _ = ntlm_fleet
    with RunspacePool(wsman(fleet, operation_timeout=1, read_timeout=3)) as pool:
        ps = PowerShell(pool).add_script("sleep:1.5")
        ps.begin_invoke()
        with pytest.raises(WSManFaultError) as raised:
            pool.shell.receive("stdout", command_id=ps._command_id, timeout=1)
        assert raised.value.code == 2150858793
        ps.end_invoke()


def test_stop_ends_a_running_pipeline_and_close_frees_it(ntlm_fleet: tuple[Fleet, EchoEngine]) -> None:
    fleet, _ = ntlm_fleet
    with RunspacePool(wsman(fleet)) as pool:
        ps = PowerShell(pool).add_script("sleep:0.5")
        ps.begin_invoke()
        ps.stop()
        assert ps.state == PSInvocationState.STOPPED
        done = PowerShell(pool).add_script("after stop")
        done.invoke()
        done.close()
        assert done.state == PSInvocationState.COMPLETED


def test_pool_maintenance_messages_are_answered(ntlm_fleet: tuple[Fleet, EchoEngine]) -> None:
    fleet, _ = ntlm_fleet
    with RunspacePool(wsman(fleet)) as pool:
        pool.max_runspaces = 4  # pypsrp sends the call id as N="CI"
        pool.min_runspaces = 2
        assert (pool.min_runspaces, pool.max_runspaces) == (2, 4)
        assert pool.get_available_runspaces() >= 1
        pool.reset_runspace_state()
        pool.exchange_keys()
        assert pool.is_alive() is True
        # the pool reports itself as Windows PowerShell 5.1, as a Windows Server 2019 host does
        private_data = pool.application_private_data
        assert private_data is not None
        versions = private_data.data["PSVersionTable"]
        assert str(versions["PSVersion"]).startswith("5.1.") and versions["PSEdition"] == "Desktop"


def test_a_closed_pool_is_gone_from_the_host(ntlm_fleet: tuple[Fleet, EchoEngine]) -> None:
    fleet, _ = ntlm_fleet
    pool = RunspacePool(wsman(fleet))
    pool.open()
    assert fleet.shell_count("WS01") == 1
    pool.close()
    assert fleet.shell_count("WS01") == 0
    # what Windows answers for a shell that no longer exists
    reopened = RunspacePool(wsman(fleet))
    reopened.open()
    reopened.shell.close()  # Delete behind the pool's back: the pool still thinks it is open
    assert reopened.is_alive() is False


def test_quota_of_shells_per_user_is_the_windows_fault(sandbox_fleet: StartFleet) -> None:
    fleet = sandbox_fleet(
        [HostSpec("WS01", EchoEngine(), TransportFaults(max_shells_per_user=2, allow_unencrypted=True))],
        auth="basic",
    )
    pools = [RunspacePool(wsman(fleet)) for _ in range(3)]
    pools[0].open()
    pools[1].open()
    with pytest.raises(WSManFaultError) as raised:
        pools[2].open()
    assert raised.value.code == 2150859173  # ERROR_WSMAN_QUOTA_MAX_SHELLS
    assert "maximum number of 2 concurrent shells" in raised.value.reason
    pools[0].close()
    pools[2].open()  # a freed slot is usable again
    pools[1].close()
    pools[2].close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60))
def test_any_text_parameter_reaches_the_engine_unchanged(
    ntlm_fleet: tuple[Fleet, EchoEngine], text: str
) -> None:
    fleet, engine = ntlm_fleet
    with RunspacePool(wsman(fleet)) as pool:
        ps = PowerShell(pool).add_script("param($Value) $Value").add_parameter("Value", text)
        (echo,) = ps.invoke()
    assert engine.requests[-1].commands[0].parameters == [("Value", text)]
    assert echo["parameters"]["Value"] == text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60))
def test_any_text_output_reaches_the_client_unchanged(ntlm_fleet: tuple[Fleet, EchoEngine], text: str) -> None:
    fleet, _ = ntlm_fleet
    with RunspacePool(wsman(fleet)) as pool:
        # the engine answers this pipeline (execute_ps's shape) with one string: "ran: " and the text
        ps = PowerShell(pool).add_cmdlet("Invoke-Expression").add_parameter("Command", text)
        ps.add_cmdlet("Out-String").add_parameter("Stream", True)
        assert ps.invoke() == [f"ran: {text}"]


def test_a_malformed_request_is_a_fault_and_the_host_keeps_serving(sandbox_fleet: StartFleet) -> None:
    import requests

    fleet = sandbox_fleet([HostSpec("WS01", EchoEngine(), CLEAR_TEXT_ALLOWED)], auth="basic")
    endpoint = fleet.endpoint("WS01")
    response = requests.post(
        endpoint.url,
        data=b"<not-soap",
        headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
        auth=(fleet.username, fleet.password),
        timeout=5,
    )
    assert response.status_code == 500
    assert "WSManFault" in response.text and 'Code="2150858817"' in response.text
    assert client(fleet).execute_cmd("hostname")[2] == 0
