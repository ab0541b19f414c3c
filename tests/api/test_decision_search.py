"""Auditors search the decision log: every filter, keyset pages, bad queries as field errors."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from policy_engine.services import authorizations as authorizations_service
from policy_engine.storage.models import LogEntry

from .conftest import cpap_request

SEARCH = "/api/v1/decisions"
CHILD = {"id": "M-CHILD", "birth_date": "2015-05-01", "sex": "F"}


@pytest.fixture
def auditor(token):  # type: ignore[no-untyped-def]
    return token("auditor", name="auditor-1")


def _post(client, headers, body):  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/authorizations", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def logged(client, backend, token, submitter, monkeypatch):  # type: ignore[no-untyped-def]
    """Seven decisions covering every outcome, two policy versions, two organizations, a review."""
    other = token("submitter", organization="clinic-b", name="nurse-b")
    made = {
        "approved": _post(client, submitter, cpap_request("approved")),
        "old-version": _post(
            client,
            submitter,
            cpap_request(
                "old-version",
                services=[{"code": "E0601", "date_of_service": "2024-06-10"}],
                clinical={"ahi": 31, "evaluation_date": "2024-05-01", "sleep_test_date": "2024-05-20"},
            ),
        ),
        "missing": _post(client, submitter, cpap_request("missing", documentation=[], urgency="expedited")),
        "review": _post(client, other, cpap_request("review", clinical={"ahi": 2})),
        "child": _post(client, other, cpap_request("child", member=CHILD)),
        "no-policy": _post(
            client,
            submitter,
            cpap_request("no-policy", services=[{"code": "99213", "date_of_service": "2025-03-10"}]),
        ),
    }
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    monkeypatch.setattr(authorizations_service, "due_by", lambda *_: past)
    made["overdue"] = _post(client, submitter, cpap_request("overdue", documentation=["psg-report"]))
    first = made["review"]
    backend.log.append(
        LogEntry(
            entry_id=str(uuid.uuid4()),
            decision_id=first["decision_id"],
            kind="determination",
            organization=None,
            request_id=None,
            request_sha256="0" * 64,
            member_id=first["member_id"],
            urgency="standard",
            status="approved",
            received_at=dt.datetime.now(dt.UTC),
            actor="dr-reviewer",
            actor_role="reviewer",
            engine_version="-",
            policies=[],
            request={},
            result={"line": 0, "outcome": "approved", "rationale": "AHI re-scored"},
        )
    )
    return made


def _found(client, auditor, **query):  # type: ignore[no-untyped-def]
    response = client.get(SEARCH, query_string=query, headers=auditor)
    assert response.status_code == 200, response.get_json()
    return {row["request_id"] for row in response.get_json()["decisions"]}


ALL = {"approved", "old-version", "missing", "review", "child", "no-policy", "overdue"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ALL),
        ({"policy": "cpap-osa"}, ALL - {"no-policy"}),
        ({"policy": "cpap-osa", "version": 1}, {"old-version"}),
        ({"policy": "cpap-osa", "version": 2}, ALL - {"no-policy", "old-version"}),
        ({"policy": "lumbar-mri"}, set()),
        ({"outcome": "approved"}, {"approved", "old-version"}),
        ({"outcome": "not_covered"}, {"child"}),
        ({"outcome": "pended"}, {"missing", "review", "no-policy", "overdue"}),
        ({"reason": "missing_information"}, {"missing", "overdue"}),
        ({"reason": "clinical_review"}, {"review"}),
        ({"outcome": "pended", "reason": "no_policy"}, {"no-policy"}),
        ({"x12_action": "A1"}, {"approved", "old-version"}),
        ({"x12_action": "A3"}, {"child"}),
        ({"code": "99213"}, {"no-policy"}),
        ({"member_id": "M-CHILD"}, {"child"}),
        ({"submitter": "nurse-b"}, {"review", "child"}),
        ({"organization": "clinic-a"}, ALL - {"review", "child"}),
        ({"reviewer": "dr-reviewer"}, {"review"}),
        ({"reviewer": "someone-else"}, set()),
        ({"urgency": "expedited"}, {"missing"}),
        ({"overdue": "true"}, {"overdue"}),
        ({"overdue": "false"}, ALL - {"overdue"}),
        (
            {"outcome": "approved", "policy": "cpap-osa", "version": 1, "organization": "clinic-a"},
            {"old-version"},
        ),
        ({"from": "2000-01-01", "to": "2100-01-01"}, ALL),
        ({"from": "2100-01-01"}, set()),
        ({"to": "2000-01-01T00:00:00Z"}, set()),
    ],
)
def test_each_filter_narrows_the_log(client, auditor, logged, query, expected):
    assert _found(client, auditor, **query) == expected


def test_a_time_range_is_half_open_on_recorded_at(client, auditor, logged):
    rows = client.get(SEARCH, headers=auditor).get_json()["decisions"]
    third = rows[2]["recorded_at"]
    assert _found(client, auditor, to=third) == {row["request_id"] for row in rows[:2]}
    assert _found(client, auditor, **{"from": third}) == {row["request_id"] for row in rows[2:]}


def test_a_row_shows_the_determination_the_policy_version_and_the_deciding_criteria(client, auditor, logged):
    rows = client.get(SEARCH, query_string={"member_id": "M-CHILD"}, headers=auditor).get_json()["decisions"]
    (row,) = rows
    assert (row["status"], row["submitted_by"], row["organization"]) == ("not_covered", "nurse-b", "clinic-b")
    (line,) = row["lines"]
    assert (line["outcome"], line["x12_action"]) == ("not_covered", "A3")
    assert line["policies"] == [{"policy": "cpap-osa", "version": 2}]
    assert {"policy": "cpap-osa", "version": 2, "node": "adult", "status": "not_met"}.items() <= line[
        "decided_by"
    ][0].items()
    assert row["entry_hash"] and row["decision_id"] == logged["child"]["decision_id"]
    reviewed = client.get(SEARCH, query_string={"reviewer": "dr-reviewer"}, headers=auditor).get_json()
    (later,) = reviewed["decisions"][0]["later_entries"]
    assert (later["kind"], later["actor"], later["status"]) == ("determination", "dr-reviewer", "approved")


def test_pended_lines_carry_their_due_date(client, auditor, logged):
    (row,) = client.get(SEARCH, query_string={"overdue": "true"}, headers=auditor).get_json()["decisions"]
    assert row["lines"][0]["due_by"] == "2020-01-01T00:00:00Z"


def _walk(client, auditor, between=None, **query):  # type: ignore[no-untyped-def]
    seen, cursor, pages = [], None, 0
    while True:
        params = {**query, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(SEARCH, query_string=params, headers=auditor).get_json()
        seen += [row["request_id"] for row in page["decisions"]]
        pages += 1
        if between:
            between(pages)
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_pages_stay_stable_while_new_decisions_arrive(client, auditor, submitter, logged, order):
    before = [
        row["request_id"]
        for row in client.get(SEARCH, query_string={"order": order}, headers=auditor).get_json()["decisions"]
    ]

    def arrive(page: int) -> None:
        _post(client, submitter, cpap_request(f"new-{order}-{page}"))

    seen = _walk(client, auditor, between=arrive, order=order)
    assert len(seen) == len(set(seen)), "a decision was shown twice"
    if order == "asc":
        assert seen[: len(before)] == before and all(r.startswith("new-") for r in seen[len(before) :])
    else:
        assert seen == before


def test_pages_of_a_filtered_search_cover_it_exactly(client, auditor, logged):
    assert _walk(client, auditor, outcome="pended") == ["missing", "review", "no-policy", "overdue"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"outcome": "denied-ish"}, "outcome"),
        ({"reason": "because"}, "reason"),
        ({"x12_action": "Z9"}, "x12_action"),
        ({"code": "not a code"}, "code"),
        ({"version": "2"}, "version"),
        ({"policy": "cpap-osa", "version": "two"}, "version"),
        ({"policy": "cpap-osa", "version": "0"}, "version"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2025-02-30"}, "from"),
        ({"from": "2025-03-01", "to": "2025-02-01"}, "to"),
        ({"urgency": "whenever"}, "urgency"),
        ({"overdue": "maybe"}, "overdue"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"member_id": "M" * 65}, "member_id"),
        ({"colour": "blue"}, "colour"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJhZnRlciI6IC0xLCAicXVlcnkiOiAiIn0"}, "cursor"),
    ],
)
def test_a_bad_query_is_a_field_error(client, auditor, query, field):
    response = client.get(SEARCH, query_string=query, headers=auditor)
    body = response.get_json()
    assert response.status_code == 422, body
    assert field in body["errors"], body


def test_a_cursor_cannot_be_reused_with_other_filters(client, auditor, logged):
    cursor = client.get(SEARCH, query_string={"limit": 1}, headers=auditor).get_json()["next_cursor"]
    response = client.get(
        SEARCH, query_string={"limit": 1, "cursor": cursor, "outcome": "pended"}, headers=auditor
    )
    assert response.status_code == 422 and "cursor" in response.get_json()["errors"]
    again = client.get(SEARCH, query_string={"limit": 1, "cursor": cursor}, headers=auditor)
    assert again.status_code == 200 and again.get_json()["decisions"]
