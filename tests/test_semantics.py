"""Behaviour of the engine, rule by rule, as DESIGN.md's "Semantics, precisely" states it.

Each test builds small policies from inline YAML, evaluates a request through the public
core API and reads the decision as plain data (``decision_dict``).
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from policy_engine.engine.evaluator import Evaluator
from policy_engine.engine.trace import decision_dict
from policy_engine.loader import link_versions, parse_policy_text
from policy_engine.model import Policy

DOS = "2025-03-10"

# Helpers ---------------------------------------------------------------------------

_HEADER = """\
id: {policy_id}
version: {version}
title: Behaviour test policy {policy_id}
effective: {effective}
expires: {expires}
owner: Test policy committee
summary: A small policy written for one behaviour test.
references:
  - {{id: ref, title: Reference text, url: 'https://example.org/ref'}}
applies_to:
  services: {services}
"""


def make_policy(
    body: str = "",
    *,
    policy_id: str = "p",
    version: int = 1,
    effective: str = "2024-01-01",
    expires: str | None = None,
    services: tuple[str, ...] = ("E0601",),
    when: str | None = None,
) -> Policy:
    """One policy version from a YAML body (derive / coverage / documentation / criteria)."""
    text = _HEADER.format(
        policy_id=policy_id,
        version=version,
        effective=effective,
        expires=expires or "null",
        services=json.dumps(list(services)),
    )
    if when:
        text += f"  when: {when}\n"
    text += textwrap.dedent(body)
    return parse_policy_text(text, "inline.yaml")


def make_request(
    *,
    code: str = "E0601",
    dos: str = DOS,
    quantity: int = 1,
    lines: list[dict[str, Any]] | None = None,
    **facts: Any,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "request_id": "test-request",
        "urgency": "standard",
        "member": {"id": "M1001", "birth_date": "1961-04-02", "sex": "F", "plan": "MA-HMO"},
        "services": lines
        if lines is not None
        else [{"code": code, "quantity": quantity, "date_of_service": dos}],
    }
    request.update(facts)
    return request


def decide(policies: Policy | list[Policy], request: dict[str, Any]) -> dict[str, Any]:
    policies = [policies] if isinstance(policies, Policy) else list(policies)
    problems = link_versions(policies)
    assert not problems, problems
    return decision_dict(Evaluator(policies).evaluate(request))


def decide_line(policies: Policy | list[Policy], request: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return decide(policies, request)["lines"][index]


def _trees(line: dict[str, Any]):
    for policy in line["policies"]:
        for section in ("applies_when", "coverage", "documentation", "criteria"):
            items = policy[section]
            yield from [items] if isinstance(items, dict) else (items or [])


def _walk(node: dict[str, Any]):
    yield node
    if node.get("applies_when"):
        yield from _walk(node["applies_when"])
    for child in node.get("children", []):
        yield from _walk(child)


def statuses(line: dict[str, Any]) -> dict[str, str]:
    """``{node id: status}`` for every traced node of every policy on the line."""
    return {node["id"]: node["status"] for tree in _trees(line) for node in _walk(tree)}


def traced(line: dict[str, Any], node_id: str) -> dict[str, Any]:
    for tree in _trees(line):
        for node in _walk(tree):
            if node["id"] == node_id:
                return node
    raise AssertionError(f"{node_id} is not in the trace")


# Kleene groups ---------------------------------------------------------------------

# Each child ``c<i>`` is a leaf guarded by ``clinical.g<i>``; these facts give it a status.
_CHILD_FACTS = {
    "met": {"g": 1, "c": 1},
    "not_met": {"g": 1, "c": 2},
    "unknown": {"g": 1},
    "not_applicable": {"g": 0},
}


def _child(index: int) -> str:
    return (
        f"{{id: c{index}, fact: clinical.c{index}, eq: 1, applies_when: {{fact: clinical.g{index}, eq: 1}}}}"
    )


def group_policy(kind: str, count: int, n: int = 0) -> Policy:
    children = ", ".join(_child(i) for i in range(count))
    if kind == "n_of":
        criteria = f"{{id: root, n_of: {{n: {n}, of: [{children}]}}}}"
    elif kind == "not":
        criteria = f"{{id: root, not: {_child(0)}}}"
    else:
        criteria = f"{{id: root, {kind}: [{children}]}}"
    return make_policy(f"criteria: {criteria}\n")


def group_status(kind: str, children: tuple[str, ...], n: int = 0) -> str:
    clinical: dict[str, int] = {}
    for index, status in enumerate(children):
        for name, value in _CHILD_FACTS[status].items():
            clinical[f"{name}{index}"] = value
    line = decide_line(group_policy(kind, len(children), n), make_request(clinical=clinical))
    found = statuses(line)
    for index, status in enumerate(children):
        assert found[f"c{index}"] == status, f"child c{index} was meant to be {status}"
    return found["root"]


@pytest.mark.parametrize(
    ("children", "expected"),
    [
        (("met", "met"), "met"),
        (("met", "unknown"), "unknown"),
        (("unknown", "not_met"), "not_met"),
        (("met", "not_met", "unknown"), "not_met"),
        (("met", "not_applicable"), "met"),
        (("unknown", "not_applicable"), "unknown"),
        (("not_met", "not_applicable"), "not_met"),
        (("not_applicable", "not_applicable"), "not_applicable"),
    ],
)
def test_all_is_kleene_and_ignores_not_applicable_children(children, expected):
    assert group_status("all", children) == expected


@pytest.mark.parametrize(
    ("children", "expected"),
    [
        (("met", "unknown"), "met"),
        (("unknown", "met", "not_met"), "met"),
        (("not_met", "unknown"), "unknown"),
        (("not_met", "not_met"), "not_met"),
        (("not_met", "not_applicable"), "not_met"),
        (("unknown", "not_applicable"), "unknown"),
        (("not_applicable", "not_applicable"), "not_applicable"),
    ],
)
def test_any_is_kleene_or_and_ignores_not_applicable_children(children, expected):
    assert group_status("any", children) == expected


def test_any_with_one_met_child_is_met_even_if_others_unknown():
    assert group_status("any", ("unknown", "unknown", "met")) == "met"


def test_all_whose_children_are_all_not_applicable_is_not_applicable():
    assert group_status("all", ("not_applicable", "not_applicable", "not_applicable")) == "not_applicable"


@pytest.mark.parametrize(
    ("n", "children", "expected"),
    [
        (2, ("met", "met", "unknown"), "met"),
        (2, ("met", "met", "not_met"), "met"),
        (2, ("met", "unknown", "not_met"), "unknown"),
        (2, ("met", "not_met", "not_met"), "not_met"),
        (2, ("unknown", "unknown", "not_met"), "unknown"),
        (3, ("met", "met", "unknown"), "unknown"),
        # only applicable children count, against the fixed n
        (2, ("met", "met", "not_applicable"), "met"),
        (2, ("met", "unknown", "not_applicable"), "unknown"),
        (2, ("met", "not_applicable", "not_applicable"), "not_met"),
        (3, ("met", "met", "not_applicable"), "not_met"),
        (2, ("not_applicable", "not_applicable", "not_applicable"), "not_applicable"),
    ],
)
def test_n_of_counts_only_applicable_children_against_a_fixed_n(n, children, expected):
    assert group_status("n_of", children, n) == expected


def test_n_of_with_fewer_applicable_children_than_n_is_not_met():
    assert group_status("n_of", ("met", "not_applicable", "not_applicable"), 2) == "not_met"


@pytest.mark.parametrize(
    ("child", "expected"),
    [
        ("met", "not_met"),
        ("not_met", "met"),
        ("unknown", "unknown"),
        ("not_applicable", "not_applicable"),
    ],
)
def test_not_swaps_met_and_not_met_and_keeps_unknown_and_not_applicable(child, expected):
    assert group_status("not", (child,)) == expected


def test_descendants_of_a_not_applicable_node_are_traced_not_applicable():
    policy = make_policy(
        """
        criteria:
          id: root
          all:
            - {id: always, fact: clinical.a, eq: 1}
            - id: guarded
              applies_when: {id: guard, fact: clinical.g, eq: 1}
              any:
                - {id: inner-met, fact: clinical.x, eq: 1}
                - {id: inner-unknown, fact: clinical.y, eq: 1}
        """
    )
    line = decide_line(policy, make_request(clinical={"a": 1, "g": 0, "x": 1}))
    found = statuses(line)
    assert found["guard"] == "not_met"
    assert found["guarded"] == "not_applicable"
    assert found["inner-met"] == "not_applicable"
    assert found["inner-unknown"] == "not_applicable"
    assert found["root"] == "met"
    assert line["outcome"] == "approved"
    assert line["missing"] == []


# applies_when (edge rule 2) -----------------------------------------------------------

_GUARDED = """
criteria:
  id: body
  fact: clinical.x
  eq: 1
  applies_when: {id: guard, fact: clinical.g, eq: 1}
