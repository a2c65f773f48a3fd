"""`remediate keys` through click's CliRunner: add, list, show, set-budget, retire, where, report, import, on a
SQLite ledger (and once on PostgreSQL); every output masked, the full key nowhere."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from ledger_postgres import postgres_server, postgres_url  # noqa: F401

from remediate.cli import main
from remediate.ledger.store import Ledger
from remediate.productkey import ProductKey

KEY = "W269N-WFGWX-YVC9B-4J6C9-T83GX"
OTHER = "NPPR9-FWDCX-D2C8J-H872K-2YT43"
MASKED = "XXXXX-XXXXX-XXXXX-XXXXX-T83GX"


@pytest.fixture
def ledger_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("REMEDIATE_LEDGER", "REMEDIATE_LEDGER_SECRET_FILE", "REMEDIATE_LEDGER_ENCRYPTION_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "ledger.sqlite"
    monkeypatch.setenv("REMEDIATE_LEDGER", str(path))
    monkeypatch.setenv("OFFICE_MAK", KEY)
    return path


def keys(*args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(main, ["keys", *args], input=input, catch_exceptions=False)
    assert KEY not in result.output + result.stderr, "the full key was shown"
    return result


def test_add_list_show_masked(ledger_file: Path) -> None:
    added = keys("add", "office-mak", "--key-env", "OFFICE_MAK", "--budget", "20", "--product", "Windows 11 Pro")
    assert added.exit_code == 0, added.stderr
    assert added.output.strip() == f"added office-mak: {MASKED}, MAK, budget 20, fingerprint only"
    listed = json.loads(keys("list", "--output", "json").output)
    assert [(row["label"], row["key"], row["channel"], row["budget"], row["state"]) for row in listed] == [
        ("office-mak", MASKED, "MAK", 20, "active")]
    table = keys("list").output
    assert "office-mak" in table and MASKED in table and "Windows 11 Pro" in table
    csv_lines = keys("list", "--output", "csv").output.splitlines()
    assert csv_lines[0].startswith("label,key,channel,product,budget,state")
    assert csv_lines[1].startswith(f"office-mak,{MASKED},MAK,Windows 11 Pro,20,active")
    shown = keys("show", "office-mak", "--lang", "ja").output
    assert "ラベル: office-mak" in shown and f"キー: {MASKED}" in shown and "残り回数: 20" in shown
    assert KEY.encode() not in ledger_file.read_bytes()


def test_a_key_never_comes_from_the_command_line(ledger_file: Path, tmp_path: Path) -> None:
    no_key = keys("add", "office-mak")  # CliRunner's stdin is no terminal: nobody to ask
    assert no_key.exit_code == 2
    assert "give --key-env VAR or --key-file FILE" in no_key.stderr
    unset = keys("add", "office-mak", "--key-env", "NOT_SET_ANYWHERE")
    assert unset.exit_code == 2 and "NOT_SET_ANYWHERE is not set" in unset.stderr
    key_file = tmp_path / "office.key"
    key_file.write_text(f"# the office MAK\n\n{OTHER}\n", encoding="utf-8")
    from_file = keys("add", "from-file", "--key-file", str(key_file), "--channel", "kms-host")
    assert from_file.exit_code == 0 and "XXXXX-XXXXX-XXXXX-XXXXX-2YT43, KMS host (CSVLK)" in from_file.output
    typo = tmp_path / "typo.key"
    typo.write_text(KEY.replace("T83GX", "T83G0"))
    refused = keys("add", "typo", "--key-file", str(typo))
    assert refused.exit_code == 2 and "character 29 is '0'" in refused.stderr
    assert "T83G0" not in refused.stderr


def test_the_same_key_twice_and_unknown_labels_exit_2(ledger_file: Path) -> None:
    assert keys("add", "office-mak", "--key-env", "OFFICE_MAK").exit_code == 0
    again = keys("add", "second", "--key-env", "OFFICE_MAK")
    assert again.exit_code == 2 and "already in the ledger as office-mak" in again.stderr
    unknown = keys("set-budget", "ofice-mak", "3")
    assert unknown.exit_code == 2 and "did you mean office-mak" in unknown.stderr


def test_set_budget_and_retire(ledger_file: Path) -> None:
    keys("add", "office-mak", "--key-env", "OFFICE_MAK", "--budget", "2")
    assert keys("set-budget", "office-mak", "40").output.strip() == f"office-mak ({MASKED}): budget 40"
    retired = keys("retire", "office-mak", "--lang", "ja")
    assert retired.exit_code == 0 and "廃止しました" in retired.output
    assert json.loads(keys("list", "--output", "json").output) == []  # retired keys only with --all
    [row] = json.loads(keys("list", "--all", "--output", "json").output)
    assert (row["state"], row["budget"]) == ("retired", 40)


def test_where_and_report_show_hosts_with_run_and_result(ledger_file: Path, tmp_path: Path) -> None:
    keys("add", "office-mak", "--key-env", "OFFICE_MAK", "--budget", "20")
    with Ledger.open(str(ledger_file)) as ledger:
        record = ledger.key("office-mak")
        for host in ("pc-01", "pc-02"):
            ledger.record_install(record, host, run_id="run-7", ok=True)
            ledger.record_activation(record, host, run_id="run-7", ok=True)
        ledger.record_activation(record, "pc-03", run_id="run-7", ok=False, code="0xC004C020")
        ledger.record_seen("pc-09", "ZZZZZ")
    where = json.loads(keys("where", "--output", "json").output)
    assert [(row["host"], row["key"], row["run_id"], row["result"]) for row in where] == [
        ("pc-01", MASKED, "run-7", "ok"), ("pc-02", MASKED, "run-7", "ok"), ("pc-03", MASKED, "run-7", "0xC004C020"),
        ("pc-09", "XXXXX-XXXXX-XXXXX-XXXXX-ZZZZZ", None, None)]
    only = json.loads(keys("where", "--host", "PC-02", "--output", "json").output)
    assert [row["host"] for row in only] == ["pc-02"]
    table = keys("where").output
    assert "pc-03" in table and "run-7" in table and "0xC004C020" in table and "T83GX" in table
    report = json.loads(keys("report", "--output", "json").output)
    assert [(k["label"], k["budget"], k["installs"], k["activations"], k["failures"], k["hosts"])
            for k in report["keys"]] == [("office-mak", 18, 2, 2, 1, 3)]
    csv_rows = keys("report", "--output", "csv").output.splitlines()
    assert csv_rows[1].split(",")[:10] == ["office-mak", MASKED, "MAK", "", "18", "active", "2", "2", "1", "pc-01"]
    page = tmp_path / "keys.html"
    written = keys("report", "--html", str(page), "--lang", "ja")
    assert written.exit_code == 0 and f"レポートを書き出しました: {page}" in written.output
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and '<html lang="ja">' in text
    assert MASKED in text and "pc-03" in text and "run-7" in text and "0xC004C020" in text and KEY not in text


def test_import_names_every_bad_row_and_imports_nothing(ledger_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "keys.csv"
    bad.write_text(f"Product Key,Key Type,Remaining\n{KEY},MAK,10\n{OTHER},KMS,many\nW269N-WFGWX,MAK,1\n")
    refused = keys("import", str(bad))
    assert refused.exit_code == 2
    assert f"{bad}:3: budget: not a whole number of activations" in refused.stderr
    assert f"{bad}:4: key: not a valid product key: found 2 groups, expected 5" in refused.stderr
    assert json.loads(keys("list", "--output", "json").output) == []
    good = tmp_path / "good.csv"
    good.write_text(f"Product Key,Remaining\n{KEY},10\n{OTHER},\n")
    imported = keys("import", str(good), "--channel", "mak")
    assert imported.exit_code == 0 and "imported 2 key(s)" in imported.output
    rows = json.loads(keys("list", "--output", "json").output)
    assert [(row["label"], row["budget"]) for row in rows] == [("mak-2YT43", None), ("mak-T83GX", 10)]


def test_encrypted_keys(ledger_file: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "ledger.key"
    key_file.write_bytes(bytes(range(40)))
    added = keys("add", "office-mak", "--key-env", "OFFICE_MAK", "--encryption-key-file", str(key_file))
    assert added.output.strip().endswith(", encrypted")
    with Ledger.open(str(ledger_file), encryption_key_file=key_file) as ledger:
        assert ledger.reveal("office-mak") == ProductKey.parse(KEY)
    assert KEY.encode() not in ledger_file.read_bytes()


def test_a_password_in_ledger_is_refused(ledger_file: Path) -> None:
    refused = keys("list", "--ledger", "postgresql://admin:hunter2-secret@db.example/ledger")
    assert refused.exit_code == 2
    assert "shows in the process list" in refused.stderr and "hunter2-secret" not in refused.stderr


@pytest.mark.slow
def test_keys_on_a_postgresql_ledger(ledger_file: Path, postgres_url: str, tmp_path: Path,  # noqa: F811
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REMEDIATE_LEDGER")
    no_secret = keys("list", "--ledger", postgres_url)
    assert no_secret.exit_code == 2 and "REMEDIATE_LEDGER_SECRET_FILE" in no_secret.stderr
    secret = str(tmp_path / "team.secret")
    assert keys("add", "office-mak", "--key-env", "OFFICE_MAK", "--ledger", postgres_url,
                "--ledger-secret", secret).exit_code == 0
    listed = json.loads(keys("list", "--output", "json", "--ledger", postgres_url, "--ledger-secret", secret).output)
    assert [row["key"] for row in listed] == [MASKED]


def test_the_readme_keys_commands_work_as_written(ledger_file: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Keys and the ledger", 1)[1].split("\n## ", 1)[0]
    (commands,) = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    (keys_csv,) = re.findall(r"```csv\n(.*?)```", section, flags=re.DOTALL)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keys.csv").write_text(keys_csv, encoding="utf-8")
    for line in commands.strip().splitlines():
        command = shlex.split(line.split("  #", 1)[0])
        assert command[:2] == ["remediate", "keys"]
        result = keys(*command[2:])
        assert result.exit_code == 0, (line, result.stderr)
    assert (tmp_path / "keys.html").is_file()
    labels = [row["label"] for row in json.loads(keys("list", "--all", "--output", "json").output)]
    assert labels == ["csvlk-VMK7H", "mak-2YT43", "office-mak"]


def test_show_names_the_runs_in_progress_that_hold_activations(ledger_file: Path) -> None:
    from remediate.ledger.budget import Reserve

    keys("add", "office-mak", "--key-env", "OFFICE_MAK", "--budget", "20")
    with Ledger.open(str(ledger_file)) as ledger:
        ledger.check_budget(ledger.key("office-mak"), needed=3, reserve=Reserve.parse("5%"), hold_for="run-9")
    assert json.loads(keys("show", "office-mak", "--output", "json").output)["held_by_runs"] == {"run-9": 3}
    assert "held by run run-9 in progress: 3 activation(s)" in keys("show", "office-mak").output


def test_a_ledger_that_cannot_be_opened_is_a_clear_error(ledger_file: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    no_folder = keys("list", "--ledger", str(blocked / "ledger.sqlite"))
    assert no_folder.exit_code == 2 and f"cannot make the ledger's folder {blocked}" in no_folder.stderr
    monkeypatch.setenv("REMEDIATE_LEDGER_SECRET_FILE", str(tmp_path / "team.secret"))
    refused = keys("list", "--ledger", "postgresql://ledger@127.0.0.1:9/ledger")  # nothing listens on port 9
    assert refused.exit_code == 2
    assert "cannot open the ledger postgresql" in refused.stderr and "@127.0.0.1:9/ledger: " in refused.stderr
    other = keys("list", "--ledger", "mysql://ledger@db.example/ledger")
    assert other.exit_code == 2 and "supports PostgreSQL and SQLite, not mysql" in other.stderr
