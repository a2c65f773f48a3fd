"""slmgr.vbs details checked line by line against Microsoft's script (ref §2, §2a, §2b; [src SLMGR] is the
script the reference paraphrases): which "not found" line each option prints, the token-only stop, the KMS
warnings, the usage text, the KMS host block."""

from __future__ import annotations

import pytest
from test_sandbox_windows_support import (
    MAK_KEY,
    gvlk_host,
    mak_host,
    slmgr,
    world_with_kms,
)

from remediate.sandbox.windows.commandset import WindowsCommands
from remediate.sandbox.windows.editions import edition
from remediate.sandbox.windows.slmgr import ScriptQuit, SlmgrRun
from remediate.sandbox.windows.slmgr_text import error_text
from remediate.sandbox.windows.state import GVLK, LICENSED, HostState, KeyRecord, World, activation_id

UNKNOWN_ID = "AAAAAAAA-0000-0000-0000-000000000000"


def kms_client() -> tuple[WindowsCommands, HostState]:
    world = world_with_kms()
    state = gvlk_host(world)
    return WindowsCommands(state, world), state


def mak() -> tuple[WindowsCommands, HostState]:
    world = World()
    state = mak_host(world)
    return WindowsCommands(state, world), state


def test_ato_stops_on_token_only_activation_type_for_any_channel() -> None:
    # ref §2 /ato: "if VLActivationTypeEnabled = 3 prints token-only message and stops" (not only KMS clients)
    commands, state = mak()
    slmgr(commands, "/act-type", "3")
    assert slmgr(commands, "/ato") == (
        "This system is configured for Token-based activation only. Use slmgr.vbs /fta to initiate "
        "Token-based activation, or slmgr.vbs /act-type to change the activation type setting.\r\n",
        0,
    )
    assert state.license_status != LICENSED  # Activate() was never called


def test_ato_already_licensed_mak_is_not_activated_again() -> None:
    # ref §2 /ato: skips Activate() for a MAK that is already Licensed (protects the MAK count)
    world = World()
    state = mak_host(world, remaining=1)
    commands = WindowsCommands(state, world)
    assert slmgr(commands, "/ato")[1] == 0
    text, code = slmgr(commands, "/ato")
    assert text.endswith("...\r\nProduct activated successfully.\r\n") and code == 0
    assert world.activation.keys[MAK_KEY].remaining == 0


def test_product_not_found_lines_per_option() -> None:
    # ref §2 /ato, §2b: an Activation ID that matches no keyed product prints "Error: product not found."
    # (not the "Activation ID ... not found" line, which belongs to the KMS client options), exit code 0;
    # "All" is not an Activation ID for /ato, /dti, /atp
    commands, _ = kms_client()
    for args in (("/ato", UNKNOWN_ID), ("/ato", "All"), ("/dti", UNKNOWN_ID), ("/atp", "1" * 48, UNKNOWN_ID)):
        assert slmgr(commands, *args) == ("Error: product not found.\r\n", 0), args
    # ref §2 /upk, §2b: "Error: product key not found."
    assert slmgr(commands, "/upk", UNKNOWN_ID) == ("Error: product key not found.\r\n", 0)
    # [src SLMGR] /dli, /dlv and /xpr say "product key not found" too
    assert slmgr(commands, "/dli", UNKNOWN_ID) == ("Error: product key not found.\r\n", 0)
    assert slmgr(commands, "/xpr", UNKNOWN_ID) == ("Error: product key not found.\r\n", 0)
    # ref §2b: "Error: Activation ID (…) not found." on the KMS client options, with the ID in lower case
    assert slmgr(commands, "/skms", "kms9.corp.example", UNKNOWN_ID) == (
        f"Error: Activation ID ({UNKNOWN_ID.lower()}) not found.\r\n",
        0,
    )


def test_dli_without_a_key_says_product_key_not_found() -> None:
    # ref §2b: "Error: product key not found." exits 0 (the /dli wording; "product not found" is /ato's)
    state = HostState("PC", edition=edition("Professional"))
    assert slmgr(WindowsCommands(state, World()), "/dli") == ("Error: product key not found.\r\n", 0)


