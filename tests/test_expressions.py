"""Tests for the derive: expression language (edge rules 4, 8, 11 and 15)."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy_engine import values
from policy_engine.expressions import Expression, ExpressionError, parse
from policy_engine.values import ABSENT, UNKNOWN, PriorService

D = dt.date
DOS = D(2025, 3, 10)


def _normalize(value: Any) -> Any:
    """Request JSON as the real evaluator hands it over: exact numbers, ISO dates."""
    if isinstance(value, dict):
        return {key: _normalize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalize(item) for item in value]
    return values.normalize(value)


class FakeEnv:
    """Dict-backed environment; records lookups, bindings, absences and invalid flags."""

    def __init__(
        self,
        facts: dict[str, Any] | None = None,
        history: Sequence[tuple[str, str | None, int]] = (),
    ) -> None:
        self.facts = _normalize(facts or {})
        self.date_of_service = DOS
        self.services = [
            PriorService(
                values.normalize_code(code),
                D.fromisoformat(day) if day else None,
                Fraction(quantity),
                f"history[{index}]",
            )
            for index, (code, day, quantity) in enumerate(history)
        ]
        self.bindings: dict[str, Any] = {}
        self.lookups: list[str] = []
        self.bound_paths: list[str] = []
        self.absent: list[str] = []
        self.invalid: list[str] = []

    def lookup(self, path: str) -> Any:
        self.lookups.append(path)
        head, *rest = re.findall(r"[a-z_][a-z0-9_]*|\[\d+\]", path)
        value = self.bindings[head] if head in self.bindings else self.facts.get(head, ABSENT)
        for part in rest:
            if part.startswith("["):
                index = int(part[1:-1])
                value = value[index] if isinstance(value, list) and index < len(value) else ABSENT
            else:
                value = value.get(part, ABSENT) if isinstance(value, dict) else ABSENT
        return value

    def bind(self, name: str, value: Any, path: str) -> FakeEnv:
        # A shallow copy shares the recording lists with its parent.
        self.bound_paths.append(path)
        child = copy.copy(self)
        child.bindings = {**self.bindings, name: value}
        return child

    def prior_services(self) -> list[PriorService]:
        return self.services

    def note_absent(self, path: str) -> None:
        self.absent.append(path)

    def flag_invalid(self, message: str) -> None:
        self.invalid.append(message)


FACTS = {
    "clinical": {
        "c_peptide": 0.5,
        "c_peptide_lower_limit": 0.8,
        "evaluation_date": "2025-01-02",
        "sleep_test_date": "2025-02-01",
        "nothing": None,
        "label": "mild",
        "gases": [{"pao2": 60, "date": "2025-01-05"}, {"pao2": 52, "date": "2025-02-05"}],
    },
    "service": {"date_of_service": "2025-03-10", "code": "E0601"},
    "derived": {"nights_4h": 21},
}
HISTORY = [
    ("E0601", "2020-05-01", 1),
    ("E0601", "2023-02-01", 2),
    ("E0601", "2026-01-01", 1),  # after the date of service: not prior
    ("A7030", "2024-06-01", 3),
    ("E0601", "2025-03-10", 1),  # same day as the date of service: prior
]


def run(source: str, facts: dict[str, Any] | None = None, history: Any = ()) -> tuple[Any, FakeEnv]:
    env = FakeEnv(FACTS if facts is None else facts, history)
    return parse(source).evaluate(env), env


def value_of(source: str, **kwargs: Any) -> Any:
    result, env = run(source, **kwargs)
    assert env.invalid == []
    return result


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),
        ("12 / 3 / 2", 2),
        ("-2 * 3", -6),
        ("- 2 - -3", 1),
        ("2 * -(1 + 2)", -6),
        ("1 + 2 == 3", True),
        ("not 1 == 2", True),
        ("true or false and false", True),
        ("(true or false) and false", False),
        ("not true or true", True),
        ("not (true or true)", False),
        ("not not true", True),
        ("1 < 2 and 2 < 3", True),
        ("false or 1 >= 1", True),
        ("1 != 1 or 2 <= 1", False),
    ],
)
def test_precedence(source: str, expected: Any) -> None:
    assert value_of(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("21 * 100 / 30 >= 70", True),
        ("derived.nights_4h * 100 / 30 >= 70", True),
        ("0.1 + 0.2 == 0.3", True),
        ("1 / 3 * 3 == 1", True),
        ("10 / 4", Fraction(5, 2)),
        ("0.1 + 0.2", Fraction(3, 10)),
        ("clinical.c_peptide / clinical.c_peptide_lower_limit", Fraction(5, 8)),
    ],
)
def test_numbers_are_exact(source: str, expected: Any) -> None:
    result = value_of(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("'abc'", "abc"),
        (r"'it\'s'", "it's"),
        ("''", ""),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[1, 'a', [true]]", [1, "a", [True]]),
        ("[]", []),
        ("'mild' == clinical.label", True),
        ("'a' < 'b'", True),
        ("[1, 2] == [1, 2]", True),
        ("true != false", True),
        ("clinical.gases[1].pao2", 52),
        ("service.date_of_service", DOS),
    ],
)
def test_literals_and_facts(source: str, expected: Any) -> None:
    assert value_of(source) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("days_between(date('2024-01-01'), date('2024-03-01'))", 60),
        ("days_between(date('2024-03-01'), date('2024-01-01'))", -60),
        ("days_between(clinical.evaluation_date, clinical.sleep_test_date)", 30),
        ("date('2024-03-01') - date('2024-01-01')", 60),
        ("months_between(date('2024-01-15'), date('2024-02-14'))", 0),
        ("months_between(date('2024-01-15'), date('2024-02-15'))", 1),
        ("months_between(date('2024-01-31'), date('2024-02-29'))", 1),
        ("months_between(date('2024-01-31'), date('2024-02-28'))", 0),
        ("months_between(date('2023-03-31'), date('2023-04-30'))", 1),
        ("months_between(date('2024-02-15'), date('2024-01-15'))", -1),
        ("years_between(date('2000-02-29'), date('2018-02-28'))", 18),
        ("years_between(date('2000-03-01'), date('2018-02-28'))", 17),
        ("calendar_months_between(date('2023-01-15'), date('2023-12-01'))", 10),
        ("calendar_months_between(date('2023-01-31'), date('2023-02-01'))", 0),
        ("calendar_months_between(date('2022-12-31'), date('2024-01-01'))", 12),
        ("add_days(date('2024-02-28'), 2)", D(2024, 3, 1)),
        ("add_days(date('2024-01-01'), -1)", D(2023, 12, 31)),
        ("add_months(date('2024-01-31'), 1)", D(2024, 2, 29)),
        ("add_months(date('2023-01-31'), 1)", D(2023, 2, 28)),
        ("add_months(date('2024-03-31'), -1)", D(2024, 2, 29)),
        ("add_months(date('2024-01-31'), 12)", D(2025, 1, 31)),
        ("count([1, 2, 3])", 3),
        ("count([])", 0),
        ("count(clinical.gases)", 2),
        ("len('abc')", 3),
        ("len([1])", 1),
        ("min(3, 1, 2)", 1),
        ("max([1, 5, 2])", 5),
        ("max(0.5, 1 / 3)", Fraction(1, 2)),
        ("min(date('2024-01-01'), date('2023-01-01'))", D(2023, 1, 1)),
        ("max([clinical.evaluation_date, clinical.sleep_test_date])", D(2025, 2, 1)),
        ("coalesce(null, 2)", 2),
        ("coalesce(1, 2)", 1),
        ("coalesce(clinical.absent, clinical.label)", "mild"),
        ("if(1 < 2, 'a', 'b')", "a"),
        ("if(false, 'a', 'b')", "b"),
        ("count_if([1, 5, 10], item > 3)", 2),
        ("count_if(clinical.gases, item.pao2 <= 55)", 1),
        ("count_if([[1, 2], [3]], count_if(item, item > 1) > 0)", 2),
        ("count_if([], item)", 0),
        ("date('2024-02-29')", D(2024, 2, 29)),
    ],
)
def test_functions(source: str, expected: Any) -> None:
    assert value_of(source) == expected


def test_count_if_binds_each_element_with_its_request_path() -> None:
    result, env = run("count_if(clinical.gases, item.pao2 <= 55)")
    assert result == 1
    assert env.bound_paths == ["clinical.gases[0]", "clinical.gases[1]"]
    assert env.lookups == ["clinical.gases", "item.pao2", "item.pao2"]


@pytest.mark.parametrize(
    ("gases", "expected"),
    [
        ([{"pao2": 50}, {}], UNKNOWN),  # one unknown element makes the count unknown
        ([{"pao2": 50}, {"pao2": None}], UNKNOWN),
        ([{"pao2": 50}, {"pao2": 60}], 1),
        (None, UNKNOWN),
        ([], 0),
    ],
)
def test_count_if_unknown_elements(gases: Any, expected: Any) -> None:
    result, env = run("count_if(clinical.gases, item.pao2 <= 55)", facts={"clinical": {"gases": gases}})
    assert result is expected if expected is UNKNOWN else result == expected
    assert env.invalid == []


def test_count_if_reads_every_element_even_after_an_unknown_one() -> None:
    facts = {"clinical": {"gases": [{}, {}, {"pao2": 50}]}}
    _, env = run("count_if(clinical.gases, item.pao2 <= 55)", facts=facts)
    assert env.lookups.count("item.pao2") == 3


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("last_service(['E0601'])", D(2025, 3, 10)),
        ("last_service(['A7030'])", D(2024, 6, 1)),
        ("last_service(['a7030', 'K0001'])", D(2024, 6, 1)),
        ("last_service(['A7000-A7099'])", D(2024, 6, 1)),
        ("last_service(['K0001'])", ABSENT),
        ("last_service([])", ABSENT),
        ("count_services(['E0601'], date('2020-05-01'))", 4),
        ("count_services(['E0601'], date('2020-05-02'))", 3),
        ("count_services(['E0601', 'A7030'], date('2024-01-01'))", 4),
        ("count_services(['K0001'], date('2000-01-01'))", 0),
        ("count_services(['E0601'], add_months(service.date_of_service, -60))", 4),
    ],
)
def test_history_functions(source: str, expected: Any) -> None:
    assert value_of(source, history=HISTORY) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("coalesce(last_service(['E0601']), date('2000-01-01'))", D(2000, 1, 1)),
        ("last_service(['E0601']) < date('2030-01-01')", UNKNOWN),
        ("days_between(last_service(['E0601']), service.date_of_service)", UNKNOWN),
    ],
)
def test_last_service_with_no_match_is_absent(source: str, expected: Any) -> None:
    result, env = run(source, history=[("A7030", "2024-06-01", 1)])
    assert result == expected if expected is not UNKNOWN else result is UNKNOWN
    assert env.invalid == [] and env.absent == []


@pytest.mark.parametrize(
    "source",
    ["last_service(['E0601'])", "count_services(['E0601'], date('2020-01-01'))"],
)
def test_undated_matching_history_entry_makes_history_functions_unknown(source: str) -> None:
    history = [*HISTORY, ("E0601", None, 1), ("K0001", None, 1)]
    result, env = run(source, history=history)
    assert result is UNKNOWN
    assert env.absent == ["history[5].date"]  # the non-matching undated entry is irrelevant


@pytest.mark.parametrize(
    ("source", "expected", "never_read"),
    [
        ("false and clinical.absent", False, "clinical.absent"),
        ("true or clinical.absent", True, "clinical.absent"),
        ("false and 5", False, None),
        ("clinical.absent and true", UNKNOWN, None),
        ("clinical.absent and false", False, None),
        ("clinical.nothing and false", False, None),
        ("clinical.absent or true", True, None),
        ("clinical.absent or false", UNKNOWN, None),
        ("clinical.absent or clinical.absent", UNKNOWN, None),
        ("not clinical.absent", UNKNOWN, None),
        ("if(clinical.absent, 1, 2)", UNKNOWN, None),
        ("if(true, 1, clinical.other)", 1, "clinical.other"),
        ("if(false, clinical.other, 2)", 2, "clinical.other"),
        ("if(true, 1, 1 / 0)", 1, None),
        ("coalesce(clinical.absent, 5)", 5, None),
        ("coalesce(clinical.nothing, 1 / 0, 'x')", "x", None),
        ("coalesce(1, clinical.other)", 1, "clinical.other"),
        ("coalesce(clinical.absent)", UNKNOWN, None),
        ("coalesce(null, 1 / 0)", UNKNOWN, None),
    ],
)
def test_lazy_kleene_operators(source: str, expected: Any, never_read: str | None) -> None:
    result, env = run(source)
    assert result is expected if isinstance(expected, bool) or expected is UNKNOWN else result == expected
    assert never_read not in env.lookups
    assert env.invalid == []


@pytest.mark.parametrize(
    "source",
    [
        "clinical.absent + 1",
        "-clinical.absent",
        "clinical.nothing > 1",
        "clinical.absent == clinical.absent",
        "null == null",
        "clinical.nothing != 1",
        "[1, clinical.absent]",
        "days_between(clinical.absent, date('2024-01-01'))",
        "add_months(clinical.absent, 1)",
        "add_days(date('2024-01-01'), null)",
        "count(clinical.absent)",
        "len(null)",
        "min(1, clinical.absent)",
        "max([1, null])",
        "max([])",
        "count_services(['E0601'], clinical.absent)",
        "last_service(clinical.absent)",
        "count_if(clinical.absent, true)",
    ],
)
def test_strict_operators_turn_unknown(source: str) -> None:
    result, env = run(source)
    assert result is UNKNOWN
    assert env.invalid == []


def test_strict_operators_read_every_input() -> None:
    # Both absent inputs are looked up, so both can be reported as missing.
    _, env = run("days_between(clinical.a, clinical.b)")
    assert env.lookups == ["clinical.a", "clinical.b"]


def test_bare_absent_fact_stays_absent() -> None:
    assert value_of("clinical.absent") is ABSENT
    assert value_of("clinical.nothing") is None


@pytest.mark.parametrize(
    "source", ["1 / 0", "1 / (2 - 2)", "(1 / 0) > 1", "0 / 0", "clinical.c_peptide / (0 * 5)"]
)
def test_division_by_zero_is_unknown_not_invalid(source: str) -> None:
    result, env = run(source)
    assert result is UNKNOWN
    assert env.invalid == []


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("'abc' + 1", "'+' needs a number, got 'abc' in ''abc' + 1'"),
        ("days_between(5, date('2024-01-01'))", "days_between argument 1 needs a date"),
        ("date('2024-01-01') > 3", "cannot compare the date 2024-01-01 with the number 3"),
        ("'a' == 1", "cannot compare"),
        ("true < false", "cannot order"),
        ("[1] < [2]", "cannot order"),
        ("5 and true", "'and' needs true or false, got the number 5 in '5 and true'"),
        ("true and 5", "'and' needs true or false"),
        ("false or 'yes'", "'or' needs true or false"),
        ("not 5", "'not' needs true or false"),
        ("-'a'", "'-' needs a number"),
        ("if(1, 2, 3)", "if needs true or false"),
        ("count(5)", "count needs a list"),
        ("len(5)", "len needs a list or a string"),
        ("min('a', 'b')", "min needs all numbers or all dates"),
        ("max(1, date('2024-01-01'))", "max needs all numbers or all dates"),
        ("min(5)", "min needs a list"),
        ("add_days(date('2024-01-01'), 0.5)", "add_days argument 2 needs a whole number"),
        ("add_months(5, 1)", "add_months argument 1 needs a date"),
        ("add_days(date('9999-12-31'), 1)", "add_days goes past"),
        ("date('2024-01-01') + 1", "use add_days"),
        ("date('2024-01-01') - 1", "use add_days"),
        ("1 - date('2024-01-01')", "'-' needs a number"),
        ("count_if([1, 2], item + 1)", "count_if condition needs true or false"),
        ("count_if(5, true)", "count_if argument 1 needs a list"),
        ("last_service('E0601')", "last_service argument 1 needs a list"),
        ("last_service([1])", "last_service needs a list of code strings"),
        ("count_services(['E0601'], 5)", "count_services argument 2 needs a date"),
        ("clinical + 1", "'+' needs a number, got an object"),
        ("clinical.label * 2", "in 'clinical.label * 2'"),
    ],
)
def test_type_errors_are_flagged_and_unknown(source: str, fragment: str) -> None:
    result, env = run(source, history=HISTORY)
    assert result is UNKNOWN
    assert len(env.invalid) == 1
    assert fragment in env.invalid[0]


def test_type_error_inside_coalesce_is_flagged_but_skipped() -> None:
    result, env = run("coalesce('a' * 2, 7)")
    assert result == 7
    assert env.invalid == ["'*' needs a number, got 'a' in ''a' * 2'"]


@pytest.mark.parametrize(
    ("source", "column", "fragment"),
    [
        ("", 1, "empty expression"),
        ("1 +", 4, "expected a value"),
        ("1 2", 3, "unexpected '2'"),
        ("(1 + 2", 7, "expected ')'"),
        ("1 + 2)", 6, "unexpected ')'"),
        ("a < b < c", 7, "cannot be chained"),
        ("1 == 2 != 3", 8, "cannot be chained"),
        ("1 = 2", 3, "use '=='"),
        ("clinical.Ahi", 10, "lower-case"),
        ("Clinical.ahi", 1, "lower-case"),
        ("clinical.", 10, "after '.'"),
        ("1.", 1, "malformed number"),
        ("12ab", 1, "malformed number"),
        ("'abc", 1, "unterminated string"),
        ("[1, ]", 5, "expected a value"),
        ("[1 2]", 4, "expected ',' or ']'"),
        ("max(1 2)", 7, "expected ',' or ')'"),
        ("true.x", 1, "'true' is a keyword"),
        ("1 + and", 5, "'and' is a keyword"),
        ("clinical.x(1)", 11, "only functions can be called"),
        ("gases [1]", 7, "list index"),
        ("gases[a]", 6, "list index"),
        ("x # 1", 3, "unexpected character '#'"),
        ("1 < not 2", 5, "'not' is a keyword"),
        ("date(clinical.x)", 6, "quoted 'YYYY-MM-DD'"),
        ("date( '2024-1-1')", 7, "quoted 'YYYY-MM-DD'"),
        ("date('2023-02-29')", 6, "impossible date"),
        ("x + date(1)", 10, "quoted"),
        ("(" * 70 + "1" + ")" * 70, 33, "nested too deeply"),
        ("-" * 70 + "1", 33, "nested too deeply"),
        ("not " * 40 + "true", 129, "nested too deeply"),
    ],
)
def test_syntax_errors_carry_a_column(source: str, column: int, fragment: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse(source)
    assert raised.value.column == column
    assert fragment in raised.value.message
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("source", "column", "fragment"),
    [
        ("foo(1)", 1, "unknown function 'foo'"),
        ("1 + eval('x')", 5, "unknown function 'eval'"),
        ("days_between(1)", 1, "days_between() takes 2 arguments, got 1"),
        ("x + count()", 5, "count() takes 1 argument, got 0"),
        ("if(true, 1)", 1, "if() takes 3 arguments, got 2"),
        ("coalesce()", 1, "coalesce() takes 1 or more arguments, got 0"),
        ("min()", 1, "min() takes 1 or more"),
        ("count_if([1], item, 2)", 1, "count_if() takes 2 arguments, got 3"),
        ("date('2024-01-01', 'x')", 1, "date() takes 1 argument"),
        ("last_service()", 1, "last_service() takes 1 argument"),
        ("count_services(['E0601'])", 1, "count_services() takes 2 arguments"),
    ],
)
def test_unknown_functions_and_arity(source: str, column: int, fragment: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse(source)
    assert raised.value.column == column
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("source", "paths", "functions"),
    [
        (
            "days_between(clinical.evaluation_date, derived.x)",
            {"clinical.evaluation_date", "derived.x"},
            {"days_between"},
        ),
        (
            "count_if(clinical.gases, item.pao2 <= 55 and item.date >= service.date_of_service)",
            {"clinical.gases", "service.date_of_service"},
            {"count_if"},
        ),
        ("clinical.gases[1].pao2 + clinical.gases[1].pao2", {"clinical.gases[1].pao2"}, set()),
        ("count(history)", {"history"}, {"count"}),
        ("item.x > 1", {"item.x"}, set()),  # outside count_if, item is an ordinary name
        ("count_if(item.list, item)", {"item.list"}, {"count_if"}),
        (
            "coalesce(last_service(['E0601']), date('2000-01-01'))",
            set(),
            {"coalesce", "last_service", "date"},
        ),
        ("true and not false", set(), set()),
        ("if(derived.a, derived.b, derived.c)", {"derived.a", "derived.b", "derived.c"}, {"if"}),
    ],
)
def test_paths_and_functions(source: str, paths: set[str], functions: set[str]) -> None:
    expression = parse(source)
    assert isinstance(expression, Expression)
    assert expression.source == source
    assert expression.paths == frozenset(paths)
    assert expression.functions == frozenset(functions)


@pytest.mark.parametrize("source", [70, True, None, ["1"]])
def test_non_string_source_is_an_expression_error(source: Any) -> None:
    with pytest.raises(ExpressionError, match="must be a string") as raised:
        parse(source)
    assert raised.value.column == 1


def test_keywords_are_not_paths_but_may_be_field_names() -> None:
    assert parse("clinical.null").paths == {"clinical.null"}
    assert parse("null").paths == frozenset()


# Property: arithmetic agrees with Python's Fraction arithmetic -------------------

_LEAVES = st.one_of(
    st.integers(0, 20).map(lambda n: (str(n), Fraction(n))),
    st.decimals(0, 10, places=2, allow_nan=False, allow_infinity=False).map(lambda d: (str(d), Fraction(d))),
)


def _combine(children: Any) -> Any:
    binary = st.tuples(children, st.sampled_from("+-*/"), children).map(
        lambda t: (f"({t[0][0]} {t[1]} {t[2][0]})", _apply(t[1], t[0][1], t[2][1]))
    )
    negated = children.map(lambda c: (f"-{c[0]}", None if c[1] is None else -c[1]))
    return binary | negated


def _apply(op: str, left: Fraction | None, right: Fraction | None) -> Fraction | None:
    if left is None or right is None or (op == "/" and right == 0):
        return None
    if op == "/":
        return left / right
    return {"+": left + right, "-": left - right, "*": left * right}[op]


@given(st.recursive(_LEAVES, _combine, max_leaves=12))
def test_arithmetic_matches_fractions(case: tuple[str, Fraction | None]) -> None:
    source, expected = case
    env = FakeEnv()
    result = parse(source).evaluate(env)
    if expected is None:
        assert result is UNKNOWN
    else:
        assert isinstance(result, Fraction)
        assert result == expected
    assert env.invalid == []
