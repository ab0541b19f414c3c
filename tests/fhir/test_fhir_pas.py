"""Da Vinci PAS through HTTP: $submit for each determination, retries, and $inquire after review."""

from __future__ import annotations

import pytest
from api.conftest import row_count
from pas_bundles import (
    CPT,
    DOCS,
    INQUIRE,
    SUBMIT,
    answers,
    claim,
    claim_response,
    concept,
    cpap_bundle,
    entry,
    item,
    parsed,
    pas_bundle,
    review_action,
)

FHIR = "application/fhir+json"


def post(client, path, body, headers):
    return client.post(path, json=body, headers={**headers, "Content-Type": FHIR})


def notes_of(response, item):
    texts = {note.number: note.text for note in response.processNote or []}
    return " | ".join(texts[number] for number in item.noteNumber or [])


def test_an_approved_claim_gets_a1_with_its_authorization(client, backend, submitter, frozen):
    response = post(client, SUBMIT, cpap_bundle(), submitter)
    assert response.status_code == 200, response.get_json()
    answer = claim_response(response)
    (line,) = answer.item
    action = review_action(line)
    assert line.itemSequence == 1 and action["code"] == "A1"
    assert answer.outcome == "complete" and answer.use == "preauthorization"
    assert answer.preAuthRef == action["number"] and answer.preAuthRef.startswith("PA250303-")
    assert str(answer.preAuthPeriod.start) == "2025-03-10"
    assert answer.identifier[0].value == f"urn:uuid:{answer.id}"
    assert "ahi-15" in notes_of(answer, line) and "ncd-240.4" in notes_of(answer, line)
    recorded = client.get(f"/api/v1/authorizations/{answer.id}", headers=submitter).get_json()
    assert recorded["request_id"] == "cpap-1" and recorded["status"] == "approved"
    assert row_count(backend, "decision_log") == 1


@pytest.mark.parametrize(
    ("bundle", "code", "reason", "noted"),
    [
        (cpap_bundle(ahi=3), "A4", "clinical_review", "ahi-15"),
        (
            cpap_bundle(ahi=None),
            "A4",
            "missing_information",
            "clinical.ahi (Observation http://loinc.org|69990-0",
        ),
        (cpap_bundle(documents=("psg-report",)), "A4", "missing_information", "f2f-note (a document coded"),
        (cpap_bundle(birth_date="2010-01-01"), "A3", "not_covered", None),
        (cpap_bundle(code="99213"), "A4", "no_policy", None),
    ],
    ids=["clinical-review", "missing-fact", "missing-document", "not-covered", "no-policy"],
)
def test_each_determination_has_its_x12_action_and_reason(client, submitter, bundle, code, reason, noted):
    if reason == "no_policy":
        bundle["entry"][0]["resource"]["item"][0]["productOrService"]["coding"][0]["system"] = CPT
    answer = claim_response(post(client, SUBMIT, bundle, submitter))
    (line,) = answer.item
    action = review_action(line)
    assert (action["code"], action.get("reason")) == (code, None if reason == "not_covered" else reason)
    assert answer.preAuthRef is None
    assert answer.outcome == ("complete" if reason == "not_covered" else "queued")
    if noted:
        assert noted in notes_of(answer, line)


def test_a_not_covered_line_cites_the_coverage_rule(client, submitter):
    answer = claim_response(post(client, SUBMIT, cpap_bundle(birth_date="2010-01-01"), submitter))
    notes = notes_of(answer, answer.item[0])
    assert "not met adult" in notes and "ncd-240.4 B" in notes


def test_missing_information_names_only_what_is_missing(client, submitter):
    answer = claim_response(post(client, SUBMIT, cpap_bundle(ahi=None), submitter))
    needed = [n.text for n in answer.processNote if n.text.startswith("Needed:")]
    assert len(needed) == 1 and needed[0].count("(") == 1 and "clinical.ahi" in needed[0]


def test_a_claim_of_several_items_answers_each_by_its_sequence(client, submitter):
    bundle = cpap_bundle(more_items=(item(2, "99213", system=CPT),))
    answer = claim_response(post(client, SUBMIT, bundle, submitter))
    assert [line.itemSequence for line in answer.item] == [1, 2]
    assert [review_action(line)["code"] for line in answer.item] == ["A1", "A4"]
    assert review_action(answer.item[1])["reason"] == "no_policy"
    assert answer.outcome == "queued" and answer.preAuthRef is not None
    assert set(answer.item[0].noteNumber).isdisjoint(answer.item[1].noteNumber)


def test_a_retried_claim_gets_the_same_decision_and_records_nothing_new(client, backend, submitter):
    first = claim_response(post(client, SUBMIT, cpap_bundle(), submitter))
    again = post(client, SUBMIT, cpap_bundle(), submitter)
    assert again.status_code == 200
    assert claim_response(again).identifier[0].value == first.identifier[0].value
    assert row_count(backend, "decision_log") == 1


def test_the_same_claim_identifier_with_other_content_is_a_conflict(client, backend, submitter):
    post(client, SUBMIT, cpap_bundle(), submitter)
    response = post(client, SUBMIT, cpap_bundle(ahi=25), submitter)
    assert response.status_code == 409
    outcome = parsed(response)
    assert outcome.issue[0].code == "conflict"
    assert outcome.issue[0].expression == ["Bundle.entry[0].resource.identifier[0].value"]
    assert row_count(backend, "decision_log") == 1


