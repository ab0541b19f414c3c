"""The chain's head in a row of its own, and each new entry's content hash.

Appends advance ``chain_head`` in one statement whose row lock serializes them;
``entry_hash`` of a new entry is ``sha256(prev_hash ‖ content_hash)``. Entries already
recorded keep their whole-entry hash (``content_hash`` stays null), so nothing in the
log is rewritten; the head starts at the log's newest entry.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.add_column("decision_log", sa.Column("content_hash", sa.String(64)))
    op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_chain_head_one_row"),
    )
    head = (
        op.get_bind()
        .execute(sa.text("SELECT seq, prev_hash, entry_hash FROM decision_log ORDER BY seq DESC LIMIT 1"))
        .first()
    )
    seq, prev_hash, entry_hash = head if head else (0, GENESIS, GENESIS)
    op.get_bind().execute(
        sa.text("INSERT INTO chain_head (id, seq, prev_hash, entry_hash) VALUES (1, :seq, :prev, :hash)"),
        {"seq": seq, "prev": prev_hash, "hash": entry_hash},
    )


def downgrade() -> None:
    op.drop_table("chain_head")
    op.drop_column("decision_log", "content_hash")
