"""Hosts files: the format, every message a user sees, and hostile variable values."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from remediate.errors import InventoryError, UsageError
from remediate.inventory import Host, HostsFileError, load_hosts, parse_hosts

SAMPLE = """\
# lab fleet
kms-client-01.lab.example.com
10.0.0.12:5986   scheme=https auth=ntlm ca_file=certs/lab-ca.pem
[fd00::12]:5985  kms_host=kms01.lab.example.com   # trailing comment
fd00::13
web01            note="built 2026-04, rack #3" path="C:\\certs\\ca.pem" tag=a#b

   # indented comment
"""


def _problems(text: str, source: Path | None = Path("hosts.txt")) -> str:
    with pytest.raises(InventoryError) as caught:
        parse_hosts(text, source)
    return str(caught.value)


def test_sample_file() -> None:
    hosts = parse_hosts(SAMPLE, Path("/etc/remediate/hosts.txt"))
    assert [h.label for h in hosts] == [
        "kms-client-01.lab.example.com",
        "10.0.0.12:5986",
        "[fd00::12]:5985",
        "[fd00::13]",
        "web01",
    ]
    assert [h.line for h in hosts] == [2, 3, 4, 5, 6]
    assert hosts[0].variables == {} and hosts[0].port is None
    assert hosts[1].variables == {
        "scheme": "https",
        "auth": "ntlm",
        "ca_file": str(Path("/etc/remediate/certs/lab-ca.pem")),
    }
    assert hosts[2].name == "fd00::12" and hosts[2].address == "[fd00::12]" and hosts[2].port == 5985
    assert hosts[2].variables == {"kms_host": "kms01.lab.example.com"}
    assert hosts[4].variables == {"note": "built 2026-04, rack #3", "path": "C:\\certs\\ca.pem", "tag": "a#b"}
    assert all(h.source == Path("/etc/remediate/hosts.txt") for h in hosts)


def test_host_is_frozen_hashable_and_labelled() -> None:
    host = Host("kms01", 5986, {"scheme": "https"}, None, 1)
    assert str(host) == "kms01:5986" == host.label
    assert host.address == "kms01"
    assert Host("fd00::1", None, {}, None, None).label == "[fd00::1]"
    assert len({host, Host("kms01", 5986, {"scheme": "https"}, None, 1)}) == 1
    with pytest.raises(AttributeError):
        host.port = 1  # type: ignore[misc]


def test_transport_values_are_normalized() -> None:
    (host,) = parse_hosts("h scheme=HTTPS auth=Kerberos ca_file=/abs/ca.pem", Path("x/hosts.txt"))
    assert host.variables == {"scheme": "https", "auth": "kerberos", "ca_file": "/abs/ca.pem"}


def test_relative_ca_file_without_a_source_stays_relative() -> None:
    (host,) = parse_hosts("h ca_file=ca.pem", None)
    assert host.variables["ca_file"] == "ca.pem"


def test_windows_line_ends_and_full_width_host() -> None:
    hosts = parse_hosts("kms01\r\nｋｍｓ０２：５９８６\r\n", None)
    assert [h.label for h in hosts] == ["kms01", "kms02:5986"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("bad_host", "hosts.txt:1: bad_host: bad host name 'bad_host': the underscore is not allowed"),
        ("kms01:99999", "hosts.txt:1: kms01:99999: bad port '99999': expected a number from 1 to 65535"),
        ("kms01:0", "bad port '0'"),
        ("kms01:http", "bad port 'http'"),
        ("kms01 flush", "hosts.txt:1: flush: 'flush' has no value: write key=value"),
        ("kms01 Kms_Host=x", "bad variable name 'Kms_Host': use lower-case letters, digits and _"),
        ("kms01 1x=y", "bad variable name '1x'"),
        ("kms01 =y", "bad variable name ''"),
        ("kms01 x=1 x=2", "hosts.txt:1: x: variable x is given twice on this line"),
        ("kms01 port=5986", "port: the port is not a variable: write it after the host as host:port"),
        ("kms01 scheme=ftp", "scheme: scheme must be http or https, not 'ftp'"),
        (
            "kms01 auth=pam",
            "auth: auth must be one of negotiate, ntlm, kerberos, credssp, basic, certificate",
        ),
        ("kms01 ca_file=", "ca_file is empty"),
        ('kms01 note="abc', "unterminated double quote starting at column 12"),
        ('kms01 note=a"b"', "unexpected double quote at column 13: only a whole value can be quoted"),
        ('kms01 note="a"b', "text right after the closing quote at column 15"),
        ("[fd00::1:5985", "missing ']' after an IPv6 address"),
        ("[fd00::zz]:5985", "not an IPv6 address in brackets"),
        ("[fd00::1]5985", "expected :port after ']'"),
        ("fd00::zz", "write IPv6 addresses as [address]:port"),
        ("scheme=https", "the line starts with a variable (scheme=...), not a host"),
        ("kms01 note=a\x07b", "control character U+0007 at column 13"),
    ],
)
def test_each_problem_message(line: str, expected: str) -> None:
    message = _problems(line + "\n")
    assert expected in message
    assert "hosts.txt:1" in message


def test_duplicates_are_case_insensitive_and_port_sensitive() -> None:
    message = _problems("kms01\nKMS01\nkms01:5986\nkms01:5986\n")
    assert "hosts.txt:2: KMS01: duplicate host: already listed on line 1" in message
    assert "hosts.txt:4: kms01:5986: duplicate host: already listed on line 3" in message
    assert "2 problems" in message


def test_all_problems_of_a_file_are_reported_at_once() -> None:
    text = "good01\nbad_host\ngood02 flush\n\n# fine\ngood03:70000\ngood04 scheme=ftp auth=pam\n"
    with pytest.raises(HostsFileError) as caught:
        parse_hosts(text, Path("hosts.txt"))
    error = caught.value
    assert [(where.line, where.field) for where, _ in error.problems] == [
        (2, "bad_host"),
        (3, "flush"),
        (6, "good03:70000"),
        (7, "scheme"),
        (7, "auth"),
    ]
    message = str(error)
    assert message.startswith("hosts.txt: 5 problems:\n")
    assert message.count("\n  hosts.txt:") == 5


def test_single_problem_carries_its_location() -> None:
    with pytest.raises(HostsFileError) as caught:
        parse_hosts("ok\nkms01 scheme=ftp\n", Path("hosts.txt"))
    assert caught.value.location is not None
    assert (caught.value.location.line, caught.value.location.field) == (2, "scheme")
    assert isinstance(caught.value, UsageError)  # exit code 2: nothing touched


def test_a_file_without_hosts_is_an_error() -> None:
    message = _problems("# only a comment\n\n   \n")
    assert message.startswith("hosts.txt: no hosts")
    assert "one host per line" in message


def test_load_hosts_reads_utf8_bom_and_utf16(tmp_path: Path) -> None:
    path = tmp_path / "hosts.txt"
    path.write_bytes(codecs.BOM_UTF8 + "kms01 note=ライセンス\n".encode())
    assert load_hosts(path)[0].variables == {"note": "ライセンス"}
    path.write_bytes(codecs.BOM_UTF16_LE + "kms02\r\n".encode("utf-16-le"))
    assert load_hosts(path)[0].name == "kms02"
    assert load_hosts(path)[0].source == path


def test_load_hosts_errors_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(InventoryError, match=f"hosts file not found: {missing}"):
        load_hosts(missing)
    with pytest.raises(InventoryError, match="is a folder"):
        load_hosts(tmp_path)
    shift_jis = tmp_path / "sjis.txt"
    shift_jis.write_bytes("kms01\nkms02 note=ライセンス\n".encode("cp932"))
    with pytest.raises(InventoryError) as caught:
        load_hosts(shift_jis)
    assert str(caught.value).startswith(f"{shift_jis}:2: not UTF-8 text")
    assert "save the hosts file as UTF-8" in str(caught.value)


def test_a_shift_jis_hosts_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "hosts.txt"
    path.write_bytes("# 東京オフィス\r\ntk-app01\r\n".encode("cp932"))
    with pytest.raises(InventoryError) as caught:
        load_hosts(path)
    assert str(caught.value) == (
        f"{path}:1: not UTF-8 text (byte 0x93)\n  hint: the file looks like Shift-JIS (CP932), the Japanese ANSI "
        "code page; save the hosts file as UTF-8 (Notepad: Save As, Encoding UTF-8)"
    )


def test_a_utf16_hosts_file_without_bom_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "hosts.txt"
    path.write_bytes("kms01\r\nkms02\r\n".encode("utf-16-le"))
    with pytest.raises(InventoryError) as caught:
        load_hosts(path)
    assert str(caught.value).startswith(f"{path}: the hosts file looks like UTF-16 text without a byte order mark")
    assert "U+0000" not in str(caught.value)


# --- hostile values -----------------------------------------------------------------------------------------

hostile = st.text(
    alphabet=st.sampled_from(
        [*"abc XYZ09$`;'\"\\#=|&<>(){}[]%!~*?ラ\t", "\n", "\r", "\x00", "\x1b", "\u3000"]
    ),
    max_size=30,
)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(hostile)
def test_quoted_hostile_values_parse_verbatim_or_are_rejected_with_a_line(value: str) -> None:
    text = f"# header\nkms01 note={_quote(value)} after=1\n"
    try:
        hosts = parse_hosts(text, Path("hosts.txt"))
    except InventoryError as error:
        assert "hosts.txt:2" in str(error) or "hosts.txt:3" in str(error)
        # Only characters that cannot live on one line are refused.
        assert any(ch in value for ch in "\n\r\x00\x1b\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
    else:
        assert len(hosts) == 1
        assert hosts[0].variables == {"note": value, "after": "1"}


# Unquoted: one line, and not starting with a quote (that is the quoted form, tested above).
@given(hostile.filter(lambda value: "\n" not in value and "\r" not in value and not value.startswith('"')))
def test_unquoted_hostile_values_parse_verbatim_or_are_rejected_with_a_line(value: str) -> None:
    text = f"kms01 note={value}\n"
    try:
        hosts = parse_hosts(text, Path("hosts.txt"))
    except InventoryError as error:
        assert "hosts.txt:1" in str(error) or "hosts.txt:2" in str(error)
    else:
        note = hosts[0].variables.get("note")
        # Verbatim up to the first whitespace (or comment); whatever followed was taken as more variables.
        assert note is not None and value.startswith(note)
        assert value[len(note) :] == "" or value[len(note)].isspace()


KEY = "W269N-WFGWX-YVC9B-4J6C9-T83GX"


def test_a_product_key_on_a_host_line_is_refused_and_never_shown() -> None:
    text = f"{KEY}\nws01 {KEY}\nws02 {KEY.lower()}=1\n"
    with pytest.raises(HostsFileError) as caught:
        parse_hosts(text, Path("hosts.txt"))
    message = str(caught.value)
    assert "hosts.txt:1: XXXXX-XXXXX-XXXXX-XXXXX-T83GX: this is a product key, not a host" in message
    assert "hosts.txt:2: XXXXX-XXXXX-XXXXX-XXXXX-T83GX: 'XXXXX-XXXXX-XXXXX-XXXXX-T83GX' has no value" in message
    assert "hosts.txt:3:" in message
    assert KEY not in message.upper()
