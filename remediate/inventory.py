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

- Only a line feed (or CR LF) ends a line. Any other control character but tab, a Unicode line or paragraph
  separator, and an invisible character (bidi controls, zero-width characters and the like) is refused with
  its line and column: such characters split lines or hide text in some programs and not in others.
- Two lines naming the same host are refused: names compare without case and a trailing dot, addresses by
  value, and a line without ``:port`` means the port of its scheme (5986 https, 5985 http) unless the run
  gives one.

Every problem of a file is reported at once, each with its line.

Ansible inventories (YAML, INI) and CSV exports are read by inventory_formats.py into the same Hosts, in an
Inventory with their groups.
"""

from __future__ import annotations

import codecs
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from remediate.errors import InventoryError, Location
from remediate.i18n import _
from remediate.input_file import read_input_bytes
from remediate.parameter_types import host_name_problem
from remediate.productkey import has_product_key, mask_product_keys

TRANSPORT_VARIABLES = ("scheme", "auth", "ca_file")
SCHEMES = ("http", "https")
DEFAULT_PORTS = {"https": 5986, "http": 5985}
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
    # Where to connect when the name is an inventory's alias for it (Ansible's ansible_host); None: the name.
    connect_address: str | None = None

    @property
    def is_ipv6(self) -> bool:
        return ":" in self.name

    @property
    def address(self) -> str:
        """The name as a URL needs it: IPv6 addresses in brackets."""
        return f"[{self.name}]" if self.is_ipv6 else self.name

    @property
    def connect_name(self) -> str:
        """The host name or address a connection goes to."""
        return self.connect_address if self.connect_address is not None else self.name

    @property
    def label(self) -> str:
        """How the host is named in reports: ``name`` or ``name:port``; an alias alone (its address and port
        are the inventory's business)."""
        if self.port is None or self.connect_address is not None:
            return self.address
        return f"{self.address}:{self.port}"

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


@dataclass(frozen=True)
class Inventory:
    """The hosts of an inventory and its groups (a plain hosts file has only ``all`` and ``ungrouped``)."""

    source: Path | None
    format: str  # "hosts", "ini", "yaml" or "csv"
    hosts: tuple[Host, ...]
    # Every group and its hosts (its children's included), in inventory order; ``all`` holds every host.
    groups: Mapping[str, tuple[Host, ...]]
    warnings: tuple[str, ...] = ()
    # Hosts the inventory reaches otherwise than over WinRM (ansible_connection=ssh, ...), and why.
    not_winrm: Mapping[Host, str] = field(default_factory=dict)

    @classmethod
    def of_hosts(cls, hosts: Sequence[Host], source: Path | None = None) -> Inventory:
        """The inventory of a plain hosts file."""
        return cls(source, "hosts", tuple(hosts), {"all": tuple(hosts), "ungrouped": tuple(hosts)})

    def groups_of(self, host: Host) -> tuple[str, ...]:
        """The groups `host` belongs to (``all`` too), in inventory order."""
        return tuple(name for name, members in self.groups.items() if host in members)


class HostsFileError(InventoryError):
    """Every problem of one hosts file; `problems` lists each with its location."""

    def __init__(self, source: Path | None, problems: list[tuple[Location, str]]) -> None:
        self.problems = problems
        if len(problems) == 1:
            where, message = problems[0]
            super().__init__(message, where)
        else:
            lines = "\n".join(f"  {where}: {message}" for where, message in problems)
            super().__init__(_("{count} problems:\n{lines}").format(count=len(problems), lines=lines),
                             Location(source) if source else None)


def load_hosts(path: Path, *, scheme: str = "https", port: int | None = None) -> list[Host]:
    """Read a hosts file (UTF-8, with or without BOM; UTF-16 with BOM as Windows Notepad may save it).

    `scheme` and `port` are the run's defaults for lines without ``scheme=`` or ``:port`` (see parse_hosts).
    """
    data = read_input_bytes(path, _("hosts file"), InventoryError)
    return parse_hosts(decode_inventory(data, Path(path)), Path(path), scheme=scheme, port=port)


def decode_inventory(data: bytes, path: Path) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InventoryError(_("hosts file is not valid UTF-16 text: {path}").format(path=path)) from None
    if len(data) >= 2 and data.count(0) * 3 >= len(data):
        # UTF-16 without a BOM (every other byte of ASCII text is zero): say so rather than list NULs.
        raise InventoryError(
            _("the hosts file looks like UTF-16 text without a byte order mark"),
            Location(path),
            hint=_("save the hosts file as UTF-8 (or as UTF-16 with a BOM, as Notepad's 'Unicode' does)"),
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        hint = _("save the hosts file as UTF-8")
        try:
            data.decode("cp932")
        except UnicodeDecodeError:
            pass
        else:
            hint = (_("the file looks like Shift-JIS (CP932), the Japanese ANSI code page; ") + hint +
                    _(" (Notepad: Save As, Encoding UTF-8)"))
        raise InventoryError(
            _("not UTF-8 text (byte 0x{byte:02X})").format(byte=data[error.start]),
            Location(path, line),
            hint=hint,
        ) from None


def parse_hosts(
    text: str, source: Path | None = None, *, scheme: str = "https", port: int | None = None
) -> list[Host]:
    """Parse hosts-file text; raise HostsFileError (an InventoryError) listing every problem.

    `scheme` and `port` are the run's defaults: they decide which port a line without ``:port`` means, so that
    ``kms01`` and ``kms01:5986`` are found to be the same host when the run uses https on the default port.
    """
    hosts: list[Host] = []
    problems: list[tuple[Location, str]] = []
    seen: dict[tuple[str, int | None], Host] = {}
    for number, raw_line in split_lines(text):
        line_problems: list[tuple[str | None, str]] = []
        host = _parse_line(raw_line, number, source, line_problems)
        if line_problems:
            # A product key typed on a host line (as a host, a variable, a value) never shows in full, not even
            # as the separate fields a key written with spaces makes.
            hide = key_masker(raw_line)
            for where_field, message in line_problems:
                problems.append((Location(source, number, where_field and hide(where_field)), hide(message)))
        if host is None:
            continue
        identity = host_identity(host, scheme, port)
        first = seen.get(identity)
        if first is not None:
            problems.append((Location(source, number, host.label), duplicate_message(first, host, identity)))
            continue
        seen[identity] = host
        if not line_problems:
            hosts.append(host)
    if problems:
        raise HostsFileError(source, problems)
    if not hosts:
        raise InventoryError(
            _("no hosts: the hosts file has no host lines (only blank lines or comments)"),
            Location(source) if source else None,
            hint=_("write one host per line: name[:port] [key=value ...]"),
        )
    return hosts


def key_masker(line: str) -> Callable[[str], str]:
    """A function that masks product keys in a text about `line`, and each masked group of a key on the line."""
    masked = mask_product_keys(line)
    kept = "".join(char if shown == "X" else " " for char, shown in zip(line, masked, strict=True))
    groups = {
        variant
        for group in kept.split()
        if group.upper().strip("X")  # an X that was an X all along hides nothing
        for variant in (group, unicodedata.normalize("NFKC", group))
    }
    if not groups:
        return mask_product_keys
    hidden = re.compile("|".join(map(re.escape, sorted(groups, key=len, reverse=True))), re.IGNORECASE)

    def hide(text: str) -> str:
        return hidden.sub(lambda match: "X" * len(match.group()), mask_product_keys(text))

    return hide


def split_lines(text: str) -> list[tuple[int, str]]:
    """(number, line) of each line. Only a line feed ends a line; a carriage return right before it goes too.

    Not str.splitlines(): that also breaks at VT, FF, FS, GS, RS, NEL and U+2028/U+2029, which editors and
    other tools show on one line. Those stay in the line and are refused there, with their column.
    """
    return [(number, line.removesuffix("\r")) for number, line in enumerate(text.split("\n"), 1)]


# The characters str.splitlines() breaks at, besides the line feed.
_LINE_BREAKS = {
    "\r": "carriage return",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x1c": "file separator",
    "\x1d": "group separator",
    "\x1e": "record separator",
    "\x85": "next line (NEL)",
    "\u2028": "line separator",
    "\u2029": "paragraph separator",
}
# Default-ignorable characters outside category Cf (which is refused whole): shown as nothing, or as a blank.
_INVISIBLE_RANGES = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x2065, 0x2065),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0xE0000, 0xE0FFF),
)


