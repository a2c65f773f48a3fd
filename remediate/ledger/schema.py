"""The ledger's tables (SQLAlchemy Core). Alembic's scripts in migrations/ build exactly these.

keys       one row per product key: keyed fingerprint, last five characters, label, channel, product, budget
           (activations left, counted down by each activation remediate observes), state, and the key itself
           only AES-GCM encrypted, when the operator gave an encryption key file
uses       every install and activation remediate performed: key, host, time, run id, operator, result;
           one row per (run, host, action, key), so a repeated record never doubles
sightings  every partial key a licence read saw on a host, with when it was first and last seen
holds      activations a run in progress counts on: other runs see them as spent until the run ends (or its
           hold expires, when the run died), so two runs at once cannot both plan the same activations
meta       the ledger's own facts: the check values of its fingerprint secret and encryption key
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Named constraints, so that migrations can name them on SQLite and PostgreSQL alike.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Alembic's version table, named for the ledger so that it can share a PostgreSQL database with other schemas.
VERSION_TABLE = "remediate_ledger_version"

# Key states. `exhausted` and `blocked` come from an activation server's answer (0xC004C008/0xC004C020,
# 0xC004C003); `retired` from the operator.
ACTIVE = "active"
RETIRED = "retired"
EXHAUSTED = "exhausted"
BLOCKED = "blocked"
STATES = (ACTIVE, RETIRED, EXHAUSTED, BLOCKED)

# Actions in `uses`.
INSTALL = "install"
ACTIVATE = "activate"
ACTIONS = (INSTALL, ACTIVATE)

keys = Table(
    "keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("label", String(100), nullable=False, unique=True),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("last_five", String(5), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("product", String(200)),
    Column("budget", Integer),
    Column("state", String(10), nullable=False, default=ACTIVE),
    Column("state_code", String(10)),
    Column("state_changed_at", DateTime(timezone=True)),
    Column("encrypted_key", LargeBinary),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("added_by", String(200), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
)

uses = Table(
    "uses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key_id", Integer, ForeignKey("keys.id"), nullable=False, index=True),
    Column("host", String(255), nullable=False, index=True),
    Column("action", String(10), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("operator", String(200), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("result_code", String(10)),
    UniqueConstraint("run_id", "host", "action", "key_id", name="uq_uses_once"),
)

sightings = Table(
    "sightings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("host", String(255), nullable=False),
    Column("last_five", String(5), nullable=False),
    Column("key_id", Integer, ForeignKey("keys.id")),
    Column("product", String(200)),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("run_id", String(64)),
    UniqueConstraint("host", "last_five", name="uq_sightings_host_key"),
)

holds = Table(
    "holds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key_id", Integer, ForeignKey("keys.id"), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("hosts", Integer, nullable=False),
    Column("operator", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("key_id", "run_id", name="uq_holds_key_run"),
)

meta = Table(
    "meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
