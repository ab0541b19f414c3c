"""CRD's answer for one judged order: the coverage-information extension and a card.

Each engine outcome is put in CRD's terms (covered / PA needed / documentation needed),
with the criteria and the facts behind it in ``detail`` and ``reason``.
"""

from __future__ import annotations

import uuid
from typing import Any

from .. import clock
from .claim_out import REASON_DISPLAY
from .mapping import Mapping

CRD = "http://hl7.org/fhir/us/davinci-crd"
COVERAGE_INFORMATION = f"{CRD}/StructureDefinition/ext-coverage-information"
CRD_TEMP = f"{CRD}/CodeSystem/temp"


def coverage_information(
    line: dict[str, Any] | None, coverage: dict[str, Any], mapping: Mapping
) -> dict[str, Any]:
    """The CRD coverage-information extension for one order's judged line (None: not judgeable)."""
    answer = assessment(line, mapping)
    parts: list[dict[str, Any]] = [
        {"url": "coverage", "valueReference": coverage},
        {"url": "covered", "valueCode": answer["covered"]},
    ]
    if answer.get("pa_needed"):
        parts.append({"url": "pa-needed", "valueCode": answer["pa_needed"]})
    if answer.get("doc_needed"):
        parts.append({"url": "doc-needed", "valueCode": answer["doc_needed"]})
        parts.append({"url": "doc-purpose", "valueCode": "withpa"})
    if answer.get("reason"):
        parts.append({"url": "reason", "valueCodeableConcept": {"text": answer["reason"]}})
    for code, text in answer["details"]:
        parts.append(
            {
                "url": "detail",
                "extension": [
                    {"url": "code", "valueCodeableConcept": {"coding": [{"system": CRD_TEMP, "code": code}]}},
                    {"url": "value", "valueString": text},
                ],
            }
        )
    parts.append({"url": "date", "valueDate": clock.now().date().isoformat()})
    parts.append({"url": "coverage-assertion-id", "valueString": str(uuid.uuid4())})
    return {"url": COVERAGE_INFORMATION, "extension": parts}


def assessment(line: dict[str, Any] | None, mapping: Mapping) -> dict[str, Any]:
    """Covered / PA needed / documentation needed for a line, in CRD's terms, with the reasons."""
    if line is None:
        return {
            "covered": "conditional",
            "pa_needed": "conditional",
            "details": [("instructions", "The order carries no CPT or HCPCS code the plan's policies read.")],
            "summary": "coverage unknown: no CPT or HCPCS code",
            "indicator": "warning",
        }
    reason = line["reason"]
    policies = ", ".join(f"{p['policy']} v{p['version']}" for p in line["policies"] if p.get("governs", True))
    if line["outcome"] == "not_covered":
        failed = "; ".join(
            f"{n['node']}: {n.get('text') or ''} [{n.get('cite') or policies}]" for n in line["decided_by"]
        )
        return {
            "covered": "not-covered",
            "reason": f"Not covered: {failed}",
            "details": [],
            "summary": "not covered",
            "indicator": "warning",
        }
    if line["outcome"] == "approved":
        text = (
            f"Prior authorization is required; the criteria of {policies} are met on the information given."
        )
        return {
            "covered": "covered",
            "pa_needed": "auth-needed",
            "details": [("instructions", text)],
            "summary": "prior authorization needed; criteria met",
            "indicator": "info",
        }
    if reason == "no_policy":
        text = (
            f"No policy governs {line['code']} on {line['date_of_service']}; "
            "a request is reviewed by a clinician."
        )
        return {
            "covered": "conditional",
            "pa_needed": "auth-needed",
            "details": [("instructions", text)],
            "summary": "prior authorization needed; no policy, manual review",
            "indicator": "info",
        }
    if reason == "clinical_review":
        unmet = "; ".join(f"{n['node']} [{n.get('cite') or n['policy']}]" for n in line["decided_by"])
        return {
            "covered": "conditional",
            "pa_needed": "auth-needed",
            "doc_needed": "clinical",
            "details": [
                (
                    "instructions-clinical",
                    f"Not met on the information given: {unmet}. {REASON_DISPLAY[reason]}.",
                )
            ],
            "summary": "prior authorization needed; criteria not met on the information given",
            "indicator": "warning",
        }
    needed = [f"{path} ({mapping.where(path)})" for path in line["missing"]]
    clinical = any(
        path.startswith(("clinical.", "service.details.")) or path in mapping.documentation
        for path in line["missing"]
    )
    admin = any(
        path.startswith(("member.", "service.", "provider.")) and not path.startswith("service.details.")
        for path in line["missing"]
    )
    return {
        "covered": "conditional",
        "pa_needed": "auth-needed",
        "doc_needed": "both" if clinical and admin else ("admin" if admin else "clinical"),
        "details": [("instructions", "Needed to decide: " + "; ".join(needed))],
        "summary": "prior authorization needed; information needed: " + ", ".join(line["missing"]),
        "indicator": "info",
    }


def card(order_at: str, order: Any, line: dict[str, Any] | None, mapping: Mapping) -> dict[str, Any]:
    answer = assessment(line, mapping)
    label = f"{order.get_resource_type()}/{order.id}" if order.id else order_at
    code = line["code"] if line else "order"
    detail = [text for _, text in answer["details"]] + ([answer["reason"]] if answer.get("reason") else [])
    return {
        "uuid": str(uuid.uuid4()),
        "summary": f"{code}: {answer['summary']}"[:140],
        "detail": f"{label}: " + " ".join(detail),
        "indicator": answer["indicator"],
        "source": {
            "label": "policy-engine",
            "topic": {"system": CRD_TEMP, "code": "coverage-info", "display": "Coverage Information"},
        },
    }


def with_coverage(order: Any, extension: dict[str, Any]) -> dict[str, Any]:
    """The order as sent, with the coverage information added (replacing an earlier one)."""
    resource = order.model_dump(mode="json", by_alias=True, exclude_none=True)
    kept = [e for e in resource.get("extension", []) if e.get("url") != COVERAGE_INFORMATION]
    resource["extension"] = [*kept, extension]
    return resource
