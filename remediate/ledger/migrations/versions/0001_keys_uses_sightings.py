"""keys, uses, sightings and meta

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("last_five", sa.String(5), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("product", sa.String(200)),
        sa.Column("budget", sa.Integer()),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("state_code", sa.String(10)),
        sa.Column("state_changed_at", sa.DateTime(timezone=True)),
        sa.Column("encrypted_key", sa.LargeBinary()),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_keys"),
        sa.UniqueConstraint("label", name="uq_keys_label"),
        sa.UniqueConstraint("fingerprint", name="uq_keys_fingerprint"),
    )
    op.create_table(
        "uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("operator", sa.String(200), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("result_code", sa.String(10)),
        sa.ForeignKeyConstraint(["key_id"], ["keys.id"], name="fk_uses_key_id_keys"),
        sa.PrimaryKeyConstraint("id", name="pk_uses"),
        sa.UniqueConstraint("run_id", "host", "action", "key_id", name="uq_uses_once"),
    )
    op.create_index("ix_uses_key_id", "uses", ["key_id"])
    op.create_index("ix_uses_host", "uses", ["host"])
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("last_five", sa.String(5), nullable=False),
        sa.Column("key_id", sa.Integer()),
        sa.Column("product", sa.String(200)),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.ForeignKeyConstraint(["key_id"], ["keys.id"], name="fk_sightings_key_id_keys"),
        sa.PrimaryKeyConstraint("id", name="pk_sightings"),
        sa.UniqueConstraint("host", "last_five", name="uq_sightings_host_key"),
    )
    op.create_table(
        "meta",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_meta"),
    )


def downgrade() -> None:
    op.drop_table("meta")
    op.drop_table("sightings")
    op.drop_index("ix_uses_host", table_name="uses")
    op.drop_index("ix_uses_key_id", table_name="uses")
    op.drop_table("uses")
    op.drop_table("keys")
