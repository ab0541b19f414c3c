"""Every bundled policy validates and reproduces the cases of its tests.yaml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from policy_engine.engine.evaluator import Evaluator
from policy_engine.engine.library import PolicyLibrary, ServiceIndex
from policy_engine.loader import load_policies
from policy_engine.testing import compare, find_test_files, load_cases
from policy_engine.values import normalize_code, to_json

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


def test_the_service_index_finds_what_the_library_scan_finds() -> None:
    library = PolicyLibrary(load_policies([LIBRARY]))
    index = ServiceIndex(library, lambda policy: policy)
    codes = {code for policy in library for code in policy.services.codes}
    codes |= {"67903", "67908", "67909", "64492", "K0801", "K0812", "K0829", "E0602", "x", "6790"}
    days = [dt.date(year, month, 1) for year in range(2018, 2028) for month in (1, 6, 12)]
    for code in sorted(codes):
        for day in [*days, None]:
            found = index.governing(normalize_code(code), day)
            assert found == library.governing(code, day), (code, day)
    assert index.governing(None, days[0]) == []
