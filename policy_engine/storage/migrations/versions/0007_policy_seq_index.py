"""The lines each policy governed, in log order, for the ``policy`` filter without a version.

The index of 0004 is ordered by version first, so a page filtered by policy alone (often
with other line or decision filters) was found by walking the whole log in order and
probing each entry; with the policy's lines in ``seq`` order the walk starts from them.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_decision_line_policies_seq", "decision_line_policies", ["policy_id", "seq", "line"])


def downgrade() -> None:
    op.drop_index("ix_decision_line_policies_seq", "decision_line_policies")
