"""ProductKey validation, its messages, and masking: a full key never shows."""

from __future__ import annotations

import base64
import copy
import pickle
import re
import unicodedata
import uuid

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from remediate.errors import ParameterValueError, ProductKeyError
from remediate.productkey import KEY_ALPHABET, ProductKey, mask_product_keys

# Public KMS client setup keys (GVLKs) from Microsoft's documentation.
WIN_PRO = "W269N-WFGWX-YVC9B-4J6C9-T83GX"
SERVER_2022_STD = "VDYBN-27WPP-V4HQT-9VMD4-VMK7H"
FULL_WIDTH = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-",
    "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ０１２３４５６７８９－",
)


def _error(text: str) -> ProductKeyError:
    with pytest.raises(ProductKeyError) as caught:
        ProductKey.parse(text)
    return caught.value


@pytest.mark.parametrize(
    "typed",
    [WIN_PRO, WIN_PRO.lower(), f"  {WIN_PRO}\n", WIN_PRO.translate(FULL_WIDTH), "\u3000" + WIN_PRO],
)
def test_parse_accepts_case_whitespace_and_full_width(typed: str) -> None:
    key = ProductKey.parse(typed)
    assert key.reveal() == WIN_PRO
    assert key == ProductKey.parse(WIN_PRO)


def test_masked_forms() -> None:
    key = ProductKey.parse(SERVER_2022_STD)
    assert key.masked == "XXXXX-XXXXX-XXXXX-XXXXX-VMK7H"
    assert str(key) == key.masked
    assert f"{key}" == key.masked
    assert repr(key) == "ProductKey(XXXXX-XXXXX-XXXXX-XXXXX-VMK7H)"
    assert key.last_five == "VMK7H"
    assert SERVER_2022_STD not in repr([key, {"k": key}])


def test_key_never_pickles_and_is_immutable() -> None:
    key = ProductKey.parse(WIN_PRO)
    with pytest.raises(TypeError):
        pickle.dumps(key)
    assert copy.deepcopy(key) is key
    with pytest.raises(AttributeError):
        key._value = "x"


def test_error_is_a_parameter_value_error_with_source() -> None:
    error = _error("W269N-WFGWX-YVC9B-4J6C9")
    assert isinstance(error, ParameterValueError)
    error = _error_with_source("W269N-WFGWX-YVC9B-4J6C9", "env PRODUCT_KEY")
    assert str(error).startswith("env PRODUCT_KEY: not a valid product key")


def _error_with_source(text: str, source: str) -> ProductKeyError:
    with pytest.raises(ProductKeyError) as caught:
        ProductKey.parse(text, source=source)
    return caught.value


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("W269N-WFGWX-YVC9B-4J6C9-T83G0", "character 29 is '0': the letter O and the digit 0 never appear"),
        ("W269N-WFGWX-YVC9B-4J6C9-T83GO", "character 29 is 'O': the letter O and the digit 0 never appear"),
        ("W269N-WFGWX-YVC9B-4J6C1-T83GX", "character 23 is '1': the letters I and L and the digit 1 never"),
        ("W269N-WFGWX-YVC9B-4J6Cl-T83GX", "character 23 is 'L': the letters I and L"),
        ("W269N-WFGWX-YVC9B-4J6CI-T83GX", "character 23 is 'I'"),
        ("W269N-WFGWX-YVC9S-4J6C9-T83GX", "character 17 is 'S': the letter S and the digit 5 never appear"),
        ("W269N-WFGWX-YVC95-4J6C9-T83GX", "character 17 is '5'"),
        ("W269N-WFGWX-YVC9A-4J6C9-T83GX", "character 17 is 'A': the letters A, E, U and Z never appear"),
        ("W269N-WFGWX-YVC9E-4J6C9-T83GX", "character 17 is 'E'"),
        ("W269N-WFGWX-YVC9U-4J6C9-T83GX", "character 17 is 'U'"),
        ("W269N-WFGWX-YVC9Z-4J6C9-T83GX", "character 17 is 'Z'"),
        ("W269N-WFGWN-YVC9B-4J6C9-T83GX", "character 11 is a second N: a product key has at most one N"),
        ("W269N-WFGWX-YVC9B-4J6C9-T83G#", "character 29 is '#', which never appears in product keys"),
    ],
)
def test_characters_that_never_appear(typed: str, expected: str) -> None:
    message = str(_error(typed))
    assert expected in message
    if "second N" not in expected:
        allowed = "allowed characters: B C D F G H J K M P Q R T V W X Y 2 3 4 6 7 8 9, and at most one N"
        assert allowed in message
    assert typed not in message and typed.upper() not in message