"""


@pytest.mark.parametrize(
    ("clinical", "status", "outcome", "missing"),
    [
        ({"g": 1, "x": 1}, "met", "approved", []),
        ({"g": 1, "x": 2}, "not_met", "pended", []),
        ({"g": 1}, "unknown", "pended", ["clinical.x"]),
        ({"g": 0, "x": 2}, "not_applicable", "approved", []),
        ({"g": 0}, "not_applicable", "approved", []),
        # guard unknown: the body is still evaluated
        ({"x": 1}, "met", "approved", []),
        ({"x": 2}, "unknown", "pended", ["clinical.g"]),
        ({}, "unknown", "pended", ["clinical.g", "clinical.x"]),
    ],
)
def test_applies_when_guard_and_body_combine(clinical, status, outcome, missing):
    line = decide_line(make_policy(_GUARDED), make_request(clinical=clinical))
    assert statuses(line)["body"] == status
    assert line["outcome"] == outcome
    assert sorted(line["missing"]) == missing


def test_a_group_with_an_unknown_guard_asks_for_the_guard_and_its_unknown_children():
    policy = make_policy(
        """
        criteria:
          id: grp
          applies_when: {fact: clinical.g, eq: 1}
          all:
            - {id: a, fact: clinical.a, eq: 1}
            - {id: b, fact: clinical.b, eq: 1}
        """
    )
    line = decide_line(policy, make_request(clinical={"a": 1}))
    assert statuses(line)["grp"] == "unknown"
    assert sorted(line["missing"]) == ["clinical.b", "clinical.g"]


def test_applies_when_unknown_with_met_body_is_met():
    line = decide_line(make_policy(_GUARDED), make_request(clinical={"x": 1}))
    assert statuses(line)["guard"] == "unknown"
    assert statuses(line)["body"] == "met"
    assert line["outcome"] == "approved"


def test_applies_when_unknown_with_not_met_body_pends_for_the_guard_only():
    line = decide_line(make_policy(_GUARDED), make_request(clinical={"x": 2}))
    assert statuses(line)["body"] == "unknown"
    assert line["reason"] == "missing_information"
    assert line["missing"] == ["clinical.g"]


def test_applies_when_unknown_decisive_unknowns_are_the_guards_plus_the_bodys():
    line = decide_line(make_policy(_GUARDED), make_request(clinical={}))
    assert line["reason"] == "missing_information"
    assert sorted(line["missing"]) == ["clinical.g", "clinical.x"]


def test_a_coverage_entry_with_an_unknown_guard_and_a_failing_body_pends_instead_of_not_covering():
    policy = make_policy(
        """
        coverage:
          - id: adult-if-flagged
            applies_when: {fact: clinical.flagged, eq: true}
            fact: member.age
            gte: 18
        """
    )
    line = decide_line(policy, make_request(member={"id": "M2", "birth_date": "2015-01-01"}, clinical={}))
    assert statuses(line)["adult-if-flagged"] == "unknown"
    assert (line["outcome"], line["reason"]) == ("pended", "missing_information")
    assert line["missing"] == ["clinical.flagged"]


def test_applies_when_on_a_coverage_entry_that_does_not_apply_cannot_fail_coverage():
    policy = make_policy(
        """
        coverage:
          - id: adult-e0470
            applies_when: {fact: service.code, eq: E0470}
            fact: member.age
            gte: 18
        """,
        services=("E0601", "E0470"),
    )
    child = {"id": "M2", "birth_date": "2015-01-01"}
    assert decide_line(policy, make_request(code="E0601", member=child))["outcome"] == "approved"
    assert decide_line(policy, make_request(code="E0470", member=child))["outcome"] == "not_covered"


# if_absent (edge rule 10) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("if_absent", "clinical", "expected"),
    [
        ("not_met", {}, "not_met"),
        ("not_met", {"ahi": None}, "not_met"),
        ("not_met", {"ahi": 20}, "met"),
        ("not_met", {"ahi": 10}, "not_met"),
        ("met", {}, "met"),
        ("met", {"ahi": 10}, "not_met"),
    ],
)
def test_if_absent_replaces_an_absent_leaf(if_absent, clinical, expected):
    policy = make_policy(f"criteria: {{id: ahi, fact: clinical.ahi, gte: 15, if_absent: {if_absent}}}\n")
    line = decide_line(policy, make_request(clinical=clinical))
    assert statuses(line)["ahi"] == expected
    assert line["reason"] != "missing_information"


@pytest.mark.parametrize(
    ("quantifier", "clinical", "expected"),
    [
        ("some", {}, "not_met"),
        ("some", {"tests": [{"result": "negative"}, {}]}, "not_met"),
        ("some", {"tests": [{"result": "positive"}, {}]}, "met"),
        ("every", {}, "not_met"),
        ("every", {"tests": [{"result": "positive"}, {}]}, "not_met"),
        ("every", {"tests": [{"result": "positive"}]}, "met"),
    ],
)
def test_if_absent_replaces_an_unknown_some_or_every(quantifier, clinical, expected):
    policy = make_policy(
        f"""
        criteria:
          id: q
          {quantifier}: clinical.tests
          where: {{fact: item.result, eq: positive}}
          if_absent: not_met
        """
    )
    line = decide_line(policy, make_request(clinical=clinical))
    assert statuses(line)["q"] == expected


@pytest.mark.parametrize(("if_absent", "outcome"), [("met", "approved"), ("not_met", "not_covered")])
def test_if_absent_replaces_an_unknown_frequency(if_absent, outcome):
    policy = make_policy(
        f"""
        coverage:
          - id: freq
            frequency: {{service: [E0601], max: 1, per: 5y}}
            if_absent: {if_absent}
        """
    )
    line = decide_line(policy, make_request(history=[{"code": "E0601"}]))
    assert statuses(line)["freq"] == if_absent
    assert line["outcome"] == outcome


@pytest.mark.parametrize(
    ("clinical", "status", "missing"),
    [
        ({"g": 0}, "not_applicable", []),
        ({}, "unknown", ["clinical.g"]),
        ({"g": 1}, "not_met", []),
    ],
)
def test_if_absent_never_overrides_a_guard(clinical, status, missing):
    policy = make_policy(
        """
        criteria:
          id: ahi
          fact: clinical.ahi
          gte: 15
          if_absent: not_met
          applies_when: {id: guard, fact: clinical.g, eq: 1}
        """
    )
    line = decide_line(policy, make_request(clinical=clinical))
    assert statuses(line)["ahi"] == status
    assert line["missing"] == missing


# exists -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "request_facts", "expected"),
    [
        ("true", {"clinical": {"ahi": 0}}, "met"),
        ("true", {"clinical": {"ahi": None}}, "not_met"),
        ("true", {"clinical": {}}, "not_met"),
        ("true", {}, "not_met"),
        ("false", {}, "met"),
        ("false", {"clinical": {"ahi": None}}, "met"),
        ("false", {"clinical": {"ahi": 31}}, "not_met"),
    ],
)
def test_exists_is_never_unknown(wanted, request_facts, expected):
    policy = make_policy(f"criteria: {{id: has-ahi, fact: clinical.ahi, exists: {wanted}}}\n")
    line = decide_line(policy, make_request(**request_facts))
    assert statuses(line)["has-ahi"] == expected
    assert line["reason"] != "missing_information"
    assert line["missing"] == []


# Fact-to-fact comparison and dates ----------------------------------------------------

_EVAL_BEFORE_TEST = """
criteria:
  id: eval-first
  fact: clinical.evaluation_date
  lt: {fact: clinical.sleep_test_date}
