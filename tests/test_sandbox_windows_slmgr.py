"""slmgr.vbs output against the documented formats (ref §2, §2a, §2b) in English and Japanese (ref §2c)."""

from __future__ import annotations

import re

import pytest
from test_sandbox_windows_support import (
    MAK_KEY,
    PRO_GVLK,
    SERVER_GVLK,
    SLMGR,
    gvlk_host,
    mak_host,
    slmgr,
    world_with_kms,
)

from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.editions import edition
from remediate.sandbox.windows.host import WindowsHost
from remediate.sandbox.windows.state import HostState, KeyRecord, World


def kms_client(japanese: bool = False, **kms: object) -> tuple[WindowsCommands, HostState, World]:
    world = world_with_kms(**kms)  # type: ignore[arg-type]
    state = gvlk_host(world, ui_language="ja-JP" if japanese else "en-US")
    return WindowsCommands(state, world), state, world


def test_ipk_echoes_the_key_as_typed() -> None:
    # ref §2 /ipk: "Installed product key %PKEY% successfully." echoes the full key as typed
    commands, _, _ = kms_client()
    text, code = slmgr(commands, "/ipk", SERVER_GVLK)
    assert (text, code) == (f"Installed product key {SERVER_GVLK} successfully.\r\n", 0)


@pytest.mark.parametrize(
    ("key", "code", "exit_code", "tail"),
    [
        (
            "QQQQQ-WWWWW-EEEEE-RRRRR-TTTTT",
            "0xC004F050",
            -1073418160,
            "The Software Licensing Service reported that the product key is invalid",
        ),
        (
            PRO_GVLK,
            "0xC004E016",
            -1073422314,
            "On a computer running Microsoft Windows non-core edition, run 'slui.exe 0x2a 0xC004E016' to "
            "display the "
            "error text.",
        ),
    ],
)
def test_ipk_errors(key: str, code: str, exit_code: int, tail: str) -> None:
    # ref §2b: "Error: 0x<HEX> <text>" (table text or the slui sentence) and the HRESULT as the exit code
    commands, _, _ = kms_client()
    assert slmgr(commands, "/ipk", key) == (f"Error: {code} {tail}\r\n", exit_code)


def test_ipk_on_evaluation_exit_code() -> None:
    # ref §2b: 0xC004F069 -> -1073418135, slui fallback (no table entry)
    commands = WindowsCommands(HostState("E", edition=edition("ServerStandardEval")), World())
    text, code = slmgr(commands, "/ipk", SERVER_GVLK)
    assert code == -1073418135
    assert text.startswith("Error: 0xC004F069 On a computer running Microsoft Windows non-core edition")


def test_ato_success_and_failure_formats() -> None:
    # ref §2 /ato: "Activating %PRODUCTNAME% (%PRODUCTID%) ..." then the result; ref §2b exit codes
    commands, _, _ = kms_client()
    text, code = slmgr(commands, "/ato")
    lines = text.split("\r\n")
    assert re.fullmatch(r"Activating Windows\(R\), ServerStandard edition \([0-9a-f-]{36}\) \.\.\.", lines[0])
    assert lines[1:] == ["Product activated successfully.", ""]
    assert code == 0
    commands, _, _ = kms_client(reachable=False)
    text, code = slmgr(commands, "/ato")
    assert text.split("\r\n")[1] == (
        "Error: 0xC004F074 The Software Licensing Service reported that the computer could not be activated. "
        "No Key "
        "Management Service (KMS) could be contacted. Please see the Application Event Log for additional "
        "information."
    )
    assert code == -1073418124  # ref §2b arithmetic


def test_ato_exit_codes_for_dns_and_kms_host_key() -> None:
    # ref §2b: 0x8007232B -> -2147015893; 0xC004C008 -> -1073430520
    state = gvlk_host(World())
    text, code = slmgr(WindowsCommands(state, World()), "/ato")
    assert code == -2147015893 and "Error: 0x8007232B DNS name does not exist" in text
    world = World()
    world.add_key(KeyRecord("CSVLK-AAAAA-BBBBB-CCCCC-DDDDD", "KMS_HOST", ("ServerStandard",), remaining=0))
    host = HostState("KMS1", edition=edition("ServerStandard"))
    commands = WindowsCommands(host, world)
    slmgr(commands, "/ipk", "CSVLK-AAAAA-BBBBB-CCCCC-DDDDD")
    text, code = slmgr(commands, "/ato")
    assert code == -1073430520
    assert (
        "Error: 0xC004C008 The activation server determined that the specified product key could not be used"
        in text
    )


