"""Alembic environment of the ledger: always handed an open connection by remediate.ledger.migrate."""

from __future__ import annotations

from alembic import context

from remediate.ledger.schema import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the ledger's migrations run through remediate.ledger.migrate, which gives a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite alters a table by copying it
)
with context.begin_transaction():
    context.run_migrations()
