"""A policy far past the engine's per-fact and per-ruleset limits still compiles and evaluates."""

from __future__ import annotations

import json

import yaml

from policy_engine.engine.evaluator import Evaluator
from policy_engine.engine.rules import RULES_PER_SET
from policy_engine.loader import parse_policy_text

CRITERIA = 200


def large_policy(criteria: int = CRITERIA) -> str:
    data = {
        "id": "large",
        "version": 1,
        "title": "Large policy",
        "effective": "2020-01-01",
        "owner": "tests",
        "summary": "Many criteria.",
        "references": [{"id": "ref", "title": "Reference"}],
        "applies_to": {"services": ["E0601"]},
        "criteria": {
            "all": [
                {
                    "id": f"c{i}",
                    "any": [
                        {"fact": f"clinical.v{i}", "gte": i},
                        {"fact": "diagnoses", "any_prefix": [f"Z{i:02d}"]},
                    ],
                }
                for i in range(criteria)
            ]
        },
    }
    return yaml.safe_dump(data, sort_keys=False)


def request(values: dict) -> dict:
    return {
        "services": [{"code": "E0601", "date_of_service": "2025-01-01"}],
        "clinical": values,
        "diagnoses": [],
    }


def test_two_hundred_criteria_compile_into_several_rulesets_and_evaluate() -> None:
    evaluator = Evaluator([parse_policy_text(large_policy(), "large/v1.yaml")])
    [policy] = evaluator.library
    compiled = evaluator.host.layout(policy)
    assert len(compiled.numbers) == 2 * CRITERIA
    assert all(len(json.loads(text)) <= RULES_PER_SET for text in compiled.texts)

    everything = evaluator.evaluate(request({f"v{i}": i for i in range(CRITERIA)}))
    assert everything.lines[0].outcome == "approved"

    one_short = evaluator.evaluate(request({**{f"v{i}": i for i in range(CRITERIA)}, "v150": 149}))
    line = one_short.lines[0]
    assert (line.outcome, line.reason) == ("pended", "clinical_review")
    assert [outcome.node.id for _, outcome in line.failed] == [
        "clinical.v150-gte-150",
        "diagnoses-any_prefix-Z150",
    ]

    half_known = evaluator.evaluate(request({f"v{i}": i for i in range(0, CRITERIA, 2)}))
    assert half_known.lines[0].missing == [f"clinical.v{i}" for i in range(1, CRITERIA, 2)]
