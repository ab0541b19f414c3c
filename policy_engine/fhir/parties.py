"""The parties of a Claim: the member (Patient and Coverage) and the requesting provider."""

from __future__ import annotations

from typing import Any

from .bundle import ParsedBundle
from .evidence import day_of
from .outcome import problem

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
SEX = {"female": "F", "male": "M", "other": "X", "unknown": "U"}


def read_member(
    bundle: ParsedBundle, claim: Any, at: str, patient_index: int, patient: Any, references: list[int]
) -> tuple[dict[str, Any], dict[str, str]]:
    patient_at = bundle.at(patient_index)
    member: dict[str, Any] = {}
    where = {"member": patient_at, "member.birth_date": f"{patient_at}.birthDate"}
    if patient.birthDate is not None:
        member["birth_date"] = day_of(
            patient.birthDate, "Patient.birthDate", f"{patient_at}.birthDate"
        ).isoformat()
    if patient.gender:
        member["sex"] = sex_of(patient.gender, f"{patient_at}.gender")
        where["member.sex"] = f"{patient_at}.gender"
    insurance = sorted(claim.insurance or [], key=lambda i: (not i.focal, i.sequence or 0))
    coverage = None
    if insurance:
        position = (claim.insurance or []).index(insurance[0])
        coverage_index, coverage = bundle.resolve(
            insurance[0].coverage, f"{at}.insurance[{position}].coverage", "Coverage"
        )
        references.append(coverage_index)
        where["member.id"] = f"{bundle.at(coverage_index)}.subscriberId"
        for number, kind in enumerate(coverage.class_fhir or []):
            if any(coding.code == "plan" for coding in (kind.type.coding or [])):
                member["plan"] = kind.value
                where["member.plan"] = f"{bundle.at(coverage_index)}.class[{number}].value"
    member_id = coverage.subscriberId if coverage is not None else None
    if not member_id:
        identifiers = [i.value for i in patient.identifier or [] if i.value]
        member_id = identifiers[0] if identifiers else None
        where["member.id"] = f"{patient_at}.identifier"
    if member_id:
        member["id"] = member_id
    return member, where


def sex_of(gender: str, where: str) -> str:
    """Administrative gender as the request's sex code (the models do not check the code)."""
    if gender not in SEX:
        raise problem(422, f"gender must be one of {', '.join(SEX)}, not {gender!r}", where)
    return SEX[gender]


def read_provider(resource: Any) -> dict[str, Any] | None:
    npis = [i.value for i in resource.identifier or [] if i.system == NPI_SYSTEM and i.value]
    if not npis:
        return None
    found: dict[str, Any] = {"npi": npis[0]}
    name = getattr(resource, "name", None)
    if isinstance(name, str):
        found["name"] = name
    elif name:
        first = name[0]
        found["name"] = first.text or " ".join(part for part in [*(first.given or []), first.family] if part)
    return {k: v for k, v in found.items() if v}
