"""The key ledger's API, on SQLite and on a real PostgreSQL server: keys by fingerprint, uses recorded once,
budgets counted down, the budget check, exhausted keys, sightings, CSV import, encryption, migrations."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from ledger_postgres import missing_server, postgres_server, postgres_url  # noqa: F401
from sqlalchemy import create_engine, select

from remediate.errors import UsageError
from remediate.ledger.budget import Reserve
from remediate.ledger.csv_import import KeysFileError, read_keys_csv
from remediate.ledger.location import resolve
from remediate.ledger.migrate import alembic_config, create, upgrade
from remediate.ledger.schema import VERSION_TABLE, holds, keys, meta, metadata, sightings, uses
from remediate.ledger.store import Ledger
from remediate.productkey import ProductKey

MAK_KEY = ProductKey.parse("W269N-WFGWX-YVC9B-4J6C9-T83GX")
OTHER_KEY = ProductKey.parse("NPPR9-FWDCX-D2C8J-H872K-2YT43")
THIRD_KEY = ProductKey.parse("M7XTQ-FN8P6-TTKYV-9D4CC-J462D")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("REMEDIATE_LEDGER", raising=False)
    if request.param == "sqlite":
        monkeypatch.delenv("REMEDIATE_LEDGER_SECRET_FILE", raising=False)
        return str(tmp_path / "ledger.sqlite")
    monkeypatch.setenv("REMEDIATE_LEDGER_SECRET_FILE", str(tmp_path / "ledger.secret"))
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with Ledger.open(ledger_url) as opened:
        yield opened


def everything_stored(url: str) -> str:
    """Every value of every table, as text: what someone holding the database could read."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://") if "://" in url
                           else f"sqlite:///{url}")
    with engine.connect() as connection:
        text = "\n".join(repr(row) for table in (keys, uses, sightings, holds, meta)
                         for row in connection.execute(select(table)))
    engine.dispose()
    return text


def test_a_key_is_kept_by_fingerprint_and_last_five_only(ledger: Ledger, ledger_url: str) -> None:
    record = ledger.add_key("office-mak", MAK_KEY, channel="mak", product="Windows 11 Pro", budget=20)
    assert (record.label, record.last_five, record.channel, record.budget) == ("office-mak", "T83GX", "MAK", 20)
    assert record.masked == "XXXXX-XXXXX-XXXXX-XXXXX-T83GX"
    assert ledger.find(MAK_KEY) == record
    assert ledger.find(OTHER_KEY) is None
    stored = everything_stored(ledger_url)
    assert "T83GX" in stored
    assert MAK_KEY.reveal() not in stored and MAK_KEY.reveal().replace("-", "") not in stored
    if "://" not in ledger_url:
        assert MAK_KEY.reveal().encode() not in Path(ledger_url).read_bytes()


def test_the_same_key_or_label_is_not_added_twice(ledger: Ledger) -> None:
    ledger.add_key("office-mak", MAK_KEY)
    with pytest.raises(UsageError, match="already in the ledger as office-mak"):
        ledger.add_key("second-name", MAK_KEY)
    with pytest.raises(UsageError, match="label office-mak is taken"):
        ledger.add_key("office-mak", OTHER_KEY)
    with pytest.raises(UsageError, match="must not be a product key") as refused:
        ledger.add_key(OTHER_KEY.reveal(), OTHER_KEY)
    assert OTHER_KEY.reveal() not in str(refused.value)
    with pytest.raises(UsageError, match=r"(?s)no key labelled 'ofice-mak'.*did you mean office-mak"):
        ledger.key("ofice-mak")