"""


@pytest.mark.parametrize(
    ("clinical", "expected", "missing"),
    [
        ({"evaluation_date": "2025-01-09", "sleep_test_date": "2025-01-10"}, "met", []),
        ({"evaluation_date": "2025-01-10", "sleep_test_date": "2025-01-10"}, "not_met", []),
        ({"evaluation_date": "2025-02-01", "sleep_test_date": "2025-01-10"}, "not_met", []),
        # dates compare as dates, not as text
        ({"evaluation_date": "2024-12-31", "sleep_test_date": "2025-01-01"}, "met", []),
        ({"evaluation_date": "2025-01-09"}, "unknown", ["clinical.sleep_test_date"]),
        ({"evaluation_date": "2025-01-09", "sleep_test_date": None}, "unknown", ["clinical.sleep_test_date"]),
        ({"sleep_test_date": "2025-01-10"}, "unknown", ["clinical.evaluation_date"]),
    ],
)
def test_a_fact_compares_with_another_fact_as_dates(clinical, expected, missing):
    line = decide_line(make_policy(_EVAL_BEFORE_TEST), make_request(clinical=clinical))
    assert statuses(line)["eval-first"] == expected
    assert line["missing"] == missing


@pytest.mark.parametrize(
    ("value", "expected"), [("2024-06-01", "met"), ("2024-01-01", "met"), ("2023-12-31", "not_met")]
)
def test_a_date_fact_compares_with_a_date_literal(value, expected):
    policy = make_policy("criteria: {id: recent, fact: clinical.test_date, gte: 2024-01-01}\n")
    line = decide_line(policy, make_request(clinical={"test_date": value}))
    assert statuses(line)["recent"] == expected


@pytest.mark.parametrize(("value", "expected"), [(5, "met"), (10, "met"), (4, "not_met"), (11, "not_met")])
def test_between_is_inclusive_with_fact_bounds(value, expected):
    policy = make_policy("criteria: {id: b, fact: clinical.v, between: [{fact: clinical.low}, 10]}\n")
    line = decide_line(policy, make_request(clinical={"v": value, "low": 5}))
    assert statuses(line)["b"] == expected


# derive: exact arithmetic, unknowns, coalesce (edge rules 4 and 11) ---------------------


@pytest.mark.parametrize(
    ("expression", "nights", "expected"),
    [
        ("clinical.nights_4h * 100 / 30", 21, "met"),
        ("clinical.nights_4h / 30 * 100", 21, "met"),
        ("clinical.nights_4h * 100 / 30", 20, "not_met"),
    ],
)
def test_derived_arithmetic_is_exact(expression, nights, expected):
    policy = make_policy(
        f"""
        derive:
          adherence: {expression}
        criteria: {{id: adherent, fact: derived.adherence, gte: 70}}
        """
    )
    line = decide_line(policy, make_request(clinical={"nights_4h": nights}))
    assert statuses(line)["adherent"] == expected


def test_derived_boolean_of_exact_arithmetic_21_of_30_nights_is_70_percent():
    policy = make_policy(
        """
        derive:
          adherent: clinical.nights_4h >= 21 and clinical.nights_4h * 100 / 30 >= 70
        criteria: {id: adherent, fact: derived.adherent, eq: true}
        """
    )
    line = decide_line(policy, make_request(clinical={"nights_4h": 21}))
    assert statuses(line)["adherent"] == "met"
    assert line["outcome"] == "approved"


def test_decimal_facts_add_exactly():
    policy = make_policy(
        """
        derive:
          total: clinical.a + clinical.b
        criteria: {id: sum, fact: derived.total, eq: 0.3}
        """
    )
    line = decide_line(policy, make_request(clinical={"a": 0.1, "b": 0.2}))
    assert statuses(line)["sum"] == "met"


_DAYS = """
derive:
  eval_to_test_days: days_between(clinical.evaluation_date, clinical.sleep_test_date)
  test_within_30: derived.eval_to_test_days <= 30
criteria:
  id: root
  all:
    - {id: days, fact: derived.eval_to_test_days, lte: 30}
    - {id: flag, fact: derived.test_within_30, eq: true}
