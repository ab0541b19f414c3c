"""Native rulesets: made when a request first needs a version, deleted when no evaluator
holds it any more or the service trims superseded versions."""

from __future__ import annotations

import gc
import json
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


def test_a_version_is_freed_when_the_last_evaluator_holding_it_is_gone():
    host = RulesHost()
    first = Evaluator(load_policies([POLICIES / "cpap-osa"]), host=host)
    assert (host.live, host.versions) == (0, 0)  # nothing is laid out before a request needs it
    first.evaluate(cpap_request())
    second = Evaluator(load_policies([POLICIES / "cpap-osa"]), host=host)
    assert decision_dict(second.evaluate(cpap_request()))["status"] == "approved"
    assert (host.live, host.versions) == (1, 1)  # the one version reached, shared by both
    del first
    gc.collect()
    assert (host.live, host.versions) == (1, 1)  # the second still holds it
    del second
    gc.collect()
    assert (host.live, host.versions) == (0, 0)


def test_a_trimmed_version_is_compiled_again_when_a_request_needs_it():
    host = RulesHost()
    evaluator = Evaluator(load_policies([POLICIES / "cpap-osa"]), host=host)
    before = decision_dict(evaluator.evaluate(cpap_request()))
    compiled = host.get("cpap-osa@2")  # the version in effect on the request's date
    assert compiled is not None
    assert any(encoder.texts for encoder in compiled.encoders.values())
    host.trim([])
    assert (host.live, host.versions) == (0, 1)  # the layout kept, its rulesets deleted
    assert not any(encoder.texts for encoder in compiled.encoders.values())
    assert decision_dict(evaluator.evaluate(cpap_request())) == before
    assert host.live == 1


def test_no_condition_is_a_pattern_the_engine_could_not_free():
    """The C core's ``$mt`` compiler never frees its memory: about 1 MiB a ruleset."""
    host = RulesHost()
    evaluator = Evaluator(load_policies([POLICIES]), host=host)
    texts = [text for policy in evaluator.library for text in host.layout(policy).texts]
    assert texts and not any("$mt" in text or "$imt" in text for text in texts)
    prefixes = [text for text in texts if '"$iany"' in text]
    assert prefixes  # knee-arthroplasty's any_prefix leaves are among them
    assert all(json.loads(text) for text in prefixes)