def hidden_character_problem(line: str) -> str | None:
    """What is wrong with the first character of `line` that would split it or hide what it says, if any."""
    for column, char in enumerate(line, 1):
        if " " <= char <= "~" or char == "\t":
            continue
        code = ord(char)
        category = unicodedata.category(char)
        where = f"U+{code:04X} at column {column}"
        if char in _LINE_BREAKS:
            return _("{character} {where}: only a line feed (or CR LF) ends a line").format(
                character=_LINE_BREAKS[char], where=where)
        if category == "Cc" and char != "\t":
            return f"control character {where}"
        if category == "Cs":
            return _("lone surrogate {where}: not a character").format(where=where)
        if category == "Cf" or any(low <= code <= high for low, high in _INVISIBLE_RANGES):
            name = unicodedata.name(char, "")
            return (_("invisible character {where}{name}: it makes the line look different from what it holds").format(
                where=where, name=f' ({name})' if name else ''))
    return None


def host_identity(host: Host, scheme: str, port: int | None) -> tuple[str, int | None]:
    """What makes two lines the same host: the address by value, the name without case or trailing dot, and
    the port the host will be reached on."""
    if host.port is not None:
        effective_port: int | None = host.port
    elif port is not None:
        effective_port = port
    else:
        effective_port = DEFAULT_PORTS.get(host.variables.get("scheme", scheme))  # None for a bad scheme=
    return _address_identity(host.connect_name), effective_port


