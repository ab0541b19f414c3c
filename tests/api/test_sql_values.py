"""Values that look like SQL are only ever values: stored as sent, matched literally, never run."""

from __future__ import annotations

import urllib.parse

import pytest

from .conftest import cpap_request, row_count

INJECTIONS = [
    "M1' OR '1'='1",
    "x'; DROP TABLE decision_log; --",
    '" OR ""="',
    "%",
    "_",
    "1) OR (1=1",
    "M1001\\' UNION SELECT token_sha256 FROM api_tokens --",
]
SQL_MEMBER = "M9'; DELETE FROM api_tokens; --"


@pytest.fixture
def recorded(client, submitter):  # type: ignore[no-untyped-def]
    """Two decisions: an ordinary member and one whose id and fields look like SQL."""
    for request_id, member in (("plain-1", "M1001"), ("sql-1'OR'1'='1'--", SQL_MEMBER)):
        body = cpap_request(request_id, member={"id": member, "birth_date": "1961-04-02", "sex": "F"})
        body["provider"] = {"npi": "1234567893", "name": "O'Brien); DROP TABLE api_tokens; --"}
        body["clinical"]["note"] = "'; UPDATE decision_log SET prev_hash = '' --"
        answer = client.post("/api/v1/authorizations", json=body, headers=submitter)
        assert answer.status_code == 201, answer.text


def query(**filters: str) -> str:
    return urllib.parse.urlencode(filters)


def test_a_member_id_that_looks_like_sql_is_stored_and_found_as_sent(client, token, recorded) -> None:  # type: ignore[no-untyped-def]
    auditor = token("auditor")
    found = client.get(f"/api/v1/decisions?{query(member_id=SQL_MEMBER)}", headers=auditor)
    assert found.status_code == 200, found.text
    assert [row["member_id"] for row in found.json["decisions"]] == [SQL_MEMBER]
    request = client.get(
        f"/api/v1/authorizations/{found.json['decisions'][0]['decision_id']}", headers=auditor
    )
    assert (request.json["member_id"], request.json["request_id"]) == (SQL_MEMBER, "sql-1'OR'1'='1'--")


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("name", ["member_id", "submitter", "organization", "reviewer", "policy", "code"])
def test_search_filters_match_sql_looking_values_literally(
    client, token, recorded, backend, name, value
) -> None:  # type: ignore[no-untyped-def]
    auditor = token("auditor")
    answer = client.get(f"/api/v1/decisions?{query(**{name: value})}", headers=auditor)
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 200:
        assert answer.json["decisions"] == []
    exported = client.get(
        f"/api/v1/decisions/export?{query(format='ndjson', **{name: value})}", headers=auditor
    )
    assert exported.status_code in (200, 422)
    if exported.status_code == 200:
        assert '"decisions":0' in exported.text.replace(" ", "").splitlines()[-1]
    assert row_count(backend, "decision_log") == 2
    assert row_count(backend, "api_tokens") == 2


@pytest.mark.parametrize("value", INJECTIONS)
def test_other_lookups_take_sql_looking_values_as_values(client, token, recorded, backend, value) -> None:  # type: ignore[no-untyped-def]
    auditor, reviewer = token("auditor"), token("reviewer")
    quoted = urllib.parse.quote(value, safe="")
    assert client.get(f"/api/v1/authorizations/{quoted}", headers=auditor).status_code == 404
    assert client.get(f"/api/v1/policies/{quoted}", headers=auditor).status_code == 404
    assert client.post(f"/api/v1/decisions/{quoted}/replay", headers=auditor).status_code == 404
    access = client.get(f"/api/v1/audit/access?{query(member_id=value)}", headers=auditor)
    assert access.status_code == 200 and access.json["reads"] == []
    queue = client.get(f"/api/v1/authorizations?{query(status='pended', policy=value)}", headers=reviewer)
    assert queue.status_code == 200 and queue.json["items"] == []
    assert client.get("/api/v1/audit/verify", headers=auditor).json["intact"] is True
    assert row_count(backend, "decision_log") == 2