"""


@pytest.mark.parametrize(
    ("clinical", "expected", "missing"),
    [
        ({"evaluation_date": "2025-01-01", "sleep_test_date": "2025-01-31"}, "met", []),
        ({"evaluation_date": "2025-01-01", "sleep_test_date": "2025-02-01"}, "not_met", []),
        ({"evaluation_date": "2025-01-01"}, "unknown", ["clinical.sleep_test_date"]),
        ({}, "unknown", ["clinical.evaluation_date", "clinical.sleep_test_date"]),
    ],
)
def test_derived_value_with_unknown_input_is_unknown_and_names_the_input_paths(clinical, expected, missing):
    line = decide_line(make_policy(_DAYS), make_request(clinical=clinical))
    found = statuses(line)
    assert found["days"] == expected
    assert found["flag"] == expected
    assert sorted(line["missing"]) == missing


def test_derived_division_by_zero_is_unknown():
    policy = make_policy(
        """
        derive:
          ratio: clinical.c_peptide / clinical.c_peptide_lower_limit
        criteria: {id: ratio, fact: derived.ratio, lte: 1.1}
        """
    )
    line = decide_line(policy, make_request(clinical={"c_peptide": 1, "c_peptide_lower_limit": 0}))
    assert statuses(line)["ratio"] == "unknown"
    assert line["outcome"] == "pended"


@pytest.mark.parametrize(
    ("clinical", "expected", "missing"),
    [
        ({"ahi": 20, "rdi": 5}, "met", []),
        ({"rdi": 20}, "met", []),
        ({"ahi": None, "rdi": 20}, "met", []),
        ({"ahi": 5, "rdi": 20}, "not_met", []),
        ({}, "unknown", ["clinical.ahi", "clinical.rdi"]),
    ],
)
def test_coalesce_skips_absent_arguments(clinical, expected, missing):
    policy = make_policy(
        """
        derive:
          events: coalesce(clinical.ahi, clinical.rdi)
        criteria: {id: severe, fact: derived.events, gte: 15}
        """
    )
    line = decide_line(policy, make_request(clinical=clinical))
    assert statuses(line)["severe"] == expected
    assert sorted(line["missing"]) == missing


def test_coalesce_skips_an_unknown_argument():
    policy = make_policy(
        """
        derive:
          ratio: coalesce(clinical.a / clinical.b, clinical.fallback)
        criteria: {id: ratio, fact: derived.ratio, eq: 7}
        """
    )
    line = decide_line(policy, make_request(clinical={"a": 1, "b": 0, "fallback": 7}))
    assert statuses(line)["ratio"] == "met"


# Months and ages (edge rule 8) --------------------------------------------------------


def derived_value(expression: str, clinical: dict[str, Any] | None = None) -> Any:
    """The value a derive expression takes, read from the trace of the leaf that uses it."""
    policy = make_policy(
        f"""
        derive:
          v: "{expression}"
        criteria: {{id: probe, fact: derived.v, exists: true}}
        """
    )
    line = decide_line(policy, make_request(clinical=clinical or {}))
    return traced(line, "probe").get("facts", {}).get("derived.v")


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        ("2025-01-15", "2025-02-14", 0),
        ("2025-01-15", "2025-02-15", 1),
        ("2025-01-31", "2025-02-27", 0),
        ("2025-01-31", "2025-02-28", 1),
        ("2024-01-31", "2024-02-29", 1),
        ("2025-03-31", "2025-04-30", 1),
        ("2024-02-29", "2025-02-28", 12),
        ("2024-02-29", "2025-02-27", 11),
    ],
)
def test_months_between_is_the_largest_n_with_add_months_not_after_the_end(start, end, months):
    assert derived_value(f"months_between(date('{start}'), date('{end}'))") == months


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        ("2024-01-31", 1, "2024-02-29"),
        ("2025-01-31", 1, "2025-02-28"),
        ("2025-03-31", -1, "2025-02-28"),
        ("2024-02-29", 12, "2025-02-28"),
    ],
)
def test_add_months_clamps_to_the_end_of_the_month(start, months, end):
    assert derived_value(f"add_months(date('{start}'), {months})") == end


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        ("2024-01-31", "2024-03-01", 1),
        ("2024-01-01", "2024-02-28", 0),
        ("2024-01-15", "2025-01-01", 11),
        ("2024-03-31", "2025-03-01", 11),
        ("2024-04-01", "2025-03-31", 10),
    ],
)
def test_calendar_months_between_counts_full_months_between_the_two_months(start, end, months):
    assert derived_value(f"calendar_months_between(date('{start}'), date('{end}'))") == months


@pytest.mark.parametrize(
    ("birth_date", "dos", "expected"),
    [
        ("2007-03-10", "2025-03-10", "met"),  # eighteenth birthday
        ("2007-03-10", "2025-03-09", "not_met"),  # the day before
        ("2004-02-29", "2022-02-28", "met"),  # leap-day birth: add_months clamps to Feb 28
        ("2004-02-29", "2022-02-27", "not_met"),
        ("2006-02-28", "2024-02-28", "met"),
        ("2006-02-28", "2024-02-27", "not_met"),
    ],
)
def test_member_age_is_whole_months_elapsed_divided_by_twelve(birth_date, dos, expected):
    policy = make_policy("coverage: [{id: adult, fact: member.age, gte: 18}]\n", effective="2000-01-01")
    line = decide_line(policy, make_request(dos=dos, member={"id": "M1", "birth_date": birth_date}))
    assert statuses(line)["adult"] == expected


def test_member_age_without_a_birth_date_asks_for_the_birth_date():
    policy = make_policy("coverage: [{id: adult, fact: member.age, gte: 18}]\n")
    line = decide_line(policy, make_request(member={"id": "M1"}))
    assert statuses(line)["adult"] == "unknown"
    assert line["reason"] == "missing_information"
    assert line["missing"] == ["member.birth_date"]


# frequency (edge rule 6) ---------------------------------------------------------------


def frequency_policy(per: str, max_: int = 1, codes: str = "[E0601]", extra: str = "") -> Policy:
    return make_policy(
        f"""
        coverage:
          - id: freq
            frequency: {{service: {codes}, max: {max_}, per: {per}}}
            {extra}
        """,
        services=("E0601", "E0470"),
    )


@pytest.mark.parametrize(
    ("per", "prior_date", "expected"),
    [
        ("90d", "2024-12-10", "met"),  # exactly 90 days before: outside (dos - per, dos]
        ("90d", "2024-12-11", "not_met"),
        ("12m", "2024-03-10", "met"),
        ("12m", "2024-03-11", "not_met"),
        ("5y", "2020-03-10", "met"),
        ("5y", "2020-03-11", "not_met"),
        ("calendar_year", "2024-12-31", "met"),
        ("calendar_year", "2025-01-01", "not_met"),
        ("{full_months: 11}", "2024-03-31", "met"),  # April 2024 .. Feb 2025 are 11 full months
        ("{full_months: 11}", "2024-04-01", "not_met"),
        ("90d", "2025-03-10", "not_met"),  # the date of service itself is in the window
        ("90d", "2025-03-11", "met"),  # after the date of service: not a prior service
    ],
)
def test_frequency_window_is_open_before_and_closed_at_the_date_of_service(per, prior_date, expected):
    request = make_request(history=[{"code": "E0601", "date": prior_date, "quantity": 1}])
    line = decide_line(frequency_policy(per), request)
    assert statuses(line)["freq"] == expected
    assert line["outcome"] == ("approved" if expected == "met" else "not_covered")


@pytest.mark.parametrize(
    ("code", "expected"),
    [("E0601", "not_met"), ("E0470", "met")],
)
def test_frequency_counts_the_current_line_only_when_its_code_is_listed(code, expected):
    request = make_request(code=code, history=[{"code": "E0601", "date": "2024-06-01"}])
    line = decide_line(frequency_policy("5y"), request)
    assert statuses(line)["freq"] == expected


@pytest.mark.parametrize(("quantity", "expected"), [(2, "met"), (3, "not_met")])
def test_frequency_counts_the_current_line_quantity(quantity, expected):
    line = decide_line(frequency_policy("12m", max_=2), make_request(quantity=quantity))
    assert statuses(line)["freq"] == expected


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([{"code": "E0601", "date": "2025-01-01", "quantity": 2}], "not_met"),
        ([{"code": "E0601", "date": "2025-01-01"}], "met"),
        ([{"code": "E0470", "date": "2025-01-01", "quantity": 5}], "met"),
        ([{"code": "e0601", "date": "2025-01-01"}, {"code": "E0601", "date": "2025-02-01"}], "not_met"),
    ],
)
def test_frequency_sums_history_quantities_of_listed_codes(history, expected):
    line = decide_line(frequency_policy("12m", max_=2), make_request(history=history))
    assert statuses(line)["freq"] == expected


def test_frequency_counts_earlier_lines_of_the_same_request_as_prior_services():
    lines = [
        {"code": "E0601", "quantity": 1, "date_of_service": DOS},
        {"code": "E0601", "quantity": 1, "date_of_service": DOS},
    ]
    decision = decide(frequency_policy("5y"), make_request(lines=lines))
    first, second = decision["lines"]
    assert statuses(first)["freq"] == "met"
    assert first["outcome"] == "approved"
    assert statuses(second)["freq"] == "not_met"
    assert second["outcome"] == "not_covered"
    assert decision["status"] == "partial"


def test_frequency_with_an_undated_history_entry_is_unknown_and_asks_for_its_date():
    request = make_request(history=[{"code": "E0470", "date": "2024-01-01"}, {"code": "E0601"}])
    line = decide_line(frequency_policy("5y"), request)
    assert statuses(line)["freq"] == "unknown"
    assert line["reason"] == "missing_information"
    assert line["missing"] == ["history[1].date"]


def test_frequency_with_an_undated_entry_is_not_met_when_the_known_total_already_exceeds_max():
    request = make_request(history=[{"code": "E0601", "date": "2024-01-01"}, {"code": "E0601"}])
    line = decide_line(frequency_policy("5y"), request)
    assert statuses(line)["freq"] == "not_met"
    assert line["outcome"] == "not_covered"


def test_frequency_ignores_an_undated_entry_of_an_unlisted_code():
    request = make_request(history=[{"code": "A4604"}])
    line = decide_line(frequency_policy("5y"), request)
    assert statuses(line)["freq"] == "met"


@pytest.mark.parametrize("history", [None, []])
def test_frequency_with_absent_history_means_no_prior_services(history):
    request = make_request()
    if history is not None:
        request["history"] = history
    line = decide_line(frequency_policy("5y"), request)
    assert statuses(line)["freq"] == "met"
    assert line["outcome"] == "approved"


def test_frequency_accepts_code_ranges():
    request = make_request(history=[{"code": "E0470", "date": "2025-01-01"}])
    line = decide_line(frequency_policy("5y", codes="['E0400-E0700']"), request)
    assert statuses(line)["freq"] == "not_met"


def test_a_quantity_over_a_coverage_limit_is_not_covered_never_reduced():
    line = decide_line(frequency_policy("12m", max_=2), make_request(quantity=3))
    assert (line["outcome"], line["reason"]) == ("not_covered", None)


def test_a_quantity_over_a_criteria_limit_goes_to_clinical_review():
    policy = make_policy("criteria: {id: freq, frequency: {service: [E0601], max: 2, per: 12m}}\n")
    line = decide_line(policy, make_request(quantity=3))
    assert (line["outcome"], line["reason"]) == ("pended", "clinical_review")


# some / every (edge rule 9) ------------------------------------------------------------

_LOW_PAO2 = """
criteria:
  id: q
  {kind}: clinical.blood_gases
  where: {{fact: item.pao2, lte: 55}}
