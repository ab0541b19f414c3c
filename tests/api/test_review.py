"""Reviewers' determinations, claims and appeals, through HTTP as a client would."""

from __future__ import annotations

import threading

import pytest

from .conftest import cpap_request, row_count
from .review_helpers import URL, clinical_review, determine, submit


@pytest.mark.parametrize(
    ("outcome", "extra", "status"),
    [
        ("approved", {}, 201),
        ("partially_approved", {"valid_to": "2025-04-30"}, 403),
        ("modified", {"modification": "auto-titrating device instead"}, 403),
        ("denied", {"criteria": ["ahi-15"]}, 403),
    ],
)
def test_a_nurse_reviewer_may_only_approve(client, backend, submitter, nurse, outcome, extra, status):
    case = submit(client, submitter, clinical_review())
    before = row_count(backend, "decision_log")
    response = determine(client, nurse, case["decision_id"], outcome=outcome, **extra)
    assert response.status_code == status, response.get_json()
    if status == 403:
        assert response.get_json()["code"] == "forbidden"
        assert row_count(backend, "decision_log") == before


def test_a_physician_denies_citing_the_criteria(client, backend, submitter, doctor):
    case = submit(client, submitter, clinical_review())
    response = determine(
        client, doctor, case["decision_id"], outcome="denied", criteria=["ahi-15", "comorbid"]
    )
    assert response.status_code == 201, response.get_json()
    decided = response.get_json()
    line = decided["lines"][0]
    assert decided["status"] == "denied"
    assert (line["outcome"], line["x12_action"], line["reason"]) == ("denied", "A3", "medical_necessity")
    assert line["criteria"] == ["ahi-15", "comorbid"] and line["determined_by"] == "dr-ames"
    assert "due_by" not in line and "authorization_number" not in line
    entries = backend.log.case(case["decision_id"])
    assert [(e.kind, e.status) for e in entries] == [("decision", "pended"), ("determination", "denied")]
    assert entries[0].result["lines"][0]["outcome"] == "pended"
    assert client.get(f"{URL}/{case['decision_id']}", headers=doctor).get_json() == decided
    verify = client.get("/api/v1/audit/verify", headers=_auditor(backend))
    assert verify.get_json()["intact"] is True


def _auditor(backend):  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {backend.tokens.create('auditor', 'auditor-r', None, False)}"}


