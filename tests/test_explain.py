"""scan: every error code in pasted text, and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediate.codes import ErrorCode
from remediate.explain import (
    ACTIVATION,
    DIGIT_EXTRA,
    DIGIT_MISSING,
    DOCUMENTED,
    FAMILY,
    INFORMATIONAL,
    LOOK_ALIKE,
    OTHER,
    UNNAMED,
    is_plausible,
    scan,
)


def _texts(text: str) -> list[str]:
    return [code.text for code in scan(text).codes]


# A real `slmgr /dlv <ActivationID>` capture of a licensed ESU add-on (alygcode/windows10esu issue #3):
# GUIDs, an extended PID, a 63-digit installation ID, URLs, a partial key, a date and a time; no error code.
DLV_ESU_LICENSED = """\
Name: Windows(R), Client-ESU-Year1 add-on for Education,EducationN,Enterprise,EnterpriseN,Professional,ProfessionalEducation,ProfessionalEducationN,ProfessionalN,ProfessionalWorkstation,ProfessionalWorkstationN,ServerRdsh,Core,CoreN,CoreCountrySpecific,CoreSingleLanguage,IoTEnterprise,PPIPro
Description: Windows(R) Operating System, VOLUME_MAK channel
Activation ID: f520e45e-7413-4a34-a497-d2765967d094
Application ID: 55c92734-d682-4d71-983e-d6ec3f16059f
Extended PID: 03612-05150-000-025690-03-1033-19045.0000-2962025
Product Key Channel: Volume:MAK
Installation ID: 508760583450367066786558223034732344271525457574499727444472481
Use License URL: https://activation-v2.sls.microsoft.com/SLActivateProduct/SLActivateProduct.asmx?configextension=Retail
Validation URL: https://validation-v2.sls.microsoft.com/SLWGA/slwga.asmx
Partial Product Key: 4C6R8
License Status: Licensed
Remaining Windows rearm count: 1001
Remaining SKU rearm count: 1001
Trusted time: 23/10/2025 14:51:58
"""  # noqa: E501 - the capture is kept verbatim

# A KMS client in the layout slmgr /dlv prints (reference §2a), in Notification with a reason code.
DLV_KMS_CLIENT_NOTIFICATION = """\
Software licensing service version: 10.0.20348.2849

Name: Windows(R), ServerStandard edition
Description: Windows(R) Operating System, VOLUME_KMSCLIENT channel
Activation ID: c52ed9ac-8c2f-4a1b-9bb6-3b2b5d6a6a11
Application ID: 55c92734-d682-4d71-983e-d6ec3f16059f
Extended PID: 03612-04792-000-000000-03-1041-20348.0000-1532025
Product Key Channel: Volume:GVLK
Installation ID: 063211700254621486925418836207812358442061733815064129350735926
Partial Product Key: VMK7H
License Status: Notification
Notification Reason: 0xC004F056.
Remaining Windows rearm count: 1000
Remaining SKU rearm count: 1000
Trusted time: 2026/04/21 9:13:07
Configured Activation Type: All

Most recent activation information:
Key Management Service client information
    Client Machine ID (CMID): 8d1a7e42-3f0c-4b8e-9a55-0c7e2f4d1b90
    KMS machine name from DNS: kms01.corp.example.co.jp:1688
    KMS machine IP address: 10.20.30.40
    KMS machine extended PID: 06401-00206-551-073612-03-1041-20348.0000-2282025
    Activation interval: 120 minutes
    Renewal interval: 10080 minutes
    KMS host caching is enabled
"""

# A KMS host's counters: unused uint32 counters read 4294967295 (0xFFFFFFFF), which is no error code.
DLV_KMS_HOST_COUNTERS = """\
Key Management Service is enabled on this machine
    Current count: 50
    Listening on Port: 1688
    DNS publishing enabled
    KMS priority: Normal

Key Management Service cumulative requests received from clients
    Total requests received: 4294967295
    Failed requests received: 0
    Requests with License Status Unlicensed: 0
    Requests with License Status Licensed: 1234567890
