"""CSV inventories, as a CMDB exports them -> InventoryTree.

A header row names the columns: ``host`` (or ``hostname``; the host may carry ``:port``), and optionally
``port`` and ``groups`` (names separated by spaces, commas or semicolons); every other column is a variable of
the row's host, as ``key=value`` on a hosts-file line: ``scheme``, ``auth`` and ``ca_file`` (relative to the
file's folder) are connection settings, ``ansible_*`` columns are read as in an Ansible inventory, the rest are
playbook values. An empty cell sets nothing. Column names are compared without case, with spaces and hyphens
as ``_``. The delimiter is a comma, a semicolon or a tab, whichever splits the header row.
"""

from __future__ import annotations

import csv
import re

from remediate.ansible_inventory import port_of, split_port
from remediate.ansible_variables import Var
from remediate.i18n import _
from remediate.inventory import split_lines
from remediate.inventory_tree import InventoryTree
from remediate.productkey import mask_product_keys

HOST_COLUMNS = ("host", "hostname", "host_name")
_KEY = re.compile(r"[a-z_][a-z0-9_]*")


def _column(cell: str) -> str:
    return re.sub(r"[\s-]+", "_", cell.strip().lower())


def csv_header(line: str, *, single_column: bool = False) -> str | None:
    """The delimiter of a CSV header row naming a host column, or None if `line` is no such row."""
    for delimiter in (",", ";", "\t"):
        cells = next(csv.reader([line], delimiter=delimiter))
        if (len(cells) > 1 or single_column) and any(_column(cell) in HOST_COLUMNS for cell in cells):
            return delimiter
    return None


def read_csv(text: str, tree: InventoryTree) -> None:
    """Read a CSV inventory into `tree`."""
    tree.native = True
    lines = [line for _, line in split_lines(text)]
    first = next((index for index, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")),
                 None)
    if first is None:
        return
    delimiter = csv_header(lines[first], single_column=True)
    if delimiter is None:
        tree.problem(first + 1, _("the header row names no host column ({value})").format(
            value=', '.join(HOST_COLUMNS)))
        return
    reader = csv.reader(lines[first:], delimiter=delimiter)
    columns = [_column(cell) for cell in next(reader)]
    header_line = first + 1
    if not _csv_columns(tree, columns, header_line):
        return
    previous = reader.line_num
    for row in reader:
        number = header_line + previous  # the line the row starts on
        previous = reader.line_num
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) > len(columns):
            tree.problem(number, _("{count} cells, but the header row has {columns} columns").format(
                count=len(row), columns=len(columns)))
            continue
        _csv_row(tree, dict(zip(columns, (cell.strip() for cell in row), strict=False)), number)


def _csv_columns(tree: InventoryTree, columns: list[str], line: int) -> bool:
    fine = True
    for index, column in enumerate(columns):
        if not _KEY.fullmatch(column):
            tree.problem(line, _("a column name is letters, digits and _ (not a digit first)"), column or f"column "
                         f"{index + 1}")
            fine = False
        elif column in columns[:index]:
            tree.problem(line, _("this column is named twice"), column)
            fine = False
    hosts = [column for column in columns if column in HOST_COLUMNS]
    if len(hosts) > 1:
        tree.problem(line, _("one host column, not {count} ({value})").format(count=len(hosts), value=', '.join(hosts)))
        fine = False
    return fine


def _csv_row(tree: InventoryTree, cells: dict[str, str], number: int) -> None:
    host_column = next(column for column in cells if column in HOST_COLUMNS)
    pattern = cells.pop(host_column)
    if not pattern:
        tree.problem(number, _("no host in this row"), host_column)
        return
    problems: list[tuple[str | None, str]] = []
    name, port = split_port(pattern, problems)
    port_cell = cells.pop("port", "")
    if port_cell:
        column_port = port_of("port", port_cell, problems)
        if port is not None and column_port is not None and column_port != port:
            problems.append(("port", _("the host says port {port} and the port column {column_port}").format(
                port=port, column_port=column_port)))
        port = port if port is not None else column_port
    for where, message in problems:
        tree.problem(number, mask_product_keys(message), where and mask_product_keys(where))
    if name is None or problems:
        return
    if name in tree.hosts:  # a row is one host, as a hosts-file line is
        tree.problem(number, _("duplicate host: already listed on line {line}").format(
            line=tree.hosts[name].location.line),
                     mask_product_keys(name))
        return
    listed = " ".join(cells.pop(column, "") for column in ("groups", "group"))
    groups = [group for group in re.split(r"[\s,;]+", listed) if group]
    variables: dict[str, Var] = {}
    if port is not None:
        variables["ansible_port"] = Var(port, tree.at(number, "port"))
    for column, value in cells.items():
        if value:
            tree.set_variable(variables, column, value, number)
    for group in groups or ["ungrouped"]:
        tree.group(group, number)
        tree.add_host(group, name, number, variables)
