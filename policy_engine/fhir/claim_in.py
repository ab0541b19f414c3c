"""A PAS request Bundle as the service's own authorization request, remembering where each field came from.

The request built here goes through the same schema, evaluation, log and review queue as
``POST /api/v1/authorizations``; the ``where`` map turns the schema's field names in its
errors back into FHIRPaths the sender can find in their bundle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from marshmallow import ValidationError

from ..api.errors import flatten
from ..api.schemas import AuthorizationRequestSchema
from .bundle import ParsedBundle
from .evidence import Evidence, day_of, read_facts
from .mapping import Mapping
from .outcome import FhirProblem, Issue, nearest_source, problem
from .parties import read_member, read_provider

_EXPEDITED = {"stat", "urgent", "expedited"}


@dataclass
class ClaimRequest:
    """The internal request a Claim stands for, and the FHIR context a response refers to."""

    request: dict[str, Any]
    where: dict[str, str]
    bundle: ParsedBundle
    claim: Any
    claim_at: str
    patient_at: int
    references: list[int] = field(default_factory=list)

    def location(self, path: str) -> str:
        """The FHIRPath a request field came from (its nearest mapped ancestor, else the Claim)."""
        return nearest_source(self.where, path, self.claim_at)


def find_claim(bundle: ParsedBundle) -> tuple[int, Any]:
    """The one Claim of a PAS bundle, used for preauthorization."""
    claims = bundle.of_type("Claim")
    if len(claims) != 1:
        found = "no Claim" if not claims else f"{len(claims)} Claims"
        raise problem(422, f"a PAS bundle holds exactly one Claim; this one has {found}", "Bundle.entry")
    index, claim = claims[0]
    if claim.use != "preauthorization":
        raise problem(
            422, f"Claim.use must be 'preauthorization', not {claim.use!r}", f"{bundle.at(index)}.use"
        )
    if claim.type is None or not (claim.type.coding or claim.type.text):
        raise problem(
            422, "Claim.type is required (e.g. professional, institutional)", f"{bundle.at(index)}.type"
        )
    return index, claim


def claim_key(claim: Any, at: str) -> str:
    """The Claim's business identifier, which keys retries as the API's request_id does."""
    for identifier in claim.identifier or []:
        if identifier.value:
            return identifier.value
    raise problem(
        422, "Claim.identifier with a value is required: it identifies the request", f"{at}.identifier"
    )


def read_claim(bundle: ParsedBundle, mapping: Mapping) -> ClaimRequest:
    """The request a PAS bundle stands for, checked by the API's own schema."""
    index, claim = find_claim(bundle)
    at = bundle.at(index)
    where: dict[str, str] = {"request_id": f"{at}.identifier[0].value", "urgency": f"{at}.priority"}
    request: dict[str, Any] = {"request_id": claim_key(claim, at), "urgency": _urgency(claim)}
    patient_index, patient = bundle.resolve(claim.patient, f"{at}.patient", "Patient")
    references = [patient_index]
    member, member_where = read_member(bundle, claim, at, patient_index, patient, references)
    request["member"] = member
    where.update(member_where)
    if claim.provider is not None:
        provider_index, provider = bundle.resolve(
            claim.provider, f"{at}.provider", "Practitioner", "Organization", "PractitionerRole"
        )
        references.append(provider_index)
        found = read_provider(provider)
        if found:
            request["provider"] = found
            where["provider"] = bundle.at(provider_index)
    request["diagnoses"] = _diagnoses(bundle, claim, at, mapping, where)
    evidence = evidence_of(bundle, claim, at)
    facts = read_facts(evidence, mapping)
    request["services"] = _services(claim, at, mapping, facts.details, where)
    request["clinical"] = facts.clinical
    request["documentation"] = facts.documentation
    history = _history(bundle, mapping, where)
    if history:
        request["history"] = history
    where.update(facts.where)
    built = ClaimRequest(request, where, bundle, claim, at, patient_index, references)
    check_request(built)
    return built


def read_inquiry(bundle: ParsedBundle) -> ClaimRequest:
    """The Claim of a PAS inquiry bundle: its identifier finds the case; its parties frame the answer."""
    index, claim = find_claim(bundle)
    at = bundle.at(index)
    key = claim_key(claim, at)
    patient_index, _ = bundle.resolve(claim.patient, f"{at}.patient", "Patient")
    references = [patient_index]
    if claim.provider is not None:
        references.append(
            bundle.resolve(
                claim.provider, f"{at}.provider", "Practitioner", "Organization", "PractitionerRole"
            )[0]
        )
    return ClaimRequest(
        {"request_id": key}, {"request_id": f"{at}.identifier"}, bundle, claim, at, patient_index, references
    )


def check_request(built: ClaimRequest) -> None:
    check_schema(built.request, built.location)


def check_schema(
    request: dict[str, Any], location: Callable[[str], str], partial: tuple[str, ...] = ()
) -> None:
    """The API's schema over a translated request; its field errors point into the FHIR sent."""
    try:
        AuthorizationRequestSchema().load(request, partial=partial)
    except ValidationError as error:
        raise FhirProblem(
            422,
            [
                Issue(f"{name}: {' '.join(messages)}", location(name))
                for name, messages in flatten(error.messages).items()
            ],
        ) from None


