"""The declared map from the policies' fact paths to where FHIR carries them, checked at load.

The file is data, not code, so a plan can add a LOINC code or a questionnaire item for a
fact without touching the adapters; a mistake in it stops the service at start with
``file:line: field: message``, as a bad policy file does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PolicyInvalid, Problem
from ..yamlsource import SourceMap, YamlSyntaxError, format_path, load

DEFAULT_PATH = Path(__file__).with_name("mapping.yaml")
TYPES = ("number", "integer", "boolean", "string", "date", "codes")
SOURCES = ("observation", "observation_date", "supporting_info", "question")
FACT_PATH = re.compile(r"^(clinical|service\.details)\.[a-z][a-z0-9_]*$")
_TOP = {"systems", "services", "diagnoses", "documentation", "facts"}


@dataclass(frozen=True)
class Coding:
    """A system and a code, as the mapping names them and FHIR carries them."""

    system: str
    code: str


@dataclass(frozen=True)
class Source:
    """One place a fact may be found: a kind of source and what identifies it there."""

    kind: str
    codings: tuple[Coding, ...] = ()
    link_id: str | None = None


@dataclass(frozen=True)
class FactRule:
    path: str
    type: str
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Mapping:
    """The whole map: code systems, documentation codes and fact rules."""

    service_systems: frozenset[str]
    place_of_service_systems: frozenset[str]
    diagnosis_systems: frozenset[str]
    documentation: dict[str, tuple[Coding, ...]]
    facts: dict[str, FactRule]
    systems: dict[str, str] = field(default_factory=dict)

    def documentation_for(self, coding: Coding) -> list[str]:
        """The documentation ids a document code stands for."""
        return [doc for doc, codings in self.documentation.items() if coding in codings]

    def where(self, path: str) -> str:
        """Where a submitter would send a fact or document, in words, for pended lines."""
        if path in self.documentation:
            return "a document coded " + " or ".join(_show(c) for c in self.documentation[path])
        rule = self.facts.get(path)
        if rule is None:
            head = path.split("[")[0]
            return _STANDARD.get(head) or _STANDARD.get(head.rsplit(".", 1)[0], "not mapped from FHIR")
        places = []
        for source in rule.sources:
            if source.kind == "question":
                places.append(f"QuestionnaireResponse item '{source.link_id}'")
            else:
                codes = " or ".join(_show(c) for c in source.codings)
                places.append(f"{_SOURCE_WORDS[source.kind]} {codes}")
        return "; ".join(places)


# Facts every request carries, read from the core resources rather than through the map.
_STANDARD = {
    "member.birth_date": "Patient.birthDate",
    "member.sex": "Patient.gender",
    "member.id": "Coverage.subscriberId",
    "member.plan": "Coverage.class (plan)",
    "diagnoses": "Claim.diagnosis or Condition.code (ICD-10-CM)",
    "service": "Claim.item (CPT or HCPCS, servicedDate, quantity, modifier, location)",
    "services": "Claim.item",
    "history": "Procedure (completed, CPT or HCPCS, performed date)",
}

_SOURCE_WORDS = {
    "observation": "Observation",
    "observation_date": "the effective date of Observation",
    "supporting_info": "Claim.supportingInfo",
}


def _show(coding: Coding) -> str:
    return f"{coding.system}|{coding.code}"


def load_mapping(path: str | Path = DEFAULT_PATH) -> Mapping:
    """Read and check a mapping file; ``PolicyInvalid`` lists every problem with its line."""
    name = Path(path).name
    try:
        data, lines = load(Path(path).read_text(encoding="utf-8"))
    except YamlSyntaxError as error:
        raise PolicyInvalid([Problem(name, error.line, "", str(error))]) from None
    reader = _Reader(name, lines)
    mapping = reader.mapping(data)
    if reader.problems:
        raise PolicyInvalid(reader.problems)
    return mapping


class _Reader:
    """Builds a ``Mapping`` while collecting every problem, not only the first."""

    def __init__(self, file: str, lines: SourceMap) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []
        self.systems: dict[str, str] = {}

    def problem(self, path: tuple[Any, ...], message: str) -> None:
        self.problems.append(Problem(self.file, self.lines.line_of(path), format_path(path), message))

    def mapping(self, data: Any) -> Mapping:
        if not isinstance(data, dict):
            self.problem((), "the mapping file must be a mapping with " + ", ".join(sorted(_TOP)))
            data = {}
        for key in sorted(set(data) - _TOP):
            self.problem((key,), f"unknown section; the sections are {', '.join(sorted(_TOP))}")
        self.systems = self.system_names(data.get("systems"))
        services = self.section(data, "services", {"code_systems", "place_of_service_systems"})
        diagnoses = self.section(data, "diagnoses", {"code_systems"})
        documentation = {
            str(doc): self.codings(("documentation", doc), codes)
            for doc, codes in self.dictionary(data, "documentation").items()
        }
        facts = {
            str(path): self.fact(str(path), rule) for path, rule in self.dictionary(data, "facts").items()
        }
        return Mapping(
            service_systems=self.system_list(("services", "code_systems"), services.get("code_systems")),
            place_of_service_systems=self.system_list(
                ("services", "place_of_service_systems"), services.get("place_of_service_systems")
            ),
            diagnosis_systems=self.system_list(("diagnoses", "code_systems"), diagnoses.get("code_systems")),
            documentation=documentation,
            facts=facts,
            systems=self.systems,
        )

    def dictionary(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        value = data.get(key)
        if not isinstance(value, dict) or not value:
            self.problem((key,), "required: a mapping with at least one entry")
            return {}
        return value

    def section(self, data: dict[str, Any], key: str, allowed: set[str]) -> dict[str, Any]:
        value = self.dictionary(data, key)
        for name in sorted(set(value) - allowed):
            self.problem((key, name), f"unknown key; allowed: {', '.join(sorted(allowed))}")
        return value

    def system_names(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not value:
            self.problem(("systems",), "required: short names for code system URIs")
            return {}
        names = {}
        for name, uri in value.items():
            if not isinstance(uri, str) or not re.match(r"^(https?://|urn:)\S+$", uri):
                self.problem(("systems", name), "must be a code system URI (http://, https:// or urn:)")
            else:
                names[str(name)] = uri
        return names

    def system_list(self, path: tuple[Any, ...], value: Any) -> frozenset[str]:
        if not isinstance(value, list) or not value:
            self.problem(path, "required: a list of system names")
            return frozenset()
        found = set()
        for index, name in enumerate(value):
            if name not in self.systems:
                self.problem((*path, index), f"'{name}' is not a name under systems")
            else:
                found.add(self.systems[name])
        return frozenset(found)

    def codings(self, path: tuple[Any, ...], value: Any) -> tuple[Coding, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            self.problem(path, "must be a code 'system|code' or a list of them")
            return ()
        found = []
        for index, text in enumerate(value):
            system, bar, code = str(text).partition("|")
            if not bar or not code:
                self.problem((*path, index), f"'{text}' is not 'system|code'")
            elif system not in self.systems:
                self.problem((*path, index), f"'{system}' is not a name under systems")
            else:
                found.append(Coding(self.systems[system], code))
        return tuple(found)

    def fact(self, path: str, rule: Any) -> FactRule:
        where = ("facts", path)
        if not FACT_PATH.match(path):
            self.problem(where, "a mapped fact is clinical.<name> or service.details.<name>")
        if not isinstance(rule, dict):
            self.problem(where, "must be a mapping with type and at least one source")
            return FactRule(path, "string", ())
        kind = rule.get("type")
        if kind not in TYPES:
            self.problem((*where, "type"), f"must be one of {', '.join(TYPES)}")
        for key in sorted(set(rule) - {"type", *SOURCES}):
            self.problem((*where, key), f"unknown source; the sources are {', '.join(SOURCES)}")
        sources = []
        for key in rule:
            if key not in SOURCES:
                continue
            if key == "question":
                if not isinstance(rule[key], str) or not rule[key]:
                    self.problem((*where, key), "must be a questionnaire item linkId")
                else:
                    sources.append(Source("question", link_id=rule[key]))
                continue
            if key == "observation_date" and kind != "date":
                self.problem((*where, key), "observation_date only carries facts of type date")
            sources.append(Source(key, codings=self.codings((*where, key), rule[key])))
        if not sources:
            self.problem(where, f"needs at least one source: {', '.join(SOURCES)}")
        return FactRule(path, kind if kind in TYPES else "string", tuple(sources))