"""


@pytest.mark.parametrize(
    ("kind", "gases", "expected", "missing"),
    [
        ("some", [], "not_met", []),
        ("every", [], "met", []),
        ("some", None, "unknown", ["clinical.blood_gases"]),
        ("every", None, "unknown", ["clinical.blood_gases"]),
        ("some", [{"pao2": 70}, {"pao2": 50}], "met", []),
        ("some", [{"pao2": 70}, {}], "unknown", ["clinical.blood_gases[1].pao2"]),
        ("some", [{"pao2": 50}, {}], "met", []),
        ("every", [{"pao2": 50}, {"pao2": 52}], "met", []),
        ("every", [{"pao2": 50}, {}], "unknown", ["clinical.blood_gases[1].pao2"]),
        ("every", [{"pao2": 70}, {}], "not_met", []),
    ],
)
def test_some_and_every_are_kleene_any_and_all_over_the_elements(kind, gases, expected, missing):
    clinical = {} if gases is None else {"blood_gases": gases}
    line = decide_line(make_policy(_LOW_PAO2.format(kind=kind)), make_request(clinical=clinical))
    assert statuses(line)["q"] == expected
    assert line["missing"] == missing


def test_some_over_absent_history_is_not_met_because_absent_history_is_empty():
    policy = make_policy(
        "criteria: {id: tried, some: history, where: {fact: item.code, eq: E0601}}\n",
        services=("E0470",),
    )
    line = decide_line(policy, make_request(code="E0470"))
    assert statuses(line)["tried"] == "not_met"
    assert line["reason"] == "clinical_review"


@pytest.mark.parametrize(
    ("where", "history_code", "expected"),
    [
        ("{fact: h.code, in: [E06.01]}", "e0601", "met"),
        ("{fact: h.code, eq: E0601}", "E06.01", "met"),
        ("{fact: h.code, any_prefix: [E06]}", "e0601", "met"),
        ("{fact: h.code, eq: E0601}", "E0470", "not_met"),
    ],
)
def test_history_codes_in_a_quantifier_compare_as_codes(where, history_code, expected):
    policy = make_policy(f"criteria: {{id: tried, some: history, as: h, where: {where}}}\n")
    line = decide_line(policy, make_request(history=[{"code": history_code, "date": "2024-01-01"}]))
    assert statuses(line)["tried"] == expected


def test_nested_quantifiers_bind_elements_with_as():
    policy = make_policy(
        """
        criteria:
          id: a-trial-reached-target
          some: clinical.trials
          as: trial
          where:
            every: trial.sessions
            as: session
            where: {fact: session.hours, gte: {fact: trial.target_hours}}
        """
    )
    trials = [
        {"target_hours": 4, "sessions": [{"hours": 5}, {"hours": 3}]},
        {"target_hours": 4, "sessions": [{"hours": 4}, {"hours": 6}]},
    ]
    line = decide_line(policy, make_request(clinical={"trials": trials}))
    assert statuses(line)["a-trial-reached-target"] == "met"

    trials[1]["sessions"][0] = {}
    line = decide_line(policy, make_request(clinical={"trials": trials}))
    assert statuses(line)["a-trial-reached-target"] == "unknown"
    assert line["missing"] == ["clinical.trials[1].sessions[0].hours"]


@pytest.mark.parametrize(
    ("codes", "index", "expected"),
    [
        (["E0601", "E0470"], 0, "met"),
        (["E0470", "E0601"], 1, "met"),
        (["E0601"], 0, "not_met"),
        (["E0601", "E0601"], 0, "not_met"),
    ],
)
def test_services_exposes_the_other_lines_of_the_request(codes, index, expected):
    policy = make_policy(
        "criteria: {id: with-e0470, some: services, where: {fact: item.code, eq: E0470}}\n",
        services=("E0601", "E0470"),
    )
    lines = [{"code": code, "quantity": 1, "date_of_service": DOS} for code in codes]
    line = decide_line(policy, make_request(lines=lines), index)
    assert line["code"] == "E0601"
    assert statuses(line)["with-e0470"] == expected


# Decisive unknowns (edge rule 3) --------------------------------------------------------


def test_missing_lists_only_unknown_leaves_reached_through_unknown_nodes():
    policy = make_policy(
        """
        criteria:
          id: root
          any:
            - {id: a, fact: clinical.a, eq: 1}
            - id: b-and-c
              all:
                - {id: b, fact: clinical.b, eq: 1}
                - {id: c, fact: clinical.c, eq: 1}
        """
    )
    line = decide_line(policy, make_request(clinical={"b": 2}))
    assert statuses(line)["root"] == "unknown"
    assert statuses(line)["b-and-c"] == "not_met"
    assert line["missing"] == ["clinical.a"]


def test_unknown_leaves_under_a_met_group_are_not_asked_for():
    policy = make_policy(
        """
        criteria:
          any:
            - {id: a, fact: clinical.a, eq: 1}
            - {id: b, fact: clinical.b, eq: 1}
        """
    )
    line = decide_line(policy, make_request(clinical={"a": 1}))
    assert line["outcome"] == "approved"
    assert line["missing"] == []


@pytest.mark.parametrize("index", [0, 1])
def test_missing_names_the_line_specific_request_path(index):
    policy = make_policy("criteria: {id: rental, fact: service.details.rental_month, lte: 13}\n")
    lines = [
        {"code": "E0601", "quantity": 1, "date_of_service": DOS},
        {"code": "E0601", "quantity": 1, "date_of_service": DOS, "details": {}},
    ]
    line = decide_line(policy, make_request(lines=lines), index)
    assert statuses(line)["rental"] == "unknown"
    assert line["missing"] == [f"services[{index}].details.rental_month"]


@pytest.mark.parametrize(
    "gases",
    [
        [{"pao2": 50}, {"sao2": 88}],
        [{"pao2": 50}, {"pao2": None}],
        [{"pao2": 50}],
    ],
)
def test_missing_names_an_indexed_list_element_path(gases):
    policy = make_policy(
        """
        criteria:
          id: pao2
          fact: clinical.blood_gases[1].pao2
          lte: 55
        """
    )
    line = decide_line(policy, make_request(clinical={"blood_gases": gases}))
    assert statuses(line)["pao2"] == "unknown"
    assert line["missing"] == ["clinical.blood_gases[1].pao2"]


@pytest.mark.parametrize(
    "request_facts", [{}, {"clinical": {}}, {"clinical": None}, {"clinical": {"ahi": None}}]
)
def test_missing_names_the_leafs_fact_path_even_when_its_parent_is_absent(request_facts):
    policy = make_policy("criteria: {id: ahi, fact: clinical.ahi, gte: 15}\n")
    line = decide_line(policy, make_request(**request_facts))
    assert line["missing"] == ["clinical.ahi"]


def test_missing_from_every_section_is_the_union_in_order():
    policy = make_policy(
        """
        coverage:
          - {id: adult, fact: member.age, gte: 18}
        documentation:
          - {id: psg-report, text: PSG report}
        criteria: {id: ahi, fact: clinical.ahi, gte: 15}
        """
    )
    line = decide_line(policy, make_request(member={"id": "M1"}, clinical={}))
    assert line["reason"] == "missing_information"
    assert sorted(line["missing"]) == ["clinical.ahi", "member.birth_date", "psg-report"]


# ref (edge rule 5) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ahi", "expected"),
    [(20, "met"), (10, "not_met"), (None, "unknown")],
)
def test_ref_has_the_same_status_as_its_target(ahi, expected):
    policy = make_policy(
        """
        coverage:
          - {id: ahi-15, fact: clinical.ahi, gte: 15}
        criteria:
          id: root
          all:
            - {id: again, ref: ahi-15}
        """
    )
    line = decide_line(policy, make_request(clinical={"ahi": ahi}))
    found = statuses(line)
    assert found["ahi-15"] == expected
    assert found["again"] == expected
    assert found["root"] == expected


def test_ref_to_an_unknown_target_asks_for_the_targets_facts():
    policy = make_policy(
        """
        documentation:
          - {id: psg-report, text: PSG report}
        criteria:
          all:
            - {id: dx, fact: diagnoses, any_prefix: [G47.33]}
            - {id: uses-dx, ref: dx}
            - {id: uses-doc, ref: psg-report}
        """
    )
    line = decide_line(policy, make_request(documentation=[]))
    assert statuses(line)["uses-dx"] == "unknown"
    assert statuses(line)["uses-doc"] == "unknown"
    assert sorted(line["missing"]) == ["diagnoses", "psg-report"]


@pytest.mark.parametrize(
    ("clinical", "expected"),
    [
        ({"g": 0, "x": 1}, "not_applicable"),
        ({"g": 1, "x": 1}, "met"),
        ({"g": 1, "x": 2}, "not_met"),
    ],
)
def test_ref_to_a_node_with_its_own_applies_when_keeps_the_guard(clinical, expected):
    policy = make_policy(
        """
        coverage:
          - {id: target, fact: clinical.x, eq: 1, applies_when: {fact: clinical.g, eq: 1}}
        criteria: {id: uses-target, ref: target}
        """
    )
    line = decide_line(policy, make_request(clinical=clinical))
    assert statuses(line)["uses-target"] == expected


def test_ref_ignores_the_guards_of_its_targets_ancestors():
    policy = make_policy(
        """
        coverage:
          - id: guarded
            applies_when: {fact: clinical.g, eq: 1}
            all:
              - {id: inner, fact: clinical.x, eq: 1}
        criteria: {id: uses-inner, ref: inner}
        """
    )
    line = decide_line(policy, make_request(clinical={"g": 0, "x": 1}))
    found = statuses(line)
    assert found["guarded"] == "not_applicable"
    assert found["uses-inner"] == "met"


def cross_policy_setup() -> list[Policy]:
    shared = [
        make_policy(
            "criteria: {id: severe, fact: clinical.ahi, gte: 15}\n",
            policy_id="shared",
            version=1,
            services=("E0470",),
        ),
        make_policy(
            "criteria: {id: severe, fact: clinical.ahi, gte: 10}\n",
            policy_id="shared",
            version=2,
            effective="2025-01-01",
            services=("E0470",),
        ),
    ]
    user = make_policy("criteria: {id: uses-shared, ref: {policy: shared, node: severe}}\n")
    return [*shared, user]


@pytest.mark.parametrize(
    ("dos", "ahi", "expected"),
    [
        ("2025-03-10", 12, "met"),  # shared v2: AHI >= 10
        ("2024-06-01", 12, "not_met"),  # shared v1: AHI >= 15
        ("2024-06-01", 16, "met"),
        ("2025-03-10", None, "unknown"),
    ],
)
def test_cross_policy_ref_reaches_the_other_policys_version_in_effect(dos, ahi, expected):
    line = decide_line(cross_policy_setup(), make_request(dos=dos, clinical={"ahi": ahi}))
    assert [p["policy"] for p in line["policies"]] == ["p"]
    assert statuses(line)["uses-shared"] == expected
    if expected == "unknown":
        assert line["missing"] == ["clinical.ahi"]


# Line determination and X12 action codes -------------------------------------------------

_FULL = """
coverage:
  - {id: adult, text: Member is 18 or older, cite: ref 2.1, fact: member.age, gte: 18}
