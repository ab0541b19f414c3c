"""Clinical facts and documents read from FHIR resources through the declared mapping.

Values keep their JSON type strictly: a number fact takes ``valueQuantity``,
``valueInteger`` or ``valueDecimal`` and nothing else, a boolean ``valueBoolean``, a date
``valueDate`` / ``valueDateTime``; anything else is refused at its location rather than
converted, because the engine compares strings as text and numbers as numbers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .mapping import Coding, FactRule, Mapping, Source
from .outcome import problem

_INACTIVE = {"entered-in-error", "cancelled"}
_VALUE_KINDS = {
    "number": ("valueQuantity", "valueInteger", "valueDecimal"),
    "integer": ("valueInteger", "valueQuantity", "valueDecimal"),
    "boolean": ("valueBoolean",),
    "string": ("valueString", "valueCoding", "valueCodeableConcept"),
    "date": ("valueDate", "valueDateTime"),
    "codes": ("valueCoding", "valueCodeableConcept", "valueString"),
}


@dataclass
class Evidence:
    """The resources facts may come from, each with the FHIRPath it was found at."""

    observations: list[tuple[str, Any]] = field(default_factory=list)
    responses: list[tuple[str, Any]] = field(default_factory=list)
    supporting_info: list[tuple[str, Any]] = field(default_factory=list)
    documents: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class Facts:
    """What the evidence says: clinical facts, line details, documents, and where each came from."""

    clinical: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    documentation: list[str] = field(default_factory=list)
    where: dict[str, str] = field(default_factory=dict)


def read_facts(evidence: Evidence, mapping: Mapping) -> Facts:
    facts = Facts()
    for rule in mapping.facts.values():
        found = _first(rule, evidence)
        if found is None:
            continue
        location, value = found
        section, _, name = rule.path.rpartition(".")
        (facts.clinical if section == "clinical" else facts.details)[name] = value
        facts.where[rule.path] = location
    for location, coding in _document_codes(evidence):
        for doc in mapping.documentation_for(coding):
            if doc not in facts.documentation:
                facts.documentation.append(doc)
                facts.where.setdefault("documentation", location)
    return facts


def _first(rule: FactRule, evidence: Evidence) -> tuple[str, Any] | None:
    for source in rule.sources:
        found = _READERS[source.kind](rule, source, evidence)
        if found is not None:
            return found
    return None


def _observation(rule: FactRule, source: Source, evidence: Evidence) -> tuple[str, Any] | None:
    matches = [
        (location, obs)
        for location, obs in evidence.observations
        if obs.status not in _INACTIVE and _has_code(obs.code, source.codings)
    ]
    if not matches:
        return None
    if rule.type == "codes":
        tokens = [token for location, obs in matches for token in _value(rule, obs, location) or []]
        return matches[0][0], list(dict.fromkeys(tokens))
    location, latest = max(enumerate(matches), key=lambda pair: (_effective(pair[1][1]), pair[0]))[1]
    if source.kind == "observation_date":
        day = _effective(latest)
        return (f"{location}.effective", day.isoformat()) if day != dt.date.min else None
    value = _value(rule, latest, location)
    return None if value is None else (location, value)


def _supporting_info(rule: FactRule, source: Source, evidence: Evidence) -> tuple[str, Any] | None:
    for location, info in evidence.supporting_info:
        if not _has_code(info.code, source.codings):
            continue
        if rule.type == "date" and info.timingDate is not None:
            return f"{location}.timingDate", info.timingDate.isoformat()
        value = _value(rule, info, location)
        if value is not None:
            return location, value
    return None


def _question(rule: FactRule, source: Source, evidence: Evidence) -> tuple[str, Any] | None:
    for location, response in evidence.responses:
        if response.status in _INACTIVE:
            continue
        answers = list(_answers(response.item or [], source.link_id, f"{location}.item"))
        if not answers:
            continue
        if rule.type == "codes":
            tokens = [token for where, answer in answers for token in _value(rule, answer, where) or []]
            return answers[0][0], list(dict.fromkeys(tokens))
        if len(answers) > 1:
            raise problem(422, f"{rule.path} takes one answer, not {len(answers)}", answers[1][0])
        where, answer = answers[0]
        value = _value(rule, answer, where)
        if value is not None:
            return where, value
    return None


def _answers(items: list[Any], link_id: str | None, location: str) -> Any:
    for index, item in enumerate(items):
        here = f"{location}[{index}]"
        for number, answer in enumerate(item.answer or []):
            if item.linkId == link_id:
                yield f"{here}.answer[{number}]", answer
            yield from _answers(answer.item or [], link_id, f"{here}.answer[{number}].item")
        yield from _answers(item.item or [], link_id, f"{here}.item")


_READERS = {
    "observation": _observation,
    "observation_date": _observation,
    "supporting_info": _supporting_info,
    "question": _question,
}


def _value(rule: FactRule, holder: Any, location: str) -> Any:
    """The holder's value[x] as the fact's type, or a 422 naming the element sent."""
    sent = [name for name in _all_value_names(holder) if getattr(holder, name, None) is not None]
    if not sent:
        return None
    name = sent[0]
    allowed = _VALUE_KINDS[rule.type]
    if name not in allowed:
        raise problem(
            422,
            f"{rule.path} is a {rule.type}: send {' or '.join(allowed)}, not {name}",
            f"{location}.{name}",
        )
    value = getattr(holder, name)
    where = f"{location}.{name}"
    if name == "valueQuantity":
        value = value.value
        if value is None:
            raise problem(422, f"{rule.path} needs valueQuantity.value", where)
    if rule.type in ("number", "integer"):
        return _number(value, rule, where)
    if rule.type == "date":
        return day_of(value, rule.path, where).isoformat()
    if rule.type == "codes":
        return [value] if isinstance(value, str) else _codes(value)
    if rule.type == "string" and not isinstance(value, str):
        codes = _codes(value)
        if not codes:
            raise problem(422, f"{rule.path} needs a code", where)
        return codes[0]
    return value


def _number(value: Any, rule: FactRule, where: str) -> int | float:
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return int(number)
    if rule.type == "integer":
        raise problem(422, f"{rule.path} is a whole number, not {value}", where)
    return float(str(number))


def _all_value_names(holder: Any) -> list[str]:
    return [
        name
        for name in type(holder).model_fields
        if name.startswith("value") and name != "value" and "__" not in name
    ]


def _codes(concept: Any) -> list[str]:
    codings = (
        [concept] if hasattr(concept, "code") and not hasattr(concept, "coding") else concept.coding or []
    )
    return [coding.code for coding in codings if coding.code]


def _has_code(concept: Any, codings: tuple[Coding, ...]) -> bool:
    if concept is None:
        return False
    return any(Coding(c.system or "", c.code or "") in codings for c in concept.coding or [])


def _effective(observation: Any) -> dt.date:
    moment = observation.effectiveDateTime or (
        observation.effectivePeriod.start if observation.effectivePeriod else None
    )
    if moment is None:
        return dt.date.min
    return day_of(moment, "the effective date", "Observation.effective")


def day_of(value: Any, what: str, where: str) -> dt.date:
    """A FHIR date or dateTime as a calendar day; a partial date (year or month) is refused."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise problem(422, f"{what} needs a full date (YYYY-MM-DD), not {value}", where) from None


def _document_codes(evidence: Evidence) -> Any:
    for location, info in evidence.supporting_info:
        for coding in (info.code.coding or []) if info.code else []:
            yield location, Coding(coding.system or "", coding.code or "")
    for location, document in evidence.documents:
        if document.status == "entered-in-error" or document.type is None:
            continue
        for coding in document.type.coding or []:
            yield f"{location}.type", Coding(coding.system or "", coding.code or "")
