"""The consoles remediate prints to: one place decides width, colour and wrapping, and how tables fit a width.

A terminal is measured; output into a pipe or a file is not wrapped at all (a log, a CI capture or `grep` wants
whole rows), unless COLUMNS says how wide its reader is. In a table, cells that are codes, host names or
addresses are never split: when the width is short, whole columns are left out, and when even the essential
columns do not fit, each row becomes a small block of `column: value` lines.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

# Output into a pipe or a file: no wrapping (rich needs a number; a table is only as wide as its cells).
UNWRAPPED = 10_000
RULE_WIDTH = 100  # a section rule in unwrapped output: as wide as a wide terminal, not UNWRAPPED
PROSE_MIN = 16  # a prose column is kept only when it gets at least this many cells


class _Console(Console):
    """A console whose closed pipe is an error the command line handles (cli._Main: quiet, exit 141), not
    rich's own exit 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the reader of the output went away")


def output_console() -> Console:
    """Standard output: tables, summaries, plans. In a terminal, text wraps at spaces (the terminal's own wrap
    would cut codes and addresses); what must stay whole on one line (a script) is printed with soft_wrap."""
    return _Console(file=sys.stdout, highlight=False, emoji=False, width=_width(sys.stdout))


def error_console() -> Console:
    """Standard error: progress, notes, warnings; it keeps standard output clean for --output json."""
    return _Console(file=sys.stderr, highlight=False, emoji=False, width=_width(sys.stderr))


def _width(stream: object) -> int | None:
    isatty = getattr(stream, "isatty", None)
    if (callable(isatty) and isatty()) or os.environ.get("COLUMNS"):
        return None  # rich measures the terminal (or honours COLUMNS)
    return UNWRAPPED


def is_unwrapped(console: Console) -> bool:
    return console.width >= UNWRAPPED


def rule(console: Console, title: Text | str = "", **options: object) -> None:
    """A section rule: the console's width, or RULE_WIDTH where the output is not wrapped."""
    width = RULE_WIDTH if is_unwrapped(console) else None
    console.print(Rule(title, **options), width=width)  # type: ignore[arg-type]


@dataclass
class Column:
    """One column of a table that must fit a width.

    atom: its cells are codes, host names, addresses, states: never split (no wrap), the column keeps its
    widest cell. Otherwise it is prose, wrapped at spaces, and kept only with at least PROSE_MIN cells.
    rank: which columns go first when the width is short (lowest first); rank 0 columns are never left out.
    """

    header: str
    rank: int
    atom: bool = True
    cells: list[Text] = field(default_factory=list)

    def least_width(self) -> int:
        widest = max((cell.cell_len for cell in self.cells), default=0)
        if self.atom:
            return max(widest, _longest_word(self.header))
        return min(max(widest, _longest_word(self.header)), PROSE_MIN)


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _table_width(columns: Sequence[Column]) -> int:
    # rich's default box: a bar before each column and one at the end; one space of padding either side
    return sum(column.least_width() for column in columns) + 3 * len(columns) + 1


def fitting_columns(columns: Sequence[Column], width: int) -> list[Column] | None:
    """The columns that fit `width`, leaving out the lowest-ranked first; None when even rank 0 does not fit."""
    shown = [column for column in columns if column.cells]
    while _table_width(shown) > width:
        droppable = [column for column in shown if column.rank > 0]
        if not droppable:
            return None
        lowest = min(droppable, key=lambda column: column.rank)
        shown.remove(lowest)
    return shown


def print_fitted(console: Console, columns: Sequence[Column], title: str = "") -> None:
    """A table of `columns` as wide as the console allows (see the module's note). Every column has one cell
    per row."""
    shown = fitting_columns(columns, console.width)
    if shown is None:
        _print_blocks(console, columns, title)
        return
    table = Table(title=title or None, title_justify="left")
    for column in shown:
        if column.atom:
            table.add_column(column.header, no_wrap=True, min_width=column.least_width())
        else:
            table.add_column(column.header, overflow="fold", min_width=column.least_width())
    rows = len(shown[0].cells) if shown else 0
    for row in range(rows):
        table.add_row(*(_cell(column, row) for column in shown))
    console.print(table)


def _cell(column: Column, row: int) -> Text:
    cell = column.cells[row].copy()
    if column.atom:
        cell.no_wrap = True
        cell.overflow = "ignore"
    return cell


def _print_blocks(console: Console, columns: Sequence[Column], title: str) -> None:
    """Too narrow for any table: each row as its first cell, then `header: value` lines under it."""
    if title:
        console.print(Text(title, style="italic"))
    shown = [column for column in columns if column.cells]
    if not shown:
        return
    first, rest = shown[0], shown[1:]
    for row in range(len(first.cells)):
        console.print(first.cells[row], no_wrap=True, overflow="ignore", crop=False)
        for column in rest:
            value = column.cells[row]
            if value.plain:
                console.print(Text.assemble(f"  {column.header}: ", value), overflow="fold")