@pytest.mark.parametrize(
    ("outcome", "extra", "fields"),
    [
        ("approved", {}, {"A1"}),
        ("partially_approved", {"valid_to": "2025-04-30"}, {"A2"}),
        ("modified", {"modification": "auto-titrating device instead"}, {"A6"}),
    ],
)
def test_reviewer_approvals_get_an_authorization_number(client, submitter, doctor, outcome, extra, fields):
    case = submit(client, submitter, clinical_review())
    line = determine(client, doctor, case["decision_id"], outcome=outcome, **extra).get_json()["lines"][0]
    assert {line["x12_action"]} == fields
    assert line["authorization_number"].startswith("PA") and line["valid_from"] == "2025-03-10"
    assert line["valid_to"] == extra.get("valid_to", "2025-06-07")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "denied"}, "criteria"),
        ({"outcome": "denied", "criteria": []}, "criteria"),
        ({"outcome": "denied", "criteria": ["no-such-node"]}, "criteria"),
        ({"outcome": "denied", "criteria": ["ahi-15"], "rationale": ""}, "rationale"),
        ({"outcome": "declined", "criteria": ["ahi-15"]}, "outcome"),
        ({"outcome": "approved", "line": 1}, "line"),
        ({"outcome": "approved", "line": "0"}, "line"),
        ({"outcome": "approved", "quantity": 1}, "quantity"),
        ({"outcome": "approved", "surprise": True}, "surprise"),
        ({"outcome": "partially_approved"}, "quantity"),
        ({"outcome": "partially_approved", "quantity": 1}, "quantity"),
        ({"outcome": "partially_approved", "valid_to": "2025-03-01"}, "valid_to"),
        ({"outcome": "partially_approved", "valid_to": "2025-06-07"}, "valid_to"),
        ({"outcome": "modified"}, "modification"),
    ],
)
def test_bad_determinations_are_refused_and_write_nothing(client, backend, submitter, doctor, body, field):
    case = submit(client, submitter, clinical_review())
    before = row_count(backend, "decision_log")
    response = determine(client, doctor, case["decision_id"], **body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert row_count(backend, "decision_log") == before


def test_a_decided_line_cannot_be_decided_again(client, submitter, doctor):
    case = submit(client, submitter, cpap_request())
    response = determine(client, doctor, case["decision_id"], outcome="denied", criteria=["ahi-15"])
    assert response.status_code == 409 and response.get_json()["code"] == "conflict"


@pytest.mark.parametrize("role", ["submitter", "auditor", "cmo"])
def test_only_reviewers_determine(client, submitter, token, role):
    case = submit(client, submitter, clinical_review())
    assert determine(client, token(role), case["decision_id"], outcome="approved").status_code == 403


def test_status_follows_the_latest_determination_of_each_line(client, submitter, doctor):
    services = [
        {"code": "E0601", "date_of_service": "2025-03-10"},
        {"code": "99213", "date_of_service": "2025-03-10"},
    ]
    case = submit(client, submitter, cpap_request("two", services=services))
    assert [line["outcome"] for line in case["lines"]] == ["approved", "pended"]
    decided = determine(client, doctor, case["decision_id"], line=1, outcome="approved").get_json()
    assert decided["status"] == "approved"
    case = submit(client, submitter, cpap_request("three", services=services))
    decided = determine(client, doctor, case["decision_id"], line=1, outcome="denied", criteria=[])
    assert decided.status_code == 422  # no criteria in a line no policy governs: nothing to cite
    decided = determine(client, doctor, case["decision_id"], line=1, outcome="modified", modification="x")
    assert decided.get_json()["status"] == "partial"


def test_two_reviewers_claiming_at_once_one_wins(app, client, submitter, doctor, second_doctor):
    case = submit(client, submitter, clinical_review())
    results: list[int] = []

    def claim(headers):  # type: ignore[no-untyped-def]
        results.append(
            app.test_client().post(f"{URL}/{case['decision_id']}/claim", headers=headers).status_code
        )

    threads = [threading.Thread(target=claim, args=(h,)) for h in (doctor, second_doctor) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    holder = client.get(f"{URL}?status=pended", headers=doctor).get_json()["items"][0]["claimed_by"]
    assert holder in ("dr-ames", "dr-brook")
    assert sorted(results) == [200] * 3 + [409] * 3  # the winner's own repeats are idempotent


def test_claim_release_and_work_the_case(client, submitter, doctor, second_doctor):
    case = submit(client, submitter, clinical_review())
    claim_url = f"{URL}/{case['decision_id']}/claim"
    claimed = client.post(claim_url, headers=doctor)
    assert claimed.status_code == 200 and claimed.get_json()["claimed_by"] == "dr-ames"
    assert client.post(claim_url, headers=second_doctor).status_code == 409
    assert client.delete(claim_url, headers=second_doctor).status_code == 409
    blocked = determine(client, second_doctor, case["decision_id"], outcome="approved")
    assert blocked.status_code == 409
    assert client.delete(claim_url, headers=doctor).status_code == 204
    assert client.delete(claim_url, headers=doctor).status_code == 409
    assert client.post(claim_url, headers=second_doctor).status_code == 200
    assert determine(client, second_doctor, case["decision_id"], outcome="approved").status_code == 201
    assert client.post(claim_url, headers=doctor).status_code == 409  # decided: nothing to claim


def test_claiming_an_unknown_case_is_not_found(client, doctor):
    assert client.post(f"{URL}/00000000-0000-0000-0000-000000000000/claim", headers=doctor).status_code == 404


def test_an_appeal_goes_to_another_physician(client, backend, submitter, nurse, doctor, second_doctor, token):
    case = submit(client, submitter, clinical_review())
    decision_id = case["decision_id"]
    determine(client, doctor, decision_id, outcome="denied", criteria=["ahi-15"])
    appeal_url = f"{URL}/{decision_id}/appeals"
    other_org = token("submitter", organization="clinic-b")
    assert client.post(appeal_url, json={"lines": [0], "reason": "x"}, headers=other_org).status_code == 404
    appealed = client.post(appeal_url, json={"lines": [0], "reason": "new sleep study"}, headers=submitter)
    assert appealed.status_code == 201, appealed.get_json()
    line = appealed.get_json()["lines"][0]
    assert (appealed.get_json()["status"], line["reason"], line["appeal"]["determined_by"]) == (
        "pended",
        "appeal",
        "dr-ames",
    )
    again = client.post(appeal_url, json={"lines": [0], "reason": "again"}, headers=submitter)
    assert again.status_code == 409
    same = determine(client, doctor, decision_id, outcome="approved")
    assert same.status_code == 409 and same.get_json()["code"] == "conflict"
    assert determine(client, nurse, decision_id, outcome="approved").status_code == 403
    decided = determine(client, second_doctor, decision_id, outcome="approved")
    assert decided.status_code == 201
    line = decided.get_json()["lines"][0]
    assert (decided.get_json()["status"], line["on_appeal"], line["x12_action"]) == ("approved", True, "A1")
    kinds = [e.kind for e in backend.log.case(decision_id)]
    assert kinds == ["decision", "determination", "appeal", "determination"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"lines": [0], "reason": "x"}, 409, "lines"),  # approved by the engine: nothing adverse
        ({"lines": [3], "reason": "x"}, 422, "lines"),
        ({"lines": [], "reason": "x"}, 422, "lines"),
        ({"lines": [0]}, 422, "reason"),
    ],
)
def test_bad_appeals_are_refused(client, backend, submitter, body, status, field):
    case = submit(client, submitter, cpap_request())
    response = client.post(f"{URL}/{case['decision_id']}/appeals", json=body, headers=submitter)
    assert response.status_code == status and field in response.get_json()["errors"]
    assert row_count(backend, "decision_log") == 1


def test_two_physicians_deciding_one_line_at_once_record_one_determination(
    app, backend, submitter, doctor, second_doctor
):
    case = submit(app.test_client(), submitter, clinical_review())
    results: list[int] = []

    def decide(headers):  # type: ignore[no-untyped-def]
        response = determine(
            app.test_client(), headers, case["decision_id"], outcome="denied", criteria=["ahi-15"]
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=decide, args=(h,)) for h in (doctor, second_doctor) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] + [409] * 5
    assert [e.kind for e in backend.log.case(case["decision_id"])] == ["decision", "determination"]
