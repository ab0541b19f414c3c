"""Policy history: every transition of a version is an event; a retired policy's last date.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("policy_id", sa.String(64), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text()),
    )
    with op.batch_alter_table("policy_versions") as batch:
        batch.add_column(sa.Column("retired_on", sa.Date()))


def downgrade() -> None:
    with op.batch_alter_table("policy_versions") as batch:
        batch.drop_column("retired_on")
    op.drop_table("policy_events")
