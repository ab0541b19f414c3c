"""An index of the later entries of each case, for the ``overdue`` and ``reviewer`` filters.

Both ask whether a case has any entry after its first decision; without this index
PostgreSQL answers by scanning the whole log for every page.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_decision_log_later",
        "decision_log",
        ["decision_id", "actor"],
        postgresql_where=sa.text("kind <> 'decision'"),
        sqlite_where=sa.text("kind <> 'decision'"),
    )


def downgrade() -> None:
    op.drop_index("ix_decision_log_later", "decision_log")
