"""Review claims: the reviewer working a pended case, at most one per case.

Determinations, extensions, information and appeals are decision-log entries; only the
claim, which is working state, gets a table of its own.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_claims",
        sa.Column("decision_id", sa.String(36), primary_key=True),
        sa.Column("reviewer", sa.String(128), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("review_claims")
