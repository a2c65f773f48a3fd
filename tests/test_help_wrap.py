"""Japanese help fits the terminal: lines are measured in columns (a Japanese character takes two) and break between
Japanese characters, never before closing punctuation nor after an opening bracket; English help is click's own."""

from __future__ import annotations

import itertools

import click
import pytest
from click.testing import CliRunner

from remediate.cli import main
from remediate.help_wrap import columns, wrap

TEXT = ("ホスト ファイルのすべてのホストで CODE のプレイブックを実行します (まず --dry-run で確認してください)。"
        "計画の元になったもの (プレイブック、テンプレート、ホスト、値) が変わっていない場合にだけ実行されます。")


@pytest.mark.parametrize("width", [20, 37, 60, 79])
def test_wrapped_japanese_keeps_every_character_and_fits(width: int) -> None:
    lines = wrap(TEXT, width, "  ", "  ")
    assert len(lines) > 1
    assert "".join(line.removeprefix("  ") for line in lines).replace(" ", "") == TEXT.replace(" ", "")
    for before, line in itertools.pairwise(lines):
        assert line[2] not in "、。)）", (before, line)  # closing punctuation stays on the line before
        assert before[-1] not in "(（「", (before, line)  # an opening bracket goes with what it opens
    assert all(columns(line) <= width for line in lines), lines


def test_english_breaks_at_spaces_only() -> None:
    assert wrap("Show this message and exit.", 12) == ["Show this", "message and", "exit."]


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            found += _commands(sub, (*path, name))
    return found


@pytest.mark.parametrize("path", _commands(main), ids=lambda path: " ".join(path) or "remediate")
def test_every_command_s_japanese_help_fits_80_columns(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help", "--lang", "ja"], env={"COLUMNS": "80"}, prog_name="remediate")
    assert result.exit_code == 0, result.output
    # A word longer than what is left of a line (an option's choices, a URL) may run past it, as in English.
    too_wide = [line for line in result.output.splitlines()
                if columns(line) > 80 and columns(max(line.split(), key=columns)) < 30]
    assert not too_wide, "\n".join(too_wide)
