"""Every command in Japanese: with --lang ja, its help, a usage error and a typical error reach the user without an
English sentence (no fleet needed: each error comes before any connection).

An English sentence is three or more words of ASCII letters in a row, separated by single spaces, once what is
never translated is taken out: file paths, options (--hosts), environment variables and metavariables (ALL CAPS),
identifiers (with _ . : / = @ or a digit), quoted values ('…', "…", `…`), command lines (remediate and its
command names), comment lines of a shown PowerShell script (# …), and the titles of the Microsoft pages cited as
sources (remediate/data/codes.yaml: a citation names a page as Microsoft published it). Japanese text around such
words breaks the run, so "Windows ライセンス認証" passes and "the hosts file is empty" does not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner, Result

from remediate.cli import main

PLAYBOOKS = str(Path(__file__).resolve().parent / "data" / "playbooks")


def _command_paths(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _command_paths(sub, (*path, name))


COMMANDS = list(_command_paths(main))
# Words of a command line: `remediate keys set-budget LABEL N` is a command, not a sentence.
_COMMAND_WORDS = {word for path in COMMANDS for name in path for word in name.split("-")} | {"auto"}

_NEVER_TRANSLATED = re.compile(
    r"`[^`]*`"  # a command or code: `remediate run auto`
    r"|(?<![A-Za-z])'[^']*'|\"[^\"]*\""  # a quoted value: 'xml', "0xC004F074" (not the s of host's)
    r"|\S*[/\\_.:=@$<>\[\]|{}0-9]\S*"  # paths, identifiers, options' values, codes, URLs, [en|ja]
    r"|--?[\w-]+"  # options
    r"|\b[A-Z][A-Z0-9_]*\b"  # metavariables, environment variables, letters: PATH, REMEDIATE_LANG, N
    r"|\bremediate(?: (?:" + "|".join(sorted(_COMMAND_WORDS, key=len, reverse=True)) + r")\b)*"
)
_PUNCTUATION = re.compile(r"[.,;:!?)](?=\s|$)")  # what ends a word, not what is inside an identifier
_SENTENCE = re.compile(r"\b[A-Za-z]+(?: [A-Za-z]+){2,}\b")


_SCRIPT_COMMENT = re.compile(r"^\s*#")
_CITED_TITLES = [str(source["title"]) for source in yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "remediate" / "data" / "codes.yaml").read_text("utf-8"))["sources"].values()]


def english_sentences(text: str) -> list[str]:
    """The English sentences (as defined above) in `text`, one per line they are on."""
    found = []
    for line in text.splitlines():
        if _SCRIPT_COMMENT.match(line):
            continue
        kept = _NEVER_TRANSLATED.sub("\x00", _PUNCTUATION.sub("\x00", line))
        found += [words for words in _SENTENCE.findall(kept) if not any(words in title for title in _CITED_TITLES)]
    return found


def test_the_definition_tells_english_from_japanese_and_untranslatable_words() -> None:
    assert english_sentences("error: the hosts file is empty.") == ["the hosts file is empty"]
    assert english_sentences("Usage: remediate run [OPTIONS] [CODE]") == []  # 2 words, then a command line
    assert english_sentences("Show this message and exit.") == ["Show this message and exit"]
    assert english_sentences("使い方: remediate keys set-budget [OPTIONS] LABEL BUDGET") == []
    assert english_sentences("エラー: ホスト ファイル hosts.txt がありません (Windows ライセンス認証)") == []
    assert english_sentences("  --auth [negotiate|ntlm]  WinRM の認証方式 (ホストの auth= 変数が優先)。") == []
    assert english_sentences("ヒント: `remediate keys add LABEL --key-env VAR` で追加してください") == []
    assert english_sentences("エラー: no key labelled 'x' in the ledger") == ["no key labelled", "in the ledger"]
    assert english_sentences("# Test template: read the licence state.") == []  # a line of a shown script
    assert english_sentences("│ [MS-ERREF] Windows Error Codes │ Troubleshoot Windows activation error codes") == []


def invoke(args: list[str], env: dict[str, str] | None = None, input: str | None = None) -> Result:
    base = {"LANGUAGE": None, "LC_ALL": None, "LC_MESSAGES": None, "LANG": "C.UTF-8", "REMEDIATE_LANG": None,
            "REMEDIATE_CONFIG": None, "COLUMNS": "120"}
    return CliRunner().invoke(main, args, env={**base, **(env or {})}, input=input, prog_name="remediate")


def assert_japanese(result: Result) -> None:
    text = result.output
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text), f"no Japanese at all:\n{text}"
    leaked = english_sentences(text)
    assert not leaked, "English reaches the user:\n" + "\n".join(f"  {sentence}" for sentence in leaked) + \
        f"\n--- output ---\n{text}"


def _name(path: tuple[str, ...]) -> str:
    return " ".join(path) or "remediate"


def test_every_command_is_covered() -> None:
    assert ("keys", "set-budget") in COMMANDS and ("audit", "verify") in COMMANDS and ("worker",) in COMMANDS
    assert len(COMMANDS) >= 30


@pytest.mark.parametrize("path", COMMANDS, ids=_name)
def test_help_is_japanese(path: tuple[str, ...]) -> None:
    result = invoke([*path, "--help", "--lang", "ja"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("使い方: remediate")
    assert_japanese(result)


@pytest.mark.parametrize("path", COMMANDS, ids=_name)
def test_a_usage_error_is_japanese(path: tuple[str, ...]) -> None:
    result = invoke([*path, "--lang", "ja", "--no-such-option"])
    assert result.exit_code == 2, result.output
    assert "エラー: オプション '--no-such-option' はありません。" in result.output
    assert_japanese(result)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("client01.lab.example.com:0x1\n", encoding="utf-8")
    good_hosts = tmp_path / "good.txt"
    good_hosts.write_text("client01.lab.example.com\n", encoding="utf-8")
    not_a_plan = tmp_path / "plan.json"
    not_a_plan.write_text(json.dumps({"hello": "world"}), encoding="utf-8")
    bad_playbook = tmp_path / "0xC004F074.yaml"
    bad_playbook.write_text("code: '0xC004F074'\ntitle: 1\n", encoding="utf-8")
    keys_csv = tmp_path / "keys.csv"
    keys_csv.write_text("Product Key,Label\nnot-a-key,office\n", encoding="utf-8")
    config = tmp_path / "remediate.toml"
    config.write_text("forks = 'many'\n", encoding="utf-8")
    return {"hosts": str(hosts), "good_hosts": str(good_hosts), "plan": str(not_a_plan),
            "playbook": str(bad_playbook), "keys_csv": str(keys_csv), "config": str(config),
            "ledger": str(tmp_path / "ledger.sqlite"), "missing": str(tmp_path / "missing.txt"),
            "key_file": str(tmp_path / "id_missing")}


# A typical mistake for each command that needs no fleet to show it: the error comes before any connection.
TYPICAL_ERRORS: dict[tuple[str, ...], list[str]] = {
    ("config", "show"): ["--config", "{config}", "config", "show"],
    ("list",): ["list", "--playbooks", "{missing}"],
    ("show",): ["show", "0xDEADBEEF", "--playbooks", PLAYBOOKS],
    ("validate",): ["validate", "{playbook}"],
    ("explain",): ["explain"],
    ("run",): ["run", "0xC004F074", "--hosts", "{hosts}", "--playbooks", PLAYBOOKS, "--dry-run"],
    ("run", "plan"): ["run", "--plan", "{plan}", "--hosts", "{good_hosts}", "--playbooks", PLAYBOOKS],
    ("run", "code"): ["run", "0xC004FFFF", "--hosts", "{good_hosts}", "--playbooks", PLAYBOOKS, "--dry-run"],
    ("run", "set"): ["run", "0xC004F074", "--hosts", "{good_hosts}", "--playbooks", PLAYBOOKS, "--dry-run",
                     "--set", "kms_hots=x"],
    ("status",): ["status", "--hosts", "{missing}"],
    ("plan", "approve"): ["plan", "approve", "{plan}", "--key", "{key_file}"],
    ("audit", "verify"): ["audit", "verify", "{missing}"],
    ("audit", "show"): ["audit", "show", "{missing}"],
    ("keys", "add"): ["keys", "add", "office", "--key-env", "NO_SUCH_VARIABLE"],
    ("keys", "show"): ["keys", "show", "no-such-label"],
    ("keys", "set-budget"): ["keys", "set-budget", "no-such-label", "5"],
    ("keys", "retire"): ["keys", "retire", "no-such-label"],
    ("keys", "import"): ["keys", "import", "{keys_csv}"],
    ("keys", "iids"): ["keys", "iids", "--hosts", "{hosts}"],
    ("kms", "status"): ["kms", "status", "--hosts", "{hosts}"],
    ("sandbox", "up"): ["sandbox", "up", "--auth", "basic", "--hosts-file", "{missing}"],
}


@pytest.mark.parametrize("case", list(TYPICAL_ERRORS), ids=_name)
def test_a_typical_error_is_japanese(case: tuple[str, ...], files: dict[str, str]) -> None:
    args = [arg.format(**files) for arg in TYPICAL_ERRORS[case]]
    env = {"REMEDIATE_LEDGER": files["ledger"], "NO_SUCH_VARIABLE": ""}
    result = invoke([*args, "--lang", "ja"], env=env)
    assert result.exit_code != 0, result.output
    assert_japanese(result)


# What commands show when all goes well, where no fleet is needed (status, run and audit logs need one).
OUTPUTS: dict[tuple[str, ...], list[str]] = {
    ("config", "show"): ["config", "show"],
    ("list",): ["list", "--playbooks", PLAYBOOKS],
    ("list", "--all"): ["list", "--all"],
    ("show",): ["show", "0xC004F074", "--playbooks", PLAYBOOKS],
    ("validate",): ["validate"],
    ("explain",): ["explain", "slmgr: 0xC004F074"],
    ("run", "--dry-run"): ["run", "0xC004F074", "--hosts", "{good_hosts}", "--playbooks", PLAYBOOKS, "--dry-run",
                           "--set", "kms_host=kms01.lab.example.com"],
    ("keys", "list"): ["keys", "list"],
    ("keys", "where"): ["keys", "where"],
    ("keys", "report"): ["keys", "report"],
}


@pytest.mark.parametrize("case", list(OUTPUTS), ids=_name)
def test_what_a_command_shows_is_japanese(case: tuple[str, ...], files: dict[str, str]) -> None:
    args = [arg.format(**files) for arg in OUTPUTS[case]]
    result = invoke([*args, "--lang", "ja"], env={"REMEDIATE_LEDGER": files["ledger"]})
    assert result.exit_code == 0, result.output
    assert_japanese(result)
