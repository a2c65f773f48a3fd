"""Hosts files: the format, every message a user sees, and hostile variable values."""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from remediate.cli import main
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
        ("kms01 note=a\x1fb", "control character U+001F at column 13"),
        ("kms01\x00", "control character U+0000 at column 6"),
    ],
)
def test_each_problem_message(line: str, expected: str) -> None:
    message = _problems(line + "\n")
    assert expected in message
    assert "hosts.txt:1" in message


@pytest.mark.parametrize(
    ("first", "second", "both_are"),
    [
        ("kms01", "KMS01", "kms01:5986"),
        ("a.example", "A.Example.:5986", "a.example:5986"),
        ("kms01 scheme=http", "kms01:5985", "kms01:5985"),
        ("kms01:5985", "KMS01. scheme=HTTP", "kms01:5985"),
        ("[fd00::12]", "[fd00:0:0::12]:5986", "[fd00::12]:5986"),
        ("[fd00::12]:5985", "fd00:0:0:0:0:0:0:12 scheme=http", "[fd00::12]:5985"),
        ("10.0.0.12", "10.0.0.12:5986", "10.0.0.12:5986"),
        ("[::ffff:10.0.0.12]:5986", "10.0.0.12", "10.0.0.12:5986"),
        ("münchen.example", "xn--mnchen-3ya.example", "xn--mnchen-3ya.example:5986"),
        ("kms01", "ｋｍｓ０１：５９８６", "kms01:5986"),
    ],
)
def test_two_ways_of_writing_one_host_are_a_duplicate(first: str, second: str, both_are: str) -> None:
    with pytest.raises(HostsFileError) as caught:
        parse_hosts(f"{first}\n# between\n{second}\n", Path("hosts.txt"))
    ((where, message),) = caught.value.problems
    shown_first = parse_hosts(first, None)[0].label
    assert where.line == 3
    assert message == f"duplicate host: already listed on line 1 as {shown_first} (both are {both_are})"


def test_a_duplicate_names_both_lines_and_keeps_the_labels_as_written() -> None:
    message = _problems("a.example\nb.example\nA.Example.:5986\nb.example\n")
    assert message == (
        "hosts.txt: 2 problems:\n"
        "  hosts.txt:3: A.Example.:5986: duplicate host: already listed on line 1 as a.example "
        "(both are a.example:5986)\n"
        "  hosts.txt:4: b.example: duplicate host: already listed on line 2"
    )
    (host,) = parse_hosts("A.Example.:5986 scheme=https\n", None)
    assert (host.label, host.name, host.port) == ("A.Example.:5986", "A.Example.", 5986)


@pytest.mark.parametrize(
    "text",
    [
        "kms01\nkms01:5985\n",  # https by default: 5986
        "kms01 scheme=http\nkms01:5986\n",
        "kms01\nkms01.lab.example\n",
        "[fd00::12]\n[fd00::13]\n",
        "10.0.0.12\n10.0.0.13\n",
        "127.0.0.1:59861\n127.0.0.1:59862\n",  # the sandbox: one address, a port per host
    ],
)
def test_different_hosts_are_not_duplicates(text: str) -> None:
    assert len(parse_hosts(text, None)) == 2


def test_the_runs_scheme_and_port_decide_what_a_host_without_a_port_means() -> None:
    with pytest.raises(HostsFileError, match="both are kms01:5985"):
        parse_hosts("kms01\nkms01:5985\n", None, scheme="http")
    assert len(parse_hosts("kms01\nkms01:5986\n", None, scheme="http")) == 2
    with pytest.raises(HostsFileError, match="both are kms01:6000"):
        parse_hosts("kms01\nkms01:6000\n", None, port=6000)
    assert len(parse_hosts("kms01\nkms01:5986\n", None, port=6000)) == 2
    # The line's own scheme= wins over the run's.
    with pytest.raises(HostsFileError, match="both are kms01:5986"):
        parse_hosts("kms01 scheme=https\nkms01:5986\n", None, scheme="http")