def test_dli_of_one_keyless_licence_still_prints_its_status() -> None:
    # ref §2a: "Partial Product Key: <5 chars>" or "This license is not in use."; *then* the status block
    commands, state = kms_client()
    mak_id = activation_id(state.edition.edition_id, "MAK")
    text, code = slmgr(commands, "/dli", mak_id)
    # [src SLMGR] one Activation ID: the loop stops after it, without the closing blank line
    assert text.endswith("MAK channel\r\nThis license is not in use.\r\nLicense Status: Unlicensed\r\n")
    assert code == 0


def test_dli_of_a_licensed_kms_client_with_skms_and_skms_domain_warns() -> None:
    # ref §2a: KMS client block of a licensed client; port 0 printed as 1688; ref §2 /skms warning
    # "Warning: /skms setting overrides the /skms-domain setting." repeated at the end of /dli [src SLMGR]
    commands, state = kms_client()
    slmgr(commands, "/ato")
    slmgr(commands, "/skms", "kms1.corp.example")
    slmgr(commands, "/skms-domain", "corp.example")
    lines = slmgr(commands, "/dli")[0].split("\r\n")
    start = lines.index("Most recent activation information:")
    assert lines[start - 1] == ""
    assert lines[start + 1 :] == [
        "Key Management Service client information",
        f"    Client Machine ID (CMID): {state.cmid}",
        "    Registered KMS SRV record lookup domain: corp.example",
        "    Registered KMS machine name: kms1.corp.example:1688",
        "    KMS machine IP address: 10.0.0.5",
        lines[start + 6],
        "    Activation interval: 120 minutes",
        "    Renewal interval: 10080 minutes",
        "    KMS host caching is enabled",
        "",
        "Warning: /skms setting overrides the /skms-domain setting. kms1.corp.example:1688 will be used for "
        "activation.",
        "",
        "",
    ]
    assert lines[start + 6].startswith("    KMS machine extended PID: ")


def test_skms_domain_and_ckms_domain_warnings_while_skms_is_set() -> None:
    # ref §2: /skms-domain is ignored while /skms is set. [src SLMGR] SetKmsLookupDomain prints the
    # "overrides" warning and ClearKmsLookupDomain the "is in effect" one, with the port as WMI reads it
    commands, _ = kms_client()
    slmgr(commands, "/skms", "kms2.corp.example:1700")
    assert slmgr(commands, "/skms-domain", "corp.example") == (
        "Key Management Service lookup domain set to corp.example successfully.\r\n"
        "Warning: /skms setting overrides the /skms-domain setting. kms2.corp.example:1700 will be used for "
        "activation.\r\n",
        0,
    )
    assert slmgr(commands, "/ckms-domain") == (
        "Key Management Service lookup domain cleared successfully.\r\n"
        "Warning: /skms setting is in effect. kms2.corp.example:1700 will be used for activation.\r\n",
        0,
    )


def test_act_type_outside_0_to_3_is_invalid_data() -> None:
    # ref §2 /act-type [0-3]: [src SLMGR] anything else prints "Error: The data is invalid" and exits 0
    commands, state = kms_client()
    assert slmgr(commands, "/act-type", "7") == ("Error: The data is invalid\r\n", 0)
    assert state.activation_type == 0
    assert slmgr(commands, "/act-type", "1") == ("Volume activation type set successfully.\r\n", 0)
    assert slmgr(commands, "/act-type") == ("Volume activation type set successfully.\r\n", 0)
    assert state.activation_type == 0  # no value: ClearVLActivationTypeEnabled


def test_rearm_sku_needs_a_known_activation_id() -> None:
    # ref §2 /rearm-sku <ActID>: Product.ReArmsku(); [src SLMGR] unknown ID -> "Error: product not found."
    commands, state = kms_client()
    assert slmgr(commands, "/rearm-sku", UNKNOWN_ID) == ("Error: product not found.\r\n", 0)
    assert state.rearm_count == 1001
    gvlk_id = activation_id(state.edition.edition_id, GVLK)
    assert slmgr(commands, "/rearm-sku", gvlk_id) == ("Command completed successfully.\r\n", 0)


def test_remote_connection_error_carries_the_error_text() -> None:
    # ref §2b: "Error 0x<HEX> ..." lines carry the L_MsgError text after a space; exit code = HRESULT
    commands, _ = kms_client()
    assert slmgr(commands, "other-host", "/xpr") == (
        "Error 0x800706BA occurred in connecting to server other-host. The RPC server is unavailable\r\n",
        -2147023174,
    )