documentation:
  - {id: psg-report, text: PSG report}
criteria:
  id: root
  all:
    - {id: osa-dx, fact: diagnoses, any_prefix: [G47.33]}
    - {id: ahi-15, fact: clinical.ahi, gte: 15}
"""
_ADULT = {"id": "M1", "birth_date": "1961-04-02"}
_CHILD = {"id": "M2", "birth_date": "2015-04-02"}


@pytest.mark.parametrize(
    ("facts", "outcome", "reason", "x12", "missing"),
    [
        (
            {
                "member": _ADULT,
                "diagnoses": ["G47.33"],
                "clinical": {"ahi": 31},
                "documentation": ["psg-report"],
            },
            "approved",
            None,
            "A1",
            [],
        ),
        (
            {"member": _CHILD, "diagnoses": ["I10"], "clinical": {}, "documentation": []},
            "not_covered",
            None,
            "A3",
            [],
        ),
        (
            {"member": {"id": "M3"}, "diagnoses": ["I10"], "clinical": {}, "documentation": []},
            "pended",
            "clinical_review",
            "A4",
            ["member.birth_date", "psg-report"],
        ),
        (
            {"member": _ADULT, "diagnoses": ["G47.33"], "clinical": {}, "documentation": ["psg-report"]},
            "pended",
            "missing_information",
            "A4",
            ["clinical.ahi"],
        ),
        (
            {"member": _ADULT, "diagnoses": ["G47.33"], "clinical": {"ahi": 31}, "documentation": []},
            "pended",
            "missing_information",
            "A4",
            ["psg-report"],
        ),
    ],
)
def test_line_determination_order_and_x12_action(facts, outcome, reason, x12, missing):
    line = decide_line(make_policy(_FULL), make_request(**facts))
    assert (line["outcome"], line["reason"], line["x12_action"]) == (outcome, reason, x12)
    assert sorted(line["missing"]) == missing


def test_no_governing_policy_pends_for_no_policy():
    line = decide_line(make_policy(_FULL), make_request(code="K0001"))
    assert (line["outcome"], line["reason"], line["x12_action"]) == ("pended", "no_policy", "A4")
    assert line["missing"] == []


def test_date_of_service_before_the_first_version_is_no_policy():
    line = decide_line(make_policy(_FULL), make_request(dos="2023-12-31"))
    assert line["reason"] == "no_policy"


def test_not_covered_cites_the_failed_coverage_entry():
    line = decide_line(make_policy(_FULL), make_request(member=_CHILD, clinical={}))
    assert line["outcome"] == "not_covered"
    assert [(d["policy"], d["node"], d["cite"], d["status"]) for d in line["decided_by"]] == [
        ("p", "adult", "ref 2.1", "not_met")
    ]


def test_clinical_review_still_lists_missing_documents_and_facts():
    line = decide_line(
        make_policy(_FULL),
        make_request(member={"id": "M3"}, diagnoses=["G47.33"], clinical={"ahi": 5}, documentation=[]),
    )
    assert line["reason"] == "clinical_review"
    assert sorted(line["missing"]) == ["member.birth_date", "psg-report"]
    assert [d["node"] for d in line["decided_by"]] == ["ahi-15"]


# Several governing policies (edge rule 13) ------------------------------------------------


def _policy_with(policy_id: str, body: str, when: str | None = None) -> Policy:
    return make_policy(body, policy_id=policy_id, when=when)


_APPROVES = "criteria: {id: a-ok, fact: clinical.a, eq: 1}\n"
_NOT_COVERED = "coverage: [{id: b-cov, cite: ref 1, fact: clinical.b, eq: 1}]\n"
_REVIEW = "criteria: {id: c-crit, fact: clinical.c, eq: 1}\n"
_MISSING_X = "criteria: {id: x-crit, fact: clinical.x, eq: 1}\n"
_MISSING_Y = "criteria: {id: y-crit, fact: clinical.y, eq: 1}\n"


@pytest.mark.parametrize(
    ("bodies", "clinical", "outcome", "reason", "missing"),
    [
        ([_APPROVES, _NOT_COVERED], {"a": 1, "b": 2}, "not_covered", None, []),
        ([_NOT_COVERED, _REVIEW], {"b": 2, "c": 2}, "not_covered", None, []),
        ([_REVIEW, _MISSING_X], {"c": 2}, "pended", "clinical_review", ["clinical.x"]),
        ([_MISSING_X, _APPROVES], {"a": 1}, "pended", "missing_information", ["clinical.x"]),
        ([_MISSING_X, _MISSING_Y], {}, "pended", "missing_information", ["clinical.x", "clinical.y"]),
        ([_APPROVES, _APPROVES.replace("a-ok", "a-ok-2")], {"a": 1}, "approved", None, []),
    ],
)
def test_the_most_severe_governing_policy_wins_and_missing_is_the_union(
    bodies, clinical, outcome, reason, missing
):
    policies = [_policy_with(f"p{i}", body) for i, body in enumerate(bodies)]
    line = decide_line(policies, make_request(clinical=clinical))
    assert len(line["policies"]) == len(bodies)
    assert (line["outcome"], line["reason"]) == (outcome, reason)
    assert sorted(line["missing"]) == missing


def test_not_covered_by_one_of_several_policies_cites_that_policys_entry():
    policies = [_policy_with("p0", _APPROVES), _policy_with("p1", _NOT_COVERED)]
    line = decide_line(policies, make_request(clinical={"a": 1, "b": 2}))
    assert [(d["policy"], d["node"]) for d in line["decided_by"]] == [("p1", "b-cov")]


_INSULIN = "{id: is-insulin, fact: clinical.drug, eq: insulin}"


def test_applies_to_when_not_met_excludes_the_policy():
    policies = [_policy_with("general", _APPROVES), _policy_with("insulin", _NOT_COVERED, when=_INSULIN)]
    line = decide_line(policies, make_request(clinical={"a": 1, "b": 2, "drug": "heparin"}))
    assert line["outcome"] == "approved"
    excluded = next(p for p in line["policies"] if p["policy"] == "insulin")
    assert excluded["governs"] is False


def test_applies_to_when_met_lets_the_policy_govern():
    policies = [_policy_with("general", _APPROVES), _policy_with("insulin", _NOT_COVERED, when=_INSULIN)]
    line = decide_line(policies, make_request(clinical={"a": 1, "b": 2, "drug": "insulin"}))
    assert line["outcome"] == "not_covered"


def test_a_line_whose_only_policy_is_excluded_by_when_has_no_policy():
    policy = _policy_with("insulin", _APPROVES, when=_INSULIN)
    line = decide_line(policy, make_request(clinical={"a": 1, "drug": "heparin"}))
    assert line["reason"] == "no_policy"


def test_unknown_applies_to_when_lets_the_policy_govern_and_pends_for_it():
    policies = [_policy_with("general", _APPROVES), _policy_with("insulin", _APPROVES, when=_INSULIN)]
    line = decide_line(policies, make_request(clinical={"a": 1}))
    assert (line["outcome"], line["reason"]) == ("pended", "missing_information")
    assert line["missing"] == ["clinical.drug"]
    assert all(p["governs"] for p in line["policies"])


def test_unknown_applies_to_when_does_not_hide_a_not_covered_result():
    policy = _policy_with("insulin", _NOT_COVERED, when=_INSULIN)
    line = decide_line(policy, make_request(clinical={"b": 2}))
    assert line["outcome"] == "not_covered"


# Request status ------------------------------------------------------------------------------

_BY_CODE = """
coverage:
  - {id: e0601-only, fact: service.code, eq: E0601}
