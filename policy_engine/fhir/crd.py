"""Da Vinci CRD over CDS Hooks: draft orders judged by the policies, answered as coverage information.

The orders of one hook call become the lines of one request, judged as a prior
authorization request would be but never recorded. Each order comes back as a system
action that updates it with the CRD coverage-information extension, and as a card.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from .. import clock
from .bundle import ParsedBundle, parse_bundle, validate
from .claim_in import code_in, sex_of, whole
from .claim_out import REASON_DISPLAY
from .evidence import Evidence, day_of, read_facts
from .mapping import Mapping
from .outcome import problem

CRD = "http://hl7.org/fhir/us/davinci-crd"
COVERAGE_INFORMATION = f"{CRD}/StructureDefinition/ext-coverage-information"
CRD_TEMP = f"{CRD}/CodeSystem/temp"
ORDER_TYPES = ("ServiceRequest", "DeviceRequest", "MedicationRequest")
HOOKS = {"order-sign": "coverage-order-sign", "order-select": "coverage-order-select"}
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "coverage": "Coverage?patient={{context.patientId}}&status=active",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
}
_PREFETCH_TYPES = {
    "patient": "Patient",
    "coverage": "Bundle",
    "conditions": "Bundle",
    "observations": "Bundle",
}


def discovery() -> dict[str, Any]:
    """The CDS Hooks discovery document: one coverage service per supported hook."""
    return {
        "services": [
            {
                "hook": hook,
                "id": service_id,
                "title": f"Coverage requirements ({hook})",
                "description": (
                    "Judges draft orders by the plan's prior-authorization policies and answers, per "
                    "order, whether it is covered, needs prior authorization, and what documentation "
                    "or facts are needed."
                ),
                "prefetch": PREFETCH,
                "usageRequirements": "Authorization: Bearer <submitter token> on every call",
            }
            for hook, service_id in HOOKS.items()
        ]
    }


@dataclass
class HookOrders:
    """The orders of a hook call and the request their lines form, with where each field came from."""

    request: dict[str, Any]
    where: dict[str, str]
    judged: list[tuple[str, Any]] = field(default_factory=list)
    unjudged: list[tuple[str, Any]] = field(default_factory=list)
    coverage: dict[str, Any] | None = None

    def location(self, path: str) -> str:
        while path:
            if path in self.where:
                return self.where[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return "context.draftOrders"


def read_hook(hook: str, body: dict[str, Any], mapping: Mapping) -> HookOrders:
    """The orders to judge and the request they form, from the hook context and any prefetch."""
    context = body["context"]
    orders = parse_bundle(context["draftOrders"], "context.draftOrders")
    prefetch = {
        key: validate(value, _PREFETCH_TYPES[key], f"prefetch.{key}")
        for key, value in (body.get("prefetch") or {}).items()
        if key in _PREFETCH_TYPES and value is not None
    }
    chosen = set(context.get("selections") or []) if hook == "order-select" else None
    today = clock.now().date()
    found = HookOrders(
        request={"request_id": f"crd-{body['hookInstance']}"[:128], "urgency": "standard"}, where={}
    )
    for kind in ORDER_TYPES:
        for index, order in orders.of_type(kind):
            if chosen is not None and f"{kind}/{order.id}" not in chosen:
                continue
            at = orders.at(index)
            line = _line(order, at, mapping, today)
            if line is None:
                found.unjudged.append((at, order))
                continue
            position = len(found.judged)
            found.where.update({f"services[{position}].{name}": f"{at}.{name}" for name in line})
            found.where[f"services[{position}].code"] = at
            found.judged.append((at, order))
            found.request.setdefault("services", []).append(line)
    if chosen is not None and not found.judged and not found.unjudged:
        raise problem(422, "none of the selections is an order in draftOrders", "context.selections")
    _member(found, context, prefetch.get("patient"))
    _facts(found, prefetch, mapping)
    found.coverage = _coverage(orders, found, prefetch.get("coverage"))
    return found


def _line(order: Any, at: str, mapping: Mapping, today: dt.date) -> dict[str, Any] | None:
    kind = order.get_resource_type()
    concept = {
        "ServiceRequest": getattr(order, "code", None),
        "DeviceRequest": getattr(order, "codeCodeableConcept", None),
        "MedicationRequest": getattr(order, "medicationCodeableConcept", None),
    }[kind]
    code = code_in(concept, mapping.service_systems)
    if code is None:
        return None
    moment = getattr(order, "occurrenceDateTime", None) or (
        order.occurrencePeriod.start if getattr(order, "occurrencePeriod", None) else None
    )
    day = day_of(moment, "the order's occurrence", f"{at}.occurrence") if moment else today
    line: dict[str, Any] = {"code": code, "date_of_service": day.isoformat()}
    quantity = getattr(order, "quantityQuantity", None)
    if quantity is not None and quantity.value is not None:
        line["quantity"] = whole(quantity.value, f"{at}.quantityQuantity.value")
    return line


def _member(found: HookOrders, context: dict[str, Any], patient: Any) -> None:
    """The member from the prefetched Patient; without it, member facts stay unknown."""
    if patient is None:
        return
    member: dict[str, Any] = {"id": next((i.value for i in patient.identifier or [] if i.value), None)}
    member["id"] = member["id"] or patient.id or context["patientId"]
    if patient.birthDate is not None:
        member["birth_date"] = day_of(
            patient.birthDate, "Patient.birthDate", "prefetch.patient.birthDate"
        ).isoformat()
    if patient.gender:
        member["sex"] = sex_of(patient.gender, "prefetch.patient.gender")
    found.request["member"] = member
    found.where.update({"member": "prefetch.patient", "member.birth_date": "prefetch.patient.birthDate"})


def _facts(found: HookOrders, prefetch: dict[str, Any], mapping: Mapping) -> None:
    conditions = (
        ParsedBundle(prefetch["conditions"], "prefetch.conditions") if "conditions" in prefetch else None
    )
    observations = (
        ParsedBundle(prefetch["observations"], "prefetch.observations")
        if "observations" in prefetch
        else None
    )
    diagnoses: list[str] = []
    for at, order in found.judged:
        for number, concept in enumerate(getattr(order, "reasonCode", None) or []):
            code = code_in(concept, mapping.diagnosis_systems)
            if code and code not in diagnoses:
                found.where[f"diagnoses[{len(diagnoses)}]"] = f"{at}.reasonCode[{number}]"
                diagnoses.append(code)
    for index, condition in conditions.of_type("Condition") if conditions else []:
        code = code_in(condition.code, mapping.diagnosis_systems)
        if code and code not in diagnoses:
            found.where[f"diagnoses[{len(diagnoses)}]"] = f"{conditions.at(index)}.code"
            diagnoses.append(code)
    if diagnoses or conditions is not None:
        found.request["diagnoses"] = diagnoses  # without a conditions prefetch, none known is unknown
    evidence = Evidence()
    if observations is not None:
        evidence.observations = [(observations.at(i), r) for i, r in observations.of_type("Observation")]
    facts = read_facts(evidence, mapping)
    found.request["clinical"] = facts.clinical
    found.request["documentation"] = facts.documentation
    for line in found.request.get("services", []):
        if facts.details:
            line["details"] = dict(facts.details)
    found.where.update(facts.where)


def _coverage(orders: ParsedBundle, found: HookOrders, prefetched: Any) -> dict[str, Any]:
    for _, order in found.judged + found.unjudged:
        for reference in getattr(order, "insurance", None) or []:
            if reference.reference:
                return {"reference": reference.reference}
    if prefetched is not None:
        for entry in prefetched.entry or []:
            if entry.resource is not None and entry.resource.get_resource_type() == "Coverage":
                return {"reference": f"Coverage/{entry.resource.id}" if entry.resource.id else entry.fullUrl}
    return {"display": "the patient's coverage (none was sent)"}


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