def test_ato_without_a_key_says_product_not_found_and_exits_zero() -> None:
    # ref §2 /ato: no product -> "Error: product not found."; ref §2b: exit code 0 despite failure
    state = HostState("PC", edition=edition("Professional"), hardware_changed=True)
    assert slmgr(WindowsCommands(state, World()), "/ato") == ("Error: product not found.\r\n", 0)


def test_dli_of_an_unactivated_kms_client() -> None:
    # ref §2a: order and wording of /dli for a KMS client in initial grace: "Please use ..." follows the
    # activation type directly (no blank line); [src SLMGR] each product shown ends with a blank line
    commands, _, _ = kms_client()
    text, code = slmgr(commands, "/dli")
    assert code == 0
    assert text.split("\r\n") == [
        "",
        "Name: Windows(R), ServerStandard edition",
        "Description: Windows(R) Operating System, VOLUME_KMSCLIENT channel",
        "Partial Product Key: VMK7H",
        "License Status: Initial grace period",
        "Time remaining: 43200 minute(s) (30 day(s))",
        "Configured Activation Type: All",
        "Please use slmgr.vbs /ato to activate and update KMS client information in order to update values.",
        "",
        "",
    ]


def test_dlv_of_an_activated_kms_client() -> None:
    # ref §2a: dlv adds the service version, IDs, rearm counts, trusted time and the KMS client block
    commands, state, _ = kms_client()
    slmgr(commands, "/ato")
    text, _ = slmgr(commands, "/dlv")
    lines = text.split("\r\n")
    assert lines[0] == "Software licensing service version: 10.0.20348.1"
    assert "Product Key Channel: Volume:GVLK" in lines
    assert "License Status: Licensed" in lines
    assert "Volume activation expiration: 259200 minute(s) (180 day(s))" in lines
    assert "Remaining Windows rearm count: 1001" in lines
    tail = lines[lines.index("Most recent activation information:") :]
    assert tail[:9] == [
        "Most recent activation information:",
        "Key Management Service client information",
        f"    Client Machine ID (CMID): {state.cmid}",
        "    KMS machine name from DNS: kms1.corp.example:1688",
        "    KMS machine IP address: 10.0.0.5",
        "    KMS machine extended PID: 06401-00206-551-000000-03-1033-20348.0000-0012026",
        "    Activation interval: 120 minutes",
        "    Renewal interval: 10080 minutes",
        "    KMS host caching is enabled",
    ]
    assert not any(line.startswith("Processor Certificate URL") for line in lines)  # not for KMS clients


def test_dlv_registered_kms_name_prints_port_1688_for_port_zero() -> None:
    # ref §2a: "Registered KMS machine name: host:port"; port 0 is printed as 1688
    commands, _, _ = kms_client()
    slmgr(commands, "/skms", "kms1.corp.example")
    slmgr(commands, "/ato")
    text, _ = slmgr(commands, "/dlv")
    assert "    Registered KMS machine name: kms1.corp.example:1688" in text.split("\r\n")


def test_dli_notification_reason_formats() -> None:
    # ref §2a: "Notification Reason: 0x%ERRCODE%." (other; note trailing period) and (grace time expired)
    world = World()
    world.add_key(KeyRecord("DEFLT-AAAAA-BBBBB-CCCCC-3V66T", "RETAIL", ("Professional",), default_key=True))
    state = HostState("PC", edition=edition("Professional"))
    commands = WindowsCommands(state, world)
    slmgr(commands, "/ipk", "DEFLT-AAAAA-BBBBB-CCCCC-3V66T")
    lines = slmgr(commands, "/dli")[0].split("\r\n")
    assert lines[lines.index("License Status: Notification") + 1] == "Notification Reason: 0xC004F034."
    state.license_status_reason = 0xC004F009
    assert "Notification Reason: 0xC004F009 (grace time expired)." in slmgr(commands, "/dli")[0]


def test_dli_all_lists_unused_licences() -> None:
    # ref §2a: "This license is not in use."
    commands, _, _ = kms_client()
    text, _ = slmgr(commands, "/dli", "All")
    assert text.count("This license is not in use.") >= 3
    assert text.count("Partial Product Key: ") == 1


def test_xpr_lines() -> None:
    # ref §2 /xpr: "<Name>:" then 4-space-indented state
    commands, _, _ = kms_client()
    text, _ = slmgr(commands, "/xpr")
    assert re.fullmatch(
        r"Windows\(R\), ServerStandard edition:\r\n    Initial grace period ends "
        r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d\d:\d\d [AP]M\r\n",
        text,
    )
    slmgr(commands, "/ato")
    assert "    Volume activation will expire " in slmgr(commands, "/xpr")[0]
    world = World()
    state = mak_host(world)
    commands = WindowsCommands(state, world)
    slmgr(commands, "/ato")
    assert slmgr(commands, "/xpr")[0] == (
        "Windows(R), ServerStandard edition:\r\n    The machine is permanently activated.\r\n"
    )


