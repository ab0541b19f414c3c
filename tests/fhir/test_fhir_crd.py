"""Da Vinci CRD over CDS Hooks: discovery, order-sign and order-select, judged without recording."""

from __future__ import annotations

import pytest
from api.conftest import row_count
from fhir.resources.R4B import get_fhir_model_class
from pas_bundles import AHI, CPT, HCPCS, ICD10, concept, observation, patient

COVERAGE_INFORMATION = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"


def device_order(id_: str, code: str = "E0601", system: str = HCPCS) -> dict:
    return {
        "resourceType": "DeviceRequest",
        "id": id_,
        "status": "draft",
        "intent": "original-order",
        "codeCodeableConcept": concept(system, code),
        "subject": {"reference": "Patient/pat-1"},
        "occurrenceDateTime": "2025-03-10",
    }


def service_order(id_: str, code: str) -> dict:
    return {
        "resourceType": "ServiceRequest",
        "id": id_,
        "status": "draft",
        "intent": "order",
        "code": concept(CPT, code),
        "subject": {"reference": "Patient/pat-1"},
        "occurrenceDateTime": "2025-03-10",
        "reasonCode": [concept(ICD10, "M17.11")],
    }


def searchset(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def hook_call(hook: str, *orders: dict, prefetch: dict | None = None, **context: object) -> dict:
    body = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {
            "userId": "Practitioner/prac-1",
            "patientId": "pat-1",
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": o} for o in orders],
            },
            **context,
        },
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def full_prefetch(birth_date: str = "1961-04-02", ahi: int = 31) -> dict:
    osa = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "Patient/pat-1"},
        "code": concept(ICD10, "G47.33"),
    }
    sleep = observation("o1", AHI, valueQuantity={"value": ahi}, effectiveDateTime="2025-02-01")["resource"]
    return {
        "patient": patient(birth_date)["resource"],
        "conditions": searchset(osa),
        "observations": searchset(sleep),
    }


def coverage_of(action: dict) -> dict:
    resource = get_fhir_model_class(action["resource"]["resourceType"]).model_validate(action["resource"])
    (extension,) = [e for e in resource.extension if e.url == COVERAGE_INFORMATION]
    values: dict = {}
    for part in extension.extension:
        value = part.valueCode or part.valueString or part.valueDate
        if part.url == "detail":
            value = next(p.valueString for p in part.extension if p.url == "value")
        if part.url == "reason":
            value = part.valueCodeableConcept.text
        values.setdefault(part.url, []).append(value)
    return values


def test_discovery_lists_both_order_hooks(client):
    services = client.get("/cds-services").get_json()["services"]
    assert {(s["hook"], s["id"]) for s in services} == {
        ("order-sign", "coverage-order-sign"),
        ("order-select", "coverage-order-select"),
    }
    assert all({"patient", "conditions", "observations"} <= set(s["prefetch"]) for s in services)


def test_order_sign_with_prefetch_names_what_is_still_needed(client, backend, submitter):
    call = hook_call("order-sign", device_order("dr-1"), prefetch=full_prefetch())
    response = client.post("/cds-services/coverage-order-sign", json=call, headers=submitter)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    (action,) = body["systemActions"]
    assert action["type"] == "update" and action["resource"]["id"] == "dr-1"
    info = coverage_of(action)
    assert info["covered"] == ["conditional"] and info["pa-needed"] == ["auth-needed"]
    assert info["doc-needed"] == ["clinical"]
    needed = info["detail"][0]
    assert (
        "clinical.evaluation_date" in needed
        and "f2f-note" in needed
        and "member.birth_date" not in needed
        and "diagnoses" not in needed
    )
    assert len(body["cards"]) == 1 and body["cards"][0]["indicator"] == "info"
    assert row_count(backend, "decision_log") == 0


def test_order_sign_without_prefetch_needs_the_member_and_diagnoses_too(client, submitter):
    call = hook_call("order-sign", device_order("dr-1"))
    info = coverage_of(
        client.post("/cds-services/coverage-order-sign", json=call, headers=submitter).get_json()[
            "systemActions"
        ][0]
    )
    needed = info["detail"][0]
    assert "member.birth_date (Patient.birthDate)" in needed and "clinical.ahi" in needed
    assert "diagnoses (Claim.diagnosis or Condition.code" in needed
    assert info["doc-needed"] == ["both"]


