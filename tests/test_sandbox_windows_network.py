"""DNS client, network test, event log, clock and native tools of the emulated host."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from test_sandbox_windows_support import (
    SERVER_GVLK,
    Context,
    cmdlet,
    cmdlet_error,
    gvlk_host,
    world_with_kms,
)

from remediate.sandbox.seam import Command, PipelineRequest
from remediate.sandbox.windows import licensing
from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.editions import edition
from remediate.sandbox.windows.host import WindowsHost
from remediate.sandbox.windows.licensing import LicensingError
from remediate.sandbox.windows.state import HostState, World


def client(**fields: Any) -> tuple[WindowsCommands, HostState, World]:
    world = world_with_kms()
    state = gvlk_host(world, **fields)
    return WindowsCommands(state, world), state, world


def run(commands: WindowsCommands, program: str, *args: str) -> tuple[str, str, int]:
    function = commands.native(program)
    assert function is not None, program
    result = function(list(args), Context())
    return result.stdout, result.stderr, result.exit_code


# --- Resolve-DnsName / Clear-DnsClientCache -----------------------------------------------------------------


def test_resolve_srv_returns_records_with_name_target_and_port() -> None:
    # ref §4 KMSDNS: _VLMCS._TCP SRV, port 1688
    commands, _, _ = client()
    answer = cmdlet(commands, "Resolve-DnsName", Name="_vlmcs._tcp.corp.example", Type="SRV", DnsOnly=True)
    srv = [r for r in answer if r.get("Type") == "SRV"]
    assert [(r.get("NameTarget"), r.get("Port"), r.get("Priority"), r.get("Weight")) for r in srv] == [
        ("kms1.corp.example", 1688, 0, 0)
    ]
    additional = [r for r in answer if r.get("Section") == "Additional"]
    assert [r.get("IPAddress") for r in additional] == ["10.0.0.5"]
    a = cmdlet(commands, "Resolve-DnsName", Name="kms1", Type="A")  # single label: the DNS suffix is appended
    assert [(r.get("Name"), r.get("IPAddress")) for r in a] == [("kms1.corp.example", "10.0.0.5")]


def test_name_not_found_is_a_non_terminating_error_with_9003() -> None:
    # ref §1a 0x8007232B = Win32 9003 (DNS name does not exist)
    commands, _, _ = client()
    error = cmdlet_error(commands, "Resolve-DnsName", Name="_vlmcs._tcp.nowhere.example", Type="SRV")
    assert not error.terminating
    assert error.record.message == "_vlmcs._tcp.nowhere.example : DNS name does not exist"
    assert error.record.hresult == 9003
    assert error.record.fully_qualified_error_id.startswith("DNS_ERROR_RCODE_NAME_ERROR,")


def test_cached_answers_survive_dns_changes_until_cleared() -> None:
    # ref §4 / 232B: flush the DNS cache after DNS changes
    commands, _, world = client()
    cmdlet(commands, "Resolve-DnsName", Name="kms1.corp.example", Type="A")
    world.dns.a["kms1.corp.example"] = ["10.0.0.99"]
    again = cmdlet(commands, "Resolve-DnsName", Name="kms1.corp.example", Type="A")
    assert again[0].get("IPAddress") == "10.0.0.5"
    assert cmdlet(commands, "Clear-DnsClientCache") == []
    assert (
        cmdlet(commands, "Resolve-DnsName", Name="kms1.corp.example", Type="A")[0].get("IPAddress")
        == "10.0.0.99"
    )


# --- Test-NetConnection -------------------------------------------------------------------------------------


def test_test_net_connection_to_kms_port() -> None:
    # ref §4 / F074: `Test-NetConnection <host> -Port 1688` -> TcpTestSucceeded
    commands, _, world = client()
    ctx = Context()
    result = cmdlet(commands, "Test-NetConnection", ctx, ComputerName="kms1.corp.example", Port=1688)[0]
    assert (
        result.get("ComputerName"),
        result.get("RemoteAddress"),
        result.get("RemotePort"),
        result.get("TcpTestSucceeded"),
    ) == ("kms1.corp.example", "10.0.0.5", 1688, True)
    assert ctx.warnings == []
    world.kms_hosts[0].reachable = False
    world.kms_hosts[0].pingable = False  # the host is down: neither TCP nor ping
    ctx = Context()
    result = cmdlet(commands, "Test-NetConnection", ctx, ComputerName="kms1.corp.example", Port=1688)[0]
    assert result.get("TcpTestSucceeded") is False and result.get("PingSucceeded") is False
    assert ctx.warnings == [
        "TCP connect to (10.0.0.5 : 1688) failed",
        "Ping to 10.0.0.5 failed with status: TimedOut",
    ]


def test_test_net_connection_name_resolution_failure() -> None:
    commands, _, _ = client()
    ctx = Context()
    result = cmdlet(commands, "Test-NetConnection", ctx, ComputerName="gone.corp.example", Port=1688)[0]
    assert result.get("TcpTestSucceeded") is False
    assert ctx.warnings == ["Name resolution of gone.corp.example failed"]


def test_activation_service_reachability() -> None:
    # ref §1b 0x80072EE2: the online activation service over HTTPS
    commands, state, _ = client()
    target = "activation-v2.sls.microsoft.com"
    assert (
        cmdlet(commands, "Test-NetConnection", ComputerName=target, Port=443)[0].get("TcpTestSucceeded")
        is True
    )
    state.internet = False
    assert (
        cmdlet(commands, "Test-NetConnection", ComputerName=target, Port=443)[0].get("TcpTestSucceeded")
        is False
    )


# --- Get-WinEvent -------------------------------------------------------------------------------------------


def test_event_12288_carries_the_inner_hresult() -> None:
    # ref §3 "Event log": Application log, Microsoft-Windows-Security-SPP, 12288, Info starts with the HRESULT
    world = world_with_kms(reachable=False)
    state = gvlk_host(world)
    commands = WindowsCommands(state, world)
    with pytest.raises(LicensingError):
        licensing.activate(state, world)
    query = {"LogName": "Application", "ProviderName": "Microsoft-Windows-Security-SPP", "Id": 12288}
    events = cmdlet(commands, "Get-WinEvent", FilterHashtable=query, MaxEvents=1)
    assert len(events) == 1
    event = events[0]
    assert (event.get("Id"), event.get("ProviderName")) == (12288, "Microsoft-Windows-Security-SPP")
    assert event.get("Properties")[0].get("Value") == "0x800706BA"
    assert event.get("Properties")[2].get("Value") == "kms1.corp.example:1688"
    assert event.get("Message").startswith(
        "The client has sent an activation request to the key management service "
        "machine.\nInfo:\n0x800706BA, "
    )
    assert event.get("TimeCreated") == next(e for e in reversed(state.events) if e.id == 12288).time


def test_no_events_is_a_non_terminating_error() -> None:
    commands, _, _ = client()
    error = cmdlet_error(commands, "Get-WinEvent", FilterHashtable={"LogName": "Application", "Id": 12288})
    assert error.record.message == "No events were found that match the specified selection criteria."
    assert not error.terminating
    commands_ja, _, _ = client(ui_language="ja-JP")
    error = cmdlet_error(commands_ja, "Get-WinEvent", FilterHashtable={"LogName": "Application", "Id": 12288})
    assert error.record.message == "指定された選択基準に一致するイベントは見つかりませんでした。"


def test_newest_event_first() -> None:
    world = world_with_kms(reachable=False)
    state = gvlk_host(world)
    for _ in range(2):
        with pytest.raises(LicensingError):
            licensing.activate(state, world)
    world.kms_hosts[0].reachable = True
    licensing.activate(state, world)
    events = cmdlet(WindowsCommands(state, world), "Get-WinEvent", FilterHashtable={"Id": 12288})
    assert [e.get("Properties")[0].get("Value") for e in events] == ["0x0", "0x800706BA", "0x800706BA"]


# --- clock --------------------------------------------------------------------------------------------------


def test_get_date_is_the_host_clock_and_start_sleep_waits_for_real() -> None:
    commands, _, world = client(clock_offset_s=3 * 3600)
    before = cmdlet(commands, "Get-Date")[0]
    assert abs((before - world.utc_now()) - timedelta(hours=3)) < timedelta(seconds=5)
    started = time.monotonic()
    cmdlet(commands, "Start-Sleep", Milliseconds=300)
    assert time.monotonic() - started >= 0.3
    after = cmdlet(commands, "Get-Date")[0]
    assert timedelta(seconds=0.3) <= after - before < timedelta(seconds=5)


def test_start_sleep_in_a_frozen_world_moves_its_clock_by_the_time_slept() -> None:
    commands, _, world = client()
    world.frozen_at = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    cmdlet(commands, "Start-Sleep", Milliseconds=200)
    assert cmdlet(commands, "Get-Date")[0] == datetime(2026, 1, 5, 9, 0, 0, 200000, tzinfo=timezone.utc)


def test_w32tm_resync_text_and_failure() -> None:
    # ref §4 / F074: w32tm /resync
    commands, state, _ = client(clock_offset_s=7200)
    assert run(commands, "w32tm.exe", "/resync") == (
        "Sending resync command to local computer\r\nThe command completed successfully.\r\n",
        "",
        0,
    )
    assert state.clock_offset_s == 0
    state.time_source_reachable = False
    out, _, code = run(commands, "w32tm.exe", "/resync")
    assert "no time data was available" in out and code != 0


# --- ipconfig, netsh, chcp ----------------------------------------------------------------------------------


def test_ipconfig_flushdns_text() -> None:
    commands, state, _ = client()
    state.dns_cache[("x.corp.example", "A")] = ["1.2.3.4"]
    assert run(commands, "ipconfig.exe", "/flushdns") == (
        "\r\nWindows IP Configuration\r\n\r\nSuccessfully flushed the DNS Resolver Cache.\r\n",
        "",
        0,
    )
    assert state.dns_cache == {}
    commands_ja, _, _ = client(ui_language="ja-JP")
    assert run(commands_ja, "ipconfig", "/flushdns")[0] == (
        "\r\nWindows IP 構成\r\n\r\nDNS リゾルバー キャッシュは正常にフラッシュされました。\r\n"
    )


def test_netsh_winhttp_show_proxy() -> None:
    commands, state, _ = client()
    assert run(commands, "netsh.exe", "winhttp", "show", "proxy")[0] == (
        "\r\nCurrent WinHTTP proxy settings:\r\n\r\n    Direct access (no proxy server).\r\n\r\n"
    )
    state.proxy = "proxy.corp.example:8080"
    assert (
        "    Proxy Server(s) :  proxy.corp.example:8080\r\n"
        in run(commands, "netsh.exe", "winhttp", "show", "proxy")[0]
    )


def test_winrs_bytes_and_unknown_commands() -> None:
    world = world_with_kms()
    host = WindowsHost(gvlk_host(world, ui_language="ja-JP"), world)
    outcome = host.run_native("ipconfig /flushdns", [])
    assert (
        outcome.stdout
        == "\r\nWindows IP 構成\r\n\r\nDNS リゾルバー キャッシュは正常にフラッシュされました。\r\n".encode(
            "cp932"
        )
    )
    assert host.run_native("chcp", []).stdout == "現在のコード ページ: 932\r\n".encode("cp932")
    missing = host.run_native("slmgr", ["/dli"])
    assert missing.exit_code == 9009 and "認識されていません".encode("cp932") in missing.stderr
    english = WindowsHost(gvlk_host(world, "SRV02"), world)
    assert english.run_native("chcp.com", []).stdout == b"Active code page: 437\r\n"


# --- DISM (ref §1b 0xC004F069, §4 CONVERT) ------------------------------------------------------------------


def evaluation_host(domain_role: int = 3) -> tuple[WindowsCommands, HostState, World]:
    world = world_with_kms()
    state = HostState("EVAL01", edition=edition("ServerStandardEval"), domain_role=domain_role)
    return WindowsCommands(state, world), state, world


def test_dism_current_and_target_editions() -> None:
    # ref §4 CONVERT: `DISM /online /Get-CurrentEdition` shows ...Eval; /Get-TargetEditions lists the targets
    commands, _, _ = evaluation_host()
    out, _, code = run(commands, "dism.exe", "/online", "/Get-CurrentEdition")
    assert code == 0 and "Current Edition : ServerStandardEval\r\n" in out
    assert out.rstrip().endswith("The operation completed successfully.")
    out, _, _ = run(commands, "dism.exe", "/Online", "/Get-TargetEditions")
    assert "Target Edition : ServerStandard\r\nTarget Edition : ServerDatacenter\r\n" in out


def test_dism_set_edition_converts_at_the_restart_and_the_host_then_activates() -> None:
    # ref §4 CONVERT: /Set-Edition:<target> /ProductKey:<key> /AcceptEula; ref §1b: /ipk alone gives
    # 0xC004F069. DISM ends with "Restart Windows to complete this operation." and exit code 3010
    # (ERROR_SUCCESS_REBOOT_REQUIRED): the new edition and its key take effect at the restart.
    commands, state, world = evaluation_host()
    out, _, code = run(
        commands,
        "dism.exe",
        "/online",
        "/Set-Edition:ServerStandard",
        f"/ProductKey:{SERVER_GVLK}",
        "/AcceptEula",
        "/NoRestart",
    )
    assert code == 3010
    assert out.endswith("The operation completed successfully.\r\nRestart Windows to complete this operation.\r\n")
    assert SERVER_GVLK not in out
    assert state.restart_pending and state.edition.edition_id == "ServerStandardEval"
    out, _, _ = run(commands, "dism.exe", "/online", "/Get-CurrentEdition")
    assert "Current Edition : ServerStandardEval\r\n" in out
    licensing.restart(state, world)
    assert not state.restart_pending
    assert state.edition.edition_id == "ServerStandard" and state.channel == "GVLK"
    licensing.activate(state, world)
    assert state.license_status == 1


def test_dism_set_edition_without_norestart_asks_for_the_restart() -> None:
    # [obs: MicrosoftDocs/windowsserverdocs#7679] without /NoRestart DISM asks "(Y/N)"; no answer, no restart
    commands, state, _ = evaluation_host()
    out, _, code = run(
        commands, "dism.exe", "/online", "/Set-Edition:ServerStandard", f"/ProductKey:{SERVER_GVLK}", "/AcceptEula"
    )
    assert code == 3010 and out.endswith("Restart Windows to complete this operation.\r\n"
                                         "Do you want to restart the computer now? (Y/N) ")
    assert state.edition.edition_id == "ServerStandardEval"


def test_dism_refuses_on_a_domain_controller_and_without_eula() -> None:
    # ref §4 CONVERT: not possible on a domain controller
    commands, state, _ = evaluation_host(domain_role=5)
    out, _, code = run(
        commands,
        "dism.exe",
        "/online",
        "/Set-Edition:ServerStandard",
        f"/ProductKey:{SERVER_GVLK}",
        "/AcceptEula",
    )
    assert code == 50 and "Error: 50" in out and "domain controller" in out
    assert state.edition.edition_id == "ServerStandardEval"
    commands, state, _ = evaluation_host()
    _, _, code = run(
        commands, "dism.exe", "/online", "/Set-Edition:ServerStandard", f"/ProductKey:{SERVER_GVLK}"
    )
    assert code == 87 and state.edition.edition_id == "ServerStandardEval"


def test_dism_rejects_a_key_for_another_edition() -> None:
    commands, state, _ = evaluation_host()
    _, _, code = run(
        commands,
        "dism.exe",
        "/online",
        "/Set-Edition:ServerDatacenter",
        f"/ProductKey:{SERVER_GVLK}",
        "/AcceptEula",
    )
    assert code == licensing.to_signed(0xC004F050) and state.edition.edition_id == "ServerStandardEval"


# --- through the interpreter --------------------------------------------------------------------------------


def test_invoke_pipeline_runs_a_template_style_script() -> None:
    world = world_with_kms(reachable=False)
    host = WindowsHost(gvlk_host(world), world)
    script = (
        "$ErrorActionPreference = 'Stop'\n"
        '$text = & cscript.exe //NoLogo "$env:SystemRoot\\System32\\slmgr.vbs" /ato | Out-String\n'
        "$code = $LASTEXITCODE\n"
        "$event = Get-WinEvent -FilterHashtable @{ LogName = 'Application'; "
        "ProviderName = 'Microsoft-Windows-Security-SPP'; Id = 12288 } -MaxEvents 1\n"
        "[pscustomobject]@{ code = $code; inner = $event.Properties[0].Value; host = $env:COMPUTERNAME } "
        "| ConvertTo-Json -Compress\n"
    )
    outcome = host.invoke_pipeline(PipelineRequest([Command(script, True)]))
    assert outcome.state == "Completed", outcome.failure
    assert outcome.output == ['{"code":-1073418124,"inner":"0x800706BA","host":"SRV01"}']


def test_winrs_expands_environment_variables_like_cmd() -> None:
    world = world_with_kms()
    host = WindowsHost(gvlk_host(world), world)
    outcome = host.run_native("cscript.exe", ["//NoLogo", r"%SystemRoot%\System32\slmgr.vbs", "/xpr"])
    assert outcome.exit_code == 0
    assert outcome.stdout.startswith(b"Windows(R), ServerStandard edition:\r\n")
