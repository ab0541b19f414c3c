"""The migrations build exactly the tables, columns and indexes the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from policy_engine.storage.models import Base


def test_the_migrated_schema_is_the_one_the_models_describe(backend):  # type: ignore[no-untyped-def]
    with backend.database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
