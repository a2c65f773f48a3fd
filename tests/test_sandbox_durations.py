"""Modelled durations: slow Windows operations take their time, a client sees them running (w:TimedOut on a
Receive, WinRS output so far with CommandState Running), a stop ends them, and remediate's own step timeout
ends a step on a slow host."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pypsrp.exceptions import WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.shell import CommandState, Process, WinRS
from pypsrp.wsman import WSMan
from test_sandbox_windows_support import Context, cmdlet, gvlk_host, slmgr, world_with_kms

from remediate import audit
from remediate.cli import main
from remediate.errors import UsageError
from remediate.sandbox.fleet import Fleet
from remediate.sandbox.host_spec import HostSpec
from remediate.sandbox.scenario import build, load_scenario
from remediate.sandbox.seam import Command, PipelineControl, PipelineRequest, PipelineStopped, ShellContext
from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.durations import Durations, Running, running
from remediate.sandbox.windows.editions import edition, gvlk_for
from remediate.sandbox.windows.host import WindowsHost
from remediate.sandbox.windows.state import HostState, World

OPERATION_TIMED_OUT = 2150858793  # w:TimedOut (pypsrp's recorded exchange test_winrs_operation_timeout.yml)
ROOT = Path(__file__).resolve().parents[1]


def timed(work: Any) -> tuple[Any, float]:
    began = time.monotonic()
    result = work()
    return result, time.monotonic() - began


def firewalled_client(**durations: float) -> tuple[WindowsCommands, HostState, World]:
    """A KMS client whose only KMS host drops TCP 1688 (a firewall): every connection attempt times out."""
    world = world_with_kms(reachable=False)
    state = gvlk_host(world)
    state.durations = Durations(**durations)
    return WindowsCommands(state, world), state, world


# --- the Windows model --------------------------------------------------------------------------------------


def test_slmgr_ato_waits_out_the_connection_attempt_to_a_kms_host_that_never_answers() -> None:
    commands, _, _ = firewalled_client(tcp_connect_timeout_s=0.4)
    (text, code), took = timed(lambda: slmgr(commands, "/ato"))
    assert "0xC004F074" in text and code != 0
    assert took >= 0.4


def test_a_port_the_host_refuses_fails_at_once() -> None:
    world = world_with_kms()  # the KMS host is up; nothing listens on 1689
    state = gvlk_host(world, kms_machine="kms1.corp.example", kms_port=1689)
    state.durations = Durations(tcp_connect_timeout_s=5)
    (text, _), took = timed(lambda: slmgr(WindowsCommands(state, world), "/ato"))
    assert "0xC004F074" in text and took < 1


def test_test_net_connection_to_a_dropped_port_takes_the_connection_timeout() -> None:
    commands, _, _ = firewalled_client(tcp_connect_timeout_s=0.3)
    result, took = timed(lambda: cmdlet(commands, "Test-NetConnection", Context(), ComputerName="kms1", Port=1688))
    assert result[0].get("TcpTestSucceeded") is False and took >= 0.3


def test_the_full_licence_enumeration_takes_its_time_and_the_service_does_not() -> None:
    commands, _, _ = firewalled_client(licensing_enumeration_s=0.3)
    products, took = timed(lambda: cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingProduct"))
    assert products and took >= 0.3
    _, took = timed(lambda: cmdlet(commands, "Get-CimInstance", ClassName="SoftwareLicensingService"))
    assert took < 0.1


def convert_edition(state: HostState, world: World) -> int:
    key = gvlk_for("ServerStandard")
    assert key is not None
    dism = WindowsCommands(state, world).native("dism.exe")
    assert dism is not None
    arguments = ["/Online", "/Set-Edition:ServerStandard", f"/ProductKey:{key}", "/AcceptEula", "/NoRestart"]
    return dism(arguments, Context()).exit_code


def test_dism_set_edition_takes_its_time_and_a_stop_meanwhile_changes_nothing() -> None:
    world = World()
    state = HostState("EVAL01", edition=edition("ServerStandardEval"))
    state.durations = Durations(dism_set_edition_s=0.3)
    code, took = timed(lambda: convert_edition(state, world))
    assert code == 3010 and took >= 0.3 and state.pending_edition is not None  # ERROR_SUCCESS_REBOOT_REQUIRED

    stopped = HostState("EVAL02", edition=edition("ServerStandardEval"))
    stopped.durations = Durations(dism_set_edition_s=30)
    control = PipelineControl()
    threading.Timer(0.2, control.stop).start()
    with running(Running(control=control)), pytest.raises(PipelineStopped):
        convert_edition(stopped, world)
    assert stopped.pending_edition is None


def test_nothing_waits_by_default() -> None:
    commands, _, _ = firewalled_client()
    _, took = timed(lambda: slmgr(commands, "/ato"))
    assert took < 0.5


def script(text: str, control: PipelineControl) -> PipelineRequest:
    return PipelineRequest(commands=[Command(text, True)], control=control)


def test_a_stop_ends_a_running_pipeline_at_once_and_nothing_after_the_wait_runs() -> None:
    world = world_with_kms()
    host = WindowsHost(gvlk_host(world), world)
    control = PipelineControl()
    request = script("Write-Output 'before'; Start-Sleep -Seconds 30; Write-Output 'after'", control)
    threading.Timer(0.2, control.stop).start()
    outcome, took = timed(lambda: host.invoke_pipeline(request))
    assert outcome.state == "Stopped" and took < 2
    assert "after" not in outcome.output


def test_a_stop_ends_the_wait_of_a_powershell_exe_the_pipeline_runs() -> None:
    world = world_with_kms()
    host = WindowsHost(gvlk_host(world), world)
    control = PipelineControl()
    request = script("& powershell.exe -NoProfile -Command 'Start-Sleep 30'; Write-Output 'after'", control)
    threading.Timer(0.2, control.stop).start()
    outcome, took = timed(lambda: host.invoke_pipeline(request))
    assert outcome.state == "Stopped" and took < 2
    assert "after" not in outcome.output


def test_a_stop_ends_a_native_command_line_with_the_ctrl_c_exit_code() -> None:
    world = world_with_kms()
    host = WindowsHost(gvlk_host(world), world)
    written: list[bytes] = []
    control = PipelineControl()
    shell = ShellContext(partial_stdout=written.append, control=control)
    threading.Timer(0.3, control.stop).start()
    line = ["-Command", "Write-Host hi; Start-Sleep 30; Write-Host again"]
    outcome, took = timed(lambda: host.run_native("powershell.exe", line, shell))
    assert took < 2 and outcome.exit_code == 0xC000013A  # STATUS_CONTROL_C_EXIT
    assert written == [b"hi\n"]  # what it wrote before the wait went out while it waited


# --- scenario data ------------------------------------------------------------------------------------------

DURATIONS_SCENARIO = """
name: slow
groups:
  - {name: app, prefix: APP, count: 3, durations: {tcp_connect_timeout_s: 21, licensing_enumeration_s: [1, 3]}}
  - {name: web, prefix: WEB, count: 1}
