"""Groups and hosts as an inventory file declares them -> Inventory.

The readers (ansible_inventory.py, csv_inventory.py) fill an InventoryTree with groups, children, hosts and
variables, each with the line it was set on; `build` merges each host's variables in Ansible's precedence
(``all``, then each group by depth below all, a parent before its child, groups of one depth by
``ansible_group_priority`` then name; the host's own last), reads them (ansible_variables.py), and refuses two hosts
that reach the same address and port, as a hosts file does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from remediate.ansible_variables import HostSettings, Var, host_settings, password_problem
from remediate.errors import InventoryError, Location
from remediate.i18n import _
from remediate.inventory import Host, HostsFileError, Inventory, duplicate_message, host_identity, parse_host_token
from remediate.productkey import has_product_key, mask_product_keys

Problems = list[tuple[Location, str]]


@dataclass
class _Group:
    name: str
    location: Location | None
    variables: dict[str, Var] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)


@dataclass
class _HostEntry:
    name: str
    location: Location
    variables: dict[str, Var] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)


class InventoryTree:
    """Groups and hosts as declared, before variables are merged."""

    def __init__(self, source: Path | None) -> None:
        self.source = source
        self.groups: dict[str, _Group] = {"all": _Group("all", None), "ungrouped": _Group("ungrouped", None)}
        self.hosts: dict[str, _HostEntry] = {}
        self.problems: Problems = []
        self.native = False  # CSV: remediate's own scheme / auth / ca_file columns are connection settings

    def at(self, line: int | None, field_name: str | None = None) -> Location:
        return Location(self.source, line, field_name)

    def problem(self, line: int | None, message: str, field_name: str | None = None) -> None:
        self.problems.append((self.at(line, field_name), message))

    def group(self, name: str, line: int | None) -> _Group:
        if name not in self.groups:
            self.groups[name] = _Group(name, self.at(line))
        return self.groups[name]

    def add_child(self, parent: str, child: str, line: int | None) -> None:
        self.group(child, line)
        if child == "all":
            self.problem(line, _("all cannot be the child of a group"), child)
        elif child not in self.groups[parent].children:
            self.groups[parent].children.append(child)
            self.groups[child].parents.append(parent)

    def add_host(self, group: str, name: str, line: int, variables: dict[str, Var]) -> None:
        entry = self.hosts.get(name)
        if entry is None:
            entry = self.hosts[name] = _HostEntry(name, self.at(line))
        entry.variables.update(variables)  # a host given again: its later variables win, as in Ansible
        if group not in entry.groups:
            entry.groups.append(group)
            self.groups[group].hosts.append(name)

    def set_variable(self, variables: dict[str, Var], name: str, value: object, line: int) -> None:
        if not name:
            self.problem(line, _("a variable without a name"))
            return
        problem = password_problem(name)
        if problem is not None:  # refused wherever it is, even in a group without hosts
            self.problem(line, problem, name)
        variables[name] = Var(value, self.at(line, name))

    # --- building the Inventory ---

    def build(self, kind: str, *, scheme: str, port: int | None, insecure: bool) -> Inventory:
        self._check_cycles()
        self._place_ungrouped()
        order = self._group_order()
        hosts: dict[str, Host] = {}
        not_winrm: dict[Host, str] = {}
        ignored: set[str] = set()
        shadowed: set[str] = set()
        vaulted: set[str] = set()
        seen: dict[tuple[str, int | None], Host] = {}
        for name, entry in self.hosts.items():
            merged: dict[str, Var] = {}
            for group in sorted(self._groups_of(entry), key=order.__getitem__):
                merged.update(self.groups[group].variables)
            merged.update(entry.variables)
            settings = host_settings(merged, scheme=scheme, insecure=insecure, native=self.native,
                                     source=self.source)
            self.problems += settings.problems
            ignored |= settings.ignored
            shadowed |= settings.shadowed
            vaulted |= settings.vaulted
            host = self._host(entry, settings)
            if host is None:
                continue
            identity = host_identity(host, scheme, port)
            first = seen.get(identity)
            if first is not None:
                self.problems.append((Location(self.source, entry.location.line, host.label),
                                      duplicate_message(first, host, identity)))
                continue
            seen[identity] = host
            hosts[name] = host
            if settings.connection is not None:
                not_winrm[host] = settings.connection
        if self.problems:
            raise HostsFileError(self.source, _unique(self.problems))
        if not hosts:
            raise InventoryError(_("no hosts: the inventory names no host"), self.at(None))
        return Inventory(self.source, kind, tuple(hosts.values()), self._members(hosts),
                         _warnings(self.source, ignored, shadowed, vaulted), not_winrm)

    def _host(self, entry: _HostEntry, settings: HostSettings) -> Host | None:
        name = entry.name
        if has_product_key(name):
            self.problems.append((entry.location, _("this is a product key, not a host: a key comes from "
                                                    "--secret-env or --secrets-file, never from an inventory")))
            return None
        port = settings.port
        if settings.address is None:  # the name is the address: it must be one
            problems: list[tuple[str | None, str]] = []
            parsed, _variables = parse_host_token(name, problems)
            if problems or parsed is None:
                self.problems += [(Location(self.source, entry.location.line, where), message)
                                  for where, message in problems]
                return None
            name = parsed
        elif any(char.isspace() for char in name):
            self.problems.append((Location(self.source, entry.location.line, name),
                                  _("a host name has no spaces")))
            return None
        return Host(name=name, port=port, variables=settings.variables, source=self.source,
                    line=entry.location.line, connect_address=settings.address)

    def _check_cycles(self) -> None:
        """Refuse a group that is its own descendant (it would have no depth)."""
        state: dict[str, int] = {}  # 1: being visited, 2: done

        def visit(name: str) -> None:
            state[name] = 1
            for child in list(self.groups[name].children):
                if state.get(child) == 1:
                    group = self.groups[child]
                    self.problem(group.location.line if group.location else None,
                                 _("group {child} is a child of its own descendant {name}: a loop").format(
                                     child=child, name=name), child)
                    self.groups[name].children.remove(child)
                    self.groups[child].parents.remove(name)
                elif child not in state:
                    visit(child)
            state[name] = 2

        for name in list(self.groups):
            if name not in state:
                visit(name)

    def _group_order(self) -> dict[str, tuple[int, int, str]]:
        """Each group's place in variable precedence: depth below all, then ansible_group_priority, then name."""
        for name, group in self.groups.items():
            if name != "all" and not group.parents:
                self.add_child("all", name, None)
        depth: dict[str, int] = {"all": 0}
        frontier = ["all"]
        while frontier:  # longest path from all (the tree has no loop now)
            following: list[str] = []
            for name in frontier:
                for child in self.groups[name].children:
                    if depth.get(child, -1) < depth[name] + 1:
                        depth[child] = depth[name] + 1
                        following.append(child)
            frontier = following
        return {name: (depth.get(name, 1), self._priority(group), name) for name, group in self.groups.items()}

    def _priority(self, group: _Group) -> int:
        var = group.variables.get("ansible_group_priority")
        if var is None:
            return 1
        text = str(var.value).strip()
        if isinstance(var.value, bool) or not text.lstrip("-").isdigit():
            message = _("ansible_group_priority must be a whole number, not {value!r}")
            self.problems.append((var.location, message.format(value=mask_product_keys(text))))
            return 1
        return int(text)

    def _groups_of(self, entry: _HostEntry) -> set[str]:
        found = {"all"}
        pending = list(entry.groups)
        while pending:
            name = pending.pop()
            if name not in found:
                found.add(name)
                pending += self.groups[name].parents
        return found

    def _place_ungrouped(self) -> None:
        """A host in no group but all is in ungrouped; a host in a group is not, as in Ansible."""
        ungrouped = self.groups["ungrouped"]
        for name, entry in self.hosts.items():
            if any(group not in ("all", "ungrouped") for group in entry.groups):
                if "ungrouped" in entry.groups:
                    entry.groups.remove("ungrouped")
                    ungrouped.hosts.remove(name)
            elif "ungrouped" not in entry.groups:
                entry.groups.append("ungrouped")
                ungrouped.hosts.append(name)

    def _members(self, hosts: dict[str, Host]) -> dict[str, tuple[Host, ...]]:
        """Each group's hosts: its own, then its children's level by level, as Ansible lists them."""
        members: dict[str, tuple[Host, ...]] = {"all": tuple(hosts.values())}
        for name in self.groups:
            if name == "all":
                continue
            listed: dict[str, None] = {}
            level, visited = [name], {name}
            while level:
                for group in level:
                    for host in self.groups[group].hosts:
                        listed.setdefault(host, None)
                level = [child for group in level for child in self.groups[group].children if child not in visited]
                visited.update(level)
            members[name] = tuple(hosts[host] for host in listed if host in hosts)
        return members


