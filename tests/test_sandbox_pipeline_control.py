"""A running pipeline as a PSRP client reaches it: stopped mid-loop, `exit` told to the client's host, and
$host.UI calls for a client that offers no host UI, against a sandbox host over real WinRM."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypsrp.host import PSHost, PSHostUserInterface
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool
from pypsrp.shell import Process, SignalCode, WinRS
from pypsrp.wsman import WSMan

from remediate.sandbox.fleet import Fleet
from remediate.sandbox.scenario import build_hosts
from remediate.sandbox.seam import Command, PipelineControl, PipelineOutcome, PipelineRequest, RunspaceSession

pytestmark = pytest.mark.slow

SCENARIO = Path(__file__).parent.parent / "remediate" / "sandbox" / "scenarios" / "healthy.yaml"


@pytest.fixture(scope="module")
def wsman() -> Iterator[WSMan]:
    hosts = build_hosts(SCENARIO, 1, 0)
    with Fleet.start(hosts, auth="ntlm") as fleet:
        endpoint = fleet.endpoint(hosts[0].computer_name)
        yield WSMan(endpoint.address, **fleet.client_options(hosts[0].computer_name))


def test_a_stopped_endless_loop_ends_and_the_host_serves_the_next_pipeline(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        looping = PowerShell(pool)
        looping.add_script("$n = 0; while ($true) { $n++ }")
        looping.begin_invoke()
        time.sleep(0.1)
        looping.stop()
        assert looping.state == PSInvocationState.STOPPED
        after = PowerShell(pool)
        after.add_script("$n -gt 0")
        assert after.invoke() == [True]  # the loop ran in the runspace, and no longer holds the host


def test_exit_sets_the_return_code_of_the_clients_host(wsman: WSMan) -> None:
    host = PSHost(None, None, False, "client", None, None, "1.0")
    with RunspacePool(wsman, host=host) as pool:
        ps = PowerShell(pool)
        ps.add_script("'before'; exit 3; 'never'")
        assert ps.invoke() == ["before"]
    assert host.rc == 3


def test_without_a_client_host_ui_host_writes_vanish_and_reads_fail(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:  # pypsrp offers no host unless given one
        ps = PowerShell(pool)
        ps.add_script("$host.UI.WriteLine('gone'); $host.UI.ReadLine(); 'after'")
        assert ps.invoke() == ["after"]
    assert [error.fq_error for error in ps.streams.error] == ["HostFunctionNotImplemented"]


def test_a_nested_pipeline_runs_while_the_pipeline_waits_for_the_clients_host(wsman: WSMan) -> None:
    """The client's host answers ReadLine with what a nested pipeline reads from the waiting pipeline's runspace
    (CreateNestedPowerShell's use: look at state while another command has the runspace)."""

    class Answering(PSHostUserInterface):
        def ReadLine(self, runspace: RunspacePool, pipeline: PowerShell) -> str:
            nested = pipeline.create_nested_power_shell()
            nested.add_cmdlet("Get-Variable").add_parameter("Name", "step").add_parameter("ValueOnly", True)
            return f"answered at {nested.invoke()[0]}"

    host = PSHost(None, None, False, "client", None, Answering(), "1.0")
    with RunspacePool(wsman, host=host) as pool:
        ps = PowerShell(pool)
        ps.add_script("$step = 'prompt'; $host.UI.ReadLine()")
        assert ps.invoke() == ["answered at prompt"]


def test_ctrl_c_ends_an_endless_powershell_exe_and_the_shell_runs_the_next_command(wsman: WSMan) -> None:
    with WinRS(wsman) as shell:
        looping = Process(shell, "powershell.exe", ["-NoProfile", "-Command", "while ($true) { }"])
        looping.begin_invoke()
        looping.poll_invoke(timeout=1)  # the first poll starts it; the loop writes nothing
        looping.signal(SignalCode.CTRL_C)
        after = Process(shell, "powershell.exe", ["-NoProfile", "-Command", "'after'"])
        after.invoke()
        assert (after.rc, after.stdout) == (0, b"after\r\n")


def test_stopping_a_pipeline_stops_the_powershell_exe_it_runs(wsman: WSMan) -> None:
    with RunspacePool(wsman) as pool:
        ps = PowerShell(pool)
        ps.add_script("& powershell.exe -NoProfile -Command 'while ($true) { }'")
        ps.begin_invoke()
        time.sleep(0.1)
        ps.stop()
        after = PowerShell(pool)
        after.add_script("'after'")
        assert after.invoke() == ["after"]


def test_a_nested_pipeline_that_comes_before_the_running_one_has_begun_sees_its_first_statement() -> None:
    """However soon a nested pipeline follows the one it joins, it runs inside a pipeline already running (pypsrp's
    recorded test_psrp_nested_command.yml: Get-Variable finds the $i the running script set first)."""
    engine = build_hosts(SCENARIO, 1, 0)[0].engine
    session, control = RunspaceSession(), PipelineControl()
    seen: list[PipelineOutcome] = []
    nested = PipelineRequest([Command("Get-Variable", False, [("Name", "i"), ("ValueOnly", True)])], session=session,
                             control=PipelineControl(), nested=True)  # fmt: skip
    control.run_nested(lambda: seen.append(engine.invoke_pipeline(nested)))  # came before the script's first statement
    script = PipelineRequest([Command("$i = 1; while ($i -lt 3) { $i++ }", True)], session=session, control=control)
    assert engine.invoke_pipeline(script).state == "Completed"
    assert [(outcome.output, outcome.errors) for outcome in seen] == [([1], [])]
