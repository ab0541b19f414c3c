"""The service under test, on SQLite (default) or PostgreSQL (``DATABASE_URL=postgresql://…``).

On PostgreSQL a database of its own is created for the run and dropped after it. The
application is built once per run (compiling the policies is the slow part); every test
starts from empty log, access and token tables, with the bundled policies stored.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from policy_engine import clock
from policy_engine.app import create_app
from policy_engine.storage import migrate
from scripts.scratch_database import scratch_postgres

initial_guards = importlib.import_module(
    "policy_engine.storage.migrations.versions.0001_initial"
).initial_guards

POLICIES = Path(__file__).resolve().parents[2] / "policies"
CLEARED = (
    "decision_line_policies",
    "decision_lines",
    "decision_log",
    "access_log",
    "api_tokens",
    "review_claims",
)
POLICY_TABLES = ("policy_versions", "policy_events")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("DATABASE_URL")
    if not configured or configured.startswith("sqlite"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    with scratch_postgres(configured, "policy_engine_test") as url:
        yield url


@pytest.fixture(scope="session")
def app(database_url: str):  # type: ignore[no-untyped-def]
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "POLICIES_DIR": str(POLICIES)})
    backend = app.extensions["policy_engine"]
    migrate.upgrade(backend.database)
    backend.policies.load_directory(POLICIES)
    backend.catalog.reload()
    with backend.database.engine.connect() as connection:
        app.config["POLICY_SNAPSHOT"] = {
            table: [dict(row._mapping) for row in connection.execute(text(f"SELECT * FROM {table}"))]
            for table in POLICY_TABLES
        }
    app.config["POLICY_GENERATION"] = backend.policies.generation()
    yield app
    backend.database.dispose()


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> None:
    """Each test starts with an empty log and the bundled policies as first loaded."""
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    backend = app.extensions["policy_engine"]
    restore = backend.policies.generation() != app.config["POLICY_GENERATION"]
    with backend.database.engine.begin() as connection:
        with tampering(connection):
            for table in CLEARED:
                connection.execute(text(f"DELETE FROM {table}"))
            connection.execute(
                text("UPDATE chain_head SET seq = 0, prev_hash = :genesis, entry_hash = :genesis"),
                {"genesis": "0" * 64},
            )
        if restore:
            for table in POLICY_TABLES:
                connection.execute(text(f"DELETE FROM {table}"))
                rows = app.config["POLICY_SNAPSHOT"][table]
                columns = ", ".join(rows[0])
                values = ", ".join(f":{name}" for name in rows[0])
                connection.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({values})"), rows)
    if restore:
        backend.catalog.reload()


class tampering:
    """Lifts the log's append-only guard on one connection, as a database owner could."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.sqlite = connection.dialect.name == "sqlite"

    def __enter__(self) -> Any:
        if self.sqlite:
            for name in ("decision_log_no_update", "decision_log_no_delete"):
                self.connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            self.connection.execute(text("SET LOCAL session_replication_role = replica"))
        return self.connection

    def __exit__(self, *exc: object) -> None:
        if self.sqlite:
            for statement in initial_guards("sqlite"):
                self.connection.execute(text(statement))


@pytest.fixture
def backend(app):  # type: ignore[no-untyped-def]
    return app.extensions["policy_engine"]


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def token(backend):  # type: ignore[no-untyped-def]
    """A factory: ``token("reviewer", physician=True)`` → an Authorization header."""

    def make(role: str, organization: str | None = None, physician: bool = False, name: str | None = None):
        if role == "submitter" and organization is None:
            organization = "clinic-a"
        value = backend.tokens.create(role, name or f"{role}-{uuid.uuid4().hex[:6]}", organization, physician)
        return {"Authorization": f"Bearer {value}"}

    return make


@pytest.fixture
def submitter(token):  # type: ignore[no-untyped-def]
    return token("submitter", organization="clinic-a", name="nurse-a")


def cpap_request(request_id: str = "req-1", **changes: Any) -> dict[str, Any]:
    """A CPAP request that the 2025 policy approves; ``changes`` replace top-level fields."""
    body: dict[str, Any] = {
        "request_id": request_id,
        "urgency": "standard",
        "member": {"id": "M1001", "birth_date": "1961-04-02", "sex": "F", "plan": "MA-HMO"},
        "provider": {"npi": "1234567893", "name": "Sleep Clinic"},
        "diagnoses": ["G47.33", "I10"],
        "services": [{"code": "E0601", "quantity": 1, "date_of_service": "2025-03-10"}],
        "clinical": {
            "ahi": 31,
            "conditions": ["hypertension"],
            "evaluation_date": "2025-01-15",
            "sleep_test_date": "2025-02-01",
        },
        "documentation": ["psg-report", "f2f-note"],
    }
    body.update(changes)
    return body


def row_count(backend: Any, table: str) -> int:
    with backend.database.engine.connect() as connection:
        return connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self.moment = start

    def __call__(self) -> dt.datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += dt.timedelta(**delta)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The service's clock, stopped at 2025-03-03 10:00 UTC; the test moves it."""
    fixed = Clock(dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.UTC))
    monkeypatch.setattr(clock, "now", fixed)
    return fixed


@pytest.fixture
def nurse(token):  # type: ignore[no-untyped-def]
    return token("reviewer", name="rn-lee")


@pytest.fixture
def doctor(token):  # type: ignore[no-untyped-def]
    return token("reviewer", physician=True, name="dr-ames")


@pytest.fixture
def second_doctor(token):  # type: ignore[no-untyped-def]
    return token("reviewer", physician=True, name="dr-brook")