@pytest.mark.parametrize(
    ("dash", "name"),
    [
        ("\u2013", "an en dash (U+2013)"),
        ("\u2014", "an em dash (U+2014)"),
        ("\u2212", "a minus sign (U+2212)"),
        ("\u2010", "a Unicode hyphen (U+2010)"),
        ("\u30fc", "a katakana long vowel mark ー (U+30FC)"),
        ("\uff70", "a katakana long vowel mark ー (U+30FC)"),  # half-width, NFKC makes it U+30FC
        (" ", "a space"),
        ("_", "an underscore"),
    ],
)
def test_look_alike_hyphens_are_named_with_their_position(dash: str, name: str) -> None:
    typed = WIN_PRO[:11] + dash + WIN_PRO[12:]
    message = str(_error(typed))
    assert f"character 12 is {name}, not a hyphen '-'" in message
    assert "group" not in message.split("hint:")[0]  # judged as if it were a hyphen: no second complaint
    assert WIN_PRO not in message


def test_full_width_hyphen_is_just_a_hyphen() -> None:
    assert ProductKey.parse(WIN_PRO.replace("-", "－")).reveal() == WIN_PRO


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("W269N-WFGWX-YVC9B-4J6C9", "found 4 groups, expected 5"),
        ("W269N-WFGWX-YVC9B-4J6C9-T83GX-BCDFG", "found 6 groups, expected 5"),
        ("W269N-WFGWX-YVC9B-4J6C-T83GX", "group 4 has 4 characters, expected 5"),
        ("W269N-WFGWXX-YVC9B-4J6C9-T83GX", "group 2 has 6 characters, expected 5"),
        ("W269NWFGWXYVC9B4J6C9T83GX", "the hyphens are missing: write the 25 characters as five groups"),
        ("", "the key is empty"),
        ("   ", "the key is empty"),
    ],
)
def test_shape_errors(typed: str, expected: str) -> None:
    error = _error(typed)
    assert expected in str(error)
    assert error.hint and "five groups of five" in error.hint


def test_every_problem_is_reported_at_once() -> None:
    message = str(_error("W269N\u2013WFGWX-YVC9B-4J6C0-T83GO"))
    assert "character 6 is an en dash" in message
    assert "character 23 is '0'" in message
    assert "character 29 is 'O'" in message


def test_non_text_is_rejected() -> None:
    with pytest.raises(ProductKeyError, match="must be text"):
        ProductKey.parse(12345)  # type: ignore[arg-type]


# --- properties: the full key never shows -------------------------------------------------------------------

group = st.text(alphabet=KEY_ALPHABET, min_size=5, max_size=5)


@st.composite
def valid_keys(draw: st.DrawFn) -> str:
    groups = [draw(group) for _ in range(5)]
    flat = list("".join(groups))
    if draw(st.booleans()):
        flat[draw(st.integers(0, 24))] = "N"
    text = "".join(flat)
    return "-".join(text[i : i + 5] for i in range(0, 25, 5))


@given(valid_keys())
def test_valid_keys_show_only_their_last_group(text: str) -> None:
    key = ProductKey.parse(text)
    assert key.reveal() == text
    assert key.masked == "XXXXX-XXXXX-XXXXX-XXXXX-" + text[-5:]
    for shown in (str(key), repr(key), key.masked, f"{key!s}{key!r}"):
        assert text not in shown
        assert text[:23] not in shown or text[:23] == "XXXXX-XXXXX-XXXXX-XXXXX"


