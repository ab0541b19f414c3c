"""The decision log's JSON documents compressed with LZ4 (PostgreSQL 14 and later, when built with it).

``audit verify`` reads and hashes every entry's request and result; a result of about 7 KB
is stored out of line and compressed, and decompressing it with the default (pglz) took
most of the walk's time; LZ4 decompresses the same documents about three times faster,
at a similar size. Only entries written from now on are compressed this way: existing
ones are read as they are, and nothing is rewritten.

Revision ID: 0008
Revises: 0007
"""

from alembic import op
from sqlalchemy import text

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_DOCUMENTS = ("policies", "request", "result")


def _lz4_available() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return False
    found = bind.execute(
        text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    ).scalar()
    return bool(found)


def _compress_with(method: str) -> None:
    for column in _DOCUMENTS:
        op.execute(f"ALTER TABLE decision_log ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    if _lz4_available():
        _compress_with("lz4")


def downgrade() -> None:
    if _lz4_available():
        _compress_with("default")
