"""Translations: every message has a Japanese one, the shipped .mo is the .po compiled, and the language is chosen by
--lang, $REMEDIATE_LANG, the locale's variables or the config file, before click parses anything."""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from click.testing import CliRunner

from remediate import i18n
from remediate.cli import main
from remediate.i18n_extract import TEMPLATE, compiled, template
from remediate.options import Command

PO = i18n.LOCALE_DIR / "ja" / "LC_MESSAGES" / "remediate.po"


def _ja() -> Catalog:
    with PO.open("rb") as file:
        return read_po(file, locale="ja", domain=i18n.DOMAIN)


def _forms(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value or ())


def test_every_message_in_the_code_and_in_click_has_a_japanese_translation() -> None:
    ja = _ja()
    missing = []
    for message in template():
        if not message.id:
            continue
        translated = ja.get(message.id, message.context)
        if translated is None or translated.fuzzy or not all(_forms(translated.string)):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    assert not missing, "no Japanese translation (run python -m remediate.i18n_extract, then translate):\n" + \
        "\n".join(f"  {text!r}" for text in missing)


def _own(catalog: Catalog) -> set[object]:
    """remediate's messages (click's depend on the click installed; the test above holds them to account)."""
    return {message.id for message in catalog
            if message.id and not all(file.startswith("click/") for file, _line in message.locations)}


def test_the_committed_template_is_what_the_code_holds() -> None:
    with TEMPLATE.open("rb") as file:
        committed = read_po(file)
    assert _own(committed) == _own(template()), "remediate.pot is stale: run python -m remediate.i18n_extract"


def test_the_shipped_mo_is_the_po_compiled() -> None:
    assert PO.with_suffix(".mo").read_bytes() == compiled(PO), "run python -m remediate.i18n_extract"


def _fields(text: str) -> set[str]:
    braces = {name.split(".")[0].split("[")[0].split("!")[0] for _, name, _, _ in string.Formatter().parse(text)
              if name is not None}
    return braces | {f"%({name})" for name in re.findall(r"%\((\w+)\)", text)}


def _translated() -> Iterator[Message]:
    return (message for message in _ja() if message.id and all(_forms(message.string)))


@pytest.mark.parametrize("message", list(_translated()), ids=lambda message: str(message.id)[:40])
def test_a_translation_fills_in_the_fields_its_message_gives(message: Message) -> None:
    """A field the message does not give would fail at .format(); one it leaves out loses information (a plural
    form may leave out what its count says; click's "{name} {filename!r} does not exist." names the kind of path
    in English, made when the type was, so its translation leaves the kind out)."""
    given = set().union(*map(_fields, _forms(message.id)))
    for form in _forms(message.string):
        assert _fields(form) <= given, (message.id, form)
        if isinstance(message.id, str) and not all(file.startswith("click/") for file, _ in message.locations):
            assert _fields(form) == given, (message.id, form)


@pytest.mark.parametrize(("explicit", "environ", "expected"), [
    ("ja", {"LANG": "en_US.UTF-8"}, "ja"),
    ("en", {"LANG": "ja_JP.UTF-8"}, "en"),
    (None, {"LANG": "ja_JP.UTF-8"}, "ja"),
    (None, {"LC_MESSAGES": "ja_JP.UTF-8", "LANG": "en_US.UTF-8"}, "ja"),
    (None, {"LC_ALL": "C.UTF-8", "LC_MESSAGES": "ja_JP.UTF-8"}, "en"),
    (None, {"LANGUAGE": "ja:en", "LC_ALL": "en_US.UTF-8"}, "ja"),
    (None, {"REMEDIATE_LANG": "ja", "LANGUAGE": "en"}, "ja"),
    ("fr", {"LANG": "ja_JP.eucJP"}, "ja"),  # not a language remediate speaks: as if not given
])
def test_the_language_is_the_command_line_s_else_the_environment_s(
    explicit: str | None, environ: dict[str, str], expected: str
) -> None:
    assert i18n.resolve_language(explicit, environ) == expected