def test_activations_count_the_budget_down_once_per_run_and_host(ledger: Ledger) -> None:
    record = ledger.add_key("office-mak", MAK_KEY, budget=20)
    assert ledger.record_install(record, "pc-01", run_id="run-1", ok=True)
    assert ledger.record_activation(record, "pc-01", run_id="run-1", ok=True)
    assert not ledger.record_activation(record, "pc-01", run_id="run-1", ok=True)  # the same use again
    assert ledger.record_activation(record, "pc-01", run_id="run-2", ok=True)  # a later run activates again
    assert ledger.record_activation(record, "pc-02", run_id="run-2", ok=False, code="0xC004C020")
    assert ledger.key("office-mak").budget == 18  # installs and failed activations cost nothing
    usage = {row.key.label: row for row in ledger.usage()}["office-mak"]
    assert (usage.installs, usage.activations, usage.failures, usage.hosts) == (1, 2, 1, 2)
    results = [(use.host, use.action, use.run_id, use.result) for use in ledger.uses("office-mak")]
    assert results == [("pc-01", "install", "run-1", "ok"), ("pc-01", "activate", "run-1", "ok"),
                       ("pc-01", "activate", "run-2", "ok"), ("pc-02", "activate", "run-2", "0xC004C020")]
    assert ledger.key("office-mak").last_used_at is not None


def test_the_budget_check_refuses_with_the_numbers(ledger: Ledger) -> None:
    small = ledger.add_key("small", MAK_KEY, budget=10)
    large = ledger.add_key("large", OTHER_KEY, budget=20)
    with pytest.raises(UsageError) as refused:
        ledger.check_budget(small, needed=12, reserve=Reserve.parse("5%"))
    message = str(refused.value)
    assert "12 host(s) need an activation" in message
    assert "the budget has 10 left, less a reserve of 1 (5%): 9 available, 3 short" in message
    assert "XXXXX-XXXXX-XXXXX-XXXXX-T83GX" in message and MAK_KEY.reveal() not in message
    availability = ledger.check_budget(large, needed=12, reserve=Reserve.parse("5%"))
    assert availability is not None and availability.available == 19
    with pytest.raises(UsageError, match="19 available, 1 short"):
        ledger.check_budget(large, needed=20, reserve=Reserve.parse("5%"))
    with pytest.raises(UsageError, match=r"reserve of 9 \(9\): 11 available"):
        ledger.check_budget(large, needed=12, reserve=Reserve.parse("9"))
    unlimited = ledger.add_key("retail", THIRD_KEY, channel="retail")
    assert ledger.check_budget(unlimited, needed=500, reserve=Reserve.parse("5%")) is None
    assert ledger.set_budget("small", 40).budget == 40
    assert ledger.check_budget(small, needed=12, reserve=Reserve.parse("5%")) is not None


def test_an_activation_server_answer_ends_the_key(ledger: Ledger) -> None:
    used_up = ledger.add_key("used-up", MAK_KEY, budget=50)
    blocked = ledger.add_key("blocked", OTHER_KEY, budget=50)
    assert ledger.mark_exhausted(used_up, "C004C020").state == "exhausted"
    assert ledger.mark_exhausted(blocked, "0xC004C003").state == "blocked"
    with pytest.raises(UsageError, match=r"used-up .* is exhausted \(an activation server answered 0xC004C020\)"):
        ledger.check_budget(used_up, needed=1, reserve=Reserve.parse("5%"))
    with pytest.raises(UsageError, match="is blocked"):
        ledger.check_budget(blocked, needed=1, reserve=Reserve.parse("5%"))
    retired = ledger.retire("blocked")
    assert ledger.mark_exhausted(retired, "0xC004C008").state == "retired"
    assert [record.label for record in ledger.list_keys(include_retired=False)] == ["used-up"]


