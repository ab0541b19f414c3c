"""PostgreSQL stops under the service: requests answer 503 at once, and service resumes by itself.

The database is a private cluster (initdb under /tmp) stopped with ``pg_ctl -m immediate``,
every server connection dying at once as in a crash; the shared server is never touched.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask

from policy_engine.app import create_app
from policy_engine.storage import migrate
from scripts.killable_service import free_port
from scripts.private_postgres import PrivateCluster, postgres_bin

from .conftest import cpap_request

pytestmark = pytest.mark.skipif(
    postgres_bin() is None,
    reason="needs PostgreSQL's server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin",
)
POLICIES = Path(__file__).resolve().parents[2] / "policies"
UNAVAILABLE = {
    "code": "database_unavailable",
    "message": "the database is unavailable; retry shortly",
    "errors": {},
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    with PrivateCluster(free_port()) as running:
        yield running


@pytest.fixture(scope="module")
def service(cluster: PrivateCluster) -> Iterator[Flask]:
    settings = {"DATABASE_IDLE_PING_SECONDS": 0.2, "DATABASE_LOCK_TIMEOUT": 1}
    app = create_app({"DATABASE_URL": cluster.url, "TESTING": True, **settings})
    backend = app.extensions["policy_engine"]
    migrate.upgrade(backend.database)
    backend.policies.load_directory(POLICIES)
    backend.catalog.reload()
    app.config["SUBMITTER"] = backend.tokens.create("submitter", "nurse", "clinic-a")
    yield app
    backend.database.dispose()


def submit(service: Flask) -> Any:
    headers = {"Authorization": f"Bearer {service.config['SUBMITTER']}"}
    request = cpap_request(uuid.uuid4().hex)
    return service.test_client().post("/api/v1/authorizations", json=request, headers=headers)


def test_requests_answer_503_at_once_while_the_database_is_down(service, cluster):
    assert submit(service).status_code == 201
    cluster.stop()
    try:
        started = time.monotonic()
        answers = [submit(service) for _ in range(3)]
        health = service.test_client().get("/healthz")
        waited = time.monotonic() - started
    finally:
        cluster.start()
    assert [a.status_code for a in answers] == [503, 503, 503]
    assert all(a.get_json() == UNAVAILABLE for a in answers)
    assert health.status_code == 503
    assert health.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert waited < 15  # a hang guard, far above the connect timeout


def test_the_service_recovers_when_the_database_returns(service, cluster):
    cluster.stop()
    try:
        assert submit(service).status_code == 503
    finally:
        cluster.start()
    assert [submit(service).status_code for _ in range(3)] == [201, 201, 201]
    assert service.test_client().get("/healthz").status_code == 200


def test_a_restart_no_request_saw_fails_no_request(service, cluster):
    assert submit(service).status_code == 201
    cluster.stop()
    cluster.start()
    time.sleep(0.3)  # the pooled connection, dead since the restart, is now idle long enough to be pinged
    assert [submit(service).status_code for _ in range(2)] == [201, 201]


def test_a_request_queued_behind_a_held_log_lock_answers_503(service, cluster):
    """A session that holds the log's head (stuck, or a careless maintenance job) stalls no request."""
    with psycopg.connect(cluster.url) as holder:  # a transaction that takes the lock and keeps it
        holder.execute("SELECT seq FROM chain_head WHERE id = 1 FOR UPDATE")
        guard = threading.Timer(15, holder.close)  # a hang guard: the lock timeout here is 1 s
        guard.start()
        try:
            answer = submit(service)
        finally:
            guard.cancel()
    assert answer.status_code == 503 and answer.get_json() == UNAVAILABLE
    assert submit(service).status_code == 201