"""


@pytest.mark.parametrize(
    ("codes", "status"),
    [
        (["E0601"], "approved"),
        (["E0601", "E0601"], "approved"),
        (["E0470"], "not_covered"),
        (["E0470", "E0470"], "not_covered"),
        (["E0601", "E0470"], "partial"),
        (["E0601", "K0001"], "pended"),
        (["E0470", "K0001"], "pended"),
    ],
)
def test_request_status_from_its_lines(codes, status):
    policy = make_policy(_BY_CODE, services=("E0601", "E0470"))
    lines = [{"code": code, "quantity": 1, "date_of_service": DOS} for code in codes]
    assert decide(policy, make_request(lines=lines))["status"] == status


# Versions (edge rule 1) ----------------------------------------------------------------------


def _version(version: int, effective: str, expires: str | None = None, threshold: int = 15) -> Policy:
    return make_policy(
        f"criteria: {{id: ahi, fact: clinical.ahi, gte: {threshold}}}\n",
        version=version,
        effective=effective,
        expires=expires,
    )


@pytest.mark.parametrize(
    ("dos", "version"),
    [
        ("2024-01-01", 1),
        ("2024-12-31", 1),  # an open-ended version ends the day before the next one
        ("2025-01-01", 2),
        ("2030-06-01", 2),
    ],
)
def test_the_version_in_effect_on_the_date_of_service_decides(dos, version):
    policies = [_version(1, "2024-01-01"), _version(2, "2025-01-01", threshold=10)]
    line = decide_line(policies, make_request(dos=dos, clinical={"ahi": 12}))
    assert [p["version"] for p in line["policies"]] == [version]
    assert line["outcome"] == ("approved" if version == 2 else "pended")


@pytest.mark.parametrize(
    ("dos", "reason", "versions"),
    [
        ("2024-06-30", None, [1]),  # expires is inclusive
        ("2024-07-01", "no_policy", []),
        ("2024-12-31", "no_policy", []),
        ("2025-01-01", None, [2]),
    ],
)
def test_a_gap_between_an_explicit_expires_and_the_next_version_is_no_policy(dos, reason, versions):
    policies = [_version(1, "2024-01-01", expires="2024-06-30"), _version(2, "2025-01-01")]
    line = decide_line(policies, make_request(dos=dos, clinical={"ahi": 20}))
    assert line["reason"] == reason
    assert [p["version"] for p in line["policies"] if p["governs"]] == versions


def test_the_last_version_with_an_explicit_expires_ends_there():
    policies = [_version(1, "2024-01-01", expires="2024-12-31")]
    assert decide_line(policies, make_request(dos="2025-01-01"))["reason"] == "no_policy"
    assert (
        decide_line(policies, make_request(dos="2024-12-31", clinical={"ahi": 20}))["outcome"] == "approved"
    )


def test_an_explicit_expires_overlapping_the_next_version_is_a_load_problem():
    problems = link_versions([_version(1, "2024-01-01", expires="2025-06-30"), _version(2, "2025-01-01")])
    assert problems
    assert any(problem.field == "expires" for problem in problems)


@pytest.mark.parametrize("expires", [None, "2024-12-31", "2024-06-30"])
def test_versions_that_do_not_overlap_link_without_problems(expires):
    assert link_versions([_version(1, "2024-01-01", expires=expires), _version(2, "2025-01-01")]) == []


# Codes (edge rules 11 and 15) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("leaf", "diagnoses", "expected"),
    [
        ("{fact: diagnoses, any_prefix: [G47.33]}", ["G4733"], "met"),
        ("{fact: diagnoses, any_prefix: [G4733]}", ["G47.33"], "met"),
        ("{fact: diagnoses, any_prefix: [G47.3]}", ["g47.33"], "met"),
        ("{fact: diagnoses, any_prefix: [G47.33]}", ["G47.31"], "not_met"),
        ("{fact: primary_diagnosis, eq: G47.33}", ["g4733", "I10"], "met"),
        ("{fact: primary_diagnosis, eq: G47.33}", ["I10", "G47.33"], "not_met"),
        ("{fact: primary_diagnosis, in: [I10, G47.33]}", ["G4733"], "met"),
        ("{fact: primary_diagnosis, not_in: [G47.33]}", ["G4733"], "not_met"),
    ],
)
def test_codes_compare_upper_cased_without_dots(leaf, diagnoses, expected):
    policy = make_policy(f"criteria: {{id: root, all: [{leaf}]}}\n")
    line = decide_line(policy, make_request(diagnoses=diagnoses))
    assert statuses(line)["root"] == expected


@pytest.mark.parametrize(
    ("leaf", "expected"),
    [
        ("{fact: primary_diagnosis, any_prefix: [G47.3]}", "met"),
        ("{fact: primary_diagnosis, any_prefix: [I10]}", "not_met"),
        ("{fact: service.code, any_prefix: [E06]}", "met"),
        ("{fact: service.code, any_prefix: [E04]}", "not_met"),
    ],
)
def test_any_prefix_on_a_single_code_is_met_when_the_code_starts_with_a_prefix(leaf, expected):
    policy = make_policy(f"criteria: {{id: root, all: [{leaf}]}}\n")
    line = decide_line(policy, make_request(diagnoses=["G47.33", "I10"]))
    assert statuses(line)["root"] == expected


@pytest.mark.parametrize(("code", "governed"), [("e0601", True), ("E06.01", True), ("E0602", False)])
def test_the_service_code_is_matched_upper_cased_without_dots(code, governed):
    line = decide_line(make_policy(""), make_request(code=code))
    assert (line["reason"] != "no_policy") is governed


@pytest.mark.parametrize(
    ("code", "governed"),
    [
        ("97110", True),
        ("97112", True),
        ("97150", True),
        ("97109", False),
        ("97151", False),
        ("9712", False),
        ("971100", False),
    ],
)
def test_a_code_range_in_applies_to_services_is_inclusive(code, governed):
    policy = make_policy("", services=("97110-97150",))
    line = decide_line(policy, make_request(code=code))
    assert (line["reason"] != "no_policy") is governed


@pytest.mark.parametrize("spec", ["9711-97150", "97110-9715"])
def test_a_hyphenated_spec_with_unequal_ends_is_not_a_range(spec):
    policy = make_policy("", services=(spec,))
    assert decide_line(policy, make_request(code="97120"))["reason"] == "no_policy"
    assert decide_line(policy, make_request(code="9712"))["reason"] == "no_policy"


@pytest.mark.parametrize(("code", "expected"), [("97112", "met"), ("97151", "not_met"), ("9711", "not_met")])
def test_a_code_range_in_an_in_list_matches_codes_of_equal_length(code, expected):
    policy = make_policy(
        "criteria: {id: rehab, fact: service.code, in: ['97110-97150']}\n",
        services=("97110-97150", "97151", "9711"),
    )
    line = decide_line(policy, make_request(code=code))
    assert statuses(line)["rehab"] == expected


# Wrongly typed facts (edge rule 11) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("leaf", "clinical"),
    [
        ("{id: ahi, fact: clinical.ahi, gte: 15}", {"ahi": "9"}),
        ("{id: ahi, fact: clinical.ahi, gte: 15}", {"ahi": "31"}),
        ("{id: ahi, fact: clinical.ahi, gte: 15}", {"ahi": True}),
        ("{id: ahi, fact: clinical.ahi, gte: 15}", {"ahi": [31]}),
        ("{id: ahi, fact: clinical.ahi, eq: 15}", {"ahi": "15"}),
        ("{id: ahi, fact: clinical.ahi, lt: 2025-01-01}", {"ahi": "01/02/2024"}),
    ],
)
def test_a_wrongly_typed_fact_makes_the_leaf_unknown_and_flagged_invalid(leaf, clinical):
    policy = make_policy(f"criteria: {leaf}\n")
    line = decide_line(policy, make_request(clinical=clinical))
    node = traced(line, "ahi")
    assert node["status"] == "unknown"
    assert node.get("invalid")
    assert line["reason"] == "missing_information"
    assert line["missing"] == ["clinical.ahi"]


def test_a_wrongly_typed_input_of_a_derived_value_makes_its_leaf_unknown_and_names_the_input():
    policy = make_policy(
        """
        derive:
          doubled: clinical.a * 2
        criteria: {id: x, fact: derived.doubled, gte: 15}
        """
    )
    line = decide_line(policy, make_request(clinical={"a": "9"}))
    node = traced(line, "x")
    assert node["status"] == "unknown"
    assert node.get("invalid")
    assert line["reason"] == "missing_information"
    assert line["missing"] == ["clinical.a"]


def test_a_birth_date_that_is_not_a_date_makes_member_age_unknown_and_invalid():
    policy = make_policy("coverage: [{id: adult, fact: member.age, gte: 18}]\n")
    line = decide_line(policy, make_request(member={"id": "M1", "birth_date": "04/02/1961"}))
    node = traced(line, "adult")
    assert node["status"] == "unknown"
    assert node.get("invalid")
    assert line["missing"] == ["member.birth_date"]


def test_a_string_number_is_never_coerced_even_where_it_would_fail():
    policy = make_policy("criteria: {id: ahi, fact: clinical.ahi, gte: 15}\n")
    line = decide_line(policy, make_request(clinical={"ahi": "9"}))
    assert line["reason"] != "clinical_review"
    assert traced(line, "ahi")["invalid"]


# Documentation entries (edge rule 12) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "status", "missing"),
    [
        (["psg-report"], "met", []),
        (["psg-report", "other"], "met", []),
        ([], "unknown", ["psg-report"]),
        (None, "unknown", ["psg-report"]),
        (["PSG-REPORT-2"], "unknown", ["psg-report"]),
    ],
)
def test_a_documentation_entry_is_met_when_sent_else_unknown(sent, status, missing):
    policy = make_policy("documentation: [{id: psg-report, text: PSG report}]\n")
    facts = {} if sent is None else {"documentation": sent}
    line = decide_line(policy, make_request(**facts))
    assert statuses(line)["psg-report"] == status
    assert line["missing"] == missing
    assert line["outcome"] == ("approved" if status == "met" else "pended")


_EITHER_REPORT = """
documentation:
  - id: sleep-test-report
    text: PSG or HST report
    any:
      - {id: psg-report, text: PSG report}
      - {id: hst-report, text: HST report}