def test_a_minor_is_told_the_device_is_not_covered(client, submitter):
    call = hook_call("order-sign", device_order("dr-1"), prefetch=full_prefetch(birth_date="2012-05-01"))
    body = client.post("/cds-services/coverage-order-sign", json=call, headers=submitter).get_json()
    info = coverage_of(body["systemActions"][0])
    assert info["covered"] == ["not-covered"] and "pa-needed" not in info
    assert "adult" in info["reason"][0]
    assert body["cards"][0]["indicator"] == "warning"


def test_a_code_without_a_policy_still_needs_authorization_review(client, submitter):
    call = hook_call("order-sign", service_order("sr-1", "99213"), prefetch=full_prefetch())
    info = coverage_of(
        client.post("/cds-services/coverage-order-sign", json=call, headers=submitter).get_json()[
            "systemActions"
        ][0]
    )
    assert info["covered"] == ["conditional"] and "No policy governs 99213" in info["detail"][0]


def test_order_select_answers_only_the_selected_orders(client, submitter):
    call = hook_call(
        "order-select",
        device_order("dr-1"),
        service_order("sr-1", "27447"),
        prefetch=full_prefetch(),
        selections=["ServiceRequest/sr-1"],
    )
    response = client.post("/cds-services/coverage-order-select", json=call, headers=submitter)
    assert response.status_code == 200, response.get_json()
    (action,) = response.get_json()["systemActions"]
    assert action["resource"]["id"] == "sr-1"
    info = coverage_of(action)
    assert info["covered"] == ["conditional"] and info["doc-needed"] == ["clinical"]
    assert "kl-grade-3-4 [kl-classification]" in info["detail"][0]


def test_an_order_without_a_billing_code_is_answered_as_conditional(client, submitter):
    call = hook_call("order-sign", device_order("dr-1", code="123", system="http://snomed.info/sct"))
    body = client.post("/cds-services/coverage-order-sign", json=call, headers=submitter).get_json()
    info = coverage_of(body["systemActions"][0])
    assert info["covered"] == ["conditional"] and info["pa-needed"] == ["conditional"]


@pytest.mark.parametrize(
    ("service", "call", "field"),
    [
        ("coverage-order-sign", {"hook": "order-sign"}, "hookInstance"),
        ("coverage-order-sign", hook_call("order-select", device_order("d"), selections=[]), "hook"),
        ("coverage-order-select", hook_call("order-select", device_order("d")), "context.selections"),
        (
            "coverage-order-sign",
            hook_call("order-sign", {**device_order("d"), "occurrenceDateTime": 20250310}),
            "context.draftOrders.entry[0].resource.occurrenceDateTime",
        ),
        (
            "coverage-order-sign",
            hook_call(
                "order-sign",
                device_order("d"),
                prefetch={"patient": {"resourceType": "Patient", "birthDate": "x"}},
            ),
            "prefetch.patient.birthDate",
        ),
    ],
    ids=["no-instance", "wrong-hook", "no-selections", "mistyped-order", "bad-prefetch"],
)
def test_a_bad_hook_call_names_the_field(client, backend, submitter, service, call, field):
    response = client.post(f"/cds-services/{service}", json=call, headers=submitter)
    assert response.status_code in (400, 422), response.get_json()
    assert field in response.get_json()["errors"], response.get_json()
    assert row_count(backend, "decision_log") == 0


def test_an_unknown_service_is_not_found(client, submitter):
    assert client.post("/cds-services/nope", json={}, headers=submitter).status_code == 404


def test_hooks_need_a_submitter_token(client, token):
    call = hook_call("order-sign", device_order("dr-1"))
    assert client.post("/cds-services/coverage-order-sign", json=call).status_code == 401
    assert (
        client.post("/cds-services/coverage-order-sign", json=call, headers=token("auditor")).status_code
        == 403
    )