def test_licence_reads_place_partial_keys_on_hosts(ledger: Ledger) -> None:
    record = ledger.add_key("office-mak", MAK_KEY)
    ledger.record_install(record, "pc-01", run_id="run-1", ok=True)
    ledger.record_seen("pc-01", "T83GX", product="Windows(R), Professional edition", run_id="run-2")
    ledger.record_seen("pc-02", "t83gx")
    ledger.record_seen("pc-03", "ZZZZZ")
    ledger.record_seen("pc-03", "ZZZZZ")  # seen again: one place, a later time
    places = {(place.host, place.last_five): place for place in ledger.placements()}
    assert sorted(places) == [("pc-01", "T83GX"), ("pc-02", "T83GX"), ("pc-03", "ZZZZZ")]
    assert places["pc-01", "T83GX"].label == "office-mak"
    assert places["pc-01", "T83GX"].last_action == "install" and places["pc-01", "T83GX"].run_id == "run-1"
    assert places["pc-01", "T83GX"].last_seen is not None
    assert places["pc-02", "T83GX"].label == "office-mak" and places["pc-02", "T83GX"].last_action is None
    assert places["pc-03", "ZZZZZ"].label is None


def test_a_ledger_refuses_another_fingerprint_secret(ledger_url: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with Ledger.open(ledger_url) as ledger:
        ledger.add_key("office-mak", MAK_KEY)
    other = tmp_path / "other.secret"
    other.write_text("ab" * 32)
    with pytest.raises(UsageError, match=r"is not the one the fingerprints of .* were made with"):
        Ledger.open(ledger_url, secret_file=other)


def test_encrypted_keys_open_only_with_their_key_file(ledger_url: str, tmp_path: Path) -> None:
    key_file, wrong_file = tmp_path / "ledger.key", tmp_path / "wrong.key"
    key_file.write_bytes(bytes(range(32)))
    wrong_file.write_bytes(bytes(range(1, 33)))
    with Ledger.open(ledger_url, encryption_key_file=key_file) as ledger:
        assert ledger.add_key("office-mak", MAK_KEY).encrypted
        assert ledger.reveal("office-mak") == MAK_KEY
    stored = everything_stored(ledger_url)
    assert MAK_KEY.reveal() not in stored
    with Ledger.open(ledger_url) as ledger, pytest.raises(UsageError, match="stored encrypted: give"):
        ledger.reveal("office-mak")
    with pytest.raises(UsageError, match="not the one the ledger's keys were encrypted with"):
        Ledger.open(ledger_url, encryption_key_file=wrong_file)
    short = tmp_path / "short.key"
    short.write_bytes(b"0123456789")
    with pytest.raises(UsageError, match="10 bytes; it needs at least 32"):
        Ledger.open(ledger_url, encryption_key_file=short)


def test_a_keys_file_imports_whole_or_names_every_bad_row(ledger: Ledger, tmp_path: Path) -> None:
    good = tmp_path / "keys.csv"
    good.write_text(
        "Product Name,Product Key,Key Type,MAK Activations Remaining\n"
        f"Windows 11 Pro,{MAK_KEY.reveal()},MAK,\"1,000\"\n"
        f"Windows Server 2022,{OTHER_KEY.reveal()},KMS Host,6\n",
        encoding="utf-8-sig",
    )
    added = ledger.add_keys(read_keys_csv(good))
    assert [(r.label, r.channel, r.product, r.budget) for r in added] == [
        ("mak-T83GX", "MAK", "Windows 11 Pro", 1000), ("csvlk-2YT43", "CSVLK", "Windows Server 2022", 6)]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Label,Product Key,Channel,Budget\n"
        f"fine,{THIRD_KEY.reveal()},MAK,5\n"
        "typo,W269N-WFGWX-YVC9B-4J6C9-T83G0,MAK,5\n"
        f"second,{THIRD_KEY.reveal()},volume,lots\n"
        f"fine,{MAK_KEY.reveal()},MAK,1\n",
        encoding="utf-8",
    )
    with pytest.raises(KeysFileError) as refused:
        read_keys_csv(bad)
    problems = [(where.line, where.field, message) for where, message in refused.value.problems]
    assert [(line, field) for line, field, _ in problems] == [
        (3, "key"), (4, "channel"), (4, "budget"), (5, "label")]
    assert "character 29 is '0'" in problems[0][2]
    assert "the label fine is already on line 2" in problems[3][2]
    for secret in (MAK_KEY, THIRD_KEY):
        assert secret.reveal() not in str(refused.value)
    assert len(ledger.list_keys()) == 2  # nothing of the bad file was added


