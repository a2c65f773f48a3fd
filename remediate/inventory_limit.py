"""--limit: the hosts of an inventory a command works on, chosen with Ansible's host patterns.

    web                    a group (its children's hosts too) or a host
    web:db  web,db         union
    web:&prod              intersection
    web:!web03             exclusion
    web*  *.corp.example   wildcards (fnmatch), on group and host names
    ~web0[1-3]\\..*         a regular expression (matched from the start of the name)
    web[0]  web[1:]  web[0:2]   hosts of a pattern by position (the end included)
    @retry.txt             the patterns in a file, one a line (blank lines and # comments skipped)

As in Ansible, the patterns without ``&`` or ``!`` are joined first, then the intersections, then the
exclusions; a pattern of only ``&`` / ``!`` parts starts from ``all``. A name without wildcards matches a group
by that name, else a host; names compare with case, as in Ansible. A host is matched by its inventory name or
by its label (``10.0.0.12:5986``). Unlike Ansible, which warns and goes on, a pattern that matches nothing is a
usage error that lists the groups and hosts there are: a mistyped group must not shrink a change window in silence.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Callable
from pathlib import Path

from remediate.errors import InventoryError, Location, UsageError
from remediate.i18n import _
from remediate.input_file import read_input_bytes
from remediate.inventory import Host, Inventory
from remediate.inventory_formats import load_inventory

_SUBSCRIPT = re.compile(r"(.+)\[(?:(-?[0-9]+)|([0-9]+)?:([0-9]*))\]")
_PART = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_SPECIAL = (".", "?", "*", "[")
_SHOWN = 20  # names listed in a message before "and N more"


def inventory_hosts(
    path: Path,
    *,
    scheme: str = "https",
    port: int | None = None,
    insecure: bool = False,
    limit: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Host]:
    """The hosts of the inventory at `path` that `limit` selects (all without one), for a command to work on.

    Raises InventoryError for a bad inventory or a selected host the inventory reaches otherwise than over
    WinRM, UsageError for a pattern that selects nothing; `warn` receives the inventory's warnings.
    """
    inventory = load_inventory(path, scheme=scheme, port=port, insecure=insecure)
    for warning in inventory.warnings:
        if warn is not None:
            warn(warning)
    hosts = select_hosts(inventory, limit)
    refused = [host for host in hosts if host in inventory.not_winrm]
    if refused:
        lines = "\n".join(f"  {host.location}: {host.label}: {inventory.not_winrm[host]}" for host in refused)
        raise InventoryError(
            _("the inventory reaches these hosts otherwise than over WinRM, the one way remediate "
              "connects:\n{lines}").format(lines=lines),
            hint=_("leave them out with --limit, e.g. --limit 'all:!{host}'").format(host=refused[0].label),
        )
    return hosts


def select_hosts(inventory: Inventory, limit: str | None) -> list[Host]:
    """The hosts of `inventory` that the host pattern `limit` selects, in inventory order (all if None)."""
    if limit is None:
        return list(inventory.hosts)
    patterns = _expand_files(split_pattern(limit))
    if not patterns:
        raise UsageError(_("--limit is empty: give a group, a host or a pattern"), hint=_what_exists(inventory))
    chosen = _evaluate(inventory, patterns)
    if not chosen:
        raise UsageError(_("--limit {limit!r} selects no host").format(limit=limit), hint=_what_exists(inventory))
    return [host for host in inventory.hosts if host in chosen]


def split_pattern(pattern: str) -> list[str]:
    """Ansible's split of a host pattern: at commas if it has any; else at colons, except within brackets and
    in an address or ``host:port``."""
    if "," in pattern:
        parts = pattern.split(",")
    elif _is_address(pattern):
        parts = [pattern]
    else:
        parts = _PART.findall(pattern)
    return [part.strip() for part in parts if part.strip()]


def _is_address(pattern: str) -> bool:
    text = pattern.strip()
    if text.startswith("[") and "]" in text:
        inner, _bracket, rest = text[1:].partition("]")
        text = inner if not rest or (rest[0] == ":" and rest[1:].isdigit()) else text
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        name, colon, port = text.rpartition(":")
        return bool(colon) and port.isdigit() and bool(name) and ":" not in name and "[" not in name
    return True


def _expand_files(patterns: list[str]) -> list[str]:
    expanded: list[str] = []
    for pattern in patterns:
        if not pattern.startswith("@"):
            expanded.append(pattern)
            continue
        path = Path(pattern[1:])
        text = read_input_bytes(path, _("--limit file")).decode("utf-8-sig", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if line and not line.startswith("#"):
                if line.startswith("@"):
                    raise UsageError(_("a --limit file names hosts and groups, not other files"),
                                     Location(path, number))
                expanded.append(line)
    return expanded


def _evaluate(inventory: Inventory, patterns: list[str]) -> set[Host]:
    plain = [pattern for pattern in patterns if pattern[0] not in "&!"]
    ordered = (plain or ["all"]) + [p for p in patterns if p[0] == "&"] + [p for p in patterns if p[0] == "!"]
    chosen: dict[Host, None] = {}
    for pattern in ordered:
        kind, body = (pattern[0], pattern[1:]) if pattern[0] in "&!" else ("", pattern)
        matched = _match(inventory, body)
        if not matched:
            raise UsageError(_("--limit: {body!r} matches no group or host").format(
                body=body), hint=_what_exists(inventory))
        if kind == "&":
            chosen = {host: None for host in chosen if host in matched}
        elif kind == "!":
            chosen = {host: None for host in chosen if host not in matched}
        else:
            chosen.update(dict.fromkeys(matched))
    return set(chosen)


def _match(inventory: Inventory, pattern: str) -> list[Host]:
    """The hosts one pattern part names, in the order of its groups (for subscripts)."""
    subscript: tuple[int, int | None] | None = None
    match = _SUBSCRIPT.fullmatch(pattern) if not pattern.startswith("~") else None
    if match is not None:
        pattern, single, start, end = match.groups()
        subscript = (int(single), None) if single is not None else (int(start or 0), int(end) if end else -1)
    hosts = _enumerate(inventory, pattern)
    if subscript is None:
        return hosts
    first, last = subscript
    if last is None:
        return [hosts[first]] if -len(hosts) <= first < len(hosts) else []
    return hosts[first: (len(hosts) if last == -1 else last + 1)]


def _enumerate(inventory: Inventory, pattern: str) -> list[Host]:
    try:
        regex = re.compile(pattern[1:] if pattern.startswith("~") else fnmatch.translate(pattern))
    except re.error as error:
        raise UsageError(_("--limit: {pattern!r} is not a valid pattern: {error}").format(
            pattern=pattern, error=error)) from None
    found: dict[Host, None] = {}
    groups = [name for name in inventory.groups if regex.match(name)]
    for name in groups:
        found.update(dict.fromkeys(inventory.groups[name]))
    if not groups or pattern.startswith("~") or any(special in pattern for special in _SPECIAL):
        for host in inventory.hosts:
            if pattern in (host.name, host.label) or regex.match(host.name) or regex.match(host.label):
                found.setdefault(host, None)
    return list(found)


def _what_exists(inventory: Inventory) -> str:
    groups = [name for name in inventory.groups if name not in ("all", "ungrouped") or inventory.groups[name]]
    return f"groups: {_listed(groups)}; hosts: {_listed([host.label for host in inventory.hosts])}"


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
