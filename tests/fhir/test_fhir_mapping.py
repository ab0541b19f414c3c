"""The FHIR fact mapping: it covers what the bundled policies read, and a broken file names its line."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from policy_engine.errors import PolicyInvalid
from policy_engine.fhir.mapping import DEFAULT_PATH, load_mapping
from policy_engine.loader import load_policies

POLICIES = Path(__file__).resolve().parents[2] / "policies"
GOOD = textwrap.dedent(
    """\
    systems:
      loinc: http://loinc.org
      cpt: http://www.ama-assn.org/go/cpt
      icd: http://hl7.org/fhir/sid/icd-10-cm
    services:
      code_systems: [cpt]
      place_of_service_systems: [cpt]
    diagnoses:
      code_systems: [icd]
    documentation:
      psg-report: [loinc|1-8]
    facts:
      clinical.ahi: {type: number, observation: [loinc|69990-0], question: ahi}
    """
)


def policy_texts() -> str:
    return "\n".join(path.read_text() for path in POLICIES.glob("*/v*.yaml"))


def test_every_fact_the_bundled_policies_read_is_mapped():
    mapping = load_mapping()
    read = set(re.findall(r"\b((?:clinical|service\.details)\.[a-z_0-9]+)", policy_texts()))
    assert read and read <= set(mapping.facts), sorted(read - set(mapping.facts))


def test_every_document_the_bundled_policies_ask_for_is_mapped():
    mapping = load_mapping()
    documents = set()

    def walk(node):
        if node.kind == "document":
            documents.add(node.id)
        for child in node.children():
            walk(child)

    for policy in load_policies([POLICIES]):
        for node in policy.documentation:
            walk(node)
    assert documents and documents <= set(mapping.documentation), sorted(
        documents - set(mapping.documentation)
    )


def test_a_source_order_is_kept():
    rule = load_mapping(DEFAULT_PATH).facts["clinical.ahi"]
    assert [source.kind for source in rule.sources] == ["observation", "supporting_info", "question"]


@pytest.mark.parametrize(
    ("change", "line", "field", "says"),
    [
        (("type: number", "type: numeric"), 13, "facts.clinical.ahi.type", "must be one of"),
        (("question: ahi", "questionnaire: ahi"), 13, "facts.clinical.ahi.questionnaire", "unknown source"),
        (
            ("[loinc|69990-0]", "[snomed|1]"),
            13,
            "facts.clinical.ahi.observation[0]",
            "not a name under systems",
        ),
        (("[loinc|1-8]", "[loinc]"), 11, "documentation.psg-report[0]", "is not 'system|code'"),
        (("clinical.ahi:", "member.ahi:"), 13, "facts.member.ahi", "clinical.<name>"),
        (("code_systems: [icd]", "code_systems: []"), 9, "diagnoses.code_systems", "required"),
        (("loinc: http://loinc.org", "loinc: loinc.org"), 2, "systems.loinc", "URI"),
        (("facts:", "fact:"), 12, "fact", "unknown section"),
    ],
)
def test_a_broken_mapping_names_the_line_and_field(tmp_path, change, line, field, says):
    path = tmp_path / "mapping.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(PolicyInvalid) as raised:
        load_mapping(path)
    problems = raised.value.problems
    assert any(
        (p.file, p.line, p.field) == ("mapping.yaml", line, field) and says in p.message for p in problems
    ), [str(p) for p in problems]


def test_the_good_example_loads(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text(GOOD)
    mapping = load_mapping(path)
    assert (
        mapping.where("clinical.ahi")
        == "Observation http://loinc.org|69990-0; QuestionnaireResponse item 'ahi'"
    )


def test_the_service_does_not_start_with_a_broken_mapping(tmp_path):
    from policy_engine.app import create_app

    path = tmp_path / "mapping.yaml"
    path.write_text("systems: [")
    with pytest.raises(PolicyInvalid, match=r"mapping.yaml:\d+: "):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", "FHIR_MAPPING": str(path)})
