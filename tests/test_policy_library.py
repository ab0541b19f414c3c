"""Every bundled policy validates and reproduces the cases of its tests.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine.engine.evaluator import Evaluator
from policy_engine.loader import load_policies
from policy_engine.testing import compare, find_test_files, load_cases
from policy_engine.values import to_json

LIBRARY = Path(__file__).resolve().parent.parent / "policies"
CASES = [
    pytest.param(path.parent.name, case, id=f"{path.parent.name}:{line}:{case['name']}")
    for path in find_test_files([LIBRARY])
    for case, line in load_cases(path)
]


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    return Evaluator(load_policies([LIBRARY]))


def test_library_has_six_policies_two_of_them_versioned() -> None:
    policies = load_policies([LIBRARY])
    versions: dict[str, int] = {}
    for policy in policies:
        versions[policy.id] = versions.get(policy.id, 0) + 1
    assert len(versions) >= 6
    assert sum(1 for count in versions.values() if count >= 2) >= 2


@pytest.mark.parametrize(("policy_id", "case"), CASES)
def test_policy_case(evaluator: Evaluator, policy_id: str, case: dict) -> None:
    from policy_engine.engine.trace import decision_dict

    decision = decision_dict(evaluator.evaluate(to_json(case["request"])))
    assert compare(policy_id, case["expect"], decision) == []