"""


def scenario_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "slow.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_scenario_durations_are_per_group_and_drawn_per_host_from_the_seed(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, DURATIONS_SCENARIO)

    def durations(seed: int) -> dict[str, Durations]:
        return {spec.computer_name: spec.engine.state.durations for spec in build(path, None, seed).hosts}

    first = durations(7)
    assert first == durations(7)  # seeded: the same fleet again
    assert first["WEB01"] == Durations()  # a group without durations: everything at once
    drawn = [first[name].licensing_enumeration_s for name in ("APP01", "APP02", "APP03")]
    assert all(1 <= value <= 3 for value in drawn) and len(set(drawn)) == 3
    assert {first[name].tcp_connect_timeout_s for name in ("APP01", "APP02", "APP03")} == {21}
    assert [first[name].licensing_enumeration_s for name in ("APP01", "APP02", "APP03")] != [
        durations(8)[name].licensing_enumeration_s for name in ("APP01", "APP02", "APP03")
    ]


@pytest.mark.parametrize(
    ("durations", "message"),
    [
        ("{dns_s: 1}", "unknown field 'dns_s'"),
        ("{tcp_connect_timeout_s: -1}", "seconds must be >= 0"),
        ("{tcp_connect_timeout_s: [3, 1]}", "low <= high"),
        ("{tcp_connect_timeout_s: [1, 2, 3]}", "a range is [low, high]"),
        ("{tcp_connect_timeout_s: soon}", "expected float"),
    ],
)
def test_bad_durations_name_the_field(tmp_path: Path, durations: str, message: str) -> None:
    path = scenario_file(tmp_path, f"name: bad\ngroups:\n  - {{name: app, count: 1, durations: {durations}}}\n")
    with pytest.raises(UsageError) as error:
        load_scenario(path)
    assert message in str(error.value) and "groups[0].durations" in str(error.value.location)


# --- over WinRM ---------------------------------------------------------------------------------------------


def one_host_fleet(**durations: float) -> Fleet:
    world = world_with_kms(reachable=False)
    state = gvlk_host(world, name="SLOW01")
    state.durations = Durations(**durations)
    return Fleet.start([HostSpec("SLOW01", WindowsHost(state, world))], auth="ntlm")


@pytest.mark.slow
def test_winrs_streams_output_so_far_as_running_and_times_out_receives_meanwhile() -> None:
    """As test_winrs_operation_timeout.yml: "hi" comes with Running, then w:TimedOut, then the rest with Done."""
    with one_host_fleet() as fleet:
        connection = WSMan("127.0.0.1", **{**fleet.client_options("SLOW01"), "operation_timeout": 1})
        with connection, WinRS(connection) as shell:
            process = Process(shell, "powershell.exe", ["Write-Host hi; Start-Sleep 3; Write-Host hi again"])
            process.begin_invoke()
            state, rc, first = shell.receive("stdout stderr", process.id)
            assert (state, rc, first["stdout"]) == (CommandState.RUNNING, None, b"hi\n")
            with pytest.raises(WSManFaultError) as fault:
                shell.receive("stdout stderr", process.id)
            assert fault.value.code == OPERATION_TIMED_OUT
            assert fault.value.reason == (  # as pypsrp reads it: stripped
                "The WS-Management service cannot complete the operation within the time specified in "
                "OperationTimeout."
            )
            process.poll_invoke()
            while process.state != CommandState.DONE:
                process.poll_invoke()
            assert (process.rc, process.stdout) == (0, b"hi again\n")


@pytest.mark.slow
def test_a_pipeline_longer_than_the_operation_timeout_is_polled_until_it_ends() -> None:
    """As test_psrp_long_running_cmdlet.yml: the Receives time out while Start-Sleep runs; the client polls on."""
    with one_host_fleet() as fleet:
        connection = WSMan("127.0.0.1", **{**fleet.client_options("SLOW01"), "operation_timeout": 1})
        with RunspacePool(connection) as pool:
            shell = PowerShell(pool)
            shell.add_cmdlet("Start-Sleep").add_parameter("Seconds", 3)
            shell.add_statement().add_script("echo hi")
            shell.begin_invoke()
            with pytest.raises(WSManFaultError) as fault:
                pool.shell.receive("stdout", shell.id)
            assert fault.value.code == OPERATION_TIMED_OUT
            output, took = timed(lambda: (shell.end_invoke(), shell.output)[1])
            assert output == ["hi"] and took >= 1


@pytest.mark.slow
def test_a_slow_host_does_not_hold_up_another() -> None:
    world = world_with_kms(reachable=False)
    slow, quick = gvlk_host(world, name="SLOW01"), gvlk_host(world, name="QUICK01")
    slow.durations = Durations(tcp_connect_timeout_s=30)
    hosts = [HostSpec("SLOW01", WindowsHost(slow, world)), HostSpec("QUICK01", WindowsHost(quick, world))]
    with Fleet.start(hosts, auth="ntlm") as fleet:
        options = {**fleet.client_options("SLOW01"), "operation_timeout": 2}
        with RunspacePool(WSMan("127.0.0.1", **options)) as pool:
            activating = PowerShell(pool)
            activating.add_script('cscript.exe //NoLogo "$env:SystemRoot\\System32\\slmgr.vbs" /ato')
            activating.begin_invoke()
            quick_options = {**fleet.client_options("QUICK01"), "operation_timeout": 2}
            with RunspacePool(WSMan("127.0.0.1", **quick_options)) as other:
                answer, took = timed(lambda: PowerShell(other).add_script("$env:COMPUTERNAME").invoke())
            assert answer == ["QUICK01"] and took < 2
            activating.stop()  # the client's stop ends the 30 s wait
            assert activating.state != 1  # not Running any more


# --- remediate's own step timeout ---------------------------------------------------------------------------

SLOW_KMS_SCENARIO = """
name: slow-kms
description: The only KMS host drops TCP 1688; each connection attempt waits out Windows' TCP connect timeout.
world:
  kms_hosts:
    - {name: kms01.corp.example, address: 10.0.0.5, reachable: false}
