"""Reads found by the read decision's log position, not by indexes on its id and member.

An export records one read per decision: a million rows whose decision ids and member
ids, each indexed, land all over two large indexes, which made recording them slower
than the export itself. A read now also carries the position (``seq``) of the decision it
read; an export records its reads in that order, so the one index on it grows at its
end. The trail is filtered by decision or member through the log's own indexes: the
positions of that decision, or of that member's decisions, then their reads.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("access_log", sa.Column("seq", sa.BigInteger()))
    op.execute(
        "UPDATE access_log SET seq = (SELECT d.seq FROM decision_log d "
        "WHERE d.decision_id = access_log.decision_id AND d.kind = 'decision')"
    )
    op.create_index("ix_access_log_seq", "access_log", ["seq"])
    op.drop_index("ix_access_log_decision_id", "access_log")
    op.drop_index("ix_access_log_member_id", "access_log")


def downgrade() -> None:
    op.create_index("ix_access_log_member_id", "access_log", ["member_id"])
    op.create_index("ix_access_log_decision_id", "access_log", ["decision_id"])
    op.drop_index("ix_access_log_seq", "access_log")
    with op.batch_alter_table("access_log") as batch:
        batch.drop_column("seq")
