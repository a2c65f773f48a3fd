"""Help wrapped as a terminal shows it: a Japanese character takes two columns, and a line may break between two
Japanese characters (click counts characters and breaks at spaces only, so Japanese help ran past the edge).
Text without wide characters is left to click, unchanged."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import click
from click.formatting import iter_rows, measure_table

# Characters a line does not start with (Japanese line breaking, kinsoku).
_NO_LINE_START = frozenset("、。，．・：；？！）」』】〕〉》ー々ゝゞヽヾぁぃぅぇぉっゃゅょァィゥェォッャュョ)]}.,:;!?")
# Spaces; or a run of narrow characters or one wide one, with the opening brackets before it (a line does not end
# with one).
_TOKEN = re.compile(r"\s+|[(\[{「『（【〔〈《]*(?:[^\s\u1100-\uffff]+|\S)")


def columns(text: str) -> int:
    """The terminal columns `text` takes."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def has_wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(char) in "WF" for char in text)


def wrap(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "") -> list[str]:
    """`text` (one paragraph) in lines of at most `width` columns, broken at spaces or between wide characters.
    Punctuation that may not start a line takes the character before it to the next line; a word longer than a
    line runs past it."""
    lines: list[list[str]] = [[initial_indent]]  # each line: its indent, then words with the space before each
    space = False
    for token in _TOKEN.findall(text):
        if token.isspace():
            space = len(lines[-1]) > 1
            continue
        line = lines[-1]
        word = (" " if space else "") + token
        space = False
        if len(line) > 1 and columns("".join(line)) + columns(word) > width:
            carried: list[str] = []
            if token[0] in _NO_LINE_START and len(line) > 2:
                carried = [line.pop().lstrip()]  # the word before goes down with the punctuation
            lines.append([subsequent_indent, *carried])
            word = token
        lines[-1].append(word)
    return ["".join(line) for line in lines]


def _paragraphs(text: str, width: int, indent: str) -> str:
    """Paragraphs (separated by a blank line) wrapped; the lines of one paragraph joined as click joins them."""
    return "\n\n".join(
        "\n".join(wrap(" ".join(line.strip() for line in paragraph.splitlines()), width, indent, indent))
        for paragraph in text.split("\n\n")
    )


class HelpFormatter(click.HelpFormatter):
    """click's HelpFormatter, wrapping text with wide characters by columns."""

    def write_text(self, text: str) -> None:
        if not has_wide(text):
            super().write_text(text)
            return
        self.write(_paragraphs(text, self.width, " " * self.current_indent))
        self.write("\n")

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        if not any(has_wide(second) for _, second in rows):
            super().write_dl(rows, col_max, col_spacing)
            return
        widths = measure_table(rows)
        first_col = min(widths[0], col_max) + col_spacing
        for first, second in iter_rows(rows, len(widths)):
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if columns(first) <= first_col - col_spacing:
                self.write(" " * (first_col - columns(first)))
            else:
                self.write("\n")
                self.write(" " * (first_col + self.current_indent))
            lines = _paragraphs(second, max(self.width - first_col - 2, 10), "").splitlines()
            self.write(f"{lines[0]}\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n" if line else "\n")


class Context(click.Context):
    """A click context whose help is wrapped by columns (options.Command makes its contexts so)."""

    formatter_class = HelpFormatter