def _unique(problems: Problems) -> Problems:
    """Each problem once (a group variable's problem shows for every host of the group)."""
    seen: set[tuple[str, str]] = set()
    unique: Problems = []
    for where, message in problems:
        if (str(where), message) not in seen:
            seen.add((str(where), message))
            unique.append((where, message))
    return unique


def _warnings(source: Path | None, ignored: set[str], shadowed: set[str], vaulted: set[str]) -> tuple[str, ...]:
    where = f"{source}: " if source is not None else ""
    warnings = []
    if ignored:
        warnings.append(_("{where}not used by remediate, ignored: {value}").format(
            where=where, value=', '.join(sorted(ignored))))
    if shadowed:
        warnings.append(_("{where}variables named {value} are not connection settings in an Ansible inventory "
                          "(use ansible_port, ansible_winrm_scheme / ansible_psrp_protocol, "
                          "ansible_winrm_transport / ansible_psrp_auth, ansible_winrm_ca_trust_path / "
                          "ansible_psrp_ca_cert): ignored").format(where=where, value=', '.join(sorted(shadowed))))
    if vaulted:
        warnings.append(_("{where}values encrypted with Ansible Vault are not decrypted, left out: {value}").format(
            where=where, value=', '.join(sorted(vaulted))))
    return tuple(warnings)
