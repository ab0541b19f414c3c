"""Submitting requests and reading decisions, through HTTP as a client would."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from .conftest import cpap_request, row_count

URL = "/api/v1/authorizations"


def submit(client, headers, body):  # type: ignore[no-untyped-def]
    return client.post(URL, json=body, headers=headers)


def test_approves_and_records_before_answering(client, backend, submitter):
    response = submit(client, submitter, cpap_request())
    assert response.status_code == 201
    decision = response.get_json()
    line = decision["lines"][0]
    assert (decision["status"], line["outcome"], line["x12_action"]) == ("approved", "approved", "A1")
    assert line["authorization_number"].startswith("PA")
    assert line["valid_from"] == "2025-03-10"
    assert line["valid_to"] == "2025-06-07"  # 90 days, the first included
    assert decision["policies"] == [
        {"policy": "cpap-osa", "version": 2, "sha256": line["policies"][0]["sha256"]}
    ]
    criteria = line["policies"][0]["criteria"]
    assert criteria["status"] == "met" and criteria["children"]
    recorded = backend.log.case(decision["decision_id"])
    assert len(recorded) == 1 and recorded[0].result["lines"] == decision["lines"]


@pytest.mark.parametrize(
    ("changes", "outcome", "reason", "action"),
    [
        (
            {
                "clinical": {
                    "ahi": 3,
                    "conditions": [],
                    "evaluation_date": "2025-01-15",
                    "sleep_test_date": "2025-02-01",
                }
            },
            "pended",
            "clinical_review",
            "A4",
        ),
        ({"documentation": ["psg-report"]}, "pended", "missing_information", "A4"),
        ({"member": {"id": "M9", "birth_date": "2010-01-01"}}, "not_covered", None, "A3"),
        (
            {"services": [{"code": "E0470", "date_of_service": "2025-03-10"}]},
            "pended",
            "missing_information",
            "A4",
        ),
        ({"services": [{"code": "99213", "date_of_service": "2025-03-10"}]}, "pended", "no_policy", "A4"),
    ],
    ids=["clinical-review", "missing-document", "not-covered-minor", "bilevel-needs-more", "no-policy"],
)
def test_every_determination_kind(client, submitter, changes, outcome, reason, action):
    decision = submit(client, submitter, cpap_request(**changes)).get_json()
    line = decision["lines"][0]
    assert (line["outcome"], line["reason"], line["x12_action"]) == (outcome, reason, action)
    if outcome == "pended":
        assert "due_by" in line and "authorization_number" not in line
    if outcome == "not_covered":
        assert line["decided_by"][0]["node"] == "adult"


def test_pended_line_lists_what_is_missing(client, submitter):
    line = submit(client, submitter, cpap_request(documentation=["psg-report"])).get_json()["lines"][0]
    assert line["missing"] == ["f2f-note"]


def test_standard_due_date_is_end_of_seventh_day_expedited_is_72_hours(client, submitter):
    standard = submit(client, submitter, cpap_request("s", documentation=[])).get_json()
    expedited = submit(client, submitter, cpap_request("e", documentation=[], urgency="expedited")).get_json()
    received = dt.datetime.fromisoformat(standard["received_at"])
    due = dt.datetime.fromisoformat(standard["lines"][0]["due_by"])
    assert due.date() == received.date() + dt.timedelta(days=7) and due.time() == dt.time(23, 59, 59)
    received = dt.datetime.fromisoformat(expedited["received_at"])
    assert dt.datetime.fromisoformat(expedited["lines"][0]["due_by"]) == received + dt.timedelta(hours=72)


def test_partial_when_lines_disagree(client, submitter):
    services = [
        {"code": "E0601", "date_of_service": "2025-03-10"},
        {"code": "E0601", "date_of_service": "2025-03-10", "quantity": 3},
    ]
    decision = submit(client, submitter, cpap_request(services=services)).get_json()
    outcomes = [line["outcome"] for line in decision["lines"]]
    assert outcomes == ["approved", "not_covered"] and decision["status"] == "partial"


def test_retry_returns_the_same_decision(client, backend, submitter):
    first = submit(client, submitter, cpap_request())
    again = submit(client, submitter, cpap_request())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert row_count(backend, "decision_log") == 1


def test_same_request_id_with_a_different_body_is_a_conflict(client, backend, submitter):
    submit(client, submitter, cpap_request())
    response = submit(client, submitter, cpap_request(urgency="expedited"))
    assert response.status_code == 409
    assert response.get_json()["code"] == "request_conflict"
    assert row_count(backend, "decision_log") == 1


def test_request_ids_belong_to_an_organization(client, token, submitter):
    ours = submit(client, submitter, cpap_request()).get_json()
    theirs = submit(client, token("submitter", organization="clinic-b"), cpap_request())
    assert theirs.status_code == 201 and theirs.get_json()["decision_id"] != ours["decision_id"]


def test_twenty_racing_retries_record_exactly_one_decision(app, backend, submitter):
    results: list[tuple[int, str]] = []

    def retry() -> None:
        response = app.test_client().post(URL, json=cpap_request("race"), headers=submitter)
        results.append((response.status_code, response.get_json()["decision_id"]))

    threads = [threading.Thread(target=retry) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in results) == [200] * 19 + [201]
    assert len({decision for _, decision in results}) == 1
    assert row_count(backend, "decision_log") == 1


def test_read_returns_the_decision_and_records_the_read(client, backend, submitter, token):
    decision = submit(client, submitter, cpap_request()).get_json()
    auditor = token("auditor", name="auditor-1")
    read = client.get(f"{URL}/{decision['decision_id']}", headers=auditor)
    assert read.status_code == 200
    assert read.get_json()["lines"] == decision["lines"] and read.get_json()["determinations"] == []
    with backend.database.engine.connect() as connection:
        from sqlalchemy import text

        rows = connection.execute(text("SELECT actor, action, decision_id, member_id FROM access_log")).all()
    assert [tuple(row) for row in rows] == [("auditor-1", "read", decision["decision_id"], "M1001")]


def test_another_organizations_decision_is_not_found(client, submitter, token):
    decision = submit(client, submitter, cpap_request()).get_json()
    other = client.get(
        f"{URL}/{decision['decision_id']}", headers=token("submitter", organization="clinic-b")
    )
    assert other.status_code == 404 and other.get_json()["code"] == "not_found"


@pytest.mark.parametrize("decision_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "1"])
def test_unknown_decision_is_not_found(client, submitter, decision_id):
    response = client.get(f"{URL}/{decision_id}", headers=submitter)
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"