BAD_CHARS = "0O1IL5SAEUZN#.\u2013\u2014\u2212\u30fc _abcxyz"


@st.composite
def invalid_keys(draw: st.DrawFn) -> str:
    groups = [draw(st.text(alphabet=KEY_ALPHABET + BAD_CHARS, min_size=4, max_size=6)) for _ in range(5)]
    separator = draw(st.sampled_from(["-", "\u2013", "\u2014", "-", "\u2212"]))
    return separator.join(groups)


@given(invalid_keys())
def test_error_text_never_contains_the_key(text: str) -> None:
    try:
        key = ProductKey.parse(text)
    except ProductKeyError as error:
        shown = f"{error}\n{error.message}\n{error.hint}\n{error!r}\n{error.args}"
        normalized = text.strip().upper()
        assume(len(normalized) >= 10)
        assert normalized not in shown.upper()
        assert text.strip() not in shown
    else:
        assert text.upper() not in (str(key) + repr(key)).upper() or text.upper().startswith("XXXXX-" * 4)


# --- mask_product_keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            f"Installed product key {WIN_PRO} successfully.",
            "Installed product key XXXXX-XXXXX-XXXXX-XXXXX-T83GX successfully.",
        ),
        (f"key={WIN_PRO.lower()};", "key=XXXXX-XXXXX-XXXXX-XXXXX-t83gx;"),
        (WIN_PRO.replace("-", "\u2013"), "XXXXX-XXXXX-XXXXX-XXXXX-T83GX"),
        (WIN_PRO.translate(FULL_WIDTH), "XXXXX-XXXXX-XXXXX-XXXXX-Ｔ８３ＧＸ"),
        (
            f"'{WIN_PRO}' and '{SERVER_2022_STD}'",
            "'XXXXX-XXXXX-XXXXX-XXXXX-T83GX' and 'XXXXX-XXXXX-XXXXX-XXXXX-VMK7H'",
        ),
        (f"x{WIN_PRO}-BCDFG", "xXXXXX-XXXXX-XXXXX-XXXXX-XXXXX-BCDFG"),
        (f"プロダクトキー{WIN_PRO}を", "プロダクトキーXXXXX-XXXXX-XXXXX-XXXXX-T83GXを"),
    ],
)
def test_mask_product_keys_examples(text: str, masked: str) -> None:
    assert mask_product_keys(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Activation ID: 55c92734-d682-4d71-983e-d6ec3f16059f",
        "Extended PID: 03612-05150-000-025690-03-1033-19045.0000-2962025",
        "Partial Product Key: T83GX",
        "Installation ID: 508760583450367066786558223034732344271525457574499727444472481",
        "Error: 0xC004F074 No Key Management Service (KMS) could be contacted.",
        "12345-67890-12345-67890",
    ],
)
def test_mask_product_keys_leaves_other_text_alone(text: str) -> None:
    assert mask_product_keys(text) == text


filler = st.text(alphabet=st.sampled_from(list("ab -\n:=#0123456789XY\u2013")), max_size=12)


