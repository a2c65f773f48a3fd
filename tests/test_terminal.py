"""Tables that fit any width: codes, host names and addresses are never split; whole columns go instead."""

from __future__ import annotations

import io
import re
import sys

import pytest
from rich.console import Console
from rich.text import Text

from remediate.terminal import UNWRAPPED, Column, output_console, print_fitted

HOSTS = ["127.0.0.1:52603 (WIN-KMS01)", "tk-app02.corp.example:5986"]


def columns() -> list[Column]:
    return [
        Column("host", rank=0, cells=[Text(host) for host in HOSTS]),
        Column("code before → after", rank=1, cells=[Text("0xC004C008 → 0xC004C008"), Text("- → -")]),
        Column("why", rank=2, atom=False, cells=[Text("refused: the connection was refused (WinRM not listening)"),
                                                  Text("verified after the fix")]),
    ]


def shown(width: int) -> str:
    buffer = io.StringIO()
    print_fitted(Console(file=buffer, width=width, color_system=None), columns(), "title")
    return buffer.getvalue()


@pytest.mark.parametrize("width", [200, 120, 80, 60, 40, 20])
def test_no_code_or_address_is_split_at_any_width(width: int) -> None:
    text = shown(width)
    for whole in [*HOSTS[0].split(), HOSTS[1]]:  # the host column is never left out
        assert whole in text, (width, text)
    assert all(len(code) == 10 for code in re.findall(r"0x[0-9A-F]+", text)), text  # whole, or not shown


def test_a_narrow_table_leaves_out_whole_columns_lowest_rank_first() -> None:
    wide, narrow = shown(200), shown(60)
    assert "0xC004C008 → 0xC004C008" in wide and "why" in wide
    assert "0xC004C008" not in narrow and "why" in narrow  # the codes went before the reason
    assert all(len(line) <= 60 for line in narrow.splitlines())


def test_too_narrow_for_a_table_each_row_becomes_a_block() -> None:
    text = shown(24)
    assert "┃" not in text
    assert "127.0.0.1:52603" in text and "  why: refused:" in text


def test_output_into_a_pipe_is_not_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert output_console().width == UNWRAPPED
    monkeypatch.setenv("COLUMNS", "90")  # the reader of the pipe says how wide it is
    assert output_console().width == 90