def _address_identity(name: str) -> str:
    if ":" in name:
        address = ipaddress.IPv6Address(name)
        mapped = address.ipv4_mapped  # [::ffff:10.0.0.12] is 10.0.0.12
        return str(mapped) if mapped is not None else f"[{address}]"
    if _ipv4(name) is not None:
        return str(ipaddress.IPv4Address(name))
    bare = name.removesuffix(".")
    try:
        # IDNA: a name in Unicode and its xn-- form are one name (host_name_problem has checked that it encodes)
        return ".".join(label.encode("idna").decode("ascii") for label in bare.split(".")).lower()
    except UnicodeError:
        return bare.casefold()


def duplicate_message(first: Host, host: Host, identity: tuple[str, int | None]) -> str:
    message = _("duplicate host: already listed on line {line}").format(line=first.line)
    if first.label != host.label:
        address, port = identity
        message += f" as {first.label} (both are {address}{'' if port is None else f':{port}'})"
    return message


def _parse_line(
    raw_line: str, number: int, source: Path | None, problems: list[tuple[str | None, str]]
) -> Host | None:
    hidden = hidden_character_problem(raw_line)
    if hidden is not None:
        problems.append((None, hidden))
        return None
    tokens = _tokens(raw_line, problems)
    if tokens is None or not tokens:
        return None
    host_token, *variable_tokens = tokens
    name, port = parse_host_token(host_token, problems)
    variables: dict[str, str] = {}
    for token in variable_tokens:
        key, has_equals, value = token.partition("=")
        if not has_equals:
            problems.append((key, _("'{key}' has no value: write key=value").format(key=key)))
            continue
        if not _KEY.fullmatch(key):
            message = _("bad variable name {key!r}: use lower-case letters, digits and _ (not a digit first)").format(
                key=key)
            problems.append((key or None, message))
            continue
        if key in variables:
            problems.append((key, _("variable {key} is given twice on this line").format(key=key)))
            continue
        variables[key] = value
    check_transport_variables(variables, source, problems)
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
                message = _("unexpected double quote at column {column}: only a whole value can be quoted").format(
                    column=i + 1)
                problems.append((None, message + ' (key="value")'))
                return None
            value: list[str] = []
            closing = _quoted(line, i, value)
            if closing is None:
                problems.append((None, _("unterminated double quote starting at column {column}").format(column=i + 1)))
                return None
            i = closing + 1
            if i < end and not line[i].isspace():
                problems.append((None, _("text right after the closing quote at column {column}: separate "
                                         "variables with spaces").format(column=i + 1)))
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


