"""Opening a ledger database: the engine (SQLite or PostgreSQL) and Alembic's `upgrade head` on every open."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text

from remediate.errors import UsageError
from remediate.i18n import _
from remediate.ledger.location import LedgerLocation

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Held while migrating a PostgreSQL ledger, so that two controllers opening a new ledger at once do not both
# create its tables. Any fixed number: it names the lock ("rmdl" in ASCII).
_MIGRATION_LOCK = 0x726D646C
SQLITE_BUSY_SECONDS = 60


def create(location: LedgerLocation) -> Engine:
    if location.is_sqlite:
        database = location.url.database
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UsageError(_("cannot make the ledger's folder {parent}: {strerror}").format(
                    parent=Path(database).parent, strerror=error.strerror)) from None
        engine = create_engine(location.url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        _serialise_sqlite_writers(engine)
        return engine
    try:
        return create_engine(location.url, pool_pre_ping=True)
    except ImportError:
        raise UsageError(_("the ledger {display} needs the PostgreSQL driver psycopg").format(display=location.display),
                         hint=_("pip install 'remediate[postgres]'")) from None


def _serialise_sqlite_writers(engine: Engine) -> None:
    """Every SQLite transaction takes the write lock when it begins (BEGIN IMMEDIATE), so that two processes
    never both read a row and then find they cannot write it: the second waits, then reads what the first wrote."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy, not the sqlite3 module, begins transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config() -> Config:
    from alembic.config import Config  # Alembic only once a ledger is opened: a run without one starts sooner

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the ledger's tables to the newest schema (creating them in an empty database)."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