@pytest.mark.parametrize(
    ("options", "refused"),
    [((), False), (("--scheme", "http"), True), (("--port", "5985"), True)],
)
def test_run_reads_the_hosts_file_with_its_scheme_and_port(
    tmp_path: Path, options: tuple[str, ...], refused: bool
) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("kms01\nKMS01:5985\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "0xC004F074", "--hosts", str(hosts), "--dry-run", *options])
    duplicate = f"{hosts}:2: KMS01:5985: duplicate host: already listed on line 1 as kms01 (both are kms01:5985)"
    assert (duplicate in result.stderr) is refused
    assert result.exit_code == (2 if refused else 0)
    assert ("Hosts: 2" in result.stdout) is not refused


@pytest.mark.parametrize(
    ("name", "address"),
    [("10.0.0.012", "10.0.0.10"), ("10.0.0.0x0c", "10.0.0.12"), ("0x0a.0.0.12", "10.0.0.12"),
     ("167772172", "10.0.0.12"), ("10.1", "10.0.0.1"), ("10.0.0.12.", "10.0.0.12")],
)
def test_an_ipv4_address_in_another_form_is_refused_with_its_dotted_form(name: str, address: str) -> None:
    message = _problems(f"10.0.0.12\n{name}:5986\n")
    assert message == (
        f"hosts.txt:2: {name}:5986: {name!r} is the IPv4 address {address} written in another form "
        f"(a leading 0 means octal, 0x hex): write {address}"
    )


# --- characters that split a line or hide what it says -------------------------------------------------------


@pytest.mark.parametrize(
    ("char", "named"),
    [
        ("\r", "carriage return U+000D"),
        ("\x0b", "vertical tab U+000B"),
        ("\x0c", "form feed U+000C"),
        ("\x1c", "file separator U+001C"),
        ("\x1d", "group separator U+001D"),
        ("\x1e", "record separator U+001E"),
        ("\x85", "next line (NEL) U+0085"),
        ("\u2028", "line separator U+2028"),
        ("\u2029", "paragraph separator U+2029"),
    ],
)
def test_only_a_line_feed_ends_a_line(char: str, named: str) -> None:
    message = _problems(f"# fleet\nkms01 {char}kms02 scheme=http\nkms03\n")
    assert message == f"hosts.txt:2: {named} at column 7: only a line feed (or CR LF) ends a line"


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("\u202e", "U+202E at column 4 (RIGHT-TO-LEFT OVERRIDE)"),
        ("\u2066", "U+2066 at column 4 (LEFT-TO-RIGHT ISOLATE)"),
        ("\u200b", "U+200B at column 4 (ZERO WIDTH SPACE)"),
        ("\ufeff", "U+FEFF at column 4 (ZERO WIDTH NO-BREAK SPACE)"),
        ("\u00ad", "U+00AD at column 4 (SOFT HYPHEN)"),
        ("\U000e0041", "U+E0041 at column 4 (TAG LATIN CAPITAL LETTER A)"),
        ("\u3164", "U+3164 at column 4 (HANGUL FILLER)"),
        ("\ufe0f", "U+FE0F at column 4 (VARIATION SELECTOR-16)"),
    ],
)
def test_invisible_characters_are_refused_with_their_column(char: str, shown: str) -> None:
    message = _problems(f"kms{char}01\n")
    assert message == f"hosts.txt:1: invisible character {shown}: it makes the line look different from what it holds"


def test_a_hidden_character_in_a_comment_or_a_quoted_value_is_refused_too() -> None:
    message = _problems('kms01 # note\u2028kms02\nkms03 note="a\x85b"\n')
    assert "hosts.txt:1: line separator U+2028 at column 13" in message
    assert "hosts.txt:2: next line (NEL) U+0085 at column 14" in message


def test_crlf_and_a_final_line_without_line_feed_are_fine_and_keep_line_numbers() -> None:
    hosts = parse_hosts("# fleet\r\nkms01\r\n\r\nkms02 note=x\r", None)
    assert [(h.label, h.line, h.variables) for h in hosts] == [("kms01", 2, {}), ("kms02", 4, {"note": "x"})]
    # Old Mac line ends (CR only) are one long line, refused at its first CR.
    assert _problems("kms01\rkms02\r") == (
        "hosts.txt:1: carriage return U+000D at column 6: only a line feed (or CR LF) ends a line"
    )


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


