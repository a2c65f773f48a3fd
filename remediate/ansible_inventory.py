"""Ansible's YAML and INI inventories -> InventoryTree, read as Ansible reads them.

YAML: a mapping of groups (usually ``all:``), each with ``hosts:`` (host -> its variables), ``children:``
(groups, each the same again) and ``vars:``. ``!vault`` values stay encrypted (never used), ``!unsafe`` ones are
text. A key given twice in one mapping is refused (Ansible would keep the last, silently).

INI: ``[group]`` sections of ``host key=value ...`` lines (split as a shell splits words; ``#`` starts a
comment), ``[group:vars]`` sections of ``key=value`` lines and ``[group:children]`` sections of group names;
lines before any section are ungrouped hosts. A ``:vars`` or ``:children`` section may only name a group that a
``[group]`` or ``[group:children]`` section defines, as in Ansible.

Host patterns in both: ``name[:port]``, ``[v6]:port`` or a bare IPv6 address, and ranges in names
(``web[01:20]``, ``db-[a:c]``, ``[0:10:2]``). A port in a pattern is the host's ``ansible_port``.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import string
from collections.abc import Iterator

import yaml

from remediate.ansible_variables import Var, Vaulted
from remediate.i18n import _
from remediate.inventory import split_lines
from remediate.inventory_tree import InventoryTree
from remediate.productkey import mask_product_keys

MAX_RANGE_HOSTS = 100_000  # hosts one pattern may expand to
_RANGE = re.compile(r"\[[^\]]*:[^\]]*\]")


def expand_host_pattern(pattern: str, problems: list[tuple[str | None, str]]) -> list[tuple[str, int | None]]:
    """The hosts an inventory's host pattern names, as Ansible reads it: ``name[:port]``, ``[v6]:port`` or a
    bare IPv6 address, where the name may hold ranges (``web[01:20]``, ``db-[a:c]``, ``[0:10:2]``)."""
    name, port = split_port(pattern, problems)
    if name is None:
        return []
    if is_ipv6(name):  # no ranges in an address
        return [(name, port)]
    return [(expanded, port) for expanded in _expand_ranges(name, pattern, problems)]


def split_port(token: str, problems: list[tuple[str | None, str]]) -> tuple[str | None, int | None]:
    """(name, port) of ``name[:port]``, ``[v6]:port`` or a bare IPv6 address; (None, None) after a problem."""
    if token.startswith("["):
        inner, bracket, rest = token[1:].partition("]")
        if bracket and is_ipv6(inner):
            if not rest:
                return inner, None
            if not rest.startswith(":"):
                problems.append((token, _("expected :port after ']'")))
                return None, None
            return inner, port_of(token, rest[1:], problems)
    elif token.count(":") > 1 and "[" not in token:
        return token, None  # a bare IPv6 address (checked as an address later)
    depth, colon = 0, -1
    for index, char in enumerate(token):  # the colon of a port is outside range brackets
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == ":" and depth == 0:
            colon = index
    if colon < 0:
        return token, None
    port = port_of(token, token[colon + 1:], problems)
    return (token[:colon], port) if port is not None else (None, None)


def port_of(token: str, text: str, problems: list[tuple[str | None, str]]) -> int | None:
    """`text` as a port number of `token`, or None after a problem."""
    if text.isascii() and text.isdigit() and len(text) <= 5 and 1 <= int(text) <= 65535:
        return int(text)
    problems.append((token, _("bad port {text!r}: expected a number from 1 to 65535").format(text=text)))
    return None


def is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _expand_ranges(name: str, pattern: str, problems: list[tuple[str | None, str]]) -> list[str]:
    match = _RANGE.search(name)
    if match is None:
        return [name]
    head, tail = name[: match.start()], name[match.end():]
    bounds = match.group()[1:-1].split(":")
    if len(bounds) not in (2, 3):
        problems.append((pattern, _("a host range is [begin:end] or [begin:end:step]")))
        return []
    begin, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        problems.append((pattern, _("a host range needs its end, as in [01:20]")))
        return []
    if not (step_text.isascii() and step_text.isdigit() and int(step_text) > 0):
        problems.append((pattern, _("a host range's step is a number above 0, not {step_text!r}").format(
            step_text=step_text)))
        return []
    step = int(step_text)
    values: list[str]
    if begin.isascii() and begin.isdigit() and end.isascii() and end.isdigit():
        width = len(begin) if begin.startswith("0") and len(begin) > 1 else 0
        if width and len(end) != width:
            problems.append((pattern, _("the bounds of a zero-padded range have one length, as in [01:20]")))
            return []
        low, high = int(begin), int(end)
        if low > high or (high - low) // step >= MAX_RANGE_HOSTS:
            problems.append((pattern, _("a host range runs from low to high and names at most "
                                        "{MAX_RANGE_HOSTS} hosts").format(MAX_RANGE_HOSTS=MAX_RANGE_HOSTS)))
            return []
        values = [str(number).zfill(width) for number in range(low, high + 1, step)]
    elif len(begin) == len(end) == 1 and begin in string.ascii_letters and end in string.ascii_letters:
        low, high = string.ascii_letters.index(begin), string.ascii_letters.index(end)
        if low > high:
            problems.append((pattern, _("a host range runs from low to high, as in [a:f]")))
            return []
        values = list(string.ascii_letters[low: high + 1: step])
    else:
        problems.append((pattern, _("a host range is of numbers ([01:20]) or of letters ([a:f])")))
        return []
    tails = _expand_ranges(tail, pattern, problems)
    if len(values) * len(tails) > MAX_RANGE_HOSTS:
        problems.append((pattern, _("the ranges name more than {MAX_RANGE_HOSTS} hosts").format(
            MAX_RANGE_HOSTS=MAX_RANGE_HOSTS)))
        return []
    return [head + value + rest for value in values for rest in tails]


def host_names(tree: InventoryTree, pattern: str, line: int) -> list[tuple[str, int | None]]:
    """The hosts a host pattern names, each with the port it gives; its problems go to `tree`."""
    problems: list[tuple[str | None, str]] = []
    names = expand_host_pattern(pattern, problems)
    for where, message in problems:
        tree.problem(line, mask_product_keys(message), where and mask_product_keys(where))
    return names


# --- YAML -------------------------------------------------------------------------------------------------------


class InventoryLoader(yaml.SafeLoader):
    """YAML as Ansible inventories write it: ``!vault`` values stay encrypted, ``!unsafe`` ones are text."""


InventoryLoader.add_constructor("!vault", lambda loader, node: Vaulted())
InventoryLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))  # type: ignore[arg-type]
_NULL = "tag:yaml.org,2002:null"


def read_yaml(text: str, tree: InventoryTree) -> None:
    """Read a YAML inventory into `tree`."""
    loader = InventoryLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            tree.problem(None, _("the inventory is empty"))
            return
        _YamlReader(loader, tree).inventory(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = _("not valid YAML: {value}").format(value=error.problem or error)
        if "'\\t'" in message:
            message += _(" (YAML indents with spaces, never tabs: replace the tab with spaces)")
        tree.problem(mark.line + 1 if mark else None, message)
    except yaml.YAMLError as error:
        tree.problem(None, _("not valid YAML: {error}").format(error=error))
    finally:
        loader.dispose()


class _YamlReader:
    def __init__(self, loader: InventoryLoader, tree: InventoryTree) -> None:
        self.loader = loader
        self.tree = tree

    @staticmethod
    def line(node: yaml.Node) -> int:
        return int(node.start_mark.line) + 1

    @staticmethod
    def is_null(node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == _NULL

    def pairs(self, node: yaml.MappingNode) -> Iterator[tuple[str, int, yaml.Node]]:
        """(key, its line, value) of a mapping; a key given twice is refused (Ansible would keep the last)."""
        try:
            self.loader.flatten_mapping(node)  # merge keys (<<: *defaults)
        except yaml.MarkedYAMLError as error:
            self.tree.problem(self.line(node), _("not valid YAML: {value}").format(value=error.problem or error))
            return
        seen: set[str] = set()
        for key_node, value_node in node.value:
            line = self.line(key_node)
            if not isinstance(key_node, yaml.ScalarNode) or not str(key_node.value):
                self.tree.problem(line, _("expected a name before the colon"))
                continue
            key = str(key_node.value)
            if key in seen:
                self.tree.problem(line, _("given twice in one mapping"), mask_product_keys(key))
                continue
            seen.add(key)
            yield key, line, value_node

    def value(self, node: yaml.Node) -> object:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as error:
            self.tree.problem(self.line(node), _("not valid YAML: {value}").format(
                value=getattr(error, 'problem', None) or error))
            return None

    def mapping(self, node: yaml.Node, line: int, what: str, field_name: str) -> yaml.MappingNode | None:
        if self.is_null(node):
            return None
        if isinstance(node, yaml.MappingNode):
            return node
        found = "a list" if isinstance(node, yaml.SequenceNode) else _("a single value")
        self.tree.problem(line, f"{what}, not {found}", mask_product_keys(field_name))
        return None

    def inventory(self, node: yaml.Node) -> None:
        if not isinstance(node, yaml.MappingNode):
            self.tree.problem(self.line(node), _("a YAML inventory is a mapping of groups: all: with hosts:, "
                                                 "children: and vars:"))
            return
        for name, line, value in self.pairs(node):
            if name == "plugin":
                self.tree.problem(line, _("this configures an inventory plugin (a dynamic inventory): "
                                          "remediate reads static inventories; write one with "
                                          "ansible-inventory -i FILE --list --yaml"),
                                  name)
                continue
            self.group(name, line, value, None)

    def group(self, name: str, line: int, node: yaml.Node, parent: str | None) -> None:
        group = self.tree.group(name, line)
        if parent is not None:
            self.tree.add_child(parent, name, line)
        entries = self.mapping(node, line, _("group {name} holds hosts:, children: and vars:").format(name=name), name)
        for key, key_line, value in self.pairs(entries) if entries is not None else ():
            if key == "hosts":
                hosts = self.mapping(value, key_line, _("hosts: is a mapping of host names, each followed by a "
                                                        "colon"),
                                     key)
                for pattern, host_line, host_node in self.pairs(hosts) if hosts is not None else ():
                    self.host(name, pattern, host_line, host_node)
            elif key == "children":
                children = self.mapping(value, key_line, _("children: is a mapping of group names, each "
                                                           "followed by a colon"), key)
                for child, child_line, child_node in self.pairs(children) if children is not None else ():
                    self.group(child, child_line, child_node, name)
            elif key == "vars":
                variables = self.mapping(value, key_line, _("vars: is a mapping of variables (name: value)"), key)
                for var, var_line, var_node in self.pairs(variables) if variables is not None else ():
                    self.tree.set_variable(group.variables, var, self.value(var_node), var_line)
            else:
                self.tree.problem(key_line, _("a group holds hosts:, children: and vars:, not {key}:").format(key=key),
                                  mask_product_keys(key))

    def host(self, group: str, pattern: str, line: int, node: yaml.Node) -> None:
        variables: dict[str, Var] = {}
        entries = self.mapping(node, line, _("a host's variables are a mapping (name: value)"), pattern)
        for var, var_line, var_node in self.pairs(entries) if entries is not None else ():
            self.tree.set_variable(variables, var, self.value(var_node), var_line)
        for name, port in host_names(self.tree, pattern, line):
            own = {"ansible_port": Var(port, self.tree.at(line, pattern))} if port is not None else {}
            self.tree.add_host(group, name, line, {**own, **variables})


# --- INI --------------------------------------------------------------------------------------------------------

_INI_SECTION = re.compile(r"\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?")
_INLINE_COMMENT = re.compile(r"\s[#;].*$")


def read_ini(text: str, tree: InventoryTree) -> None:
    """Read an INI inventory into `tree`."""
    group: str | None = "ungrouped"
    kind = "hosts"
    defined = {"all", "ungrouped"}
    uses: list[tuple[str, int, str]] = []  # a group named by a :vars or :children section, to be defined somewhere
    for number, raw in split_lines(text):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and not _is_host_line(line):
            match = _INI_SECTION.fullmatch(line)
            group = None
            if match is None:
                tree.problem(number, _("not a section header: write [group], [group:vars] or [group:children]"))
                continue
            name, kind = match.group(1), match.group(2) or "hosts"
            if kind not in ("hosts", "vars", "children"):
                tree.problem(number, _("unknown section kind :{kind}: a section is [group], [group:vars] or "
                                       "[group:children]").format(kind=kind), line)
                continue
            group = name
            tree.group(group, number)
            if kind == "vars":
                uses.append((group, number, _("[{group}:vars] sets variables of group {group}").format(group=group)))
            else:
                defined.add(group)
            continue
        if group is None:
            continue  # the lines of a section refused above
        if kind == "hosts":
            _ini_host(tree, group, line, number)
        elif kind == "vars":
            _ini_variable(tree, tree.groups[group].variables, line, number)
        else:
            child = _shlex(tree, line, number)
            if child:
                tree.add_child(group, child[0], number)
                uses.append((child[0], number, _("[{group}:children] names group {child}").format(group=group,
                                                                                                   child=child[0])))
    for name, number, what in uses:
        if name not in defined:
            tree.problem(number, _("{what}, but no [{name}] or [{name}:children] section defines it").format(
                what=what, name=name), name)


def _is_host_line(line: str) -> bool:
    """A line of an INI hosts section that starts with a bracketed IPv6 address, not a section header."""
    inner, bracket, _rest = line[1:].partition("]")
    return bool(bracket) and is_ipv6(inner)


def _shlex(tree: InventoryTree, line: str, number: int) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        tree.problem(number, _("a quote is not closed on this line"))
        return []


def _ini_host(tree: InventoryTree, group: str, line: str, number: int) -> None:
    tokens = _shlex(tree, line, number)
    if not tokens:
        return
    pattern, *assignments = tokens
    variables: dict[str, Var] = {}
    for token in assignments:
        key, has_equals, value = token.partition("=")
        if not has_equals:
            tree.problem(number, _("expected key=value after the host"), mask_product_keys(key))
            continue
        tree.set_variable(variables, key, value, number)
    for name, port in host_names(tree, pattern, number):
        own = {"ansible_port": Var(port, tree.at(number, pattern))} if port is not None else {}
        tree.add_host(group, name, number, {**own, **variables})


def _ini_variable(tree: InventoryTree, variables: dict[str, Var], line: str, number: int) -> None:
    key, has_equals, value = line.partition("=")
    if not has_equals:
        tree.problem(number, _("expected key=value in a :vars section"))
        return
    value = value.strip()
    if value[:1] in ("'", '"'):
        words = _shlex(tree, value, number)
        value = words[0] if len(words) == 1 else value
    else:
        value = _INLINE_COMMENT.sub("", value).strip()
    tree.set_variable(variables, key.strip(), value, number)
