"""Bad PAS requests: each is an OperationOutcome with a 4xx and the location at fault; nothing is recorded."""

from __future__ import annotations

import copy
import json

import pytest
from api.conftest import row_count
from pas_bundles import AHI, SUBMIT, cpap_bundle, observation, outcome_issues, without

FHIR = "application/fhir+json"


def changed(edit):
    bundle = cpap_bundle()
    edit(bundle)
    return bundle


def claim_of(bundle):
    return bundle["entry"][0]["resource"]


def set_in(path, value):
    def edit(bundle):
        target = bundle
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return edit


def string_ahi(bundle):
    bundle["entry"].append(observation("ahi-2", AHI, valueString="31", effectiveDateTime="2025-02-02"))
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["id"] != "ahi-1"]


CASES = [
    (
        "not-a-bundle",
        {"resourceType": "Patient", "id": "p"},
        400,
        "Bundle",
        "must be a FHIR Bundle",
    ),
    ("json-array", [1, 2], 400, "Bundle", "must be a FHIR Bundle"),
    ("no-claim", without(cpap_bundle(), "Claim"), 422, "Bundle.entry", "exactly one Claim"),
    (
        "two-claims",
        changed(lambda b: b["entry"].append(copy.deepcopy(b["entry"][0]))),
        422,
        "Bundle.entry",
        "2 Claims",
    ),
    (
        "not-preauthorization",
        changed(set_in(("entry", 0, "resource", "use"), "claim")),
        422,
        "Bundle.entry[0].resource.use",
        "preauthorization",
    ),
    (
        "dangling-patient",
        changed(set_in(("entry", 0, "resource", "patient"), {"reference": "urn:uuid:nobody"})),
        422,
        "Bundle.entry[0].resource.patient.reference",
        "not an entry of the bundle",
    ),
    (
        "patient-is-a-coverage",
        changed(set_in(("entry", 0, "resource", "patient"), {"reference": "urn:uuid:cov-1"})),
        422,
        "Bundle.entry[0].resource.patient.reference",
        "must refer to a Patient",
    ),
    (
        "unknown-resource-type",
        changed(
            lambda b: b["entry"].append({"fullUrl": "urn:uuid:x", "resource": {"resourceType": "Nonsense"}})
        ),
        400,
        "Bundle.entry[7].resource.resourceType",
        "unknown resource type",
    ),
    (
        "unknown-element",
        changed(set_in(("entry", 1, "resource", "favouriteColour"), "blue")),
        400,
        "Bundle.entry[1].resource.favouriteColour",
        "Extra inputs",
    ),
    (
        "birth-date-number",
        changed(set_in(("entry", 1, "resource", "birthDate"), 19610402)),
        400,
        "Bundle.entry[1].resource.birthDate",
        "",
    ),
    (
        "quantity-as-text",
        changed(set_in(("entry", 0, "resource", "item", 0, "quantity"), {"value": "1"})),
        400,
        "Bundle.entry[0].resource.item[0].quantity.value",
        "must be a JSON number",
    ),
    (
        "boolean-as-text",
        changed(set_in(("entry", 1, "resource", "active"), "true")),
        400,
        "Bundle.entry[1].resource.active",
        "must be a JSON boolean",
    ),
    (
        "ahi-as-string",
        changed(string_ahi),
        422,
        "Bundle.entry[6].resource.valueString",
        "clinical.ahi is a number",
    ),
    (
        "fractional-quantity",
        changed(set_in(("entry", 0, "resource", "item", 0, "quantity"), {"value": 1.5})),
        422,
        "Bundle.entry[0].resource.item[0].quantity.value",
        "whole number",
    ),
    (
        "no-service-code",
        changed(set_in(("entry", 0, "resource", "item", 0, "productOrService"), {"text": "a CPAP"})),
        422,
        "Bundle.entry[0].resource.item[0].productOrService",
        "CPT or HCPCS",
    ),
    (
        "no-birth-date",
        changed(lambda b: b["entry"][1]["resource"].pop("birthDate")),
        422,
        "Bundle.entry[1].resource.birthDate",
        "member.birth_date",
    ),
    (
        "bad-diagnosis-code",
        changed(
            set_in(
                ("entry", 0, "resource", "diagnosis", 0, "diagnosisCodeableConcept", "coding", 0, "code"),
                "nope",
            )
        ),
        422,
        "Bundle.entry[0].resource.diagnosis[0]",
        "ICD-10-CM",
    ),
    (
        "no-identifier",
        changed(lambda b: claim_of(b).pop("identifier")),
        422,
        "Bundle.entry[0].resource.identifier",
        "identifies the request",
    ),
    (
        "items-out-of-order",
        changed(set_in(("entry", 0, "resource", "item", 0, "sequence"), 3)),
        422,
        "Bundle.entry[0].resource.item[0].sequence",
        "numbered 1, 2",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "where", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_bundle_is_refused_where_it_is_wrong(client, backend, submitter, body, status, where, says):
    response = client.post(SUBMIT, json=body, headers={**submitter, "Content-Type": FHIR})
    assert response.status_code == status, response.get_json()
    issues = outcome_issues(response)
    assert any(where in (issue.expression or []) for issue in issues), [i.expression for i in issues]
    assert any(says in issue.diagnostics for issue in issues)
    assert row_count(backend, "decision_log") == 0


def test_text_that_is_not_json_is_a_400(client, backend, submitter):
    response = client.post(SUBMIT, data=b"{not json", headers={**submitter, "Content-Type": FHIR})
    assert response.status_code == 400
    assert "not valid JSON" in outcome_issues(response)[0].diagnostics
    assert row_count(backend, "decision_log") == 0


def test_a_wrong_media_type_is_a_415_outcome(client, submitter):
    body = json.dumps(cpap_bundle())
    response = client.post(SUBMIT, data=body, headers={**submitter, "Content-Type": "text/plain"})
    assert response.status_code == 415 and outcome_issues(response)[0].code == "not-supported"


def test_without_a_token_the_outcome_asks_for_one(client):
    response = client.post(SUBMIT, json=cpap_bundle())
    assert response.status_code == 401 and outcome_issues(response)[0].code == "login"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", SUBMIT, 405), ("post", "/fhir/metadata", 405), ("get", "/fhir/Patient/1", 404)],
)
def test_other_paths_under_fhir_answer_outcomes(client, submitter, method, path, status):
    response = getattr(client, method)(path, headers=submitter)
    assert response.status_code == status
    outcome_issues(response)