@given(
    st.lists(
        st.tuples(filler, valid_keys(), st.sampled_from(["-", "\u2013", "－"]), st.booleans()),
        min_size=1,
        max_size=4,
    ),
    filler,
)
def test_mask_product_keys_leaves_no_key_shaped_run(
    parts: list[tuple[str, str, str, bool]], tail: str
) -> None:
    keys = []
    text = ""
    for before, key, dash, lower in parts:
        written = key.replace("-", dash)
        written = written.lower() if lower else written
        keys.append(key)
        text += before + written
    text += tail
    masked = mask_product_keys(text)
    normalized = masked.replace("\u2013", "-").replace("－", "-")
    for match in re.finditer(r"(?=([0-9A-Za-z]{5}(?:-[0-9A-Za-z]{5}){4}))", normalized):
        # At most five characters of any key-shaped run stay visible.
        visible = [g for g in match.group(1).split("-") if g != "XXXXX"]
        assert len(visible) <= 1, masked
    for key in keys:
        assert key[:23] not in masked.upper() or key[:23] == "XXXXX-XXXXX-XXXXX-XXXXX"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"variable {WIN_PRO.replace('-', '')} is not set", "variable XXXXXXXXXXXXXXXXXXXXT83GX is not set"),
        (WIN_PRO.replace("-", "").lower(), "XXXXXXXXXXXXXXXXXXXXt83gx"),
        ("word: abcdefghijklmnopqrstuvwxy", "word: abcdefghijklmnopqrstuvwxy"),
        ("1234567890123456789012345", "1234567890123456789012345"),
        (f"x{WIN_PRO.replace('-', '')}", f"x{WIN_PRO.replace('-', '')}"),  # 26 characters: not a key
    ],
)
def test_mask_product_keys_masks_a_key_written_without_hyphens(text: str, masked: str) -> None:
    assert mask_product_keys(text) == masked


SPACED = WIN_PRO.replace("-", " ")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"Product key: {SPACED}.", "Product key: XXXXX XXXXX XXXXX XXXXX T83GX."),
        (WIN_PRO.replace("-", "  "), "XXXXX  XXXXX  XXXXX  XXXXX  T83GX"),
        (WIN_PRO.replace("-", " - "), "XXXXX - XXXXX - XXXXX - XXXXX - T83GX"),
        (WIN_PRO.replace("-", "\t"), "XXXXX\tXXXXX\tXXXXX\tXXXXX\tT83GX"),
        (WIN_PRO.replace("-", "\u3000"), "XXXXX\u3000XXXXX\u3000XXXXX\u3000XXXXX\u3000T83GX"),
        (WIN_PRO.replace("-", "\u00a0"), "XXXXX\u00a0XXXXX\u00a0XXXXX\u00a0XXXXX\u00a0T83GX"),
        (WIN_PRO.replace("-", "_"), "XXXXX_XXXXX_XXXXX_XXXXX_T83GX"),
        ("W269N WFGWX\u2013YVC9B\u20144J6C9_T83GX", "XXXXX XXXXX-XXXXX-XXXXX_T83GX"),
        (WIN_PRO.replace("-", "\u2015"), "XXXXX-XXXXX-XXXXX-XXXXX-T83GX"),  # horizontal bar
        (WIN_PRO.replace("-", "\u2e3a"), "XXXXX-XXXXX-XXXXX-XXXXX-T83GX"),  # two-em dash
        (WIN_PRO.replace("-", "\ufe58"), "XXXXX-XXXXX-XXXXX-XXXXX-T83GX"),  # small em dash
        (WIN_PRO.replace("-", "\uff70"), "XXXXX-XXXXX-XXXXX-XXXXX-T83GX"),  # half-width long vowel mark
        ("W269NWFGWX-YVC9B-4J6C9-T83GX", "XXXXXXXXXX-XXXXX-XXXXX-T83GX"),  # a hyphen left out
        (SERVER_2022_STD.replace("-", " ").lower(), "XXXXX XXXXX XXXXX XXXXX vmk7h"),
        (SPACED.translate(FULL_WIDTH), "XXXXX XXXXX XXXXX XXXXX Ｔ８３ＧＸ"),
        ("W269N WFGWX YVC9B 4J6C0 T83GO", "XXXXX XXXXX XXXXX XXXXX T83GO"),  # typed with two typos
        (f"key:x{SPACED}", "key:xXXXXX XXXXX XXXXX XXXXX T83GX"),
        (f"{SPACED} BCDFG", "XXXXX XXXXX XXXXX XXXXX XXXXX BCDFG"),  # five groups after it: masked too
        ("BCDFGHJKMPQRTVWXYBCDFGHJK", "XXXXXXXXXXXXXXXXXXXXFGHJK"),  # no digit, but only key characters
    ],
)
def test_mask_product_keys_masks_keys_written_with_spaces_dashes_or_a_mix(text: str, masked: str) -> None:
    assert mask_product_keys(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Client Machine ID (CMID): 55c92734-d682-4d71-983e-d6ec3f16059f",
        "{55C92734-D682-4D71-983E-D6EC3F16059F}",
        "SID: S-1-5-21-3623811015-3361044348-30300820-1013",
        "cert: q83vEi+Zx8Kp2mTn7Wq4Ld9Hs6Fb1Yc0/Ae5Rt==",  # 25 letters and digits inside a base64 blob
        "dGhpcyBpcyBub3QgYSBrZXkh dGhpcyBpcyBub3QgYSBrZXkhISE=",
        "these words could never break your input",
        "Win10 build fails every night",
        "12345 67890 12345 67890 12345",
        "23467 89234 67892 34678 92346",  # digits a key may hold, but only digits
        "check_state_after_every_retry",
        "Error 0xC004F074 0x8007232B 0xC004C003 0xC004F050",
    ],
)
def test_mask_product_keys_leaves_ids_words_numbers_and_blobs_alone(text: str) -> None:
    assert mask_product_keys(text) == text