def test_skms_ckms_and_domain_messages() -> None:
    # ref §2 /skms /ckms /skms-domain /ckms-domain outputs and warnings
    commands, state, _ = kms_client()
    assert slmgr(commands, "/skms-domain", "kms.example")[0] == (
        "Key Management Service lookup domain set to kms.example successfully.\r\n"
    )
    assert slmgr(commands, "/skms", "kms2.corp.example:1700")[0] == (
        "Key Management Service machine name set to kms2.corp.example:1700 successfully.\r\n"
        "Warning: /skms setting overrides the /skms-domain setting. kms2.corp.example:1700 will be used for "
        "activation.\r\n"
    )
    assert (state.kms_machine, state.kms_port) == ("kms2.corp.example", 1700)
    assert slmgr(commands, "/ckms")[0] == (
        "Key Management Service machine name cleared successfully.\r\n"
        "Warning: /skms-domain setting is in effect. kms.example will be used for DNS SRV record lookup.\r\n"
    )
    assert (
        slmgr(commands, "/ckms-domain")[0] == "Key Management Service lookup domain cleared successfully.\r\n"
    )
    assert (state.kms_machine, state.kms_port, state.lookup_domain) == (None, None, None)


def test_skms_ipv6_and_bad_port() -> None:
    # ref §2 /skms: IPv6 as [addr]:port; a bad port fails and keeps the previous name
    commands, state, _ = kms_client()
    slmgr(commands, "/skms", "[fd00::5]:1688")
    assert (state.kms_machine, state.kms_port) == ("[fd00::5]", 1688)
    text, code = slmgr(commands, "/skms", "kms9.corp.example:99999")
    assert (text, code) == ("Error: 0x80070057 The parameter is incorrect\r\n", -2147024809)
    assert state.kms_machine == "[fd00::5]"


def test_other_actions() -> None:
    # ref §2: /upk /cpky /rearm /act-type /dti texts
    world = World()
    state = mak_host(world)
    commands = WindowsCommands(state, world)
    assert slmgr(commands, "/cpky")[0] == "Product key from registry cleared successfully.\r\n"
    assert slmgr(commands, "/act-type", "2")[0] == "Volume activation type set successfully.\r\n"
    text = slmgr(commands, "/dti")[0].split("\r\n")
    assert re.fullmatch(r"Installation ID: \d{63}", text[0]) and text[1] == ""
    assert text[2].startswith("Product activation telephone numbers can be obtained")
    assert slmgr(commands, "/rearm")[0] == (
        "Command completed successfully.\r\nPlease restart the system for the changes to take effect.\r\n"
    )
    assert state.rearm_count == 1000
    assert slmgr(commands, "/upk")[0] == "Uninstalled product key successfully.\r\n"
    assert slmgr(commands, "/upk") == ("Error: product key not found.\r\n", 0)  # ref §2b exit 0


def test_option_syntax() -> None:
    # ref §2: options start with / or -, compared case-insensitively; unknown -> Unrecognized option + usage
    commands, _, _ = kms_client()
    assert slmgr(commands, "-DLI") == slmgr(commands, "/dli")
    text, code = slmgr(commands, "/skms-site", "x")
    assert text.startswith(
        "Unrecognized option: /skms-site\r\n\r\nWindows Software Licensing Management Tool\r\n"
        "Usage: slmgr.vbs [MachineName [User Password]] [<Option>]\r\n"
    )
    assert "/ipk <Product Key>\r\n    Install product key (replaces existing key)\r\n" in text
    assert code == 1
    text, code = slmgr(commands)
    assert text.startswith("Invalid combination of command parameters.\r\n") and code == 1
    # [src SLMGR] HandleOptionParam: blank line, the needs line, then DisplayUsage, which exits 1
    text, code = slmgr(commands, "/ipk")
    assert text.startswith("\r\nError: option ipk needs <Product Key>\r\nWindows Software Licensing Management")
    assert code == 1


def test_logo_unless_nologo() -> None:
    # ref §2b: always run `cscript //nologo`; without it the WSH banner comes first
    commands, _, _ = kms_client()
    text, _ = slmgr(commands, "/xpr", nologo=False)
    assert text.startswith(
        "Microsoft (R) Windows Script Host Version 5.812\r\n"
        "Copyright (C) Microsoft Corporation. All rights reserved.\r\n\r\n"
    )
    program = commands.native("cscript")
    assert program is not None
    from test_sandbox_windows_support import Context

    result = program(["//NoLogo", r"C:\Windows\System32\missing.vbs", "/dli"], Context())
    assert result.exit_code == 1 and "Can not find script file" in result.stderr
    assert (
        program(["//NoLogo", SLMGR.lower(), "/xpr"], Context()).exit_code == 0
    )  # paths are case-insensitive


