"""Typed playbook parameters: what each type accepts, what it says when it refuses, how values show."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediate.errors import Location, ParameterValueError, ProductKeyError
from remediate.parameter_types import PARAMETER_TYPES, coerce, display_value
from remediate.productkey import ProductKey
from remediate.secret import Secret

KEY = "W269N-WFGWX-YVC9B-4J6C9-T83GX"
HOSTS = Location(Path("hosts.txt"), 7)


def _refused(type_name: str, raw: object, **kwargs: object) -> str:
    with pytest.raises(ParameterValueError) as caught:
        coerce(type_name, raw, field=kwargs.pop("field", "kms_host"), **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


def test_the_type_names() -> None:
    assert PARAMETER_TYPES == ("hostname", "fqdn", "port", "product_key", "enum", "bool", "int", "string")


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("kms01", "kms01"),
        ("kms01.lab.example.com", "kms01.lab.example.com"),
        ("  KMS-01.Example.COM ", "KMS-01.Example.COM"),
        ("10.0.0.5", "10.0.0.5"),
        ("fd00::12", "fd00::12"),
        ("[fd00:0:0::12]", "fd00::12"),
        ("ｋｍｓ０１.example.jp", "kms01.example.jp"),  # typed full-width
        ("ライセンス.example.jp", "ライセンス.example.jp"),  # internationalized name
        ("azkms.core.windows.net", "azkms.core.windows.net"),
    ],
)
def test_hostname_accepts(raw: str, value: str) -> None:
    assert coerce("hostname", raw, field="kms_host", location=None) == value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("bad_name", "the underscore is not allowed in host names"),
        ("_vlmcs._tcp.example.com", "the underscore is not allowed"),
        ("-kms.example.com", "a label starts or ends with a hyphen"),
        ("kms..example.com", "empty label"),
        ("kms host", "only letters, digits and hyphens"),
        ("kms;calc.exe", "only letters, digits and hyphens"),
        ("a" * 64 + ".example.com", "longer than 63 characters"),
        (("a" * 60 + ".") * 5 + "com", "longer than 253 characters"),
        ("10.0.0.256", "looks like an IPv4 address but is not one"),
        ("", "empty value"),
    ],
)
def test_hostname_refuses_with_reason_field_and_location(raw: str, expected: str) -> None:
    message = _refused("hostname", raw, location=HOSTS)
    assert expected in message
    assert message.startswith("hosts.txt:7: kms_host: ")


def test_fqdn_requires_a_domain_and_no_ip() -> None:
    assert coerce("fqdn", "kms01.lab.example.com", field="kms_host", location=None) == "kms01.lab.example.com"
    message = _refused("fqdn", "kms01")
    assert "expected a fully qualified domain name, got 'kms01'" in message
    assert "kms01.example.com" in message  # the hint shows how
    assert "got the IP address '10.0.0.5'" in _refused("fqdn", "10.0.0.5")


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1688", 1688), (1688, 1688), ("１６８８", 1688), (" 5986 ", 5986), ("1", 1), ("65535", 65535)],
)
def test_port_accepts(raw: object, value: int) -> None:
    assert coerce("port", raw, field="kms_port", location=None) == value  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["0", "65536", "-1", "http", "16 88", True, "1688.0", ""])
def test_port_refuses(raw: object) -> None:
    message = _refused("port", raw, field="kms_port")
    assert message.startswith("kms_port: expected a port number")


def test_product_key_becomes_a_masked_key() -> None:
    value = coerce("product_key", KEY.lower(), field="product_key", location=None)
    assert isinstance(value, ProductKey)
    assert value.reveal() == KEY


def test_product_key_error_names_the_field_and_never_the_key() -> None:
    with pytest.raises(ProductKeyError) as caught:
        coerce("product_key", KEY[:-1] + "0", field="product_key", location=Location(Path("secrets.txt"), 3))
    message = str(caught.value)
    assert message.startswith("secrets.txt:3: product_key: not a valid product key")
    assert KEY[:-1] not in message


def test_a_key_typed_into_another_field_is_not_echoed() -> None:
    message = _refused("hostname", KEY + " x")
    assert KEY not in message
    assert "XXXXX-XXXXX-XXXXX-XXXXX-T83GX" in message


def test_enum_matches_case_insensitively_and_returns_the_choice() -> None:
    choices = ["ServerStandard", "ServerDatacenter"]
    assert (
        coerce("enum", "serverdatacenter", choices=choices, field="edition", location=None)
        == "ServerDatacenter"
    )
    message = _refused("enum", "ServerEnterprise", choices=choices, field="edition")
    assert message == "edition: expected one of ServerStandard, ServerDatacenter; got 'ServerEnterprise'"
    assert "needs a list of choices" in _refused("enum", "x", field="edition")


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("Yes", True),
        ("1", True),
        (True, True),
        (1, True),
        ("false", False),
        ("NO", False),
        ("0", False),
        (False, False),
        (0, False),
    ],
)
def test_bool_accepts(raw: object, value: bool) -> None:
    assert coerce("bool", raw, field="flush_dns", location=None) is value  # type: ignore[arg-type]


def test_bool_refuses() -> None:
    assert _refused("bool", "maybe", field="flush_dns") == (
        "flush_dns: expected true or false (also yes/no, 1/0), got 'maybe'"
    )
    assert "got 2" in _refused("bool", 2, field="flush_dns")


def test_int_and_string() -> None:
    assert coerce("int", "-15", field="skew", location=None) == -15
    assert coerce("int", 240, field="skew", location=None) == 240
    assert "expected a whole number, got '4h'" in _refused("int", "4h", field="skew")
    assert "expected a whole number" in _refused("int", False, field="skew")
    assert coerce("string", "a $b `c`; d", field="note", location=None) == "a $b `c`; d"
    assert "must not contain a NUL character" in _refused("string", "a\x00b", field="note")
    assert "expected text" in _refused("string", True, field="note")


def test_secret_text_becomes_a_secret_and_is_never_echoed() -> None:
    value = coerce("string", "hunter2", field="password", location=None, secret=True)
    assert isinstance(value, Secret) and value.reveal() == "hunter2"
    message = _refused("port", "hunter2", field="password", secret=True)
    assert "hunter2" not in message and "the value given" in message


def test_unknown_type() -> None:
    assert "unknown parameter type 'url'" in _refused("url", "x", field="f")


def test_display_value() -> None:
    key = ProductKey.parse(KEY)
    assert display_value("product_key", key, secret=True) == "********"
    assert display_value("product_key", key, secret=False) == "XXXXX-XXXXX-XXXXX-XXXXX-T83GX"
    assert display_value("string", Secret("pw"), secret=False) == "********"
    assert display_value("string", "pw", secret=True) == "********"
    assert display_value("bool", True, secret=False) == "true"
    assert display_value("port", 1688, secret=False) == "1688"
    assert display_value("string", f"note {KEY}", secret=False) == "note XXXXX-XXXXX-XXXXX-XXXXX-T83GX"


@given(st.text(max_size=40))
def test_every_refusal_is_a_parameter_value_error(raw: str) -> None:
    for type_name in PARAMETER_TYPES:
        try:
            coerce(type_name, raw, choices=["A"], field="f", location=None)
        except ParameterValueError as error:
            assert str(error).startswith("f: ")
