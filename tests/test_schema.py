"""The JSON Schema for policy files: what it accepts and what it rejects."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from jsonschema.exceptions import ValidationError

from policy_engine.values import to_json

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "policy.schema.json"

MINIMAL_POLICY = """
id: cpap-osa
version: 1
title: CPAP therapy for obstructive sleep apnea
effective: 2024-01-01
owner: Sleep medicine policy committee
summary: CPAP is covered for adults with obstructive sleep apnea.
references:
  - id: ncd-240.4
    title: CMS NCD 240.4, Continuous positive airway pressure therapy for OSA
    url: https://www.cms.gov/medicare-coverage-database/view/ncd.aspx?ncdid=226
applies_to:
  services: [E0601]
"""

FULL_POLICY = """
id: cpap-osa
version: 3
title: CPAP therapy for obstructive sleep apnea
effective: 2024-01-01
expires: null
owner: Sleep medicine policy committee
summary: Short plain-language statement of the policy.
references:
  - id: ncd-240.4
    title: CMS NCD 240.4, Continuous positive airway pressure therapy for OSA
    url: https://www.cms.gov/medicare-coverage-database/view/ncd.aspx?ncdid=226
applies_to:
  services: [E0601]
derive:
  eval_to_test_days: days_between(clinical.evaluation_date, clinical.sleep_test_date)
coverage:
  - id: adult
    text: Member is 18 or older on the date of service
    fact: member.age
    gte: 18
  - id: once-per-5y
    text: One device per 5 years
    frequency: {service: [E0601], max: 1, per: 5y}
documentation:
  - id: psg-report
    text: Polysomnography or home sleep test report
criteria:
  all:
    - id: osa-dx
      text: Diagnosis of obstructive sleep apnea
      fact: diagnoses
      any_prefix: [G47.33]
      cite: ncd-240.4 B
    - id: severity
      text: AHI >= 15, or AHI 5-14 with a qualifying condition
      any:
        - id: ahi-15
          fact: clinical.ahi
          gte: 15
        - id: ahi-5-symptoms
          all:
            - {id: ahi-5, fact: clinical.ahi, gte: 5}
            - id: comorbid
              fact: clinical.conditions
              includes_any: [excessive_daytime_sleepiness, hypertension, stroke]