def test_usage_lists_every_section_and_ends_without_a_blank_line() -> None:
    # ref §2: usage after "Unrecognized option"; [src SLMGR] DisplayUsage: KMS client, Token-based, KMS and AD
    # sections in that order, exit code 1
    commands, _ = kms_client()
    text, code = slmgr(commands, "/nope")
    assert code == 1
    headers = [
        "Global Options:",
        "Advanced Options:",
        "Volume Licensing: Key Management Service (KMS) Client Options:",
        "Volume Licensing: Token-based Activation Options:",
        "Volume Licensing: Key Management Service (KMS) Options:",
        "Volume Licensing: Active Directory (AD) Activation Options:",
    ]
    lines = text.split("\r\n")
    positions = [lines.index(h) for h in headers]
    assert positions == sorted(positions)
    assert all(lines[p - 1] == "" for p in positions)
    assert text.endswith(
        "/del-ao <Activation Object DN | Activation Object RDN>\r\n"
        "    Delete Activation Objects in AD (Active Directory) for user-provided Activation Object\r\n"
    )
    assert "/atp <Confirmation ID> [Activation ID]\r\n" in text


def test_dlv_of_an_activated_kms_host_reads_its_count_from_cim() -> None:
    # ref §2a: KMS hosts add the enabled line, count, port (0 -> 1688), DNS publishing, priority, 8 counters
    world = World()
    world.add_key(KeyRecord("CSVLK-AAAAA-BBBBB-CCCCC-DDDDD", "KMS_HOST", ("ServerStandard",), remaining=3))
    commands = WindowsCommands(HostState("KMS1", edition=edition("ServerStandard")), world)
    slmgr(commands, "/ipk", "CSVLK-AAAAA-BBBBB-CCCCC-DDDDD")
    slmgr(commands, "/ato")
    lines = slmgr(commands, "/dlv")[0].split("\r\n")
    start = lines.index("Key Management Service is enabled on this machine")
    assert lines[start - 1] == ""
    assert lines[start + 6 : start + 15] == [
        "Key Management Service cumulative requests received from clients",
        "    Total requests received: 0",
        "    Failed requests received: 0",
        "    Requests with License Status Unlicensed: 0",
        "    Requests with License Status Licensed: 0",
        "    Requests with License Status Initial grace period: 0",
        "    Requests with License Status License expired or Hardware out of tolerance: 0",
        "    Requests with License Status Non-genuine grace period: 0",
        "    Requests with License Status Notification: 0",
    ]


def test_japanese_host_falls_back_to_english_for_untranslated_keys() -> None:
    # ref §2c: any key missing from slmgr.ini falls back to the built-in English constant, so a Japanese host
    # can print a Japanese "エラー: " prefix with English error text (mixed language, as observed)
    world = World()
    state = mak_host(world, ui_language="ja-JP")
    run = SlmgrRun(state, world)
    with pytest.raises(ScriptQuit) as quit_:
        run.fail(0xC004F064)
    assert run.lines == [
        "エラー: 0xC004F064 The software Licensing Service reported that the non-Genuine grace period expired"
    ]
    assert quit_.value.code == -1073418140  # ref §2b: the signed HRESULT
    commands = WindowsCommands(state, world)
    slmgr(commands, "/ato")
    assert slmgr(commands, "/xpr")[0].endswith("    コンピューターのライセンス認証は完了しました\r\n")


@pytest.mark.parametrize(
    ("code", "text"),
    [
        # ref §2b: the L_MsgError table covers these codes too (C004C017, F035, F064/65/66/6B, F075, F304-F312)
        (
            0xC004C017,
            "The activation server determined the specified product key has been blocked for this geographic location.",
        ),
        (
            0xC004F035,
            "The software Licensing Service reported that the computer could not be activated with a "
            "Volume license product key. Volume licensed systems require upgrading from a qualified operating "
            "system. Please contact your system administrator or use a different type of key",
        ),
        (0xC004F066, "The Software Licensing Service reported that the product SKU is not found"),
        (
            0xC004F312,
            "The Software Licensing Service reported that the computer could not be activated. The "
            "certificate cannot be used because its private key is exportable.",
        ),
        # ref §2b: no table entry -> the slui sentence (observed for 0xC004F069, 0xC004E016, 0xC004D302)
        (0xC004F069, None),
        (0xC004D302, None),
        (0xC004F213, None),
    ],
)
def test_error_table_entries(code: int, text: str | None) -> None:
    assert error_text(False, code) == text
    run = SlmgrRun(HostState("PC"), World())
    with pytest.raises(ScriptQuit):
        run.fail(code)
    expected = text or (
        f"On a computer running Microsoft Windows non-core edition, run 'slui.exe 0x2a 0x{code:08X}' to "
        "display the error text."
    )
    assert run.lines == [f"Error: 0x{code:08X} {expected}"]


