"""Decision log, access trail, API tokens and policy versions.

The decision log refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) with triggers,
so the application could not rewrite history even by mistake; the hash chain is what
proves nobody else did.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SQLITE_GUARDS = [
    """CREATE TRIGGER decision_log_no_update BEFORE UPDATE ON decision_log
       BEGIN SELECT RAISE(ABORT, 'decision_log is append-only'); END""",
    """CREATE TRIGGER decision_log_no_delete BEFORE DELETE ON decision_log
       BEGIN SELECT RAISE(ABORT, 'decision_log is append-only'); END""",
]
_POSTGRES_GUARDS = [
    """CREATE FUNCTION decision_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'decision_log is append-only'; END $$""",
    """CREATE TRIGGER decision_log_no_change BEFORE UPDATE OR DELETE ON decision_log
       FOR EACH ROW EXECUTE FUNCTION decision_log_append_only()""",
    """CREATE TRIGGER decision_log_no_truncate BEFORE TRUNCATE ON decision_log
       FOR EACH STATEMENT EXECUTE FUNCTION decision_log_append_only()""",
]


def initial_guards(dialect: str) -> list[str]:
    return _POSTGRES_GUARDS if dialect == "postgresql" else _SQLITE_GUARDS


def upgrade() -> None:
    timestamp = sa.DateTime(timezone=True)
    op.create_table(
        "decision_log",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("entry_id", sa.String(36), nullable=False, unique=True),
        sa.Column("decision_id", sa.String(36), nullable=False, index=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("organization", sa.String(64)),
        sa.Column("request_id", sa.String(128)),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String(64), index=True),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("received_at", timestamp, nullable=False),
        sa.Column("recorded_at", timestamp, nullable=False, index=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("engine_version", sa.String(64), nullable=False),
        sa.Column("policies", sa.JSON(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    op.create_index(
        "uq_decision_request",
        "decision_log",
        ["organization", "request_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'decision'"),
        sqlite_where=sa.text("kind = 'decision'"),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("at", timestamp, nullable=False, index=True),
        sa.Column("actor", sa.String(128), nullable=False, index=True),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False, index=True),
        sa.Column("member_id", sa.String(64), index=True),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("organization", sa.String(64)),
        sa.Column("physician", sa.Boolean(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("revoked_at", timestamp),
    )
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("policy_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("effective", sa.Date(), nullable=False),
        sa.Column("expires", sa.Date()),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("approver", sa.String(128)),
        sa.Column("created_at", timestamp, nullable=False),
        sa.Column("decided_at", timestamp),
        sa.Column("comment", sa.Text()),
    )
    op.create_index("uq_policy_version", "policy_versions", ["policy_id", "version"], unique=True)
    for statement in initial_guards(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER decision_log_no_truncate ON decision_log")
        op.execute("DROP TRIGGER decision_log_no_change ON decision_log")
        op.execute("DROP FUNCTION decision_log_append_only()")
    for table in ("policy_versions", "api_tokens", "access_log", "decision_log"):
        op.drop_table(table)