def test_keys_files_from_japanese_excel(tmp_path: Path) -> None:
    text = f"ラベル,プロダクト キー,種類,製品名\n本社,{MAK_KEY.reveal()},MAK,Windows 11 Pro\n"
    cp932, utf16 = tmp_path / "cp932.csv", tmp_path / "utf16.csv"
    cp932.write_bytes(text.encode("cp932"))
    utf16.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    for path in (cp932, utf16):
        [row] = read_keys_csv(path)
        assert (row.label, row.key, row.channel, row.location.line) == ("本社", MAK_KEY, "MAK", 2)


def test_a_keys_file_already_in_the_ledger_names_the_row(ledger: Ledger, tmp_path: Path) -> None:
    ledger.add_key("office-mak", MAK_KEY)
    again = tmp_path / "again.csv"
    again.write_text(f"Product Key,Channel\n{OTHER_KEY.reveal()},MAK\n{MAK_KEY.reveal()},MAK\n")
    with pytest.raises(UsageError, match=r"again.csv:3: this key is already in the ledger as office-mak"):
        ledger.add_keys(read_keys_csv(again))
    assert [record.label for record in ledger.list_keys()] == ["office-mak"]


def test_the_migrations_build_exactly_the_schema(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger:
        url = ledger.location.url
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert context.get_current_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert compare_metadata(context, metadata) == []
    engine.dispose()
    with Ledger.open(ledger_url) as again:  # opening an up-to-date ledger migrates nothing and keeps it
        assert again.list_keys() == []


def test_a_ledger_made_by_an_older_version_is_upgraded_on_open(ledger_url: str) -> None:
    engine = create(resolve(ledger_url))
    upgrade(engine, "0001")  # the first schema, as the first release made it
    engine.dispose()
    with Ledger.open(ledger_url) as ledger:  # upgraded to the newest on open
        record = ledger.add_key("office-mak", MAK_KEY, budget=20)
        assert ledger.check_budget(record, needed=3, reserve=Reserve.parse("0"), hold_for="run-1") is not None
        assert ledger.held_by_runs("office-mak") == {"run-1": 3}


def test_a_run_in_progress_holds_what_it_plans(ledger: Ledger) -> None:
    record = ledger.add_key("office-mak", MAK_KEY, budget=20)
    reserve = Reserve.parse("5%")
    first = ledger.check_budget(record, needed=12, reserve=reserve, hold_for="run-a")
    assert first is not None and first.available == 19
    with pytest.raises(UsageError) as refused:
        ledger.check_budget(record, needed=12, reserve=reserve, hold_for="run-b")
    assert ("budget has 20 left, less a reserve of 1 (5%) and 12 held by 1 run(s) in progress: 7 available, "
            "5 short") in str(refused.value)
    assert ledger.held_by_runs("office-mak") == {"run-a": 12}  # the refused run holds nothing
    for number in range(5):  # run A activates five hosts: off the budget, and off its hold
        ledger.record_activation(record, f"pc-{number}", run_id="run-a", ok=True)
    assert ledger.held_by_runs("office-mak") == {"run-a": 7}
    second = ledger.check_budget(record, needed=7, reserve=reserve, hold_for="run-b")
    assert second is not None and (second.budget, second.held, second.available) == (15, 7, 7)
    ledger.release("run-a")
    ledger.release("run-b")
    assert ledger.held_by_runs("office-mak") == {}
    ledger.check_budget(record, needed=5, reserve=reserve, hold_for="died", hold_hours=-1)  # expired already
    after = ledger.availability(record, reserve)
    assert after is not None and (after.held, after.available) == (0, 14)


def test_without_postgresql_ci_fails_and_a_workstation_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is needed in CI"):
        missing_server("initdb was not found")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=r"initdb was not found \(apt-get install postgresql\)"):
        missing_server("initdb was not found")
