"""The review queue, deadlines and their extension, and information that completes a pend."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from .conftest import cpap_request, row_count
from .review_helpers import URL, clinical_review, determine, missing_information, submit

QUEUE = f"{URL}?status=pended"


def queue(client, headers, query=""):  # type: ignore[no-untyped-def]
    response = client.get(QUEUE + query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize(
    ("urgency", "zone", "due"),
    [
        ("standard", "UTC", "2025-03-10T23:59:59Z"),
        ("expedited", "UTC", "2025-03-06T10:00:00Z"),
        ("standard", "America/New_York", "2025-03-11T03:59:59Z"),  # 23:59:59 EDT on March 10
        ("expedited", "America/New_York", "2025-03-06T10:00:00Z"),
    ],
)
def test_due_dates_and_one_extension(
    client, backend, monkeypatch, frozen, submitter, nurse, urgency, zone, due
):
    monkeypatch.setattr(backend.authorizations, "zone", ZoneInfo(zone))
    case = submit(client, submitter, clinical_review(urgency=urgency))
    assert case["lines"][0]["due_by"] == due
    [item] = queue(client, nurse)["items"]
    assert (item["due_by"], item["overdue"], item["extended"]) == (due, False, False)
    url = f"{URL}/{case['decision_id']}/extension"
    extended = client.post(url, json={"reason": "awaiting the sleep study"}, headers=nurse)
    assert extended.status_code == 201, extended.get_json()
    moved = dt.datetime.fromisoformat(due) + dt.timedelta(days=14)
    assert extended.get_json()["lines"][0]["due_by"] == moved.isoformat().replace("+00:00", "Z")
    before = row_count(backend, "decision_log")
    again = client.post(url, json={"reason": "still waiting"}, headers=nurse)
    assert again.status_code == 409 and row_count(backend, "decision_log") == before
    frozen.moment = moved
    assert queue(client, nurse)["items"][0]["overdue"] is False
    frozen.advance(seconds=1)
    [item] = queue(client, nurse, "&overdue=true")["items"]
    assert item["overdue"] is True and item["extended"] is True


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 422), ({"reason": ""}, 422), ({"reason": "x", "days": 30}, 422)],
)
def test_bad_extensions_write_nothing(client, backend, submitter, nurse, body, status):
    case = submit(client, submitter, clinical_review())
    response = client.post(f"{URL}/{case['decision_id']}/extension", json=body, headers=nurse)
    assert response.status_code == status and response.get_json()["errors"]
    assert row_count(backend, "decision_log") == 1


def test_a_decided_case_cannot_be_extended(client, submitter, nurse):
    case = submit(client, submitter, cpap_request())
    response = client.post(f"{URL}/{case['decision_id']}/extension", json={"reason": "x"}, headers=nurse)
    assert response.status_code == 409


def test_queue_shows_what_a_reviewer_needs_soonest_due_first(client, frozen, submitter, nurse, doctor):
    standard = submit(client, submitter, clinical_review("s"))
    frozen.advance(hours=1)
    expedited = submit(client, submitter, missing_information("e", urgency="expedited"))
    approved = submit(client, submitter, cpap_request("ok"))
    items = queue(client, nurse)["items"]
    assert [item["decision_id"] for item in items] == [expedited["decision_id"], standard["decision_id"]]
    assert approved["decision_id"] not in {item["decision_id"] for item in items}
    first, second = items
    assert (first["urgency"], first["reason"], first["missing"]) == (
        "expedited",
        "missing_information",
        ["f2f-note"],
    )
    assert "f2f-note" in first["unknown"]
    assert (second["reason"], second["member_id"], second["policies"]) == (
        "clinical_review",
        "M1001",
        ["cpap-osa"],
    )
    assert {"ahi-15", "ahi-5"} <= set(second["not_met"])
    assert second["received_at"] == "2025-03-03T10:00:00Z" and second["claimed_by"] is None
    determine(client, doctor, standard["decision_id"], outcome="denied", criteria=["ahi-15"])
    assert [item["decision_id"] for item in queue(client, nurse)["items"]] == [expedited["decision_id"]]


def test_queue_filters(client, frozen, submitter, nurse, doctor):
    clinical = submit(client, submitter, clinical_review("c"))
    frozen.advance(days=1)  # a later standard due date
    missing = submit(client, submitter, missing_information("m", urgency="expedited"))
    none = submit(
        client, submitter, cpap_request("n", services=[{"code": "99213", "date_of_service": "2025-03-10"}])
    )
    client.post(f"{URL}/{missing['decision_id']}/claim", headers=doctor)
    cases = {
        "&reason=clinical_review": [clinical],
        "&reason=no_policy": [none],
        "&urgency=expedited": [missing],
        "&policy=cpap-osa": [missing, clinical],
        "&assigned=dr-ames": [missing],
        "&assigned=none": [clinical, none],
        "&overdue=true": [],
    }
    for query, expected in cases.items():
        found = [item["decision_id"] for item in queue(client, nurse, query)["items"]]
        assert found == [case["decision_id"] for case in expected], query


def test_queue_pages_with_stable_cursors(client, frozen, submitter, nurse, doctor):
    ids = []
    for number in range(5):
        ids.append(submit(client, submitter, clinical_review(f"p{number}"))["decision_id"])
        frozen.advance(days=1)
    page = queue(client, nurse, "&limit=2")
    assert [item["decision_id"] for item in page["items"]] == ids[:2]
    determine(client, doctor, ids[0], outcome="approved")  # leaves the queue before the next page
    page = queue(client, nurse, f"&limit=2&cursor={page['next_cursor']}")
    assert [item["decision_id"] for item in page["items"]] == ids[2:4]
    last = queue(client, nurse, f"&limit=2&cursor={page['next_cursor']}")
    assert [item["decision_id"] for item in last["items"]] == ids[4:] and last["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "status"),
        ("?status=approved", "status"),
        ("?status=pended&limit=0", "limit"),
        ("?status=pended&urgency=urgent", "urgency"),
        ("?status=pended&overdue=maybe", "overdue"),
        ("?status=pended&cursor=not-a-cursor", "cursor"),
        ("?status=pended&cursor=WyJ4IiwgMSwgMl0", "cursor"),
        ("?status=pended&sort=asc", "sort"),
    ],
)
def test_bad_queue_queries(client, nurse, query, field):
    response = client.get(URL + query, headers=nurse)
    assert response.status_code == 422 and field in response.get_json()["errors"]


@pytest.mark.parametrize("role", ["submitter", "auditor", "cmo", "author"])
def test_only_reviewers_see_the_queue(client, token, role):
    assert client.get(QUEUE, headers=token(role)).status_code == 403


def test_information_turns_a_pend_into_an_approval(client, backend, frozen, submitter, nurse):
    case = submit(client, submitter, missing_information())
    assert (case["status"], case["lines"][0]["missing"]) == ("pended", ["f2f-note"])
    frozen.advance(hours=5)
    url = f"{URL}/{case['decision_id']}/information"
    response = client.post(url, json={"documentation": ["f2f-note"]}, headers=submitter)
    assert response.status_code == 201, response.get_json()
    updated = response.get_json()
    line = updated["lines"][0]
    assert (updated["status"], line["outcome"], line["x12_action"]) == ("approved", "approved", "A1")
    assert line["authorization_number"].startswith("PA250303") and "due_by" not in line
    entries = backend.log.case(case["decision_id"])
    assert [e.kind for e in entries] == ["decision", "information"]
    assert entries[0].request["documentation"] == ["psg-report"]
    assert entries[1].request["documentation"] == ["psg-report", "f2f-note"]
    assert queue(client, nurse)["items"] == []
    assert client.post(url, json={"documentation": ["f2f-note"]}, headers=submitter).status_code == 409


def test_information_that_is_still_not_enough_keeps_the_deadline(client, frozen, submitter):
    body = cpap_request("two-missing", documentation=[], clinical={"evaluation_date": "2025-01-15"})
    case = submit(client, submitter, body)
    frozen.advance(days=2)
    url = f"{URL}/{case['decision_id']}/information"
    updated = client.post(
        url, json={"documentation": ["psg-report", "f2f-note"]}, headers=submitter
    ).get_json()
    line = updated["lines"][0]
    assert line["outcome"] == "pended" and line["due_by"] == case["lines"][0]["due_by"]
    assert "f2f-note" not in line["missing"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "_body"),
        ({"documentation": "f2f-note"}, "documentation"),
        ({"diagnoses": ["not-a-code"]}, "diagnoses[0]"),
        ({"clinical": {"ahi": "thirty"}}, "clinical.ahi"),
        ({"services": []}, "services"),
    ],
)
def test_bad_information_writes_nothing(client, backend, submitter, body, field):
    case = submit(client, submitter, missing_information())
    response = client.post(f"{URL}/{case['decision_id']}/information", json=body, headers=submitter)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert row_count(backend, "decision_log") == 1


def test_information_comes_from_the_submitting_organization(client, submitter, token):
    case = submit(client, submitter, missing_information())
    url = f"{URL}/{case['decision_id']}/information"
    other = token("submitter", organization="clinic-b")
    assert client.post(url, json={"documentation": ["f2f-note"]}, headers=other).status_code == 404
    assert (
        client.post(url, json={"documentation": ["f2f-note"]}, headers=token("reviewer")).status_code == 403
    )


def test_information_is_only_for_missing_information(client, submitter):
    case = submit(client, submitter, clinical_review())
    response = client.post(
        f"{URL}/{case['decision_id']}/information", json={"documentation": ["x"]}, headers=submitter
    )
    assert response.status_code == 409
