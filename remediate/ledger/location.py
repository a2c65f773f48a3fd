"""Which ledger database a command uses, and where its fingerprint secret lives.

The database: `--ledger URL`, else REMEDIATE_LEDGER, else `ledger.sqlite` in the user's data folder
(platformdirs: ~/.local/share/remediate on Linux, %LOCALAPPDATA%\\remediate on Windows). A URL is a
SQLAlchemy URL (`postgresql://user@host/db`, `sqlite:///path`) or a plain path to a SQLite file.

The fingerprint secret (the HMAC key of every fingerprint): REMEDIATE_LEDGER_SECRET_FILE when set; else, for a
SQLite file, the file of the same name with the suffix `.secret` beside it. A server ledger needs the variable:
every controller and CI runner that shares the ledger must use the same secret file, so the database alone never
lets anyone test whether a given key is in it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from remediate.errors import UsageError
from remediate.i18n import _

LEDGER_ENV = "REMEDIATE_LEDGER"
SECRET_FILE_ENV = "REMEDIATE_LEDGER_SECRET_FILE"
ENCRYPTION_KEY_ENV = "REMEDIATE_LEDGER_ENCRYPTION_KEY_FILE"
DEFAULT_FILE_NAME = "ledger.sqlite"


@dataclass(frozen=True)
class LedgerLocation:
    """A ledger's database URL (with the driver remediate uses) and its fingerprint secret file."""

    url: URL
    secret_file: Path

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def display(self) -> str:
        """The URL without its password (for messages)."""
        return self.url.render_as_string(hide_password=True)


def default_database() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("remediate", appauthor=False)) / DEFAULT_FILE_NAME


def refuse_password(option_value: str | None) -> None:
    """--ledger with a password: refused, since a command line shows in the process list (REMEDIATE_LEDGER or
    ~/.pgpass keep it out of sight)."""
    if not option_value or "://" not in option_value:
        return
    try:
        password = make_url(option_value).password
    except ArgumentError:
        return  # resolve() says what is wrong with it
    if password:
        raise UsageError(_("--ledger: a password on the command line shows in the process list"),
                         hint=_("put the URL in REMEDIATE_LEDGER, or the password in ~/.pgpass (PGPASSFILE)"))


NO_LEDGER = "none"  # --ledger none: a run or status read that leaves the ledger alone (the demo's sandbox hosts)


def in_use(url: str | None) -> bool:
    """A run or a status read uses the ledger when one is named, or the default one exists: it never creates one
    (`remediate keys` does). `--ledger none` turns it off."""
    if url is not None and url.strip().lower() == NO_LEDGER:
        return False
    return bool(url or os.environ.get(LEDGER_ENV) or default_database().exists())


def resolve(url: str | None = None, secret_file: str | Path | None = None) -> LedgerLocation:
    """The ledger to open: `url` (the --ledger option), else REMEDIATE_LEDGER, else the default SQLite file."""
    text = url or os.environ.get(LEDGER_ENV) or ""
    if text.strip().lower() == NO_LEDGER:
        raise UsageError(_("the ledger is turned off (--ledger none), but this command needs one"))
    parsed = _parse(text.strip()) if text.strip() else _sqlite_url(default_database())
    secret = secret_file or os.environ.get(SECRET_FILE_ENV)
    if secret:
        return LedgerLocation(parsed, Path(secret).expanduser())
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:":
        raise UsageError(
            _("the ledger {value} needs a fingerprint secret file: set {SECRET_FILE_ENV}").format(
                value=parsed.render_as_string(hide_password=True), SECRET_FILE_ENV=SECRET_FILE_ENV),
            hint=_("every controller sharing one ledger uses the same secret file; the first open creates it "
                   "(keep it where only the operators can read it)"),
        )
    return LedgerLocation(parsed, Path(database).with_suffix(".secret"))


def _parse(text: str) -> URL:
    if "://" not in text:
        return _sqlite_url(Path(text).expanduser())
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise UsageError(_("the ledger URL is not a database URL such as postgresql://user@host/db or "
                           "sqlite:///path/ledger.sqlite")) from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "postgres" or (backend == "postgresql" and driver in ("psycopg2", "")):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3: the driver of remediate[postgres]
    elif backend not in ("postgresql", "sqlite"):
        raise UsageError(_("the ledger supports PostgreSQL and SQLite, not {backend}").format(backend=backend))
    return parsed


def _sqlite_url(path: Path) -> URL:
    return URL.create("sqlite", database=str(path))