"""


def test_real_dlv_text_has_no_codes() -> None:
    assert scan(DLV_ESU_LICENSED).codes == []
    assert scan(DLV_KMS_HOST_COUNTERS).codes == []


def test_dlv_notification_reason_is_the_only_code() -> None:
    assert _texts(DLV_KMS_CLIENT_NOTIFICATION) == ["0xC004F056"]


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        (
            "Error: 0xC004F074 The Software Licensing Service reported that the computer could not be "
            "activated. No Key Management Service (KMS) could be contacted.",
            ["0xC004F074"],
        ),
        ("License Status: Notification\nNotification Reason: 0xC004F034.", ["0xC004F034"]),
        # Windows 7 slmgr: slui hint first, then the code with an empty text
        (
            "On a computer running Microsoft Windows non-core edition, run 'slui.exe 0x2a 0xC004F069' to "
            "display the error text.\nError: 0xC004F069 ",
            ["0xC004F069"],
        ),
        # Japanese Settings messages as users copy them
        (
            "このプロダクトキーが別のデバイスで既に使用されているため、このデバイスのWindowsをライセンス認証"
            "できません。エラーコード:0xC004C008",
            ["0xC004C008"],
        ),
        (
            "デバイスにプロダクトキーが見つからなかったことがWindowsによって報告されました。"
            "エラー コード: 0xC004F213",
            ["0xC004F213"],
        ),
        ("エラーコード：０ｘＣ００４Ｆ０７４", ["0xC004F074"]),  # typed full-width
        ("错误: 0xC004F074 软件授权服务报告无法激活计算机。", ["0xC004F074"]),
        # event 12288 text: inner HRESULT, then other fields
        (
            "The client has sent an activation request to the key management service machine.\n"
            "Info:\n0xC004F074, 0x00000000, kms01.corp.example.com:1688, "
            "8d1a7e42-3f0c-4b8e-9a55-0c7e2f4d1b90, "
            "2026/4/21 9:13, 1, 5, 0, c52ed9ac-8c2f-4a1b-9bb6-3b2b5d6a6a11, 25",
            ["0xC004F074"],
        ),
        # ospp.vbs output
        (
            "ERROR CODE: 0xC004F074\nERROR DESCRIPTION: The Software Licensing Service reported that the "
            "product could not be activated. No Key Management Service (KMS) could be contacted.",
            ["0xC004F074"],
        ),
        ("slmgr exited with -1073418124", ["0xC004F074"]),
        ("exit code 3221549172", ["0xC004F074"]),
        ("LicenseStatusReason : 3221549076", ["0xC004F014"]),
        ("exit code −1073430520 (U+2212 minus)", ["0xC004C008"]),
        ("OxC004F050 typed with the letter O", ["0xC004F050"]),
        ("lower case: 0xc004f074 and 0x8007232b", ["0xC004F074", "0x8007232B"]),
        ("code C004F074 without prefix", ["0xC004F074"]),
        ("c004c008, then 8007232B", ["0xC004C008", "0x8007232B"]),
        ("Access denied 80070005.", ["0x80070005"]),
        ("Error: 0x8004FE2F undocumented but activation-shaped", ["0x8004FE2F"]),
        ("Error: 0x80041002 Not found (SWbemServicesEx)", ["0x80041002"]),
        ("informational 0x4004F065", ["0x4004F065"]),
    ],
)
def test_codes_found(text: str, codes: list[str]) -> None:
    assert _texts(text) == codes


def test_order_of_first_appearance_without_duplicates() -> None:
    text = (
        "Error: 0xC004F074 ...\nEvent 12288: 0xC004F06C ...\nexit -1073418124\n"
        "again 0xc004f074 and 3221549164\nnew 0x8007232B"
    )
    assert _texts(text) == ["0xC004F074", "0xC004F06C", "0x8007232B"]


@pytest.mark.parametrize(
    "text",
    [
        "Activation ID: 55c92734-d682-4d71-983e-d6ec3f16059f",
        "{C004F074-0000-0000-0000-000000000000}",
        "CMID c004f074-1111-2222-3333-444444444444",
        "Product key W269N-WFGWX-YVC9B-4J6C9-T83GX",
        "KMS machine IP address: 10.20.30.40",
        "Trusted time: 2026/04/21 9:13:07",
        "Date 20260421 build 26100",
        "IPv6 fd00:c004:f074::1",
        "Timestamp 1776760387 and counter 4294967295",
        "hex dump 0x00000000 0x0000000F 0xFFFFFFFF",
        "random 12345678 and deadbeef and 0x2a",
        "version 10.0.20348.2849 and 3221549172.5",
        "file C004F074.log",
        "path /var/C004F074/x",
        "a3221549172",
        "0xC004F0745",
    ],
)
def test_no_false_positives(text: str) -> None:
    assert scan(text).codes == []


def test_plausibility() -> None:
    assert is_plausible(ErrorCode(0xC004FFFF))
    assert is_plausible(ErrorCode(0x80071234))
    assert is_plausible(ErrorCode(0x8004FE99))
    assert is_plausible(ErrorCode(0x80041002))  # documented, though not of those shapes
    assert not is_plausible(ErrorCode(0x80041234))
    assert not is_plausible(ErrorCode(0x20260421))


@given(st.integers(0xC0040000, 0xC004FFFF), st.sampled_from(["{}", "0x{:08X}", "{:08x}", "{}", "Ox{:08X}"]))
def test_every_spp_code_is_found_in_any_spelling(value: int, spelling: str) -> None:
    code = ErrorCode(value)
    shown = spelling.format(code.signed if spelling == "{}" else value)
    assert scan(f"エラー: {shown}。").codes == [code]


@given(st.uuids())
def test_guids_never_produce_codes(uuid: object) -> None:
    assert scan(f"Activation ID: {uuid}\nCMID: {{{str(uuid).upper()}}}").codes == []


# --- classes: activation, another component's error, information ------------------------------------------


def _classes(text: str) -> list[tuple[str, str, str | None]]:
    return [(f.code.text, f.kind, f.component) for f in scan(text).findings]


def test_the_licensing_family_is_activation_wherever_it_appears() -> None:
    found = scan("Windows Update log: DownloadManager failed, then 0xC004F074 and 0x8004FE21")
    assert [(f.code.text, f.kind, f.reason) for f in found.findings] == [
        ("0xC004F074", ACTIVATION, FAMILY),
        ("0x8004FE21", ACTIVATION, FAMILY),
    ]


def test_licensing_success_codes_are_information_wherever_they_appear() -> None:
    assert _classes("WSL log: LastConsumptionReason=0x4004F00C") == [("0x4004F00C", INFORMATIONAL, None)]


def test_a_generic_code_takes_the_class_of_the_nearest_words_in_its_line_first() -> None:
    # "slmgr" right below the first code is nearer than "Wsl..." at the start of its line; the line wins.
    text = "WslRegisterDistribution failed once more with error: 0x80070005\nslmgr /ato\nError: 0x800706BA\n"
    assert _classes(text) == [("0x80070005", OTHER, "wsl"), ("0x800706BA", ACTIVATION, None)]


def test_entries_of_an_event_log_are_classed_apart() -> None:
    text = (
        "Log Name: Application\nSource: Microsoft-Windows-Security-SPP\nDescription:\nhr=0x8007232B\n"
        "Log Name: System\nSource: Microsoft-Windows-WindowsUpdateClient\nDescription:\nerror 0x800706BA\n"
    )
    assert _classes(text) == [("0x8007232B", ACTIVATION, None), ("0x800706BA", OTHER, "windows-update")]


def test_a_code_seen_in_activation_text_and_elsewhere_is_an_activation_code() -> None:
    text = "CBS Failed [HRESULT = 0x80070005 - E_ACCESSDENIED]\n\nslmgr /ato: Error: 0x80070005 Access denied"
    [finding] = scan(text).findings
    assert (finding.kind, finding.decided_by) == (ACTIVATION, ("slmgr",))


def test_strong_words_outweigh_licence_words_of_the_same_line() -> None:
    assert _classes("WSL license check failed: WslLaunchInteractive error 0x80070005") == [
        ("0x80070005", OTHER, "wsl")
    ]


def test_activation_inside_a_longer_phrase_of_another_component_is_not_an_activation_word() -> None:
    assert _classes("Activation context generation failed. Error 0x8007000D") == [("0x8007000D", OTHER, "sxs")]
    assert _classes("does not grant Local Activation permission: 0x80070005") == [("0x80070005", OTHER, "dcom")]


def test_licence_words_in_the_languages_windows_ships() -> None:
    for text in (
        "Aktivierung fehlgeschlagen: 0x800706BA",
        "Échec de l'activation : 0x800706BA",
        "Error de activación: 0x800706BA",
        "Falha na ativação: 0x800706BA",
        "Ошибка активации: 0x800706BA",
        "Błąd aktywacji: 0x800706BA",
        "ライセンス認証に失敗しました: 0x800706BA",
        "激活失败: 0x800706BA",
        "정품 인증 실패: 0x800706BA",
        "Etkinleştirme başarısız: 0x800706BA",
    ):
        assert _classes(text) == [("0x800706BA", ACTIVATION, None)], text


def test_a_code_in_a_text_that_names_nothing() -> None:
    documented, undocumented = scan("0x80070005").findings[0], scan("Error: 0x80070002").findings[0]
    assert (documented.kind, documented.reason, documented.decided_by) == (ACTIVATION, DOCUMENTED, ())
    assert (undocumented.kind, undocumented.component, undocumented.reason) == (OTHER, None, UNNAMED)


def test_a_code_cut_by_a_table_is_joined_only_when_the_halves_make_eight_digits() -> None:
    assert _classes("slui: hr=0xC004F0\n      74\n") == [("0xC004F074", ACTIVATION, None)]
    assert scan("slui 0x2a\n      74 entries").codes == []


# --- typos ----------------------------------------------------------------------------------------------


def _typos(text: str) -> list[tuple[str, tuple[str, ...], list[str]]]:
    return [(t.typed, t.problems, [c.text for c in t.candidates]) for t in scan(text).typos]


def test_a_digit_too_many_or_too_few_is_reported_with_the_codes_it_may_mean() -> None:
    assert _typos("Error: 0xC004F0745") == [("0xC004F0745", (DIGIT_EXTRA,), ["0xC004F074", "0xC004F075"])]
    assert _typos("Error: 0xC04F074") == [("0xC04F074", (DIGIT_MISSING,), ["0xC004F074"])]
    # the well-documented code first among many that one digit more could make
    assert _typos("エラー C004F07")[0][2][0] == "0xC004F074"


def test_letters_that_look_like_digits_are_reported_not_read() -> None:
    found = scan("Error: 0xC004FO74 and 0xC0O4C0O8")
    assert found.codes == []
    assert [(t.typed, t.problems, [c.text for c in t.candidates]) for t in found.typos] == [
        ("0xC004FO74", (LOOK_ALIKE,), ["0xC004F074"]),
        ("0xC0O4C0O8", (LOOK_ALIKE,), ["0xC004C008"]),
    ]


def test_code_like_words_that_no_one_meant_as_codes_are_left_alone() -> None:
    for text in ("0x1234567 and 0x123456789", "build C0FFEE1 and Cascades", "0x2a 0x0F", "deadbee"):
        assert scan(text).typos == (), text


def test_a_licensing_shaped_typo_is_reported_even_when_no_code_matches() -> None:
    assert _typos("0xC004FFFF1") == [("0xC004FFFF1", (DIGIT_EXTRA,), [])]


def test_office_activation_is_said_to_be_not_handled_never_given_a_windows_playbook() -> None:
    from remediate.catalog import explain_codes, explanation_lines
    from remediate.playbook import PlaybookLibrary

    # ospp.vbs output as Office prints it (public sample: pastebin.com/tXP3x6xp)
    text = ("LICENSE NAME: Office 15, OfficeStandardVL_KMS_Client edition\n"
            "LICENSE DESCRIPTION: Office 15, VOLUME_KMSCLIENT channel\n"
            "Last 5 characters of installed product key: 92CD4\n"
            "ERROR CODE: 0xC004F074\n")
    document = explain_codes(text, PlaybookLibrary(()), "en")
    (row,) = document["codes"]
    assert row["code"] == "0xC004F074" and row["product"] == "office" and row["playbook"] is None
    shown = "\n".join(explanation_lines(document, "en"))
    assert "Office activation (ospp.vbs): not handled" in shown and "remediate show" not in shown
    windows = explain_codes("slmgr /ato: Error: 0xC004F074", PlaybookLibrary(()), "en")
    assert windows["codes"][0]["playbook"] == "0xC004F074"  # the same code from Windows still gets its playbook