# --- properties: a character inserted anywhere never adds a host ------------------------------------------------

# Every control, format and separator character (the line feed aside: it is the one line break), drawn from the
# whole of Unicode, and the invisible characters outside those categories.
INSERTED = st.one_of(
    st.characters(categories=["Cc", "Cf", "Cs", "Zl", "Zp", "Zs"], exclude_characters="\n"),
    st.sampled_from(["\u034f", "\u115f", "\u17b4", "\u180b", "\u3164", "\ufe0f", "\uffa0", "\U000e0100"]),
)
SOURCE = Path("hosts.txt")


def _separates_fields(char: str) -> bool:
    """Tab and the Unicode spaces: whitespace between fields, so harmless there."""
    return char == "\t" or unicodedata.category(char) == "Zs"


@given(INSERTED, st.integers(0, len(SAMPLE)))
def test_a_character_inserted_anywhere_is_refused_where_it_stands_or_changes_no_host(
    char: str, position: int
) -> None:
    text = SAMPLE[:position] + char + SAMPLE[position:]
    line = SAMPLE.count("\n", 0, position) + 1
    column = position - SAMPLE.rfind("\n", 0, position)
    ends_a_crlf_line = char == "\r" and SAMPLE[position : position + 1] in ("\n", "")
    try:
        hosts = parse_hosts(text, SOURCE)
    except HostsFileError as error:
        assert not ends_a_crlf_line
        assert {where.line for where, _ in error.problems} == {line}
        assert f"hosts.txt:{line}: " in str(error)
        if not _separates_fields(char):
            assert f"U+{ord(char):04X} at column {column}" in str(error)
    else:
        assert ends_a_crlf_line or _separates_fields(char)
        expected = parse_hosts(SAMPLE, SOURCE)
        assert [(h.name, h.port, h.line) for h in hosts] == [(h.name, h.port, h.line) for h in expected]


@given(
    st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,6}[a-z0-9]", fullmatch=True), min_size=1, max_size=6, unique=True),
    st.lists(st.tuples(INSERTED, st.integers(0, 10**6)), min_size=1, max_size=4),
)
def test_characters_inserted_into_a_fleet_never_add_a_host(names: list[str], inserted: list[tuple[str, int]]) -> None:
    text = "".join(f"{name} note=x\n" for name in names)
    for char, at in inserted:
        at %= len(text) + 1
        text = text[:at] + char + text[at:]
    try:
        hosts = parse_hosts(text, SOURCE)
    except HostsFileError as error:
        assert all(where.file == SOURCE and where.line is not None for where, _ in error.problems)
    else:
        assert len(hosts) <= len(names)
        assert {host.name for host in hosts} <= set(names)
        assert all(char == "\r" or _separates_fields(char) for char, _ in inserted)


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


def test_a_product_key_without_hyphens_is_no_host_name() -> None:
    message = _problems(f"{KEY.replace('-', '')}:5986\n")
    assert message == (
        "hosts.txt:1: XXXXXXXXXXXXXXXXXXXXT83GX:5986: this is a product key, not a host: a key comes from "
        "--secret-env or --secrets-file, never from a hosts file"
    )


@pytest.mark.parametrize("separator", [" ", "\t", "\u3000", " \u2013 ", "  "])
@pytest.mark.parametrize("before", ["", "ws01 ", "ws01 note="])
def test_a_product_key_written_with_spaces_never_shows_its_groups(separator: str, before: str) -> None:
    for written in (KEY, KEY.lower(), KEY.translate(FULL_WIDTH)):
        text = before + written.replace("-", separator).replace("－", separator) + "\n"
        shown = unicodedata.normalize("NFKC", _problems(text)).upper()
        assert "HOSTS.TXT:1: T83GX: 'T83GX' HAS NO VALUE" in shown
        for group in KEY.split("-")[:4]:
            assert group not in shown


FULL_WIDTH = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-",
    "ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ０１２３４５６７８９－",
)