# Whatever people put between the groups: any dash (Unicode category Pd), any space (Zs), tab, underscore, the
# look-alikes, a few of them in a row, or nothing.
separator_char = st.one_of(
    st.characters(categories=["Pd", "Zs"]),
    st.sampled_from(["\t", "_", "\u2212", "\u30fc", "\uff70", "\u2500", "\u00ad"]),
)


@st.composite
def written_keys(draw: st.DrawFn) -> tuple[str, str]:
    # Digits alone are a number, not a key, unless hyphenated (a key has a letter but once in a trillion).
    key = draw(valid_keys().filter(lambda key: not key.replace("-", "").isdigit()))
    groups = key.split("-")
    written = groups[0]
    for group in groups[1:]:
        written += draw(st.text(separator_char, max_size=3)) + group
    style = draw(st.sampled_from(["upper", "lower", "full-width"]))
    if style == "lower":
        written = written.lower()
    elif style == "full-width":
        written = written.translate(FULL_WIDTH)
    return key, written


# Text around the keys that is neither a letter nor a digit (a key glued to a word is tested above; two keys
# written without separators and glued together are one word of 50, as a hash would be).
quiet = st.text(alphabet=st.sampled_from(list(" \n:=#,.()'\"ラ\u2013")), min_size=1, max_size=6)


@given(st.lists(st.tuples(quiet, written_keys()), min_size=1, max_size=3), quiet | st.just(""))
def test_a_key_written_any_way_shows_at_most_its_last_group(
    parts: list[tuple[str, tuple[str, str]]], tail: str
) -> None:
    text, spans = "", []
    for before, (_, written) in parts:
        text += before
        spans.append((len(text), written))
        text += written
    masked = mask_product_keys(text + tail)
    assert len(masked) == len(text + tail)
    for start, written in spans:
        shown = masked[start : start + len(written)]
        for original, now in zip(written[:-5], shown[:-5], strict=True):
            plain = unicodedata.normalize("NFKC", original)
            if plain.isascii() and plain.isalnum():
                assert now == "X", (written, shown)
            else:
                assert now in (original, "-"), (written, shown)
        assert shown[-5:] in (written[-5:], "XXXXX")


@given(st.uuids(), st.binary(max_size=120), st.lists(st.integers(0, 2**32 - 1), min_size=4, max_size=4))
def test_guids_sids_and_base64_blobs_are_never_masked(guid: uuid.UUID, blob: bytes, numbers: list[int]) -> None:
    sid = "S-1-5-21-" + "-".join(map(str, numbers))
    encoded = base64.b64encode(blob).decode("ascii")
    text = f"CMID {guid} {{{str(guid).upper()}}} SID {sid} blob {encoded}\n{encoded}"
    assert mask_product_keys(text) == text