"""


def parse(text: str) -> Any:
    return to_json(yaml.safe_load(text))  # YAML dates as ISO strings, as the loader does


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture
def minimal_policy() -> dict[str, Any]:
    return parse(MINIMAL_POLICY)


def flatten(errors: list[ValidationError]) -> list[ValidationError]:
    """Every error of the tree, including those of oneOf / anyOf branches."""
    found, stack = [], list(errors)
    while stack:
        error = stack.pop()
        found.append(error)
        stack.extend(error.context or [])
    return found


def errors_of(validator: jsonschema.Draft202012Validator, document: Any) -> list[ValidationError]:
    return list(validator.iter_errors(document))


def with_part(policy: dict[str, Any], where: str, snippet: str) -> dict[str, Any]:
    """The policy with one part replaced: a criteria node, the documentation list or top keys."""
    document = copy.deepcopy(policy)
    value = parse(snippet)
    if where == "top":
        document.update(value)
    else:
        document[where] = value
    return document


# --------------------------------------------------------------------------- the schema itself


def test_schema_identity(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://policy-engine.example/schemas/policy.schema.json"
    assert schema["title"]
    assert schema["description"]


def test_named_definitions(schema: dict[str, Any]) -> None:
    expected = {
        "node", "leafNode", "groupNodes", "notNode", "nOfNode", "refNode", "quantifierNode",
        "frequencyNode", "docNode", "documentNode", "operand", "factPath", "code", "nodeId", "per",
    }  # fmt: skip
    assert expected <= set(schema["$defs"])


def walk(schema: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        yield where, schema
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    yield from walk(sub, f"{where}/{key}/{name}")
            elif key not in ("enum", "const", "required"):
                yield from walk(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from walk(item, f"{where}/{index}")


def test_every_definition_and_property_is_described(schema: dict[str, Any]) -> None:
    missing = []
    for where, sub in walk(schema):
        for key in ("properties", "$defs"):
            missing += [
                f"{where}/{key}/{name}"
                for name, item in sub.get(key, {}).items()
                if not item.get("description")
            ]
    assert missing == []


def test_every_mapping_is_closed(schema: dict[str, Any]) -> None:
    """Closed itself, or a choice of forms (``oneOf``) each of which is closed."""
    open_mappings = [
        where
        for where, sub in walk(schema)
        if "properties" in sub
        and "oneOf" not in sub
        and sub.get("additionalProperties") is not False
        and sub.get("unevaluatedProperties") is not False
    ]
    assert open_mappings == []


# --------------------------------------------------------------------------- whole policies


def test_minimal_policy_is_valid(validator, minimal_policy) -> None:
    assert errors_of(validator, minimal_policy) == []


def test_full_policy_is_valid(validator) -> None:
    assert errors_of(validator, parse(FULL_POLICY)) == []


def test_yaml_dates_become_iso_strings(minimal_policy) -> None:
    assert minimal_policy["effective"] == "2024-01-01"


# --------------------------------------------------------------------------- valid snippets

VALID_NODES = {
    "leaf eq": "{fact: service.code, eq: E0471}",
    "leaf ne": "{fact: member.sex, ne: F}",
    "leaf eq number": "{fact: service.quantity, eq: 1}",
    "leaf eq boolean": "{fact: clinical.face_to_face, eq: true}",
    "leaf gt": "{fact: clinical.ahi, gt: 14.5}",
    "leaf gte": "{fact: member.age, gte: 18}",
    "leaf lt date": "{fact: clinical.sleep_test_date, lt: 2024-06-01}",
    "leaf lte": "{fact: derived.eval_to_test_days, lte: 30}",
    "leaf between numbers": "{fact: clinical.ahi, between: [5, 14]}",
    "leaf between dates": "{fact: service.date_of_service, between: [2024-01-01, 2024-12-31]}",
    "leaf between facts": (
        "{fact: clinical.test_date, between: [{fact: clinical.evaluation_date}, "
        "{fact: service.date_of_service}]}"
    ),
    "leaf in": "{fact: service.place_of_service, in: ['11', '12']}",
    "leaf in code range": "{fact: service.code, in: ['97110-97150', G0283]}",
    "leaf not_in": "{fact: primary_diagnosis, not_in: [Z00.00]}",
    "leaf any_prefix": "{fact: diagnoses, any_prefix: [G47.33, G47.3]}",
    "leaf includes_any": "{fact: clinical.conditions, includes_any: [hypertension, stroke]}",
    "leaf includes_all": "{fact: service.modifiers, includes_all: [KX, RR]}",
    "leaf exists": "{fact: clinical.ahi, exists: true}",
    "leaf not exists": "{fact: clinical.prior_device, exists: false}",
    "leaf if_absent": "{fact: clinical.pao2, lte: 55, if_absent: not_met}",
    "leaf indexed path": "{fact: 'clinical.blood_gases[0].pao2', lte: 55}",
    "leaf eq fact": "{fact: clinical.prescriber_npi, eq: {fact: provider.npi}}",
    "leaf lt fact": "{fact: clinical.evaluation_date, lt: {fact: clinical.sleep_test_date}}",
    "leaf with common keys": """
        id: ahi-15
        text: AHI of 15 or more
        cite: ncd-240.4 B
        applies_when: {fact: member.age, gte: 18}
        fact: clinical.ahi
        gte: 15
    """,
    "all": "{all: [{fact: clinical.ahi, gte: 5}, {fact: member.age, gte: 18}]}",
    "any": "{id: severity, text: Severe, any: [{fact: clinical.ahi, gte: 15}]}",
    "n_of": """
        id: two-of-three
        n_of:
          n: 2
          of:
            - {fact: clinical.ahi, gte: 15}
            - {fact: clinical.odi, gte: 10}
            - {fact: clinical.sleepiness, eq: true}
    """,
    "not": ("{not: {all: [{fact: service.code, eq: E0471}, {fact: diagnoses, any_prefix: [G47.33]}]}}"),
    "ref": "{ref: osa-dx}",
    "ref other policy": "{id: reused, ref: {policy: oxygen-home, node: blood-gas}}",
    "some": "{some: history, where: {fact: item.code, in: [E0601]}}",
    "some with as and if_absent": (
        "{some: history, as: h, where: {fact: h.code, eq: E0601}, if_absent: not_met}"
    ),
    "every": "{every: services, where: {fact: item.code, any_prefix: [E06]}}",
    "nested quantifiers": """
        every: clinical.blood_gases
        as: gas
        where:
          some: gas.readings
          where: {fact: item.value, lte: 88}
    """,
    "frequency days": "{frequency: {service: [E0601], max: 1, per: 90d}}",
    "frequency months": "{frequency: {service: ['97110-97150'], max: 12, per: 12m}}",
    "frequency years": "{id: once, frequency: {service: [E0601, E0470], max: 1, per: 5y}}",
    "frequency calendar year": "{frequency: {service: [G0121], max: 1, per: calendar_year}}",
    "frequency full months": (
        "{frequency: {service: [G0105], max: 1, per: {full_months: 23}}, if_absent: met}"
    ),
    "guarded group": """
        applies_when: {fact: service.code, eq: E0470}
        all:
          - {id: e0601-tried, fact: clinical.e0601_tried, eq: true}
    """,
    "deeply nested groups": """
        all:
          - any:
              - n_of:
                  n: 1
                  of:
                    - not: {fact: service.code, eq: E0471}
                    - ref: osa-dx
              - some: history
                where:
                  all:
                    - {fact: item.code, eq: E0601}
                    - frequency: {service: [E0601], max: 1, per: 5y}
    """,
}

VALID_DOCUMENTATION = {
    "documents": """
        - {id: psg-report, text: Polysomnography report}
        - id: face-to-face
          text: Face-to-face evaluation note
          cite: ncd-240.4 A
          applies_when: {fact: service.code, eq: E0601}
    """,
    "any of documents": """
        - id: sleep-test
          text: PSG or HST report
          any:
            - {id: psg-report, text: Polysomnography report}
            - {id: hst-report, text: Home sleep test report}
    """,
    "nested documentation groups": """
        - all:
            - {id: prescription, text: Signed prescription}
            - n_of:
                n: 1
                of:
                  - {id: psg-report, text: Polysomnography report}
                  - not: {id: waiver, text: Waiver}
                  - ref: hst-report
    """,
    "ref to a document": "[{ref: psg-report}]",
}

VALID_TOP = {
    "expires date": "expires: 2025-12-31",
    "expires null": "expires: null",
    "reference without url": "references: [{id: LCD-L33718, title: Positive airway pressure}]",
    "service ranges": "applies_to: {services: ['97110-97150', E0601, '72148']}",
    "applies_to when": ("applies_to: {services: [J1817], when: {fact: service.details.drug, eq: insulin}}"),
    "derive": """
        derive:
          eval_to_test_days: days_between(clinical.evaluation_date, clinical.sleep_test_date)
          adherent: derived.nights_4h >= 21 and derived.nights_4h * 100 / 30 >= 70
    """,
    "coverage list": "coverage: [{id: adult, fact: member.age, gte: 18}, {ref: adult}]",
    "empty coverage": "coverage: []",
}


@pytest.mark.parametrize("snippet", VALID_NODES.values(), ids=VALID_NODES.keys())
def test_valid_node(validator, minimal_policy, snippet: str) -> None:
    for where in ("criteria", "coverage"):
        part = snippet if where == "criteria" else f"[{json.dumps(parse(snippet))}]"
        assert errors_of(validator, with_part(minimal_policy, where, part)) == []


@pytest.mark.parametrize("snippet", VALID_DOCUMENTATION.values(), ids=VALID_DOCUMENTATION.keys())
def test_valid_documentation(validator, minimal_policy, snippet: str) -> None:
    assert errors_of(validator, with_part(minimal_policy, "documentation", snippet)) == []


@pytest.mark.parametrize("snippet", VALID_TOP.values(), ids=VALID_TOP.keys())
def test_valid_top_level(validator, minimal_policy, snippet: str) -> None:
    assert errors_of(validator, with_part(minimal_policy, "top", snippet)) == []


# --------------------------------------------------------------------------- invalid snippets

# (where, snippet, a message some error of the tree must contain)
INVALID = {
    "unknown operator gtee": (
        "criteria",
        "{fact: clinical.ahi, gtee: 15}",
        "'gtee' was unexpected",
    ),
    "two operators on one leaf": (
        "criteria",
        "{fact: clinical.ahi, gte: 5, lte: 14}",
        "is valid under each of",
    ),
    "leaf without operator": ("criteria", "{fact: clinical.ahi}", "is not valid under any"),
    "if_absent on a group": (
        "criteria",
        "{all: [{fact: clinical.ahi, gte: 15}], if_absent: not_met}",
        "'if_absent' was unexpected",
    ),
    "if_absent on not": (
        "criteria",
        "{not: {fact: clinical.ahi, gte: 15}, if_absent: met}",
        "'if_absent' was unexpected",
    ),
    "bad if_absent value": (
        "criteria",
        "{fact: clinical.ahi, gte: 15, if_absent: unknown}",
        "'unknown' is not one of ['met', 'not_met']",
    ),
    "document node outside documentation": (
        "criteria",
        "{all: [{id: psg-report, text: Polysomnography report}]}",
        "'fact' is a required property",
    ),
    "document node in coverage": (
        "coverage",
        "[{id: psg-report, text: Polysomnography report}]",
        "is not valid under any",
    ),
    "criterion inside documentation": (
        "documentation",
        "[{fact: clinical.ahi, gte: 15}]",
        "'fact', 'gte' were unexpected",
    ),
    "document without text": ("documentation", "[{id: psg-report}]", "'text' is a required"),
    "two forms on one node": (
        "criteria",
        "{all: [{fact: clinical.ahi, gte: 15}], any: [{fact: clinical.ahi, gte: 5}]}",
        "is valid under each of",
    ),
    "leaf and group": (
        "criteria",
        "{fact: clinical.ahi, gte: 15, all: [{fact: member.age, gte: 18}]}",
        "'all' was unexpected",
    ),
    "empty all": ("criteria", "{all: []}", "should be non-empty"),
    "n_of without n": ("criteria", "{n_of: {of: [{ref: a}, {ref: b}]}}", "'n' is a required"),
    "n_of with n 0": ("criteria", "{n_of: {n: 0, of: [{ref: a}]}}", "less than the minimum of 1"),
    "between with 3 items": (
        "criteria",
        "{fact: clinical.ahi, between: [5, 10, 14]}",
        "is too long",
    ),
    "between with 1 item": ("criteria", "{fact: clinical.ahi, between: [5]}", "is too short"),
    "gte with a string": (
        "criteria",
        "{fact: clinical.ahi, gte: fifteen}",
        "'fifteen' does not match",
    ),
    "gte with an impossible date": (
        "criteria",
        "{fact: clinical.test_date, gte: '2024-02-30'}",
        "is not a 'date'",
    ),
    "eq with a list": ("criteria", "{fact: service.code, eq: [E0601]}", "is not valid under any"),
    "eq with null": ("criteria", "{fact: service.code, eq: null}", "is not valid under any"),
    "fact operand typo": (
        "criteria",
        "{fact: clinical.a, lt: {fakt: clinical.b}}",
        "'fakt' was unexpected",
    ),
    "empty in": ("criteria", "{fact: service.code, in: []}", "should be non-empty"),
    "in with a scalar": ("criteria", "{fact: service.code, in: E0601}", "is not of type 'array'"),
    "exists with a string": ("criteria", "{fact: clinical.ahi, exists: 'yes'}", "not of type"),
    "any_prefix with a number": (
        "criteria",
        "{fact: diagnoses, any_prefix: [47]}",
        "47 is not of type 'string'",
    ),
    "bad fact path": ("criteria", "{fact: Clinical.AHI, gte: 15}", "does not match"),
    "bad node id": (
        "criteria",
        "{id: 'ahi 15', fact: clinical.ahi, gte: 15}",
        "'ahi 15' does not match",
    ),
    "quantifier without where": (
        "criteria",
        "{some: history}",
        "'where' is a required property",
    ),
    "quantifier with some and every": (
        "criteria",
        "{some: history, every: history, where: {fact: item.code, eq: E0601}}",
        "is valid under each of",
    ),
    "bad per 5w": (
        "criteria",
        "{frequency: {service: [E0601], max: 1, per: 5w}}",
        "'5w' does not match",
    ),
    "per 0d": ("criteria", "{frequency: {service: [E0601], max: 1, per: 0d}}", "does not match"),
    "full_months 0": (
        "criteria",
        "{frequency: {service: [E0601], max: 1, per: {full_months: 0}}}",
        "less than the minimum of 1",
    ),
    "frequency without max": (
        "criteria",
        "{frequency: {service: [E0601], per: 5y}}",
        "'max' is a required property",
    ),
    "frequency with integer code": (
        "criteria",
        "{frequency: {service: [97110], max: 1, per: 1d}}",
        "97110 is not of type 'string'",
    ),
    "ref to other policy without node": (
        "criteria",
        "{ref: {policy: oxygen-home}}",
        "'node' is a required property",
    ),
    "unquoted integer code in applies_to.services": (
        "top",
        "applies_to: {services: [33249]}",
        "33249 is not of type 'string'",
    ),
    "empty services": ("top", "applies_to: {services: []}", "should be non-empty"),
    "code with two hyphens": ("top", "applies_to: {services: [A-B-C]}", "does not match"),
    "applies_to typo": (
        "top",
        "applies_to: {services: [E0601], whenever: {ref: x}}",
        "'whenever' was unexpected",
    ),
    "version 0": ("top", "version: 0", "0 is less than the minimum of 1"),
    "version as a string": ("top", "version: 'v1'", "'v1' is not of type 'integer'"),
    "bad policy id": ("top", "id: CPAP_OSA", "'CPAP_OSA' does not match"),
    "effective not a date": ("top", "effective: soon", "'soon' does not match"),
    "effective with a time": ("top", "effective: 2024-01-01 10:00:00", "does not match"),
    "no references": ("top", "references: []", "should be non-empty"),
    "reference without title": ("top", "references: [{id: ncd-240.4}]", "'title' is a required"),
    "unknown top-level key": ("top", "critera: {ref: x}", "'critera' was unexpected"),
    "bad derive name": ("top", "derive: {Days: '1'}", "'Days' does not match"),
    "empty derive expression": ("top", "derive: {days: ''}", "should be non-empty"),
    "derive number": ("top", "derive: {days: 30}", "30 is not of type 'string'"),
    "criteria as a list": ("top", "criteria: [{ref: x}]", "is not of type 'object'"),
}


@pytest.mark.parametrize(("where", "snippet", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid(validator, minimal_policy, where: str, snippet: str, message: str) -> None:
    errors = errors_of(validator, with_part(minimal_policy, where, snippet))
    assert errors, "expected the schema to reject the snippet"
    messages = [error.message for error in flatten(errors)]
    assert any(message in text for text in messages), messages


REQUIRED_TOP = ["id", "version", "title", "effective", "owner", "summary", "references"]


@pytest.mark.parametrize("key", [*REQUIRED_TOP, "applies_to"])
def test_missing_required_top_level_key(validator, minimal_policy, key: str) -> None:
    del minimal_policy[key]
    messages = [error.message for error in errors_of(validator, minimal_policy)]
    assert messages == [f"'{key}' is a required property"]


def test_wrong_leaf_is_reported_on_its_own_branch(schema, validator, minimal_policy) -> None:
    """Inside the node's oneOf, the leaf branch (discriminated by `fact`) names the typo."""
    document = with_part(minimal_policy, "criteria", "{all: [{fact: clinical.ahi, gtee: 15}]}")
    leaf_errors = [
        error
        for error in flatten(errors_of(validator, document))
        if error.schema is schema["$defs"]["leafNode"]
    ]
    typo = [error for error in leaf_errors if "'gtee' was unexpected" in error.message]
    assert [tuple(error.absolute_path) for error in typo] == [("criteria", "all", 0)]


def test_deep_error_is_the_best_match(validator, minimal_policy) -> None:
    document = with_part(minimal_policy, "criteria", "{fact: clinical.ahi, between: [1, 2, 3]}")
    best = jsonschema.exceptions.best_match(errors_of(validator, document))
    assert list(best.absolute_path) == ["criteria", "between"]
    assert "is too long" in best.message