def test_slmgr_on_a_remote_name_fails() -> None:
    commands, state, _ = kms_client()
    assert slmgr(commands, state.computer_name, "/xpr")[1] == 0
    text, code = slmgr(commands, "other-host", "/xpr")
    assert code == -2147023174 and "other-host" in text


# --- Japanese (ref §2c) -------------------------------------------------------------------------------------


def test_japanese_xpr_uses_the_observed_phrases() -> None:
    # ref §2c observed: "コンピューターのライセンス認証は完了しました", "Windowsは通知モードです"
    world = World()
    state = mak_host(world, ui_language="ja-JP")
    commands = WindowsCommands(state, world)
    slmgr(commands, "/ato")
    assert slmgr(commands, "/xpr")[0] == (
        "Windows(R), ServerStandard edition:\r\n    コンピューターのライセンス認証は完了しました\r\n"
    )
    state.license_status, state.license_status_reason = 5, 0xC004F009
    assert "    Windowsは通知モードです\r\n" in slmgr(commands, "/xpr")[0]


def test_japanese_dlv_rearm_count_and_error_line_keep_the_hex_code() -> None:
    # ref §2c observed "残りのWindows猶予期限リセット可能回数:1001"; the Error line keeps the hex code
    commands, _, _ = kms_client(japanese=True, reachable=False)
    assert "残りのWindows猶予期限リセット可能回数:1001" in slmgr(commands, "/dlv")[0].split("\r\n")
    text, code = slmgr(commands, "/ato")
    assert code == -1073418124
    assert re.search(r"^エラー: 0xC004F074 .*キー管理サービス \(KMS\)", text.split("\r\n")[1])
    assert text.split("\r\n")[0].endswith("のライセンス認証を行っています...")


def test_japanese_cscript_through_winrs_is_cp932() -> None:
    # ref §2c: captured bytes follow the console OEM code page; [inf] 932 on Japanese Windows
    world = world_with_kms()
    state = gvlk_host(world, ui_language="ja-JP")
    host = WindowsHost(state, world)
    outcome = host.run_native("cscript.exe", ["//NoLogo", SLMGR, "/ipk", SERVER_GVLK])
    expected = f"プロダクト キー {SERVER_GVLK} を正常にインストールしました。\r\n\r\n"  # + WScript.Echo's CRLF
    assert outcome.stdout == expected.encode("cp932")
    assert outcome.exit_code == 0
    outcome = host.run_native("cscript.exe", ["//NoLogo", SLMGR, "/ipk", "QQQQQ-WWWWW-EEEEE-RRRRR-TTTTT"])
    assert outcome.exit_code == 0xC004F050  # unsigned on the wire
    assert outcome.stdout.decode("cp932").startswith("エラー: 0xC004F050 ")


def test_english_host_through_winrs_is_cp437_crlf() -> None:
    world = World()
    state = mak_host(world)
    outcome = WindowsHost(state, world).run_native(
        r"C:\Windows\System32\cscript.exe", ["//NoLogo", SLMGR, "/ipk", MAK_KEY]
    )
    # ref §2b: the buffer, then the CRLF WScript.Echo adds
    assert outcome.stdout == f"Installed product key {MAK_KEY} successfully.\r\n\r\n".encode("cp437")


def test_dlv_of_an_activated_kms_host() -> None:
    # ref §2a: KMS hosts add "Key Management Service is enabled on this machine" and the counters
    world = World()
    world.add_key(KeyRecord("CSVLK-AAAAA-BBBBB-CCCCC-DDDDD", "KMS_HOST", ("ServerStandard",), remaining=3))
    commands = WindowsCommands(HostState("KMS1", edition=edition("ServerStandard")), world)
    slmgr(commands, "/ipk", "CSVLK-AAAAA-BBBBB-CCCCC-DDDDD")
    assert "Key Management Service is enabled" not in slmgr(commands, "/dlv")[0]
    slmgr(commands, "/ato")
    lines = slmgr(commands, "/dlv")[0].split("\r\n")
    start = lines.index("Key Management Service is enabled on this machine")
    assert lines[start + 1 : start + 5] == [
        "    Current count: 0",
        "    Listening on Port: 1688",
        "    DNS publishing enabled",
        "    KMS priority: Normal",
    ]
    assert "Key Management Service cumulative requests received from clients" in lines
