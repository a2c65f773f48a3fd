"""ErrorCode parsing in every spelling users type, and the table of documented codes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediate.codes import (
    CATEGORIES,
    CodeInfo,
    ErrorCode,
    code_info,
    handover,
    known_codes,
    nearest_codes,
    source,
)
from remediate.errors import UsageError

F074 = ErrorCode(0xC004F074)
u32 = st.integers(min_value=0, max_value=0xFFFFFFFF)

_FULL_WIDTH = str.maketrans("0123456789ABCDEFabcdefxX-", "０１２３４５６７８９ＡＢＣＤＥＦａｂｃｄｅｆｘＸ－")


@pytest.mark.parametrize(
    "text",
    [
        "0xC004F074",
        "0XC004F074",
        "0xc004f074",
        "C004F074",
        "c004f074",
        "OxC004F074",  # letter O typed for the zero
        "oxC004F074",
        "OXC004F074",
        "０ｘＣ００４Ｆ０７４",  # typed with a Japanese IME
        "  0xC004F074\n",
        "-1073418124",  # slmgr's process exit code
        "3221549172",
        "－１０７３４１８１２４",  # full-width minus and digits
        "\u22121073418124",  # minus sign U+2212
    ],
)
def test_parse_accepts_every_spelling_of_one_code(text: str) -> None:
    assert ErrorCode.parse(text) == F074
    assert str(ErrorCode.parse(text)) == "0xC004F074"


@pytest.mark.parametrize(
    ("exit_code", "canonical"),
    [
        (-1073418124, "0xC004F074"),
        (-1073430520, "0xC004C008"),
        (-1073418160, "0xC004F050"),
        (-1073418135, "0xC004F069"),
        (-2147015893, "0x8007232B"),
        (3221549076, "0xC004F014"),  # LicenseStatusReason as CIM reports it
    ],
)
def test_decimal_exit_codes_and_status_reasons(exit_code: int, canonical: str) -> None:
    assert ErrorCode.parse(exit_code).text == canonical
    assert ErrorCode.parse(str(exit_code)).text == canonical


def test_properties() -> None:
    assert F074.text == "0xC004F074"
    assert F074.unsigned == 3221549172
    assert F074.signed == -1073418124
    assert ErrorCode(5).signed == 5
    assert repr(F074) == "ErrorCode(0xC004F074)"
    assert f"{F074}" == "0xC004F074"


def test_equality_hash_and_order() -> None:
    assert ErrorCode.parse("c004f074") == ErrorCode.parse(-1073418124)
    assert len({ErrorCode.parse("0xC004F074"), ErrorCode.parse("C004F074"), F074}) == 1
    codes = [ErrorCode.parse(x) for x in ("0xC004F074", "0x80070005", "0xC004C008")]
    assert [c.text for c in sorted(codes)] == ["0x80070005", "0xC004C008", "0xC004F074"]
    assert F074 != "0xC004F074"  # type: ignore[comparison-overlap]


def test_eight_bare_decimal_digits_read_as_hex_and_a_sign_forces_decimal() -> None:
    # HRESULTs are written as eight hex digits; a decimal that short could not be a failure code.
    assert ErrorCode.parse("80070005").text == "0x80070005"
    assert ErrorCode.parse("+12345678").unsigned == 12345678


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "0xG004F074",
        "C004F07",
        "0x1C004F074",
        "4294967296",
        "-2147483649",
        "hello",
        "0x",
        "C004-F074",
        "1.5",
    ],
)
def test_parse_rejects_with_what_was_expected(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        ErrorCode.parse(text)
    assert "expected an error code such as 0xC004F074" in str(caught.value)


@pytest.mark.parametrize("value", [True, 1.5, None, 2**32, -(2**31) - 1])
def test_parse_rejects_non_codes_of_other_types(value: object) -> None:
    with pytest.raises(UsageError):
        ErrorCode.parse(value)  # type: ignore[arg-type]


@given(u32)
def test_round_trip_every_hex_spelling(value: int) -> None:
    code = ErrorCode(value)
    hex8 = f"{value:08X}"
    for text in (
        f"0x{hex8}",
        f"0X{hex8}",
        f"0x{hex8.lower()}",
        hex8,
        hex8.lower(),
        f"Ox{hex8}",
        f"0x{hex8}".translate(_FULL_WIDTH),
        hex8.translate(_FULL_WIDTH),
    ):
        assert ErrorCode.parse(text) == code, text
    assert ErrorCode.parse(code.text) == code
    assert re.fullmatch(r"0x[0-9A-F]{8}", code.text)


@given(u32)
def test_round_trip_every_decimal_spelling(value: int) -> None:
    code = ErrorCode(value)
    assert ErrorCode.parse(value) == code
    assert ErrorCode.parse(code.signed) == code
    for number in {code.unsigned, code.signed}:
        text = str(number)
        if len(text) == 8:  # eight bare digits read as hex (tested above); a sign says "decimal"
            text = "+" + text
        assert ErrorCode.parse(text) == code, text
        assert ErrorCode.parse(text.translate(_FULL_WIDTH)) == code, text


# --- the table ----------------------------------------------------------------------------------------------

# Microsoft's table of 30 codes (reference §1a) and the other codes this toolkit meets (§1b).
SECTION_1A = [
    "8004FE21",
    "80070005",
    "8007007B",
    "80070490",
    "800706BA",
    "8007232A",
    "8007232B",
    "8007251D",
    "80092328",
    "C004B100",
    "C004C001",
    "C004C003",
    "C004C008",
    "C004C020",
    "C004C021",
    "C004F009",
    "C004F00F",
    "C004F014",
    "C004F02C",
    "C004F035",
    "C004F038",
    "C004F039",
    "C004F041",
    "C004F042",
    "C004F050",
    "C004F051",
    "C004F064",
    "C004F065",
    "C004F06C",
    "C004F074",
]
SECTION_1B = [
    "C004F213",
    "C004F211",
    "C004F212",
    "C004F210",
    "C004F034",
    "C004F069",
    "80072EE2",
    "C004F056",
    "C004F015",
    "C004F017",
    "C004F025",
    "C004F06B",
    "C004E016",
    "C004E028",
    "C004D302",
    "C004D307",
    "C004C032",
    "C004FC03",
    "80041002",
    "80080005",
    "4004F065",
]


def test_table_has_every_documented_code() -> None:
    assert len(SECTION_1A) == 30
    known = {info.code for info in known_codes()}
    for text in SECTION_1A + SECTION_1B:
        assert ErrorCode.parse(text) in known, text


def test_both_severities_of_f065_are_known() -> None:
    assert code_info("0xC004F065") is not None
    assert code_info("0x4004F065") is not None
    assert code_info("0x4004F065").category == "genuine"  # type: ignore[union-attr]


def test_undocumented_code_is_unknown() -> None:
    assert code_info("0x8004FE2F") is None


def test_rows_are_complete_and_bilingual() -> None:
    infos = known_codes()
    assert [info.code for info in infos] == sorted({info.code for info in infos})
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    for info in infos:
        assert isinstance(info, CodeInfo)
        assert info.category in CATEGORIES
        assert info.meaning_en and info.meaning_en[-1] == "."
        assert japanese.search(info.meaning_ja), info.code
        assert info.meaning_ja.endswith("。")
        assert info.source


def test_well_known_rows() -> None:
    f074 = code_info(F074)
    assert f074 is not None
    assert f074.symbol == "SL_E_VL_BINDING_SERVICE_UNAVAILABLE"
    assert f074.category == "kms"
    assert "KMS" in f074.meaning_en and "接続できませんでした" in f074.meaning_ja
    assert f074.activation_types == ("KMS client",)
    assert code_info("0xC004F06C").category == "clock"  # type: ignore[union-attr]
    assert code_info("0xC004C008").category == "count"  # type: ignore[union-attr]
    assert code_info("0x8007232B").category == "dns"  # type: ignore[union-attr]
    assert code_info("0xC004F069").category == "edition"  # type: ignore[union-attr]
    assert code_info(-1073418124) == f074


def test_nearest_prefers_transposed_digits() -> None:
    assert nearest_codes(ErrorCode.parse("0xC004F047"))[0] == F074
    assert nearest_codes(ErrorCode.parse("0xC004F704"))[0] == F074


def test_nearest_one_and_two_digits_off() -> None:
    assert F074 in nearest_codes(ErrorCode.parse("0xC004F075"))
    assert nearest_codes(ErrorCode.parse("0x8004FE2F")) == [ErrorCode(0x8004FE21)]
    # 0xC004C00B is itself documented (SL_E_CHPA_INVALID_PRODUCT_DATA): a slip elsewhere in the code stands in
    assert nearest_codes(ErrorCode.parse("0xC004C0B8"), n=1) == [ErrorCode(0xC004C008)]


def test_nearest_within_given_candidates_only() -> None:
    candidates = [ErrorCode(0xC004F074), ErrorCode(0xC004C008)]
    assert nearest_codes(ErrorCode.parse("0xC004F047"), candidates) == [F074]
    assert nearest_codes(ErrorCode.parse("0x12345678"), candidates) == []
    assert len(nearest_codes(ErrorCode.parse("0xC004F000"), None, n=2)) == 2


# --- the whole licensing family, sources and what to do without a playbook ---------------------------------


def _shipped_codes() -> set[ErrorCode]:
    from remediate.playbook import PlaybookLibrary

    return set(PlaybookLibrary().codes())


def test_every_shipped_playbook_code_has_a_documented_meaning() -> None:
    # `remediate list` and `explain` never call a code with a playbook "not documented by Microsoft".
    for code in _shipped_codes():
        info = code_info(code)
        assert info is not None, code
        assert source(info.source).title


def test_the_licensing_header_codes_carry_their_symbols_and_severities() -> None:
    from_header = [info for info in known_codes() if info.source == "SLERR-H"]
    assert len(from_header) > 300
    for info in from_header:
        assert info.symbol is not None and info.symbol.startswith(("SL_E_", "SL_I_", "SL_REMAPPING_", "E_RM_"))
        if info.symbol.startswith("SL_I_"):
            assert info.code.unsigned >> 16 == 0x4004, info.code  # information, not an error


def test_every_source_is_microsoft() -> None:
    for info in known_codes():
        for key in (info.source, *info.articles):
            found = source(key)
            assert found.url is None or re.match(r"https://(learn|support)\.microsoft\.com/", found.url), key


def test_a_code_without_a_playbook_points_to_the_closest_playbook_or_to_what_a_human_does() -> None:
    shipped = _shipped_codes()
    for info in known_codes():
        if info.closest is not None:
            assert info.closest in shipped, info.code
        assert handover(info.handover).en and handover(info.handover).ja.endswith("。"), info.code


def test_windows_wide_codes_have_a_meaning_outside_activation() -> None:
    generic = [info for info in known_codes() if info.generic]
    assert {info.code.text for info in generic} >= {"0x80070005", "0x8007232B", "0x800706BA", "0x80072EE2"}
    for info in generic:
        if info.code.text != "0x80092328":  # documented for activation only
            assert info.windows_meaning("en") and info.windows_meaning("ja"), info.code
