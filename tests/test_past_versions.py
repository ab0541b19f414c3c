"""Versions whose period has ended are kept light and parsed, planned and compiled only when
a line reaches them, a bounded few at a time; they judge exactly as the parsed versions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from policy_engine.engine import evaluator as evaluator_module
from policy_engine.engine.evaluator import Evaluator
from policy_engine.engine.rules import RulesHost
from policy_engine.engine.trace import decision_dict
from policy_engine.loader import link_versions, load_policies, parse_policy_text
from policy_engine.storage import migrate
from policy_engine.storage.database import Database
from policy_engine.storage.past_versions import PastVersion
from policy_engine.storage.policy_store import PolicyStore
from policy_engine.testing import load_cases
from policy_engine.values import to_json

POLICIES = Path(__file__).resolve().parent.parent / "policies"
CPAP_V2 = (POLICIES / "cpap-osa" / "v2.yaml").read_text()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> PolicyStore:
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('past') / 'policies.sqlite3'}")
    migrate.upgrade(database)
    store = PolicyStore(database)
    store.load_directory(POLICIES)
    return store


def every_case_request() -> list[dict]:
    return [
        to_json(case["request"])
        for tests in sorted(POLICIES.glob("*/tests.yaml"))
        for case, _ in load_cases(tests)
    ]


def test_only_versions_ended_before_today_are_kept_light(store):
    today = dt.date(2025, 6, 1)
    policies = store.in_force(today)
    light = {policy.key for policy in policies if isinstance(policy, PastVersion)}
    ended = {policy.key for policy in policies if policy.ends is not None and policy.ends < today}
    assert light == ended and "cpap-osa@1" in light and "cpap-osa@2" not in light
    past = next(policy for policy in policies if policy.key == "cpap-osa@1")
    assert past.governs(dt.date(2024, 12, 31)) and not past.governs(dt.date(2025, 1, 1))
    assert past.title and past.criteria is not None  # the rest is parsed when read
    assert past.source == (POLICIES / "cpap-osa" / "v1.yaml").read_text()  # read from the store


def test_light_versions_judge_every_bundled_case_as_the_parsed_ones(store):
    today = dt.date(2099, 1, 1)  # every version but the newest of each policy has ended
    light = Evaluator(store.in_force(today), host=RulesHost(), past_before=today)
    assert any(isinstance(policy, PastVersion) for policy in light.library)
    parsed = Evaluator(load_policies([POLICIES]), host=RulesHost())
    for request in every_case_request():
        assert decision_dict(light.evaluate(request)) == decision_dict(parsed.evaluate(request))


def cpap_versions(count: int) -> list:
    """cpap-osa versions 2 … count + 1, version k effective k days after 2025-06-01."""
    policies = [parse_policy_text(CPAP_V2, "cpap-osa/v2.yaml")]
    for version in range(3, count + 2):
        effective = dt.date(2025, 6, 1) + dt.timedelta(days=version)
        text = CPAP_V2.replace("version: 2", f"version: {version}", 1)
        text = text.replace("effective: 2025-01-01", f"effective: {effective}", 1)
        policies.append(parse_policy_text(text, f"cpap-osa/v{version}.yaml"))
    assert not link_versions(policies)
    return policies


def cpap_line(day: dt.date) -> dict:
    request = to_json(load_cases(POLICIES / "cpap-osa" / "tests.yaml")[0][0]["request"])
    request["services"][0]["date_of_service"] = day.isoformat()
    return request


def test_an_evaluator_keeps_a_bounded_few_plans_of_ended_versions(monkeypatch):
    monkeypatch.setattr(evaluator_module, "PAST_PLANS", 3)
    policies = cpap_versions(12)
    host = RulesHost()
    evaluator = Evaluator(policies, host=host, past_before=dt.date(2099, 1, 1))
    for policy in policies * 2:  # every version's own period, twice over
        cited = decision_dict(evaluator.evaluate(cpap_line(policy.effective)))["lines"][0]["policies"][0]
        assert cited["version"] == policy.version
        assert host.versions <= 3 + 1  # at most three ended versions, and the current one
    assert host.live <= 3 + 1


def test_without_a_date_every_plan_is_kept():
    policies = cpap_versions(6)
    host = RulesHost()
    evaluator = Evaluator(policies, host=host)
    for policy in policies:
        evaluator.evaluate(cpap_line(policy.effective))
    assert host.versions == len(policies)