def test_another_organization_may_reuse_a_claim_identifier(client, backend, submitter, token):
    post(client, SUBMIT, cpap_bundle(), submitter)
    other = post(client, SUBMIT, cpap_bundle(ahi=25), token("submitter", organization="clinic-b"))
    assert other.status_code == 200 and row_count(backend, "decision_log") == 2


def test_inquire_shows_a_physicians_denial_recorded_through_the_review_api(client, submitter, doctor):
    pended = claim_response(post(client, SUBMIT, cpap_bundle(ahi=3), submitter))
    assert review_action(pended.item[0])["code"] == "A4"
    denial = {
        "line": 0,
        "outcome": "denied",
        "rationale": "AHI 3 does not support PAP",
        "criteria": ["ahi-15"],
    }
    recorded = client.post(f"/api/v1/authorizations/{pended.id}/determinations", json=denial, headers=doctor)
    assert recorded.status_code == 201, recorded.get_json()
    inquiry = pas_bundle(claim("cpap-1", [item(1, "E0601")]))
    response = post(client, INQUIRE, inquiry, submitter)
    assert response.status_code == 200, response.get_json()
    answer = claim_response(response)
    action = review_action(answer.item[0])
    assert answer.id == pended.id and answer.outcome == "complete"
    assert (action["code"], action["reason"]) == ("A3", "medical_necessity")
    notes = notes_of(answer, answer.item[0])
    assert "physician reviewer dr-ames: AHI 3 does not support PAP" in notes and "ahi-15" in notes


def test_inquire_shows_a_reviewers_approval_with_its_authorization_number(client, submitter, nurse):
    pended = claim_response(post(client, SUBMIT, cpap_bundle(ahi=3), submitter))
    approval = {"line": 0, "outcome": "approved", "rationale": "sleep study reviewed"}
    client.post(f"/api/v1/authorizations/{pended.id}/determinations", json=approval, headers=nurse)
    answer = claim_response(post(client, INQUIRE, pas_bundle(claim("cpap-1", [item(1, "E0601")])), submitter))
    action = review_action(answer.item[0])
    assert action["code"] == "A1" and answer.preAuthRef == action["number"]


def test_inquire_for_an_unknown_or_foreign_claim_is_not_found(client, submitter, token):
    post(client, SUBMIT, cpap_bundle(), submitter)
    foreign = post(client, INQUIRE, cpap_bundle(), token("submitter", organization="clinic-b"))
    assert foreign.status_code == 404 and parsed(foreign).issue[0].code == "not-found"
    unknown = post(client, INQUIRE, cpap_bundle("never-sent"), submitter)
    assert unknown.status_code == 404


def test_plain_json_is_accepted_too(client, submitter):
    response = client.post(SUBMIT, json=cpap_bundle(), headers=submitter)
    assert response.status_code == 200 and response.mimetype == FHIR


def test_the_capability_statement_needs_no_token(client):
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    statement = parsed(response)
    assert statement.fhirVersion == "4.0.1"
    operations = {op.name for r in statement.rest[0].resource for op in r.operation or []}
    assert operations == {"submit", "inquire"}


def _ahi_as_supporting_info(bundle):
    claim_entry = bundle["entry"][0]["resource"]
    claim_entry["supportingInfo"].append(
        {
            "sequence": 9,
            "category": concept("http://terminology.hl7.org/CodeSystem/claiminformationcategory", "info"),
            "code": concept("urn:policy-engine:fact", "ahi"),
            "valueQuantity": {"value": 31},
        }
    )


def _ahi_as_answer(bundle):
    bundle["entry"].append(answers("qr-2", ahi={"valueInteger": 31}))


def _f2f_as_document_reference(bundle):
    bundle["entry"][0]["resource"]["supportingInfo"].pop()
    bundle["entry"].append(
        entry("DocumentReference", "doc-1", status="current", type=concept(DOCS, "f2f-note"), content=[NOTE])
    )


NOTE = {"attachment": {"contentType": "text/plain", "data": "bm90ZQ=="}}


@pytest.mark.parametrize(
    "route",
    [_ahi_as_supporting_info, _ahi_as_answer, _f2f_as_document_reference],
    ids=["supporting-info", "questionnaire", "document-reference"],
)
def test_facts_and_documents_arrive_by_every_declared_route(client, submitter, route):
    bundle = cpap_bundle(ahi=None) if route is not _f2f_as_document_reference else cpap_bundle()
    route(bundle)
    answer = claim_response(post(client, SUBMIT, bundle, submitter))
    assert review_action(answer.item[0])["code"] == "A1", [n.text for n in answer.processNote]


def test_a_date_answered_as_text_is_refused_where_it_was_sent(client, backend, submitter):
    bundle = cpap_bundle()
    bundle["entry"].append(answers("qr-2", pain_onset_date={"valueString": "last spring"}))
    response = post(client, SUBMIT, bundle, submitter)
    assert response.status_code == 422
    issue = parsed(response).issue[0]
    assert issue.expression == ["Bundle.entry[7].resource.item[0].answer[0].valueString"]
    assert "clinical.pain_onset_date is a date" in issue.diagnostics
    assert row_count(backend, "decision_log") == 0


def test_a_retry_with_a_new_bundle_timestamp_is_the_same_request(client, backend, submitter):
    first = claim_response(post(client, SUBMIT, cpap_bundle(), submitter))
    retry = cpap_bundle()
    retry["timestamp"] = "2025-03-03T10:05:00Z"
    assert claim_response(post(client, SUBMIT, retry, submitter)).id == first.id
    assert row_count(backend, "decision_log") == 1
