"""Secret never shows itself, never serializes by accident; scrub removes secrets and keys from text."""

from __future__ import annotations

import copy
import json
import logging
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediate.productkey import ProductKey
from remediate.secret import MASK, SHORT_SECRET, Secret, scrub

PASSWORD = "Tr0ub4dor&3-ラボ"


def test_secret_displays_masked() -> None:
    secret = Secret(PASSWORD, source="env LAB_PASSWORD")
    assert str(secret) == "********" == MASK
    assert repr(secret) == "Secret(********)"
    assert f"{secret}" == MASK
    assert "%s" % secret == MASK  # noqa: UP031 - the old formatting path must mask too
    assert PASSWORD not in repr({"password": secret, "list": [secret]})
    assert secret.reveal() == PASSWORD
    assert secret.source == "env LAB_PASSWORD"


def test_secret_in_a_log_record_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("remediate.test").info("connecting with %s", Secret(PASSWORD))
    assert PASSWORD not in caplog.text
    assert MASK in caplog.text


def test_secret_refuses_pickle_and_json() -> None:
    secret = Secret(PASSWORD)
    with pytest.raises(TypeError, match="never pickled"):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        json.dumps({"password": secret})
    # A serializer that falls back to str() gets the mask, not the value.
    assert PASSWORD not in json.dumps({"password": secret}, default=str)
    assert copy.deepcopy(secret) is secret


def test_secret_equality_and_immutability() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    with pytest.raises(AttributeError):
        Secret("a")._value = "b"
    with pytest.raises(TypeError):
        Secret(123)  # type: ignore[arg-type]


def test_scrub_replaces_secrets_and_keys() -> None:
    key = ProductKey.parse("W269N-WFGWX-YVC9B-4J6C9-T83GX")
    text = (
        f"net use \\\\fs01 /user:lab {PASSWORD}\n"
        "Installed product key w269n-wfgwx-yvc9b-4j6c9-t83gx successfully.\n"
        f"again: {PASSWORD}{PASSWORD}"
    )
    scrubbed = scrub(text, [Secret(PASSWORD), key])
    assert PASSWORD not in scrubbed
    assert "w269n-wfgwx" not in scrubbed.lower()
    assert "XXXXX-XXXXX-XXXXX-XXXXX-t83gx" in scrubbed
    assert scrubbed.count(MASK) == 3


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("W269N WFGWX YVC9B 4J6C9 T83GX", "XXXXX XXXXX XXXXX XXXXX T83GX"),
        ("w269n\u2013wfgwx\u2014yvc9b 4j6c9_t83gx", "XXXXX-XXXXX-XXXXX XXXXX_t83gx"),
        ("W269NWFGWXYVC9B4J6C9T83GX", "XXXXXXXXXXXXXXXXXXXXT83GX"),
    ],
)
def test_scrub_masks_a_key_however_its_groups_are_separated(written: str, shown: str) -> None:
    # Known or not: the key a run was given, and a key the host echoes in another form.
    for secrets in ([], [ProductKey.parse("W269N-WFGWX-YVC9B-4J6C9-T83GX")]):
        scrubbed = scrub(f"slmgr /ipk {written}\nPartial Product Key: T83GX", secrets)
        assert scrubbed == f"slmgr /ipk {shown}\nPartial Product Key: T83GX"


def test_scrub_replaces_the_longer_secret_whole() -> None:
    scrubbed = scrub("pw=abcdef", [Secret("abc"), Secret("abcdef")])
    assert scrubbed == f"pw={MASK}"


def test_scrub_ignores_empty_secret() -> None:
    assert scrub("nothing to hide", [Secret("")]) == "nothing to hide"


secret_text = st.text(alphabet=st.sampled_from(list("abc$`;'\"\\ラ")), min_size=SHORT_SECRET, max_size=20)
short_secret_text = st.text(alphabet=st.sampled_from(list("abc")), min_size=1, max_size=SHORT_SECRET - 1)
other_text = st.text(alphabet=st.sampled_from(list("xyz \n*#")), max_size=30)


@given(secret_text, other_text, other_text)
def test_scrubbed_text_never_contains_the_secret(value: str, before: str, after: str) -> None:
    scrubbed = scrub(before + value + after + value, [Secret(value)])
    assert value not in scrubbed
    assert scrubbed == before + MASK + after + MASK


@given(short_secret_text, st.sampled_from([" ", "\n", "=", ":", '"']))
def test_a_short_secret_is_masked_wherever_it_stands_as_a_word(value: str, separator: str) -> None:
    text = f"password{separator}{value}{separator}end"
    scrubbed = scrub(text, [Secret(value)])
    assert scrubbed == f"password{separator}{MASK}{separator}end"


def test_a_short_secret_inside_words_leaves_the_text_readable() -> None:
    # A one-letter password must not turn every "p" of the output into asterisks.
    assert scrub('{"port": 5985, "p": "p"}', [Secret("p")]) == f'{{"port": 5985, "{MASK}": "{MASK}"}}'


def test_every_live_secret_is_known_so_a_crash_report_can_mask_it() -> None:
    import gc

    from remediate.secret import live_secrets

    held = Secret("correct-horse-battery")
    assert held in live_secrets()
    assert scrub("password correct-horse-battery rejected", live_secrets()) == f"password {MASK} rejected"
    del held
    gc.collect()
    assert all(secret.reveal() != "correct-horse-battery" for secret in live_secrets())