def evidence_of(bundle: ParsedBundle, claim: Any, at: str) -> Evidence:
    return Evidence(
        observations=[(bundle.at(i), r) for i, r in bundle.of_type("Observation")],
        responses=[(bundle.at(i), r) for i, r in bundle.of_type("QuestionnaireResponse")],
        supporting_info=[
            (f"{at}.supportingInfo[{n}]", info) for n, info in enumerate(claim.supportingInfo or [])
        ]
        if claim is not None
        else [],
        documents=[(bundle.at(i), r) for i, r in bundle.of_type("DocumentReference")],
    )


def _urgency(claim: Any) -> str:
    codes = {coding.code for coding in (claim.priority.coding or [])} if claim.priority else set()
    return "expedited" if codes & _EXPEDITED else "standard"


def _diagnoses(
    bundle: ParsedBundle, claim: Any, at: str, mapping: Mapping, where: dict[str, str]
) -> list[str]:
    """Claim.diagnosis in sequence order (the first is primary), then other Conditions of the bundle."""
    codes: list[str] = []
    for position, diagnosis in sorted(enumerate(claim.diagnosis or []), key=lambda pair: pair[1].sequence):
        here = f"{at}.diagnosis[{position}]"
        concept = diagnosis.diagnosisCodeableConcept
        if diagnosis.diagnosisReference is not None:
            index, condition = bundle.resolve(
                diagnosis.diagnosisReference, f"{here}.diagnosisReference", "Condition"
            )
            concept, here = condition.code, f"{bundle.at(index)}.code"
        code = code_in(concept, mapping.diagnosis_systems)
        if code is None:
            raise problem(
                422, f"needs an ICD-10-CM code ({', '.join(sorted(mapping.diagnosis_systems))})", here
            )
        if code not in codes:
            where[f"diagnoses[{len(codes)}]"] = here
            codes.append(code)
    for index, condition in bundle.of_type("Condition"):
        status = (
            {c.code for c in condition.verificationStatus.coding or []}
            if condition.verificationStatus
            else set()
        )
        code = code_in(condition.code, mapping.diagnosis_systems)
        if code and code not in codes and not status & {"refuted", "entered-in-error"}:
            where[f"diagnoses[{len(codes)}]"] = f"{bundle.at(index)}.code"
            codes.append(code)
    return codes


def _services(
    claim: Any, at: str, mapping: Mapping, details: dict[str, Any], where: dict[str, str]
) -> list[dict[str, Any]]:
    """Claim.item as service lines; items are numbered 1..n in order, as X12 278 service lines are."""
    lines = []
    items = claim.item or []
    if not items:
        raise problem(422, "the Claim needs at least one item", f"{at}.item")
    for position, item in enumerate(items):
        here = f"{at}.item[{position}]"
        if item.sequence != position + 1:
            raise problem(
                422, f"items are numbered 1, 2, ... in order; expected {position + 1}", f"{here}.sequence"
            )
        line: dict[str, Any] = {}
        code = code_in(item.productOrService, mapping.service_systems)
        if code is None:
            systems = ", ".join(sorted(mapping.service_systems))
            raise problem(422, f"needs a CPT or HCPCS code ({systems})", f"{here}.productOrService")
        line["code"] = code
        where[f"services[{position}].code"] = f"{here}.productOrService"
        day = item.servicedDate or (item.servicedPeriod.start if item.servicedPeriod else None)
        if day is None:
            raise problem(422, "servicedDate or servicedPeriod.start is required", f"{here}.servicedDate")
        line["date_of_service"] = day_of(day, "the date of service", f"{here}.servicedDate").isoformat()
        where[f"services[{position}].date_of_service"] = f"{here}.servicedDate"
        if item.quantity is not None and item.quantity.value is not None:
            line["quantity"] = whole(item.quantity.value, f"{here}.quantity.value")
            where[f"services[{position}].quantity"] = f"{here}.quantity.value"
        modifiers = [c.code for concept in item.modifier or [] for c in concept.coding or [] if c.code]
        if modifiers:
            line["modifiers"] = modifiers
            where[f"services[{position}].modifiers"] = f"{here}.modifier"
        place = code_in(item.locationCodeableConcept, mapping.place_of_service_systems)
        if place is not None:
            line["place_of_service"] = place
            where[f"services[{position}].place_of_service"] = f"{here}.locationCodeableConcept"
        if details:
            line["details"] = dict(details)
        lines.append(line)
    return lines


def _history(bundle: ParsedBundle, mapping: Mapping, where: dict[str, str]) -> list[dict[str, Any]]:
    """Completed Procedures of the bundle as prior services, for frequency limits."""
    history = []
    for index, procedure in bundle.of_type("Procedure"):
        code = code_in(procedure.code, mapping.service_systems)
        if procedure.status != "completed" or code is None:
            continue
        moment = procedure.performedDateTime or (
            procedure.performedPeriod.start if procedure.performedPeriod else None
        )
        entry: dict[str, Any] = {"code": code}
        if moment is not None:
            entry["date"] = day_of(moment, "Procedure.performed", f"{bundle.at(index)}.performed").isoformat()
        where[f"history[{len(history)}]"] = bundle.at(index)
        history.append(entry)
    return history


def code_in(concept: Any, systems: frozenset[str]) -> str | None:
    for coding in (concept.coding or []) if concept is not None else []:
        if coding.system in systems and coding.code:
            return coding.code
    return None


def whole(value: Any, where: str) -> int:
    if value != int(value):
        raise problem(422, f"a quantity is a whole number, not {value}", where)
    return int(value)
