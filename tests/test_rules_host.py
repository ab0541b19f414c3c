"""A bounded rules host frees the least recently judged versions and rebuilds them on demand."""

from __future__ import annotations

from pathlib import Path

from policy_engine.engine.evaluator import Evaluator
from policy_engine.engine.rules import RulesHost
from policy_engine.engine.trace import decision_dict
from policy_engine.loader import load_policies
from policy_engine.testing import find_test_files, load_cases
from policy_engine.values import to_json

POLICIES = Path(__file__).resolve().parent.parent / "policies"


def test_decisions_are_the_same_with_two_live_versions_as_with_all():
    policies = load_policies([POLICIES])
    requests = [
        to_json(case["request"]) for tests in find_test_files([POLICIES]) for case, _ in load_cases(tests)
    ]
    bounded_host = RulesHost(capacity=2)
    bounded, unbounded = Evaluator(policies, host=bounded_host), Evaluator(policies)
    for request in requests * 2:  # every version freed and rebuilt several times over
        assert decision_dict(bounded.evaluate(request)) == decision_dict(unbounded.evaluate(request))
        assert bounded_host.live <= 2
    assert len(policies) > 2


def test_release_forgets_a_version_and_the_next_use_compiles_it_again():
    policies = load_policies([POLICIES / "cpap-osa"])
    host = RulesHost()
    evaluator = Evaluator(policies, host=host)
    request = to_json(load_cases(POLICIES / "cpap-osa" / "tests.yaml")[0][0]["request"])
    before = decision_dict(evaluator.evaluate(request))
    for policy in policies:
        host.release(policy.key)
    assert host.live == 0
    assert decision_dict(evaluator.evaluate(request)) == before
