"""Da Vinci CRD over CDS Hooks: draft orders judged by the policies, answered as coverage information.

The orders of one hook call become the lines of one request, judged as a prior
authorization request would be but never recorded. Each order comes back as a system
action that updates it with the CRD coverage-information extension, and as a card.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .. import clock
from .bundle import ParsedBundle, parse_bundle, validate
from .claim_in import code_in, whole
from .evidence import Evidence, day_of, read_facts
from .mapping import Mapping
from .outcome import nearest_source, problem
from .parties import sex_of

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
        """The hook call's element a request field came from, else the draft orders."""
        return nearest_source(self.where, path, "context.draftOrders")


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