"""


@pytest.mark.parametrize(
    ("sent", "status", "missing"),
    [
        (["hst-report"], "met", []),
        (["psg-report"], "met", []),
        ([], "unknown", ["hst-report", "psg-report"]),
    ],
)
def test_documentation_entries_group_with_any(sent, status, missing):
    line = decide_line(make_policy(_EITHER_REPORT), make_request(documentation=sent))
    assert statuses(line)["sleep-test-report"] == status
    assert sorted(line["missing"]) == missing


@pytest.mark.parametrize(
    ("code", "sent", "status", "outcome"),
    [
        ("E0601", [], "not_applicable", "approved"),
        ("E0470", [], "unknown", "pended"),
        ("E0470", ["cpap-trial-note"], "met", "approved"),
    ],
)
def test_a_documentation_entry_with_applies_when(code, sent, status, outcome):
    policy = make_policy(
        """
        documentation:
          - id: cpap-trial-note
            text: CPAP trial notes
            applies_when: {fact: service.code, eq: E0470}
        """,
        services=("E0601", "E0470"),
    )
    line = decide_line(policy, make_request(code=code, documentation=sent))
    assert statuses(line)["cpap-trial-note"] == status
    assert line["outcome"] == outcome
    assert line["missing"] == ([] if status != "unknown" else ["cpap-trial-note"])


def test_a_documentation_entry_with_an_unknown_guard_asks_for_the_guard_and_the_document():
    policy = make_policy(
        """
        documentation:
          - id: trial-note
            text: CPAP trial notes
            applies_when: {fact: clinical.cpap_tried, eq: true}
        """
    )
    line = decide_line(policy, make_request(clinical={}, documentation=[]))
    assert statuses(line)["trial-note"] == "unknown"
    assert sorted(line["missing"]) == ["clinical.cpap_tried", "trial-note"]
    sent = decide_line(policy, make_request(clinical={}, documentation=["trial-note"]))
    assert statuses(sent)["trial-note"] == "met"
    assert sent["outcome"] == "approved"


# Line facts with defaults (edge rule 15) and history functions (edge rule 4) ----------------


@pytest.mark.parametrize(("modifiers", "expected"), [(None, "not_met"), (["KX"], "met"), ([], "not_met")])
def test_missing_modifiers_are_an_empty_list(modifiers, expected):
    policy = make_policy("criteria: {id: kx, fact: service.modifiers, includes_any: [KX]}\n")
    line_data: dict[str, Any] = {"code": "E0601", "date_of_service": DOS}
    if modifiers is not None:
        line_data["modifiers"] = modifiers
    line = decide_line(policy, make_request(lines=[line_data]))
    assert statuses(line)["kx"] == expected


def test_a_missing_quantity_is_one():
    policy = make_policy("criteria: {id: one, fact: service.quantity, eq: 1}\n")
    line = decide_line(policy, make_request(lines=[{"code": "E0601", "date_of_service": DOS}]))
    assert statuses(line)["one"] == "met"


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        (None, "met"),
        ([{"code": "E0470", "date": "2025-03-01"}], "met"),
        ([{"code": "E0601", "date": "2024-03-09"}], "met"),
        ([{"code": "E0601", "date": "2024-03-11"}, {"code": "E0601", "date": "2020-01-01"}], "not_met"),
    ],
)
def test_last_service_without_a_match_is_absent(history, expected):
    policy = make_policy(
        """
        derive:
          days_since: days_between(last_service(['E0601']), service.date_of_service)
        criteria: {id: a-year-since, fact: derived.days_since, gte: 365, if_absent: met}
        """
    )
    request = make_request() if history is None else make_request(history=history)
    assert statuses(decide_line(policy, request))["a-year-since"] == expected


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([{"code": "E0601", "date": "2025-01-01", "quantity": 2}], "met"),
        ([{"code": "E0601", "date": "2025-01-01"}, {"code": "E0601", "date": "2025-02-01"}], "met"),
        ([{"code": "E0601", "date": "2025-01-01"}], "not_met"),
        ([{"code": "E0601", "date": "2024-12-31", "quantity": 5}], "not_met"),
    ],
)
def test_count_services_sums_quantities_since_a_date(history, expected):
    policy = make_policy(
        """
        derive:
          this_year: count_services(['E0601'], date('2025-01-01'))
        criteria: {id: two-this-year, fact: derived.this_year, gte: 2}
        """
    )
    assert statuses(decide_line(policy, make_request(history=history)))["two-this-year"] == expected
