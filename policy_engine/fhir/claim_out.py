"""A case, as it stands after every log entry, as a PAS response Bundle with one ClaimResponse.

Each service line becomes the ClaimResponse item with the Claim item's sequence; its X12
278 action (HCR01) and reason travel in the PAS reviewAction extension on the item's
adjudication, its authorization number as the review number, and the criteria that
decided it in a processNote the item points to.
"""

from __future__ import annotations

import uuid
from typing import Any

from .. import clock
from .claim_in import ClaimRequest
from .mapping import Mapping

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition"
X12_ACTION_SYSTEM = "https://codesystem.x12.org/005010/306"
REASON_SYSTEM = "urn:policy-engine:determination-reason"
ADJUDICATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/adjudication"
DECISION_ID_SYSTEM = "urn:ietf:rfc:3986"
X12_ACTION_DISPLAY = {
    "A1": "Certified in total",
    "A2": "Certified - partial",
    "A3": "Not certified",
    "A4": "Pended",
    "A6": "Modified",
}
REASON_DISPLAY = {
    "no_policy": "No policy governs this service on this date; pended for review",
    "clinical_review": "Criteria not met on the information given; pended for clinical review",
    "missing_information": "Information needed; pended until it is sent",
    "appeal": "Under appeal",
    "medical_necessity": "Not medically necessary",
    "not_covered": "Not covered",
    "insufficient_documentation": "Insufficient documentation",
}


def response_bundle(case: dict[str, Any], claim: ClaimRequest, mapping: Mapping) -> dict[str, Any]:
    """The PAS response Bundle: the ClaimResponse, then the resources it refers to, as sent."""
    response = claim_response(case, claim, mapping)
    entries = [{"fullUrl": f"urn:uuid:{case['decision_id']}", "resource": response}]
    for index in dict.fromkeys(claim.references):
        entry = claim.bundle.model.entry[index]
        entries.append(
            {"fullUrl": entry.fullUrl or f"urn:uuid:{uuid.uuid4()}", "resource": _dump(entry.resource)}
        )
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": clock.now().isoformat().replace("+00:00", "Z"),
        "entry": entries,
    }


def claim_response(case: dict[str, Any], claim: ClaimRequest, mapping: Mapping) -> dict[str, Any]:
    source = claim.claim
    lines = case["lines"]
    approved = [line for line in lines if line.get("authorization_number")]
    notes: list[dict[str, Any]] = []
    items = [_item(line, notes, mapping) for line in lines]
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": case["decision_id"],
        "identifier": [{"system": DECISION_ID_SYSTEM, "value": f"urn:uuid:{case['decision_id']}"}],
        "status": "active",
        "type": source.type.model_dump(mode="json", by_alias=True, exclude_none=True),
        "use": "preauthorization",
        "patient": {"reference": _reference(claim, claim.patient_at)},
        "created": case["recorded_at"],
        "insurer": _dump(source.insurer) if source.insurer else {"display": "policy-engine"},
        "request": {"identifier": _dump(next(i for i in source.identifier if i.value))},
        "outcome": "queued" if case["status"] == "pended" else "complete",
        "disposition": "; ".join(f"item {line['index'] + 1}: {_summary(line)}" for line in lines),
        "item": items,
        "processNote": notes,
    }
    if source.provider is not None:
        response["requestor"] = _dump(source.provider)
    if approved:
        response["preAuthRef"] = approved[0]["authorization_number"]
        response["preAuthPeriod"] = {
            "start": min(line["valid_from"] for line in approved if line.get("valid_from")),
            "end": max(line["valid_to"] for line in approved if line.get("valid_to")),
        }
    return response


