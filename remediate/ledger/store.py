"""Ledger: the one API over the ledger's tables.

    with Ledger.open(url) as ledger:                       # None: REMEDIATE_LEDGER, else the default SQLite file
        record = ledger.add_key("office-mak", key, channel=MAK, budget=20)
        ledger.check_budget(record, needed=12, reserve=Reserve.parse("5%"))   # UsageError when short
        ledger.record_install(record, "pc-01", run_id=run, ok=True)
        ledger.record_activation(record, "pc-01", run_id=run, ok=True)    # budget 20 -> 19

Every write is one transaction. A use is recorded once per (run, host, action, key): recording it again changes
nothing, and the budget goes down only with the activation that was newly recorded, so two controllers sharing
one PostgreSQL ledger never lose or double an update. Nothing here ever holds a full key in clear outside a
ProductKey, and nothing it returns contains one.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.sql.dml import Insert

from remediate.codes import ErrorCode
from remediate.errors import UsageError
from remediate.i18n import _
from remediate.ledger import budget as budgets
from remediate.ledger import migrate
from remediate.ledger.budget import Availability, Reserve
from remediate.ledger.channels import MAK, parse_channel
from remediate.ledger.encryption import KeyCipher
from remediate.ledger.fingerprint import FingerprintSecret
from remediate.ledger.location import ENCRYPTION_KEY_ENV, LedgerLocation, resolve
from remediate.ledger.records import KeyRecord, KeyUsage, Placement, UseRecord, check_label, check_text
from remediate.ledger.schema import (
    ACTIVATE,
    ACTIVE,
    BLOCKED,
    EXHAUSTED,
    INSTALL,
    RETIRED,
    holds,
    keys,
    meta,
    sightings,
    uses,
)
from remediate.productkey import ProductKey, mask_product_keys

# An activation server's answers that end a key's use: the count is used up, or the key is blocked.
ENDING_CODES = {"0xC004C008": EXHAUSTED, "0xC004C020": EXHAUSTED, "0xC004C003": BLOCKED}

HOLD_HOURS = 24.0  # how long a run that died keeps the activations it held
_FINGERPRINT_CHECK = "fingerprint_check"
_ENCRYPTION_CHECK = "encryption_check"
class Ledger:
    """The key ledger of one database. Open with Ledger.open; close (or use as a context manager) when done."""

    def __init__(self, engine: Engine, location: LedgerLocation, secret: FingerprintSecret,
                 cipher: KeyCipher | None) -> None:
        self._engine = engine
        self.location = location
        self._secret = secret
        self._cipher = cipher

    @classmethod
    def open(cls, url: str | None = None, *, secret_file: str | Path | None = None,
             encryption_key_file: str | Path | None = None) -> Ledger:
        """Open (and create or upgrade) the ledger at `url` (None: REMEDIATE_LEDGER, else the default file).

        encryption_key_file (None: REMEDIATE_LEDGER_ENCRYPTION_KEY_FILE, if set): keys added are stored
        encrypted under it, and keys stored so can be named by label."""
        location = resolve(url, secret_file)
        encryption_key_file = encryption_key_file or os.environ.get(ENCRYPTION_KEY_ENV) or None
        engine = migrate.create(location)
        try:
            migrate.upgrade(engine)
            secret = FingerprintSecret.load_or_create(location.secret_file)
            cipher = KeyCipher.load(encryption_key_file) if encryption_key_file else None
            ledger = cls(engine, location, secret, cipher)
            ledger._check_secrets()
        except OperationalError as error:
            engine.dispose()
            raise UsageError(_("cannot open the ledger {display}: {value}").format(
                display=location.display, value=_first_line(error))) from None
        except BaseException:
            engine.dispose()
            raise
        return ledger

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        try:
            with self._engine.begin() as connection:
                yield connection
        except OperationalError as error:
            raise UsageError(_("the ledger {display}: {value}").format(
                display=self.location.display, value=_first_line(error))) from None

    def _check_secrets(self) -> None:
        """Record the check values on first use; afterwards refuse a secret or key file that is not the ledger's."""
        expected = self._secret.check_value()
        with self._transaction() as connection:
            connection.execute(self._insert(meta).values(name=_FINGERPRINT_CHECK, value=expected)
                               .on_conflict_do_nothing(index_elements=["name"]))
            stored = connection.scalar(select(meta.c.value).where(meta.c.name == _FINGERPRINT_CHECK))
            sealed = connection.scalar(select(meta.c.value).where(meta.c.name == _ENCRYPTION_CHECK))
        if stored != expected:
            raise UsageError(
                _("ledger secret file {secret_file} is not the one the fingerprints of {display} were made "
                  "with").format(secret_file=self.location.secret_file, display=self.location.display),
                hint=_("use the ledger's secret file (REMEDIATE_LEDGER_SECRET_FILE) on every controller"),
            )
        if self._cipher is not None and sealed is not None and not self._cipher.matches(sealed):
            raise self._cipher.wrong_key()

    def _insert(self, table: Any) -> Any:
        """An INSERT that knows ON CONFLICT on this database."""
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        insert: Insert = dialect.insert(table)
        return insert

    # --- keys -------------------------------------------------------------------------------------------------

    def fingerprint(self, key: ProductKey) -> str:
        return self._secret.fingerprint(key)

    def add_key(self, label: str, key: ProductKey, *, channel: str = MAK, product: str | None = None,
                budget: int | None = None, operator: str | None = None) -> KeyRecord:
        """Add a key under a new label. Stored encrypted when the ledger was opened with an encryption key file."""
        label = check_label(label)
        channel = parse_channel(channel)
        product = check_text(product, "product") if product else None
        if budget is not None and budget < 0:
            raise UsageError(_("budget {budget}: a budget is a number of activations, 0 or more").format(budget=budget))
        fingerprint = self.fingerprint(key)
        values: dict[str, Any] = {
            "label": label, "fingerprint": fingerprint, "last_five": key.last_five, "channel": channel,
            "product": product, "budget": budget, "state": ACTIVE, "added_at": now(),
            "added_by": operator or _operator(),
        }
        if self._cipher is not None:
            values["encrypted_key"] = self._cipher.seal(key, fingerprint)
        with self._transaction() as connection:
            self._refuse_duplicate(connection, label, fingerprint)
            if self._cipher is not None:
                connection.execute(self._insert(meta).values(name=_ENCRYPTION_CHECK, value=self._cipher.check_value())
                                   .on_conflict_do_nothing(index_elements=["name"]))
            try:
                connection.execute(keys.insert().values(**values))
            except IntegrityError:
                raise UsageError(_("key {label} ({masked}) was added by someone else a moment ago").format(
                    label=label, masked=key.masked)) from None
        return self.key(label)

    def _refuse_duplicate(self, connection: Connection, label: str, fingerprint: str) -> None:
        same_key = connection.scalar(select(keys.c.label).where(keys.c.fingerprint == fingerprint))
        if same_key is not None:
            raise UsageError(_("this key is already in the ledger as {same_key}").format(same_key=same_key))
        if connection.scalar(select(keys.c.id).where(keys.c.label == label)) is not None:
            raise UsageError(_("the label {label} is taken: choose another, or retire the key that has it").format(
                label=label))

    def list_keys(self, *, include_retired: bool = True) -> list[KeyRecord]:
        query = select(keys).order_by(keys.c.label)
        if not include_retired:
            query = query.where(keys.c.state != RETIRED)
        with self._transaction() as connection:
            return [_key_record(row) for row in connection.execute(query)]

    def key(self, label: str) -> KeyRecord:
        """The key with this label; UsageError naming the nearest labels when there is none."""
        with self._transaction() as connection:
            row = connection.execute(select(keys).where(keys.c.label == label)).first()
            if row is None:
                labels = list(connection.scalars(select(keys.c.label)))
        if row is not None:
            return _key_record(row)
        near = difflib.get_close_matches(label, labels, n=3)
        hint = _("did you mean {value}?").format(value=', '.join(near)) if near else _("see `remediate keys list`")
        raise UsageError(_("no key labelled {label!r} in the ledger").format(label=label), hint=hint)

    def find(self, key: ProductKey) -> KeyRecord | None:
        """The ledger's record of this key, if it has one."""
        with self._transaction() as connection:
            row = connection.execute(select(keys).where(keys.c.fingerprint == self.fingerprint(key))).first()
        return None if row is None else _key_record(row)

    def reveal(self, label: str) -> ProductKey:
        """The key stored under `label` (needs the encryption key file it was stored with)."""
        record = self.key(label)
        with self._transaction() as connection:
            sealed = connection.scalar(select(keys.c.encrypted_key).where(keys.c.id == record.id))
        if sealed is None:
            raise UsageError(_("key {label} ({masked}) is stored by fingerprint only: give the key itself").format(
                label=label, masked=record.masked))
        if self._cipher is None:
            raise UsageError(_("key {label} is stored encrypted: give the ledger's encryption key file "
                               "(--encryption-key-file or REMEDIATE_LEDGER_ENCRYPTION_KEY_FILE)").format(label=label))
        return self._cipher.open(sealed, record.fingerprint)

    def set_budget(self, label: str, budget: int) -> KeyRecord:
        if budget < 0:
            raise UsageError(_("budget {budget}: a budget is a number of activations, 0 or more").format(budget=budget))
        record = self.key(label)
        with self._transaction() as connection:
            connection.execute(update(keys).where(keys.c.id == record.id).values(budget=budget))
        return self.key(label)

    def retire(self, label: str) -> KeyRecord:
        """Stop using a key; its history stays."""
        record = self.key(label)
        with self._transaction() as connection:
            connection.execute(update(keys).where(keys.c.id == record.id)
                               .values(state=RETIRED, state_code=None, state_changed_at=now()))
        return self.key(label)

    def mark_exhausted(self, record: KeyRecord, code: ErrorCode | str) -> KeyRecord:
        """An activation server answered `code` (0xC004C008, 0xC004C020: count used up; 0xC004C003: blocked):
        the key is exhausted or blocked, and no run hands it out again. A retired key stays retired."""
        canonical = str(ErrorCode.parse(str(code)))
        state = ENDING_CODES.get(canonical)
        if state is None:
            raise ValueError(_("{canonical} does not end a key's use").format(canonical=canonical))
        with self._transaction() as connection:
            connection.execute(update(keys).where(and_(keys.c.id == record.id, keys.c.state != RETIRED))
                               .values(state=state, state_code=canonical, state_changed_at=now()))
        return self.key(record.label)

    # --- budget -----------------------------------------------------------------------------------------------

    def availability(self, record: KeyRecord, reserve: Reserve) -> Availability | None:
        """What a run may spend of this key now (None: the key has no budget to count down)."""
        with self._transaction() as connection:
            row = connection.execute(select(keys).where(keys.c.id == record.id)).one()
            return self._availability(connection, _key_record(row), reserve, None)

    def _availability(self, connection: Connection, current: KeyRecord, reserve: Reserve,
                      excluding_run: str | None) -> Availability | None:
        if current.budget is None:
            return None
        held = self._held(connection, current.id, excluding_run)
        return Availability(current.budget, reserve.of(current.budget), str(reserve), sum(held.values()),
                            len(held))

    def _held(self, connection: Connection, key_id: int, excluding_run: str | None) -> dict[str, int]:
        """Run id -> activations it still counts on: its hold, less the activations it has recorded since (those
        are off the budget already). Expired holds (runs that died) count for nothing."""
        done = (select(func.count()).select_from(uses)
                .where(uses.c.key_id == holds.c.key_id, uses.c.run_id == holds.c.run_id,
                       uses.c.action == ACTIVATE, uses.c.ok.is_(True))
                .scalar_subquery())
        query = select(holds.c.run_id, holds.c.hosts, done.label("done")).where(
            holds.c.key_id == key_id, holds.c.expires_at > now())
        if excluding_run is not None:
            query = query.where(holds.c.run_id != excluding_run)
        left = {row.run_id: row.hosts - row.done for row in connection.execute(query)}
        return {run: count for run, count in left.items() if count > 0}

    def check_budget(self, record: KeyRecord, needed: int, reserve: Reserve, *, hold_for: str | None = None,
                     hold_hours: float = HOLD_HOURS) -> Availability | None:
        """Refuse (UsageError, exit 2) a run whose `needed` activations exceed the key's budget less the reserve
        and what other runs in progress hold, or that would use a key that is retired, exhausted or blocked.

        hold_for: a run id: hold the `needed` activations for that run (in the same transaction as the check,
        so that two runs at once cannot both count on the same activations) until `release(run_id)`, or for
        `hold_hours` if the run dies first."""
        with self._transaction() as connection:
            row = connection.execute(select(keys).where(keys.c.id == record.id).with_for_update()).one()
            current = _key_record(row)
            if not current.usable:
                why = (_(" (an activation server answered {code})").format(code=current.state_code)
                       if current.state_code else "")
                raise UsageError(_("key {label} ({masked}) is {state}{why}; nothing was sent").format(
                    label=current.label, masked=current.masked, state=current.state, why=why),
                                 hint=_("choose another key, or add one with `remediate keys add`"))
            availability = self._availability(connection, current, reserve, hold_for)
            if availability is None:
                return None
            budgets.check(current.label, current.masked, availability, needed)
            if hold_for is not None:
                statement = self._insert(holds).values(
                    key_id=current.id, run_id=hold_for, hosts=needed, operator=_operator(), created_at=now(),
                    expires_at=now() + timedelta(hours=hold_hours))
                connection.execute(statement.on_conflict_do_update(
                    index_elements=["key_id", "run_id"],
                    set_={"hosts": statement.excluded.hosts, "expires_at": statement.excluded.expires_at}))
        return availability

    def release(self, run_id: str) -> None:
        """The run ended: the activations it held are free again (those it used are off the budget)."""
        with self._transaction() as connection:
            connection.execute(delete(holds).where(holds.c.run_id == run_id))

    def held_by_runs(self, label: str) -> dict[str, int]:
        """Run id -> activations of this key a run in progress still counts on."""
        record = self.key(label)
        with self._transaction() as connection:
            return self._held(connection, record.id, None)

    # --- uses and sightings -----------------------------------------------------------------------------------

    def record_install(self, record: KeyRecord, host: str, *, run_id: str, ok: bool,
                       code: ErrorCode | str | None = None, operator: str | None = None,
                       at: datetime | None = None) -> bool:
        """Record that remediate installed this key on `host` in run `run_id`. False: already recorded."""
        return self._record(record, host, INSTALL, run_id, ok, code, operator, at)

    def record_activation(self, record: KeyRecord, host: str, *, run_id: str, ok: bool,
                          code: ErrorCode | str | None = None, operator: str | None = None,
                          at: datetime | None = None) -> bool:
        """Record an activation; a successful one takes one from the key's budget. False: already recorded."""
        return self._record(record, host, ACTIVATE, run_id, ok, code, operator, at)

    def _record(self, record: KeyRecord, host: str, action: str, run_id: str, ok: bool,
                code: ErrorCode | str | None, operator: str | None, at: datetime | None) -> bool:
        when = at or now()
        result_code = str(ErrorCode.parse(str(code))) if code is not None else None
        row = {"key_id": record.id, "host": host, "action": action, "at": when, "run_id": run_id,
               "operator": operator or _operator(), "ok": ok, "result_code": result_code}
        with self._transaction() as connection:
            inserted = connection.execute(
                self._insert(uses).values(**row)
                .on_conflict_do_nothing(index_elements=["run_id", "host", "action", "key_id"])
                .returning(uses.c.id)
            ).first()
            if inserted is None:  # this run already recorded it
                return False
            changes: dict[str, Any] = {"last_used_at": func.coalesce(
                func.max(keys.c.last_used_at, when) if self._engine.dialect.name == "sqlite"
                else func.greatest(keys.c.last_used_at, when), when)}
            if action == ACTIVATE and ok:
                changes["budget"] = keys.c.budget - 1  # NULL (no budget) stays NULL
            connection.execute(update(keys).where(keys.c.id == record.id).values(**changes))
        return True

    def record_seen(self, host: str, last_five: str, *, product: str | None = None, run_id: str | None = None,
                    at: datetime | None = None) -> None:
        """A licence read saw the partial key `last_five` on `host`."""
        last_five = last_five.strip().upper()
        if not re.fullmatch(r"[0-9A-Z]{5}", last_five):
            raise ValueError(_("a partial product key is five letters and digits"))
        when = at or now()
        product = mask_product_keys(product)[:200] if product else None
        with self._transaction() as connection:
            matches = list(connection.scalars(select(keys.c.id).where(keys.c.last_five == last_five)))
            key_id = matches[0] if len(matches) == 1 else None  # two keys ending alike: leave it unlinked
            statement = self._insert(sightings).values(
                host=host, last_five=last_five, key_id=key_id, product=product, first_seen=when, last_seen=when,
                run_id=run_id,
            )
            connection.execute(statement.on_conflict_do_update(
                index_elements=["host", "last_five"],
                set_={"last_seen": statement.excluded.last_seen, "run_id": statement.excluded.run_id,
                      "key_id": statement.excluded.key_id,
                      "product": func.coalesce(statement.excluded.product, sightings.c.product)},
            ))

    def uses(self, label: str | None = None) -> list[UseRecord]:
        query = (select(uses, keys.c.label, keys.c.last_five).join(keys, uses.c.key_id == keys.c.id)
                 .order_by(uses.c.at, uses.c.id))
        if label is not None:
            query = query.where(keys.c.id == self.key(label).id)
        with self._transaction() as connection:
            return [UseRecord(label=row.label, last_five=row.last_five, host=row.host, action=row.action,
                              at=_aware(row.at), run_id=row.run_id, operator=row.operator, ok=row.ok,
                              result_code=row.result_code) for row in connection.execute(query)]

    def placements(self) -> list[Placement]:
        """Every key on every host, from remediate's own installs and activations and from licence reads; sorted
        by host, the most recent first."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        records = {record.id: record for record in self.list_keys()}
        for use in self.uses():
            entry = found.setdefault((use.host, use.last_five), {"label": use.label})
            entry.update(last_action=use.action, last_action_at=use.at, run_id=use.run_id, result=use.result)
        with self._transaction() as connection:
            seen = list(connection.execute(select(sightings)))
        for row in seen:
            entry = found.setdefault((row.host, row.last_five), {})
            entry["last_seen"] = _aware(row.last_seen)
            if "label" not in entry and row.key_id in records:
                entry["label"] = records[row.key_id].label
        by_label = {record.label: record for record in records.values()}
        placements = [
            Placement(host=host, last_five=last_five, label=entry.get("label"),
                      channel=by_label[entry["label"]].channel if entry.get("label") in by_label else None,
                      last_action=entry.get("last_action"), last_action_at=entry.get("last_action_at"),
                      run_id=entry.get("run_id"), result=entry.get("result"), last_seen=entry.get("last_seen"))
            for (host, last_five), entry in found.items()
        ]
        placements.sort(key=lambda placement: placement.last_known, reverse=True)
        placements.sort(key=lambda placement: placement.host)
        return placements

    def usage(self) -> list[KeyUsage]:
        """Every key with its counts of installs and activations that worked, failures and hosts."""
        counts = (select(uses.c.key_id, uses.c.action, uses.c.ok, func.count().label("n"))
                  .group_by(uses.c.key_id, uses.c.action, uses.c.ok))
        hosts = select(uses.c.key_id, func.count(func.distinct(uses.c.host)).label("n")).group_by(uses.c.key_id)
        with self._transaction() as connection:
            tallies = list(connection.execute(counts))
            host_counts = {row.key_id: row.n for row in connection.execute(hosts)}
        rows = []
        for record in self.list_keys():
            mine = [row for row in tallies if row.key_id == record.id]
            rows.append(KeyUsage(
                key=record,
                installs=sum(row.n for row in mine if row.action == INSTALL and row.ok),
                activations=sum(row.n for row in mine if row.action == ACTIVATE and row.ok),
                failures=sum(row.n for row in mine if not row.ok),
                hosts=host_counts.get(record.id, 0),
            ))
        return rows

    # --- import -----------------------------------------------------------------------------------------------

    def add_keys(self, rows: Sequence[Any], *, operator: str | None = None) -> list[KeyRecord]:
        """Add checked CSV rows (csv_import.KeyRow) in one transaction: all of them, or none."""
        added_labels: list[str] = []
        with self._transaction() as connection:
            if self._cipher is not None:
                connection.execute(self._insert(meta).values(name=_ENCRYPTION_CHECK, value=self._cipher.check_value())
                                   .on_conflict_do_nothing(index_elements=["name"]))
            for row in rows:
                fingerprint = self.fingerprint(row.key)
                try:
                    self._refuse_duplicate(connection, row.label, fingerprint)
                except UsageError as error:
                    raise UsageError(error.message, row.location) from None
                values: dict[str, Any] = {
                    "label": row.label, "fingerprint": fingerprint, "last_five": row.key.last_five,
                    "channel": row.channel, "product": row.product, "budget": row.budget, "state": ACTIVE,
                    "added_at": now(), "added_by": operator or _operator(),
                }
                if self._cipher is not None:
                    values["encrypted_key"] = self._cipher.seal(row.key, fingerprint)
                connection.execute(keys.insert().values(**values))
                added_labels.append(row.label)
        return [self.key(label) for label in added_labels]


def now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    """Every time in the ledger is UTC (SQLite hands back naive times, PostgreSQL its session's zone)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _key_record(row: Row[Any]) -> KeyRecord:
    return KeyRecord(
        id=row.id, label=row.label, fingerprint=row.fingerprint, last_five=row.last_five, channel=row.channel,
        product=row.product, budget=row.budget, state=row.state, state_code=row.state_code,
        state_changed_at=_aware(row.state_changed_at) if row.state_changed_at else None,
        encrypted=row.encrypted_key is not None, added_at=_aware(row.added_at), added_by=row.added_by,
        last_used_at=_aware(row.last_used_at) if row.last_used_at else None,
    )


def _operator() -> str:
    from remediate.audit import operator_name

    return operator_name()


def _first_line(error: Exception) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    return mask_product_keys(text.splitlines()[0] if text else type(original).__name__)