def parse_host_token(token: str, problems: list[tuple[str | None, str]]) -> tuple[str | None, int | None]:
    token = unicodedata.normalize("NFKC", token)
    if has_product_key(token):
        problems.append((token, _("this is a product key, not a host: a key comes from --secret-env or "
                                  "--secrets-file, never from a hosts file")))
        return None, None
    if "=" in token and not token.startswith("["):
        key = token.partition("=")[0]
        problems.append((None, _("the line starts with a variable ({key}=...), not a host").format(key=key)))
        return None, None
    port_text: str | None = None
    if token.startswith("["):
        address, bracket, rest = token[1:].partition("]")
        if not bracket:
            problems.append((token, _("missing ']' after an IPv6 address")))
            return None, None
        if rest:
            if not rest.startswith(":"):
                problems.append((token, _("expected :port after ']'")))
                return None, None
            port_text = rest[1:]
        try:
            name = str(ipaddress.IPv6Address(address))
        except ValueError:
            problems.append((token, _("not an IPv6 address in brackets: {address!r}").format(address=address)))
            return None, None
    elif token.count(":") > 1:
        try:
            name = str(ipaddress.IPv6Address(token))
        except ValueError:
            problems.append((token, _("not a host name or address; write IPv6 addresses as [address]:port")))
            return None, None
    else:
        name, colon, after = token.partition(":")
        if colon:
            port_text = after
        if _ipv4(name) is None:
            legacy = _legacy_ipv4(name)
            if legacy is not None:
                problems.append((token, _("{name!r} is the IPv4 address {legacy} written in another form (a "
                                          "leading 0 means octal, 0x hex): write {legacy}").format(
                                              name=name, legacy=legacy)))
                return None, None
            problem = host_name_problem(name)
            if problem:
                problems.append((token, _("bad host name {name!r}: {problem}").format(name=name, problem=problem)))
                return None, None
    port = None
    if port_text is not None:
        port = _port(port_text)
        if port is None:
            problems.append((token, _("bad port {port!r}: expected a number from 1 to 65535").format(port=port_text)))
            return None, None
    return name, port


def _ipv4(name: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(name)
    except ValueError:
        return None


def _legacy_ipv4(name: str) -> ipaddress.IPv4Address | None:
    """The address of an IPv4 address in a form inet_aton and browsers accept, but not dotted-decimal: fewer
    than four parts, octal or hex parts, a trailing dot (``10.0.0.012``, ``10.0.0.0x0c``, ``167772172``)."""
    parts = name.removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        text, base = part, 10
        if part[:2].lower() == "0x":
            text, base = part[2:] or "0", 16
        elif len(part) > 1 and part.startswith("0"):
            text, base = part[1:], 8
        if not text.isascii() or not text.isalnum():
            return None
        try:
            numbers.append(int(text, base))
        except ValueError:
            return None
    *leading, last = numbers
    if any(number > 255 for number in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _port(text: str) -> int | None:
    if not text.isascii() or not text.isdigit() or len(text) > 5:
        return None
    value = int(text)
    return value if 1 <= value <= 65535 else None


def check_transport_variables(
    variables: dict[str, str], source: Path | None, problems: list[tuple[str | None, str]]
) -> None:
    if "port" in variables:
        problems.append(("port", _("the port is not a variable: write it after the host as host:port")))
    if "scheme" in variables:
        scheme = variables["scheme"].lower()
        if scheme not in SCHEMES:
            problems.append(("scheme", _("scheme must be http or https, not {scheme!r}").format(
                scheme=variables['scheme'])))
        variables["scheme"] = scheme
    if "auth" in variables:
        auth = variables["auth"].lower()
        if auth not in AUTH_METHODS:
            allowed = ", ".join(AUTH_METHODS)
            problems.append(("auth", _("auth must be one of {allowed}; not {auth!r}").format(
                allowed=allowed, auth=variables['auth'])))
        variables["auth"] = auth
    if "ca_file" in variables:
        ca_file = variables["ca_file"]
        if not ca_file:
            problems.append(("ca_file", _("ca_file is empty: give the path of a CA certificate bundle")))
        elif source is not None and not Path(ca_file).is_absolute():
            variables["ca_file"] = str(Path(source).parent / ca_file)
