"""Inventory files -> Inventory: Ansible's YAML and INI inventories, CSV exports, and plain hosts files.

The format is told by the file's extension (``.yml`` / ``.yaml``, ``.ini``, ``.csv``), else by its content:

- YAML, as Ansible reads it: a mapping of groups (usually ``all:``), each with ``hosts:`` (host -> its
  variables), ``children:`` (child groups) and ``vars:``;
- INI, as Ansible reads it: ``[group]`` sections of ``host key=value ...`` lines, ``[group:vars]`` sections of
  ``key=value`` lines and ``[group:children]`` sections of group names; lines before any section are ungrouped;
- CSV with a header row naming a ``host`` column, as a CMDB exports it: optional ``port`` and ``groups``
  columns, and every other column a variable (an empty cell sets nothing);
- INI too: host lines with ``ansible_*=`` variables and no section (Ansible's ungrouped hosts);
- anything else is a plain hosts file (inventory.py), read as it always was: no valid hosts-file line looks like
  the first line of a YAML inventory (``all:``), a CSV header row or a section header.

The readers: ansible_inventory.py (YAML, INI), csv_inventory.py; they fill an InventoryTree (inventory_tree.py:
groups, variable precedence, duplicate hosts). Every problem of a file is reported at once, with its line and
field; a control or invisible character is refused on every line, as in a hosts file.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from remediate.ansible_inventory import InventoryLoader, is_ipv6, read_ini, read_yaml
from remediate.csv_inventory import csv_header, read_csv
from remediate.errors import InventoryError, Location
from remediate.i18n import _
from remediate.input_file import read_input_bytes
from remediate.inventory import (
    HostsFileError,
    Inventory,
    decode_inventory,
    hidden_character_problem,
    parse_hosts,
    split_lines,
)
from remediate.inventory_tree import InventoryTree, Problems

FORMATS = ("hosts", "ini", "yaml", "csv")
_SECTION = re.compile(r"\[([^\]\s]+)\]\s*(?:[#;].*)?")
_YAML_START = re.compile(r"---.*|[^\s#:\[=\"']+:\s*(?:#.*)?")  # `all:` alone: no valid hosts-file line
_ANSIBLE_VARIABLE = re.compile(r"(?:^|\s)ansible_\w+=")


def load_inventory(
    path: Path, *, scheme: str = "https", port: int | None = None, insecure: bool = False
) -> Inventory:
    """Read an inventory file of any of the formats; raise an InventoryError listing every problem.

    `scheme` and `port` are the run's defaults for hosts without their own (they decide which hosts are the
    same); `insecure` is whether the run verifies no certificates (only then may a host turn validation off).
    """
    path = Path(path)
    text = decode_inventory(read_input_bytes(path, _("hosts file"), InventoryError), path)
    return parse_inventory(text, path, scheme=scheme, port=port, insecure=insecure)


def parse_inventory(
    text: str, source: Path | None = None, *, scheme: str = "https", port: int | None = None, insecure: bool = False
) -> Inventory:
    """Parse inventory text of any of the formats (see load_inventory)."""
    kind = detect_format(text, source)
    if kind == "hosts":
        return Inventory.of_hosts(parse_hosts(text, source, scheme=scheme, port=port), source)
    problems: Problems = []
    for number, line in split_lines(text):
        hidden = hidden_character_problem(line)
        if hidden is not None:
            problems.append((Location(source, number), hidden))
    if problems:
        raise HostsFileError(source, problems)
    tree = InventoryTree(source)
    {"yaml": read_yaml, "ini": read_ini, "csv": read_csv}[kind](text, tree)
    return tree.build(kind, scheme=scheme, port=port, insecure=insecure)


def detect_format(text: str, source: Path | None = None) -> str:
    """One of FORMATS: by the file's extension, else by its content (see the module's docstring)."""
    suffix = source.suffix.lower() if source is not None else ""
    if suffix in (".yml", ".yaml"):
        return "yaml"
    if suffix in (".ini", ".csv"):
        return suffix[1:]
    significant = [line.strip() for _, line in split_lines(text)]
    significant = [line for line in significant if line and not line.startswith(("#", ";"))]
    if not significant:
        return "hosts"
    if csv_header(significant[0]) is not None:
        return "csv"
    if any(_is_section(line) for line in significant):
        return "ini"
    if _YAML_START.fullmatch(significant[0]):
        try:
            if isinstance(yaml.load(text, InventoryLoader), dict):
                return "yaml"
        except yaml.YAMLError:
            return "yaml"  # the file starts like YAML: its YAML error says more than a hosts-file error would
    if any(_ANSIBLE_VARIABLE.search(line) for line in significant):
        return "ini"  # Ansible's INI without sections: ungrouped hosts with their connection variables
    return "hosts"


def _is_section(line: str) -> bool:
    match = _SECTION.fullmatch(line)
    return match is not None and not is_ipv6(match.group(1))  # [fd00::12] is a host of a plain hosts file