@pytest.mark.parametrize(("args", "expected"), [
    (["run", "--help", "--lang", "ja"], "ja"),
    (["run", "--lang=ja", "--help"], "ja"),
    (["show", "0xC004F074", "--lang", "en", "--lang", "ja"], "ja"),
    (["explain", "--", "--lang", "ja"], None),  # text to explain, not an option
    (["list"], None),
])
def test_lang_is_found_in_the_command_line_before_click_parses_it(args: list[str], expected: str | None) -> None:
    assert i18n.language_in_arguments(args) == expected


def invoke(args: list[str], env: dict[str, str | None] | None = None) -> click.testing.Result:
    env = {"LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None, "LANG": "C.UTF-8", "REMEDIATE_LANG": None,
           **(env or {})}
    return CliRunner().invoke(main, args, env=env, prog_name="remediate")


def test_help_and_usage_errors_speak_the_language_of_lang_wherever_it_stands() -> None:
    helped = invoke(["run", "--help", "--lang", "ja"])
    assert helped.exit_code == 0
    assert "使い方: remediate run" in helped.output and "このヘルプを表示して終了します。" in helped.output
    assert "プレイブックを実行します" in helped.output  # the command's own help
    wrong = invoke(["run", "0xC004F074", "--lang", "ja"])
    assert wrong.exit_code == 2
    assert "エラー: 必須のオプションがありません: '--hosts'" in wrong.output
    english = invoke(["run", "0xC004F074", "--lang", "en"], env={"LANG": "ja_JP.UTF-8"})
    assert "Error: Missing option '--hosts'" in english.output


@pytest.mark.parametrize("env", [{"LANG": "ja_JP.UTF-8"}, {"LC_ALL": "ja_JP.UTF-8"}, {"LANGUAGE": "ja"},
                                 {"LC_MESSAGES": "ja_JP.UTF-8"}, {"REMEDIATE_LANG": "ja"}])
def test_a_japanese_environment_gets_japanese_help(env: dict[str, str | None]) -> None:
    result = invoke(["--help"], env=env)
    assert "使い方: remediate" in result.output and "コマンド:" in result.output
    assert "ライセンス認証エラー" in result.output


def test_the_config_file_s_language_is_below_the_command_line_s(tmp_path: Path) -> None:
    config = tmp_path / "remediate.toml"
    config.write_text('lang = "ja"\n', encoding="utf-8")
    assert "使い方: remediate list" in invoke(["--config", str(config), "list", "--help"]).output
    assert "Usage: remediate list" in invoke(["--config", str(config), "list", "--help", "--lang", "en"]).output


def test_a_command_leaves_the_language_of_the_process_as_it_found_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANGUAGE", raising=False)
    before = i18n.language()
    invoke(["list", "--help", "--lang", "ja"])
    assert i18n.language() == before
    assert "LANGUAGE" not in os.environ


def test_every_command_shows_its_help_translated() -> None:
    def commands(command: click.Command) -> Iterator[click.Command]:
        yield command
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                yield from commands(sub)

    plain = [command.name for command in commands(main) if not isinstance(command, Command)]
    assert not plain, f"not an options.Command (their help would stay English): {plain}"


def test_messages_and_plurals_follow_use_language() -> None:
    with i18n.in_language("ja"):
        assert i18n._("Usage:") == "使い方:"
        assert i18n.language() == "ja"
        assert os.environ["LANGUAGE"] == "ja"
    with i18n.in_language("en"):
        assert i18n._("Usage:") == "Usage:"
        assert i18n.ngettext("{args}", "{args}s", 2) == "{args}s"
    with pytest.raises(ValueError, match="unknown language"):
        i18n.use_language("fr")


def test_run_help_names_the_host_count_above_which_the_summary_is_short() -> None:
    from remediate.report import FULL_UP_TO

    assert f"(short above {FULL_UP_TO} hosts)" in " ".join(invoke(["run", "--help", "--lang", "en"]).output.split())
