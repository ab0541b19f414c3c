"""Native rulesets are made when a request first needs a version, and only then."""

from __future__ import annotations

from pathlib import Path

from policy_engine.engine.evaluator import Evaluator
from policy_engine.engine.rules import RulesHost
from policy_engine.engine.trace import decision_dict
from policy_engine.loader import load_policies
from policy_engine.testing import load_cases
from policy_engine.values import to_json

POLICIES = Path(__file__).resolve().parent.parent / "policies"


def cpap_request() -> dict:
    return to_json(load_cases(POLICIES / "cpap-osa" / "tests.yaml")[0][0]["request"])


def test_only_the_versions_a_request_reaches_get_native_rulesets():
    host = RulesHost()
    evaluator = Evaluator(load_policies([POLICIES]), host=host)
    assert host.live == 0
    evaluator.evaluate(cpap_request())
    assert host.live == 1  # the one cpap-osa version in effect on the date of service
    evaluator.prepare()
    assert host.live == len(list(evaluator.library))


def test_a_released_version_is_compiled_again_when_needed():
    policies = load_policies([POLICIES / "cpap-osa"])
    host = RulesHost()
    evaluator = Evaluator(policies, host=host)
    before = decision_dict(evaluator.evaluate(cpap_request()))
    for policy in policies:
        host.release(policy.key)
    assert host.live == 0
    assert decision_dict(evaluator.evaluate(cpap_request())) == before
