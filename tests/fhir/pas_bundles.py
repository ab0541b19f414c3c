"""Small builders for PAS request bundles, CDS Hooks calls, and reading FHIR answers back."""

from __future__ import annotations

import copy
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
CPT = "http://www.ama-assn.org/go/cpt"
DOCS = "urn:policy-engine:documentation"
NPI = "http://hl7.org/fhir/sid/us-npi"
AHI = "69990-0"
SUBMIT = "/fhir/Claim/$submit"
INQUIRE = "/fhir/Claim/$inquire"
PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition"


def entry(resource_type: str, id_: str, **fields: Any) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{id_}", "resource": {"resourceType": resource_type, "id": id_, **fields}}


def ref(id_: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{id_}"}


def concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def patient(birth_date: str = "1961-04-02", gender: str = "female") -> dict[str, Any]:
    return entry("Patient", "pat-1", birthDate=birth_date, gender=gender, identifier=[{"value": "MRN-77"}])


def coverage(member_id: str = "M1001") -> dict[str, Any]:
    plan = {
        "type": concept("http://terminology.hl7.org/CodeSystem/coverage-class", "plan"),
        "value": "MA-HMO",
    }
    return entry(
        "Coverage",
        "cov-1",
        status="active",
        subscriberId=member_id,
        beneficiary=ref("pat-1"),
        payor=[ref("payer-1")],
        **{"class": [plan]},
    )


def practitioner() -> dict[str, Any]:
    name = [{"family": "Ames", "given": ["Rita"]}]
    return entry("Practitioner", "prac-1", identifier=[{"system": NPI, "value": "1234567893"}], name=name)


def payer() -> dict[str, Any]:
    return entry("Organization", "payer-1", name="Health Plan")


def observation(id_: str, code: str, **value: Any) -> dict[str, Any]:
    return entry("Observation", id_, status="final", code=concept(LOINC, code), subject=ref("pat-1"), **value)


def answers(id_: str = "qr-1", **items: Any) -> dict[str, Any]:
    """A QuestionnaireResponse: each keyword is a linkId, its value an answer dict or a list of them."""
    rendered = [
        {"linkId": link, "answer": value if isinstance(value, list) else [value]}
        for link, value in items.items()
    ]
    return entry("QuestionnaireResponse", id_, status="completed", subject=ref("pat-1"), item=rendered)


def document(sequence: int, doc_id: str) -> dict[str, Any]:
    category = concept("http://terminology.hl7.org/CodeSystem/claiminformationcategory", "attachment")
    return {"sequence": sequence, "category": category, "code": concept(DOCS, doc_id)}


def item(
    sequence: int, code: str, day: str = "2025-03-10", system: str = HCPCS, **more: Any
) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "productOrService": concept(system, code),
        "servicedDate": day,
        "quantity": {"value": 1},
        **more,
    }


def claim(
    identifier: str,
    items: list[dict[str, Any]],
    diagnoses: tuple[str, ...] = ("G47.33", "I10"),
    documents: tuple[str, ...] = ("psg-report", "f2f-note"),
    **more: Any,
) -> dict[str, Any]:
    fields = {
        "identifier": [{"system": "urn:trnorg:clinic-a", "value": identifier}],
        "status": "active",
        "type": concept("http://terminology.hl7.org/CodeSystem/claim-type", "professional"),
        "use": "preauthorization",
        "patient": ref("pat-1"),
        "created": "2025-03-03T10:00:00Z",
        "insurer": ref("payer-1"),
        "provider": ref("prac-1"),
        "priority": concept("http://terminology.hl7.org/CodeSystem/processpriority", "normal"),
        "insurance": [{"sequence": 1, "focal": True, "coverage": ref("cov-1")}],
        "diagnosis": [
            {"sequence": n + 1, "diagnosisCodeableConcept": concept(ICD10, code)}
            for n, code in enumerate(diagnoses)
        ],
        "supportingInfo": [document(n + 1, doc) for n, doc in enumerate(documents)],
        "item": items,
        **more,
    }
    return entry("Claim", "claim-1", **fields)


def pas_bundle(
    claim_entry: dict[str, Any], *extra: dict[str, Any], birth_date: str = "1961-04-02"
) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:trnorg:clinic-a", "value": "bundle-1"},
        "type": "collection",
        "timestamp": "2025-03-03T10:00:00Z",
        "entry": [claim_entry, patient(birth_date), coverage(), practitioner(), payer(), *extra],
    }


def cpap_bundle(
    identifier: str = "cpap-1",
    ahi: Any = 31,
    code: str = "E0601",
    birth_date: str = "1961-04-02",
    documents: tuple[str, ...] = ("psg-report", "f2f-note"),
    more_items: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    """A CPAP request the 2025 policy approves as it stands (the API tests' cpap_request, in FHIR)."""
    extra = [
        answers(evaluation_date={"valueDate": "2025-01-15"}, sleep_test_date={"valueDate": "2025-02-01"})
    ]
    if ahi is not None:
        extra.append(
            observation(
                "ahi-1", AHI, valueQuantity={"value": ahi, "unit": "/h"}, effectiveDateTime="2025-02-01"
            )
        )
    items = [item(1, code), *more_items]
    return pas_bundle(claim(identifier, items, documents=documents), *extra, birth_date=birth_date)


def without(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    changed["entry"] = [e for e in changed["entry"] if e["resource"]["resourceType"] != resource_type]
    return changed


def parsed(response: Any) -> Any:
    """A FHIR answer read back by the model library (which validates it), after checking its media type."""
    assert response.mimetype == "application/fhir+json", response.mimetype
    body = response.get_json()
    return get_fhir_model_class(body["resourceType"]).model_validate(body)


def claim_response(response: Any) -> Any:
    bundle = parsed(response)
    assert bundle.get_resource_type() == "Bundle" and bundle.type == "collection"
    found = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "ClaimResponse"]
    assert len(found) == 1
    return found[0]


def review_action(claim_response_item: Any) -> dict[str, Any]:
    """The item's X12 action code, review number and reason code from the PAS reviewAction extension."""
    adjudication = claim_response_item.adjudication[0]
    assert adjudication.category.coding[0].code == "submitted"
    (action,) = [e for e in adjudication.extension if e.url == f"{PAS}/extension-reviewAction"]
    found: dict[str, Any] = {}
    for part in action.extension:
        if part.url.endswith("extension-reviewActionCode"):
            found["code"] = part.valueCodeableConcept.coding[0].code
        elif part.url == "number":
            found["number"] = part.valueString
        elif part.url == "reasonCode":
            found["reason"] = part.valueCodeableConcept.coding[0].code
    return found


def outcome_issues(response: Any) -> list[Any]:
    outcome = parsed(response)
    assert outcome.get_resource_type() == "OperationOutcome"
    return outcome.issue
