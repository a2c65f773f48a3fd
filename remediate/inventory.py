"""Hosts files -> Hosts.

One host per line, then optional ``key=value`` variables::

    # lab fleet
    kms-client-01.lab.example.com
    10.0.0.12:5986   scheme=https auth=ntlm ca_file=certs/lab-ca.pem
    [fd00::12]:5985  kms_host=kms01.lab.example.com   # trailing comment
    web01            note="built 2026-04, rack 3"

- ``#`` starts a comment at the start of a line or after whitespace (``a#b`` is a value, not a comment).
- Keys are lower-case identifiers ``[a-z_][a-z0-9_]*``. A value runs to the next whitespace, or is written in
  double quotes; inside quotes ``\\"`` is a quote and ``\\\\`` a backslash, every other backslash is literal
  (so ``"C:\\certs\\ca.pem"`` works). Unquoted values are taken verbatim.
- Transport variables are checked here: ``scheme`` (http | https), ``auth`` (negotiate | ntlm | kerberos |
  credssp | basic | certificate), ``ca_file`` (relative paths resolve against the hosts file's folder). The
  port is written as ``host:port``, never as a variable. Every other variable is a playbook value, checked
  against the playbook's parameter types later.

Every problem of a file is reported at once, each with its line.
"""

from __future__ import annotations

import codecs
import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from remediate.errors import InventoryError, Location
from remediate.input_file import read_input_bytes
from remediate.parameter_types import host_name_problem
from remediate.productkey import has_key_groups, mask_product_keys

TRANSPORT_VARIABLES = ("scheme", "auth", "ca_file")
SCHEMES = ("http", "https")
AUTH_METHODS = ("negotiate", "ntlm", "kerberos", "credssp", "basic", "certificate")

_KEY = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class Host:
    """One target from the inventory, with its own variables."""

    name: str
    port: int | None = None
    variables: dict[str, str] = field(default_factory=dict)
    source: Path | None = None
    line: int | None = None

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.name

    @property
    def address(self) -> str:
        """The name as a URL needs it: IPv6 addresses in brackets."""
        return f"[{self.name}]" if self.is_ipv6 else self.name

    @property
    def label(self) -> str:
        """How the host is named in reports: ``name`` or ``name:port``."""
        return f"{self.address}:{self.port}" if self.port is not None else self.address

    @property
    def location(self) -> Location | None:
        """Where the host was declared, for messages about its variables."""
        if self.source is None and self.line is None:
            return None
        return Location(self.source, self.line)

    def __hash__(self) -> int:
        return hash((self.name.lower(), self.port, self.source, self.line))

    def __str__(self) -> str:
        return self.label


class HostsFileError(InventoryError):
    """Every problem of one hosts file; `problems` lists each with its location."""

    def __init__(self, source: Path | None, problems: list[tuple[Location, str]]) -> None:
        self.problems = problems
        if len(problems) == 1:
            where, message = problems[0]
            super().__init__(message, where)
        else:
            lines = "\n".join(f"  {where}: {message}" for where, message in problems)
            super().__init__(f"{len(problems)} problems:\n{lines}", Location(source) if source else None)


def load_hosts(path: Path) -> list[Host]:
    """Read a hosts file (UTF-8, with or without BOM; UTF-16 with BOM as Windows Notepad may save it)."""
    data = read_input_bytes(path, "hosts file", InventoryError)
    return parse_hosts(_decode(data, Path(path)), Path(path))


