"""The durable-rules path agrees with the independent reference evaluator, node by node."""

from __future__ import annotations

import threading

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine.engine.evaluator import Evaluator
from policy_engine.engine.outcome import Outcome, new_outcome, node_statuses
from policy_engine.engine.reference import ReferenceEvaluator
from policy_engine.loader import parse_policy_text

HEADER = {
    "id": "prop",
    "version": 1,
    "title": "Random policy",
    "effective": "2020-01-01",
    "owner": "tests",
    "summary": "Generated.",
    "references": [{"id": "ref", "title": "Reference"}],
    "applies_to": {"services": ["E0601"]},
    "derive": {
        "ratio": "clinical.a / clinical.b",
        "gap": "days_between(clinical.d, service.date_of_service)",
    },
}

numbers = st.sampled_from([0, 1, 4.5, 5, 14, 15, 15.0, 30, -2])
dates = st.sampled_from(["2024-01-01", "2025-03-10", "2025-03-11", "2019-12-31"])
words = st.sampled_from(["a", "b", "hypertension", "stroke"])
codes = st.sampled_from(["G47.33", "G4733", "I10", "E11.9", "M17.11"])


def leaf_strategy() -> st.SearchStrategy[dict]:
    number_leaf = st.builds(
        lambda fact, op, value: {"fact": fact, op: value},
        st.sampled_from(["clinical.a", "clinical.b", "derived.ratio", "derived.gap", "member.age"]),
        st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
        numbers,
    )
    fact_to_fact = st.builds(
        lambda op: {"fact": "clinical.a", op: {"fact": "clinical.b"}},
        st.sampled_from(["eq", "gt", "gte", "lt", "lte"]),
    )
    between = st.builds(
        lambda lo, hi: {"fact": "clinical.a", "between": [lo, lo + abs(hi)]}, numbers, numbers
    )
    date_leaf = st.builds(
        lambda op, value: {"fact": "clinical.d", op: value}, st.sampled_from(["lt", "gte", "eq"]), dates
    )
    string_leaf = st.builds(
        lambda op, values: {"fact": "clinical.s", op: values if op != "eq" else values[0]},
        st.sampled_from(["in", "not_in", "eq"]),
        st.lists(words, min_size=1, max_size=3),
    )
    list_leaf = st.builds(
        lambda op, values: {"fact": "clinical.tags", op: values},
        st.sampled_from(["includes_any", "includes_all"]),
        st.lists(words, min_size=1, max_size=3),
    )
    code_leaf = st.builds(
        lambda values: {"fact": "diagnoses", "any_prefix": values}, st.lists(codes, min_size=1, max_size=2)
    )
    exists = st.builds(
        lambda fact, flag: {"fact": fact, "exists": flag},
        st.sampled_from(["clinical.a", "clinical.s"]),
        st.booleans(),
    )
    some = st.builds(
        lambda kind, value: {kind: "clinical.items", "where": {"fact": "item.v", "gte": value}},
        st.sampled_from(["some", "every"]),
        numbers,
    )
    base = st.one_of(
        number_leaf, fact_to_fact, between, date_leaf, string_leaf, list_leaf, code_leaf, exists, some
    )
    return st.builds(
        lambda leaf, absent: {**leaf, "if_absent": absent} if absent and "exists" not in leaf else leaf,
        base,
        st.sampled_from([None, None, "met", "not_met"]),
    )


def tree_strategy() -> st.SearchStrategy[dict]:
    def extend(children: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
        group = st.builds(
            lambda kind, items: {kind: items},
            st.sampled_from(["all", "any"]),
            st.lists(children, min_size=1, max_size=4),
        )
        n_of = st.builds(
            lambda items, n: {"n_of": {"n": min(n, len(items)), "of": items}},
            st.lists(children, min_size=1, max_size=4),
            st.integers(1, 3),
        )
        negation = st.builds(lambda item: {"not": item}, children)
        guarded = st.builds(lambda item, guard: {**item, "applies_when": guard}, children, leaf_strategy())
        return st.one_of(group, n_of, negation, guarded)

    return st.recursive(leaf_strategy(), extend, max_leaves=10)


def value_strategy(kind: str) -> st.SearchStrategy:
    good = {"number": numbers, "date": dates, "string": words}[kind]
    wrong = st.sampled_from(["9", True, [1], {"x": 1}, 3] if kind != "number" else ["9", True, "2025-01-01"])
    return st.one_of(good, good, st.none(), wrong)


requests = st.fixed_dictionaries(
    {
        "member": st.fixed_dictionaries(
            {}, optional={"birth_date": st.sampled_from(["1961-04-02", "2007-03-10"])}
        ),
        "diagnoses": st.lists(codes, max_size=3),
        "services": st.just([{"code": "E0601", "date_of_service": "2025-03-10"}]),
        "clinical": st.fixed_dictionaries(
            {},
            optional={
                "a": value_strategy("number"),
                "b": value_strategy("number"),
                "d": value_strategy("date"),
                "s": value_strategy("string"),
                "tags": st.one_of(st.lists(words, max_size=3), value_strategy("string")),
                "items": st.lists(
                    st.fixed_dictionaries({}, optional={"v": value_strategy("number")}), max_size=3
                ),
            },
        ),
    }
)


def build(criteria: dict) -> list:
    text = yaml.safe_dump({**HEADER, "criteria": criteria}, sort_keys=False)
    return [parse_policy_text(text, "prop/v1.yaml")]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(criteria=tree_strategy(), request=requests)
def test_engine_matches_reference_evaluator(criteria: dict, request: dict) -> None:
    policies = build(criteria)
    line = Evaluator(policies).evaluate(request).lines[0]
    expected = ReferenceEvaluator(policies).line_statuses(request, 0)["prop@1"]
    actual = node_statuses(line.results[0].criteria)
    assert actual == expected


def test_concurrent_evaluations_never_see_each_others_facts() -> None:
    policies = build(
        {"all": [{"id": "high", "fact": "clinical.a", "gte": 15}, {"fact": "clinical.s", "eq": "a"}]}
    )
    evaluator = Evaluator(policies)
    cases = [
        {"services": [{"code": "E0601", "date_of_service": "2025-03-10"}], "clinical": {"a": a, "s": s}}
        for a in (10, 20)
        for s in ("a", "b")
    ]
    expected = [evaluator.evaluate(case).lines[0].results[0].criteria.status for case in cases]
    errors: list[str] = []

    def work(offset: int) -> None:
        for round_ in range(300):
            index = (offset + round_) % len(cases)
            status = evaluator.evaluate(cases[index]).lines[0].results[0].criteria.status
            if status != expected[index]:
                errors.append(f"case {index}: {status} != {expected[index]}")

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert expected == ["not_met", "not_met", "met", "not_met"]


def test_new_outcome_starts_as_an_outcome_does() -> None:
    node = object()
    made, built = new_outcome(node), Outcome(node)  # type: ignore[arg-type]
    assert {name: getattr(made, name) for name in Outcome.__slots__} == {
        name: getattr(built, name) for name in Outcome.__slots__
    }
