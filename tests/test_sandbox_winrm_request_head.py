"""A sandbox host reads a request's header fields as http.server would (http.client.parse_headers): the same
fields and values, the same bytes left for the body, the same errors, whatever the lines look like."""

from __future__ import annotations

import http.client
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remediate.sandbox.winrm.request_head import MAX_HEADERS, MAX_LINE, read_headers

PYPSRP_HEAD = (
    b"Host: 127.0.0.1:5985\r\nUser-Agent: Python PSRP Client\r\nAccept-Encoding: gzip, deflate\r\nAccept: */*\r\n"
    b"Connection: Keep-Alive\r\nContent-Type: multipart/encrypted;"
    b'protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"\r\n'
    b"Authorization: Negotiate TlRMTVNTUAABAAAAN4II4gAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==\r\n"
    b"Content-Length: 12\r\n\r\n"
)


def both(head: bytes, body: bytes = b"body") -> tuple[object, object, bytes, bytes]:
    ours, standard = io.BytesIO(head + body), io.BytesIO(head + body)
    try:
        read: object = list(read_headers(ours).items())
    except http.client.HTTPException as error:
        read = type(error)
    try:
        expected: object = list(http.client.parse_headers(standard).items())
    except http.client.HTTPException as error:
        expected = type(error)
    return read, expected, ours.read(), standard.read()


@pytest.mark.parametrize(
    "head",
    [
        PYPSRP_HEAD,
        b"host: a\nCONTENT-length: 4\n\n",  # bare line feeds, names in any case
        b"Authorization:\tNegotiate abc\r\nX-Empty:\r\nX-Colon: a:b: c\r\n\r\n",
        b"X-Folded: first\r\n  second\r\nHost: a\r\n\r\n",  # a folded line
        b"Host: a\r\nno colon here\r\nContent-Length: 4\r\n\r\n",  # a line that is not a field
        b"From somebody\r\nHost: a\r\n\r\n",
        b"X-Latin: caf\xe9\r\nX-Stray: a\rb\r\n\r\n",
        b"Host: a\r\nHost: b\r\n\r\n",  # a repeated field
        b"Host: a\r\n",  # the stream ends before the empty line
        b"\r\n",
    ],
)
def test_header_fields_are_read_as_http_server_reads_them(head: bytes) -> None:
    read, expected, rest, expected_rest = both(head)
    assert read == expected
    assert rest == expected_rest


@given(st.lists(st.sampled_from([b"Host", b"X-A", b":", b": ", b"\t", b" ", b"v", b"\r", b"\r\n", b"From "])))
@settings(max_examples=300)
def test_any_header_block_is_read_as_http_server_reads_it(pieces: list[bytes]) -> None:
    read, expected, rest, expected_rest = both(b"".join(pieces) + b"\r\n\r\n")
    assert read == expected
    assert rest == expected_rest


def test_too_many_fields_and_too_long_a_line_fail_as_in_http_server() -> None:
    many = b"".join(b"X-%d: v\r\n" % number for number in range(MAX_HEADERS + 1)) + b"\r\n"
    read, expected, _, _ = both(many)
    assert read == expected == http.client.HTTPException
    long = b"X-Long: " + b"v" * MAX_LINE + b"\r\n\r\n"
    read, expected, _, _ = both(long)
    assert read == expected == http.client.LineTooLong