def _decode(data: bytes, path: Path) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InventoryError(f"hosts file is not valid UTF-16 text: {path}") from None
    if len(data) >= 2 and data.count(0) * 3 >= len(data):
        # UTF-16 without a BOM (every other byte of ASCII text is zero): say so rather than list NULs.
        raise InventoryError(
            "the hosts file looks like UTF-16 text without a byte order mark",
            Location(path),
            hint="save the hosts file as UTF-8 (or as UTF-16 with a BOM, as Notepad's 'Unicode' does)",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        hint = "save the hosts file as UTF-8"
        try:
            data.decode("cp932")
        except UnicodeDecodeError:
            pass
        else:
            hint = ("the file looks like Shift-JIS (CP932), the Japanese ANSI code page; " + hint +
                    " (Notepad: Save As, Encoding UTF-8)")
        raise InventoryError(
            f"not UTF-8 text (byte 0x{data[error.start]:02X})",
            Location(path, line),
            hint=hint,
        ) from None


def parse_hosts(text: str, source: Path | None = None) -> list[Host]:
    """Parse hosts-file text; raise HostsFileError (an InventoryError) listing every problem."""
    hosts: list[Host] = []
    problems: list[tuple[Location, str]] = []
    seen: dict[tuple[str, int | None], int] = {}
    for number, raw_line in enumerate(text.splitlines(), 1):
        line_problems: list[tuple[str | None, str]] = []
        host = _parse_line(raw_line, number, source, line_problems)
        for where_field, message in line_problems:
            # A product key typed on a host line (as a host, a variable, a value) never shows in full.
            shown_field = mask_product_keys(where_field) if where_field else where_field
            problems.append((Location(source, number, shown_field), mask_product_keys(message)))
        if host is None:
            continue
        identity = (host.name.lower(), host.port)
        if identity in seen:
            message = f"duplicate host: already listed on line {seen[identity]}"
            problems.append((Location(source, number, host.label), message))
            continue
        seen[identity] = number
        if not line_problems:
            hosts.append(host)
    if problems:
        raise HostsFileError(source, problems)
    if not hosts:
        raise InventoryError(
            "no hosts: the hosts file has no host lines (only blank lines or comments)",
            Location(source) if source else None,
            hint="write one host per line: name[:port] [key=value ...]",
        )
    return hosts


def _parse_line(
    raw_line: str, number: int, source: Path | None, problems: list[tuple[str | None, str]]
) -> Host | None:
    for column, char in enumerate(raw_line, 1):
        if unicodedata.category(char) == "Cc" and char != "\t":
            problems.append((None, f"control character U+{ord(char):04X} at column {column}"))
            return None
    tokens = _tokens(raw_line, problems)
    if tokens is None or not tokens:
        return None
    host_token, *variable_tokens = tokens
    name, port = _host_and_port(host_token, problems)
    variables: dict[str, str] = {}
    for token in variable_tokens:
        key, has_equals, value = token.partition("=")
        if not has_equals:
            problems.append((key, f"'{key}' has no value: write key=value"))
            continue
        if not _KEY.fullmatch(key):
            message = f"bad variable name {key!r}: use lower-case letters, digits and _ (not a digit first)"
            problems.append((key or None, message))
            continue
        if key in variables:
            problems.append((key, f"variable {key} is given twice on this line"))
            continue
        variables[key] = value
    _check_transport_variables(variables, source, problems)
    if name is None:
        return None
    return Host(name=name, port=port, variables=variables, source=source, line=number)


def _tokens(line: str, problems: list[tuple[str | None, str]]) -> list[str] | None:
    """Split a line into whitespace-separated tokens (a value may be quoted); drop a trailing comment."""
    tokens: list[str] = []
    i, end = 0, len(line)
    while i < end:
        if line[i].isspace():
            i += 1
            continue
        if line[i] == "#":  # at the start or after whitespace: a comment
            break
        start = i
        while i < end and not line[i].isspace() and line[i] != '"':
            i += 1
        token = line[start:i]
        if i < end and line[i] == '"':
            if not token.endswith("=") or token.count("=") != 1:
                message = f'unexpected double quote at column {i + 1}: only a whole value can be quoted'
                problems.append((None, message + ' (key="value")'))
                return None
            value: list[str] = []
            closing = _quoted(line, i, value)
            if closing is None:
                problems.append((None, f"unterminated double quote starting at column {i + 1}"))
                return None
            i = closing + 1
            if i < end and not line[i].isspace():
                problems.append((None, f"text right after the closing quote at column {i + 1}: "
                                 "separate variables with spaces"))
                return None
            token += "".join(value)
        tokens.append(token)
    return tokens


def _quoted(line: str, start: int, out: list[str]) -> int | None:
    """Append the text of the quoted run at `start` to `out`; return the index of its closing quote."""
    i = start + 1
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line) and line[i + 1] in '"\\':
            out.append(line[i + 1])
            i += 2
            continue
        if char == '"':
            return i
        out.append(char)
        i += 1
    return None


def _host_and_port(token: str, problems: list[tuple[str | None, str]]) -> tuple[str | None, int | None]:
    token = unicodedata.normalize("NFKC", token)
    if has_key_groups(token):
        problems.append((token, "this is a product key, not a host: a key comes from --secret-env or "
                         "--secrets-file, never from a hosts file"))
        return None, None
    if "=" in token and not token.startswith("["):
        key = token.partition("=")[0]
        problems.append((None, f"the line starts with a variable ({key}=...), not a host"))
        return None, None
    port_text: str | None = None
    if token.startswith("["):
        address, bracket, rest = token[1:].partition("]")
        if not bracket:
            problems.append((token, "missing ']' after an IPv6 address"))
            return None, None
        if rest:
            if not rest.startswith(":"):
                problems.append((token, "expected :port after ']'"))
                return None, None
            port_text = rest[1:]
        try:
            name = str(ipaddress.IPv6Address(address))
        except ValueError:
            problems.append((token, f"not an IPv6 address in brackets: {address!r}"))
            return None, None
    elif token.count(":") > 1:
        try:
            name = str(ipaddress.IPv6Address(token))
        except ValueError:
            problems.append((token, "not a host name or address; write IPv6 addresses as [address]:port"))
            return None, None
    else:
        name, colon, after = token.partition(":")
        if colon:
            port_text = after
        problem = host_name_problem(name)
        if problem and _ipv4(name) is None:
            problems.append((token, f"bad host name {name!r}: {problem}"))
            return None, None
    port = None
    if port_text is not None:
        port = _port(port_text)
        if port is None:
            problems.append((token, f"bad port {port_text!r}: expected a number from 1 to 65535"))
            return None, None
    return name, port


def _ipv4(name: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(name)
    except ValueError:
        return None


def _port(text: str) -> int | None:
    if not text.isascii() or not text.isdigit() or len(text) > 5:
        return None
    value = int(text)
    return value if 1 <= value <= 65535 else None


def _check_transport_variables(
    variables: dict[str, str], source: Path | None, problems: list[tuple[str | None, str]]
) -> None:
    if "port" in variables:
        problems.append(("port", "the port is not a variable: write it after the host as host:port"))
    if "scheme" in variables:
        scheme = variables["scheme"].lower()
        if scheme not in SCHEMES:
            problems.append(("scheme", f"scheme must be http or https, not {variables['scheme']!r}"))
        variables["scheme"] = scheme
    if "auth" in variables:
        auth = variables["auth"].lower()
        if auth not in AUTH_METHODS:
            allowed = ", ".join(AUTH_METHODS)
            problems.append(("auth", f"auth must be one of {allowed}; not {variables['auth']!r}"))
        variables["auth"] = auth
    if "ca_file" in variables:
        ca_file = variables["ca_file"]
        if not ca_file:
            problems.append(("ca_file", "ca_file is empty: give the path of a CA certificate bundle"))
        elif source is not None and not Path(ca_file).is_absolute():
            variables["ca_file"] = str(Path(source).parent / ca_file)