groups:
  - {name: app, prefix: APP, count: 2, fault: 0xC004F074, durations: {tcp_connect_timeout_s: 21}}
"""


def playbook_with_a_short_activation(directory: Path) -> Path:
    """The shipped 0xC004F074 playbook cut to read, activate (with a 3 s step timeout) and verify."""
    document = yaml.safe_load((ROOT / "playbooks" / "0xC004F074.yaml").read_text(encoding="utf-8"))
    keep = {"license-state", "activate", "license-after", "facts"}
    document["steps"] = [step for step in document["steps"] if step["id"] in keep]
    for step in document["steps"]:
        if step["id"] == "activate":
            step["timeout"] = "3s"
    directory.mkdir()
    (directory / "0xC004F074.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return directory


@pytest.mark.slow
def test_the_step_timeout_ends_an_activation_that_waits_on_an_unreachable_kms_host(tmp_path: Path) -> None:
    built = build(scenario_file(tmp_path, SLOW_KMS_SCENARIO), None, 0)
    playbooks = playbook_with_a_short_activation(tmp_path / "playbooks")
    log = tmp_path / "audit.jsonl"
    with Fleet.start(built.hosts, auth="ntlm") as fleet:
        hosts = fleet.write_hosts_file(tmp_path / "hosts.txt")
        env = {"REMEDIATE_USERNAME": fleet.username, "REMEDIATE_PASSWORD": fleet.password}
        result, took = timed(
            lambda: CliRunner().invoke(
                main,
                ["run", "0xC004F074", "--hosts", str(hosts), "--playbooks", str(playbooks), "--audit", str(log),
                 "--output", "json", "--operation-timeout", "1", "--retries", "0"],
                env=env,
            )
        )  # fmt: skip
    report = json.loads(result.stdout)
    assert [host["outcome"] for host in report["hosts"]] == ["failed", "failed"], result.output
    for host in report["hosts"]:
        assert "did not finish within 3s" in json.dumps(host["reason"]), host["reason"]
    steps = [e for e in audit.read_events(log) if e["type"] == audit.STEP and e["step"] == "activate"]
    assert len(steps) == 2 and {e["error_kind"] for e in steps} == {"timeout"}
    assert all(3 <= e["durations"][0] < 6 for e in steps)
    assert took < 21  # the hosts' 21 s connection attempts were stopped, not waited out
    assert result.exit_code == 1