def kms_host() -> tuple[WindowsCommands, HostState]:
    world = World()
    world.add_key(KeyRecord("CSVLK-AAAAA-BBBBB-CCCCC-DDDDD", "KMS_HOST", ("ServerStandard",), remaining=3))
    state = HostState("KMS1", edition=edition("ServerStandard"))
    commands = WindowsCommands(state, world)
    slmgr(commands, "/ipk", "CSVLK-AAAAA-BBBBB-CCCCC-DDDDD")
    return commands, state


def test_kms_host_settings_only_on_an_activated_kms_host() -> None:
    # ref §2: /sai /sri /sprt /sdns /cdns /spri /cpri apply only when the product IsKeyManagementServiceMachine;
    # "KMS port set to %PORT% successfully." + "Warning: a KMS reboot is needed ..."; elsewhere the warning
    commands, state = kms_host()
    assert slmgr(commands, "/sprt", "1700") == (
        "Warning: KMS port can only be set on a KMS machine that is also activated.\r\n",
        0,
    )
    slmgr(commands, "/ato")
    reboot = "Warning: a KMS reboot is needed for this setting to take effect.\r\n"
    assert slmgr(commands, "/sprt", "1700") == ("KMS port set to 1700 successfully.\r\n" + reboot, 0)
    assert slmgr(commands, "/sai", "60") == (
        "Volume activation interval set to 60 minutes successfully.\r\n" + reboot,
        0,
    )
    assert slmgr(commands, "/sri", "-5") == ("Error: The data is invalid\r\n", 0)
    assert slmgr(commands, "/cdns") == ("DNS publishing disabled\r\n" + reboot, 0)
    assert slmgr(commands, "/cpri") == ("KMS priority set to Low\r\n" + reboot, 0)
    lines = slmgr(commands, "/dli")[0].split("\r\n")
    start = lines.index("Key Management Service is enabled on this machine")
    assert lines[start + 2 : start + 5] == [
        "    Listening on Port: 1700",
        "    DNS publishing disabled",
        "    KMS priority: Low",
    ]
    # ref §2 /sai: 15 minutes ... 30 days; [inf] outside it the service refuses with E_INVALIDARG
    assert slmgr(commands, "/sai", "5") == ("Error: 0x80070057 The parameter is incorrect\r\n", -2147024809)
    assert state.kms_activation_interval == 60


def test_kms_host_options_on_a_client_warn_and_change_nothing() -> None:
    # ref §2: "Warning: … can only be set on a KMS machine that is also activated."
    commands, state = kms_client()
    expected = {
        ("/sai", "60"): "Warning: Volume activation interval can only be set on a KMS machine that is also "
        "activated.\r\n",
        ("/sri", "60"): "Warning: Volume renewal interval can only be set on a KMS machine that is also activated.\r\n",
        ("/cdns",): "Warning: DNS Publishing can only be set on a KMS machine that is also activated.\r\n",
        ("/cpri",): "Warning: Priority can only be set on a KMS machine that is also activated.\r\n",
    }
    for args, text in expected.items():
        assert slmgr(commands, *args) == (text, 0)
    assert (state.kms_activation_interval, state.kms_dns_publishing, state.kms_low_priority) == (120, True, False)


def test_non_negative_error_numbers_print_in_decimal() -> None:
    # ref §2b: "Non-negative error numbers (e.g. registry return codes) print in decimal"
    run = SlmgrRun(HostState("PC"), World())
    with pytest.raises(ScriptQuit) as quit_:
        run.fail(2)
    assert run.lines == [
        "Error: 2 On a computer running Microsoft Windows non-core edition, run 'slui.exe 0x2a 2' to display "
        "the error text."
    ]
    assert quit_.value.code == 2
    run = SlmgrRun(HostState("PC"), World())
    with pytest.raises(ScriptQuit):
        run.fail(5)  # [src SLMGR] L_MsgError_5
    assert run.lines == ["Error: 5 Access denied: the requested action requires elevated privileges"]
