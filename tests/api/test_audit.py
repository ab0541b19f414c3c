"""The decision log's hash chain and replay, through the API and the database behind it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from .conftest import cpap_request, tampering

VERIFY = "/api/v1/audit/verify"


@pytest.fixture
def auditor(token):  # type: ignore[no-untyped-def]
    return token("auditor", name="auditor-1")


@pytest.fixture
def five_decisions(client, submitter):  # type: ignore[no-untyped-def]
    return [
        client.post("/api/v1/authorizations", json=cpap_request(f"chain-{n}"), headers=submitter).get_json()
        for n in range(5)
    ]


@pytest.fixture(params=[None, 2], ids=["one-chunk", "chunks-of-2"])
def chunk(request, monkeypatch):  # type: ignore[no-untyped-def]
    """On PostgreSQL the walk checks chunks of the log side by side: also in chunks of two,
    so that problems fall on, and next to, the chunks' edges."""
    from policy_engine.storage import chain_sql

    if request.param:
        monkeypatch.setattr(chain_sql, "CHUNK", request.param)


def test_an_untouched_log_verifies(client, auditor, five_decisions, chunk):
    report = client.get(VERIFY, headers=auditor).get_json()
    assert report["intact"] is True and report["entries"] == 5 and report["problem"] is None
    assert report["head"]["seq"] == 5


def test_an_empty_log_verifies(client, auditor):
    report = client.get(VERIFY, headers=auditor).get_json()
    assert (report["intact"], report["entries"], report["head"]["seq"]) == (True, 0, 0)


def test_the_application_cannot_change_or_delete_an_entry(backend, five_decisions):
    for statement in ("UPDATE decision_log SET status = 'approved'", "DELETE FROM decision_log"):
        with pytest.raises(Exception, match="append-only"), backend.database.engine.begin() as connection:
            connection.execute(text(statement))


def _tamper(backend, *statements: str, **params: str) -> None:  # type: ignore[no-untyped-def]
    with backend.database.engine.begin() as connection, tampering(connection):
        for statement in statements:
            connection.execute(text(statement), params)


def _result_text(backend, where: str, **params: str) -> str:  # type: ignore[no-untyped-def]
    with backend.database.engine.connect() as connection:
        value = connection.execute(
            text(f"SELECT result FROM decision_log WHERE {where}"), params
        ).scalar_one()
    return value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize(
    ("statements", "seq", "words"),
    [
        (["UPDATE decision_log SET status = 'pended' WHERE seq = 3"], 3, "altered"),
        (["UPDATE decision_log SET actor = 'someone-else' WHERE seq = 5"], 5, "altered"),
        (["DELETE FROM decision_log WHERE seq = 2"], 2, "missing"),
        (
            [
                "UPDATE decision_log SET seq = 100 WHERE seq = 2",
                "UPDATE decision_log SET seq = 2 WHERE seq = 4",
                "UPDATE decision_log SET seq = 4 WHERE seq = 100",
            ],
            2,
            "does not follow entry 1",
        ),
    ],
    ids=["edit-status", "edit-actor", "delete", "swap"],
)
def test_tampering_is_detected_and_named(
    client, backend, auditor, five_decisions, chunk, statements, seq, words
):
    _tamper(backend, *statements)
    response = client.get(VERIFY, headers=auditor)
    report = response.get_json()
    assert response.status_code == 200 and report["intact"] is False
    assert report["problem"]["seq"] == seq and words in report["problem"]["message"]


def test_an_altered_trace_is_detected(client, backend, auditor, five_decisions):
    altered = _result_text(backend, "seq = 4").replace('"met"', '"not_met"', 1)
    _tamper(backend, "UPDATE decision_log SET result = :result WHERE seq = 4", result=altered)
    assert client.get(VERIFY, headers=auditor).get_json()["problem"]["seq"] == 4


def test_removing_the_newest_entry_is_caught_by_a_kept_anchor(
    client, backend, auditor, five_decisions, chunk
):
    head = client.get(VERIFY, headers=auditor).get_json()["head"]
    anchor = f"{head['seq']}:{head['entry_hash']}"
    assert client.get(VERIFY, query_string={"anchor": anchor}, headers=auditor).get_json()["intact"]
    _tamper(backend, "DELETE FROM decision_log WHERE seq = 5")
    report = client.get(VERIFY, query_string={"anchor": anchor}, headers=auditor).get_json()
    assert report["intact"] is False and "anchored entry 5 is gone" in report["problem"]["message"]


def test_a_malformed_anchor_is_a_field_error(client, auditor):
    response = client.get(VERIFY, query_string={"anchor": "five"}, headers=auditor)
    assert response.status_code == 422 and "anchor" in response.get_json()["errors"]


def test_replay_reproduces_a_recorded_decision(client, auditor, five_decisions):
    decision = five_decisions[0]
    response = client.post(f"/api/v1/decisions/{decision['decision_id']}/replay", headers=auditor)
    report = response.get_json()
    assert response.status_code == 200 and report["reproduced"] is True
    assert (
        report["lines"][0]["recorded"]
        == report["lines"][0]["replayed"]
        == {"outcome": "approved", "reason": None}
    )
    assert report["policies"][0]["unchanged"] is True


def test_replay_reports_a_decision_that_no_longer_reproduces(client, backend, auditor, five_decisions):
    decision = five_decisions[1]
    result = _result_text(backend, "entry_id = :id", id=decision["decision_id"])
    _tamper(
        backend,
        "UPDATE decision_log SET result = :result WHERE entry_id = :id",
        result=result.replace('"approved"', '"not_covered"'),
        id=decision["decision_id"],
    )
    report = client.post(f"/api/v1/decisions/{decision['decision_id']}/replay", headers=auditor).get_json()
    assert report["reproduced"] is False
    assert report["lines"][0]["recorded"]["outcome"] == "not_covered"
    assert "outcome" in report["lines"][0]["differences"]


def test_replay_of_an_unknown_decision_is_not_found(client, auditor):
    response = client.post("/api/v1/decisions/00000000-0000-0000-0000-000000000000/replay", headers=auditor)
    assert response.status_code == 404


def test_entries_hashed_whole_before_0006_verify_and_the_chain_continues_from_them(
    client, backend, auditor, submitter
):
    from policy_engine.storage.chain_check import ROWS
    from policy_engine.storage.chain_hash import stored_hash

    client.post("/api/v1/authorizations", json=cpap_request("old"), headers=submitter)
    with backend.database.engine.connect() as connection:
        whole = stored_hash(connection.execute(ROWS).first()._mapping)
    _tamper(
        backend,
        "UPDATE decision_log SET content_hash = NULL, entry_hash = :hash WHERE seq = 1",
        "UPDATE chain_head SET entry_hash = :hash",
        hash=whole,
    )
    for n in range(2):
        client.post("/api/v1/authorizations", json=cpap_request(f"new-{n}"), headers=submitter)
    report = client.get(VERIFY, headers=auditor).get_json()
    assert report["intact"] is True and report["entries"] == 3
    _tamper(backend, "UPDATE decision_log SET status = 'pended' WHERE seq = 1")
    report = client.get(VERIFY, headers=auditor).get_json()
    assert report["problem"]["seq"] == 1 and "altered" in report["problem"]["message"]