def _item(line: dict[str, Any], notes: list[dict[str, Any]], mapping: Mapping) -> dict[str, Any]:
    action = line["x12_action"]
    review: list[dict[str, Any]] = [
        {
            "url": f"{PAS}/extension-reviewActionCode",
            "valueCodeableConcept": {
                "coding": [
                    {"system": X12_ACTION_SYSTEM, "code": action, "display": X12_ACTION_DISPLAY[action]}
                ]
            },
        }
    ]
    if line.get("authorization_number"):
        review.append({"url": "number", "valueString": line["authorization_number"]})
    if line.get("reason"):
        review.append(
            {
                "url": "reasonCode",
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": REASON_SYSTEM,
                            "code": line["reason"],
                            "display": REASON_DISPLAY.get(line["reason"], line["reason"]),
                        }
                    ]
                },
            }
        )
    item: dict[str, Any] = {
        "itemSequence": line["index"] + 1,
        "adjudication": [
            {
                "extension": [{"url": f"{PAS}/extension-reviewAction", "extension": review}],
                "category": {"coding": [{"system": ADJUDICATION_SYSTEM, "code": "submitted"}]},
            }
        ],
    }
    extensions = []
    if line.get("valid_from") and line.get("valid_to"):
        extensions.append(
            {
                "url": f"{PAS}/extension-itemPreAuthPeriod",
                "valuePeriod": {"start": line["valid_from"], "end": line["valid_to"]},
            }
        )
    if line.get("quantity_approved") is not None and line["outcome"] in ("partially_approved", "modified"):
        extensions.append(
            {
                "url": f"{PAS}/extension-itemAuthorizedDetail",
                "extension": [{"url": "quantity", "valueQuantity": {"value": line["quantity_approved"]}}],
            }
        )
    if extensions:
        item["extension"] = extensions
    numbers = []
    for text in note_texts(line, mapping):
        notes.append({"number": len(notes) + 1, "type": "display", "text": text})
        numbers.append(len(notes))
    if numbers:
        item["noteNumber"] = numbers
    return item


def note_texts(line: dict[str, Any], mapping: Mapping) -> list[str]:
    """What decided a line, citing the policy criteria, and what is still needed."""
    head = f"Item {line['index'] + 1} ({line['code']} on {line['date_of_service']}): {_summary(line)}"
    texts = []
    if line.get("rationale"):
        who = "physician reviewer" if line.get("physician") else "reviewer"
        texts.append(f"{head}, by {who} {line.get('determined_by')}: {line['rationale']}")
    else:
        texts.append(head)
    for policy in line.get("policies", ()):
        if not policy.get("governs", True):
            continue
        met = [_cited(node) for node in _met_leaves(policy)]
        label = f"{policy['policy']} v{policy['version']} ({policy['result']})"
        if met:
            texts.append(f"{label}: met {'; '.join(met)}")
    for node in line.get("decided_by", ()):
        texts.append(
            f"{node['policy']} v{node['version']}: {node['status'].replace('_', ' ')} {_cited(node, 'node')}"
        )
    for cited in line.get("criteria") or ():
        texts.append(f"cited by the reviewer: {cited}")
    if line.get("missing"):
        needed = [f"{path} ({mapping.where(path)})" for path in line["missing"]]
        texts.append("Needed: " + "; ".join(needed))
    return texts


def _met_leaves(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        if node["status"] != "met":
            return
        if node.get("cite") and not node.get("children"):
            found.append(node)
        for child in node.get("children", ()):
            walk(child)

    for root in [*policy.get("coverage", ()), policy.get("criteria")]:
        if root:
            walk(root)
    return found


def _cited(node: dict[str, Any], key: str = "id") -> str:
    cite = f" [{node['cite']}]" if node.get("cite") else ""
    text = f": {node['text']}" if node.get("text") else ""
    return f"{node[key]}{text}{cite}"


def _summary(line: dict[str, Any]) -> str:
    reason = f" ({line['reason']})" if line.get("reason") else ""
    return f"{line['outcome']}{reason}"


def _reference(claim: ClaimRequest, index: int) -> str:
    entry = claim.bundle.model.entry[index]
    resource = entry.resource
    return entry.fullUrl or f"{resource.get_resource_type()}/{resource.id}"


def _dump(model: Any) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)
