"""Search index of the decision log: one row per decision line and per governing policy.

The log's columns are untouched, so its hash chain is unaffected; the index is built
from the decisions already recorded, in this migration's transaction.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from policy_engine.storage.decision_index import rebuild

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_lines",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("line", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("date_of_service", sa.String(10)),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("x12_action", sa.String(4)),
        sa.Column("policies", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Text(), nullable=False),
        sa.Column("authorization_number", sa.String(64)),
        sa.Column("due_by", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_decision_lines_outcome", "decision_lines", ["outcome", "reason", "seq"])
    op.create_index("ix_decision_lines_x12", "decision_lines", ["x12_action", "seq"])
    op.create_index("ix_decision_lines_code", "decision_lines", ["code", "seq"])
    op.create_index("ix_decision_lines_due", "decision_lines", ["due_by"])
    op.create_table(
        "decision_line_policies",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("line", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("policy_id", sa.String(64), primary_key=True),
        sa.Column("policy_version", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_decision_line_policies", "decision_line_policies", ["policy_id", "policy_version", "seq"]
    )
    op.create_index("ix_decision_log_actor", "decision_log", ["actor"])
    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_decision_log_actor", "decision_log")
    op.drop_table("decision_line_policies")
    op.drop_table("decision_lines")
