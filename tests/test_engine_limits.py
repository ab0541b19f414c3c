"""A policy the validator accepts never meets a limit of the rules engine.

Each limit is tested on both sides: at the bound the policy compiles and evaluates
correctly; past it, validation refuses it with file:line. The generated policies run
in a subprocess, so a native crash or hang fails the test instead of the suite.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from policy_strategies import HEADER

from policy_engine.engine.evaluator import Evaluator
from policy_engine.errors import PolicyInvalid
from policy_engine.limits import MAX_CODE_RANGES, MAX_OPERAND_VALUES
from policy_engine.loader import parse_policy_text

REPO = Path(__file__).resolve().parent.parent
FILE = "fuzz/v1.yaml"


def outcome(text: str, **request: object) -> str:
    """The line's outcome for a request on E0601 (clinical facts as given)."""
    evaluator = Evaluator([parse_policy_text(text, FILE)])  # its rulesets go with it
    line = {"code": "E0601", "date_of_service": "2025-01-01", **request.pop("line", {})}
    return evaluator.evaluate({"services": [line], **request}).lines[0].outcome


def refused(text: str) -> str:
    with pytest.raises(PolicyInvalid) as invalid:
        parse_policy_text(text, FILE)
    return str(invalid.value)


def criteria(leaf: str) -> str:
    return HEADER + f"criteria: {leaf}\n"


def numbers(count: int) -> str:
    return "[" + ", ".join(str(i * 7) for i in range(count)) + "]"


def ranges(count: int, plain: int = 0) -> str:
    items = [f"A{i:02d}00-A{i:02d}99" for i in range(count)] + [f"B{i:04d}" for i in range(plain)]
    return "[" + ", ".join(items) + "]"


def test_a_list_of_the_most_values_compiles_and_decides() -> None:
    text = criteria(f"{{fact: clinical.a, in: {numbers(MAX_OPERAND_VALUES)}}}")
    assert outcome(text, clinical={"a": 7 * (MAX_OPERAND_VALUES - 1)}) == "approved"
    assert outcome(text, clinical={"a": 1}) == "pended"
    not_in = criteria(f"{{fact: clinical.a, not_in: {numbers(MAX_OPERAND_VALUES)}}}")
    assert outcome(not_in, clinical={"a": 1}) == "approved"


@pytest.mark.parametrize("op", ["in", "not_in", "includes_any", "includes_all", "any_prefix"])
def test_one_value_more_is_refused_before_the_engine_sees_it(op: str) -> None:
    fact = {"any_prefix": "diagnoses", "includes_any": "clinical.tags", "includes_all": "clinical.tags"}
    items = ranges(0, MAX_OPERAND_VALUES + 1)
    message = refused(criteria(f"{{fact: {fact.get(op, 'service.code')}, {op}: {items}}}"))
    assert f"fuzz/v1.yaml:9: criteria.{op}: 257 values; one leaf takes at most 256" in message


def test_the_most_code_ranges_compile_and_decide() -> None:
    text = criteria(f"{{fact: service.code, in: {ranges(MAX_CODE_RANGES, 200)}}}")
    assert outcome(text) == "pended"  # E0601 is in none of the ranges
    ranged = text.replace("services: [E0601]", "services: [A1150]")
    assert outcome(ranged, line={"code": "A1150"}) == "approved"
    not_in = criteria(f"{{fact: service.code, not_in: {ranges(MAX_CODE_RANGES, 200)}}}")
    assert outcome(not_in) == "approved"


def test_one_code_range_more_is_refused() -> None:
    message = refused(criteria(f"{{fact: service.code, not_in: {ranges(MAX_CODE_RANGES + 1)}}}"))
    assert (
        "criteria.not_in: 13 code ranges; one leaf takes at most 12: write an 'all' of several not_in"
        in message
    )


def test_longest_codes_compile_as_prefixes_and_longer_ones_are_refused() -> None:
    prefixes = "[" + ", ".join(f"P{i:063d}" for i in range(MAX_OPERAND_VALUES)) + "]"
    text = criteria(f"{{fact: diagnoses, any_prefix: {prefixes}}}")
    assert outcome(text, diagnoses=[f"P{5:063d}9"]) == "approved"
    assert "is too long" in refused(criteria(f"{{fact: diagnoses, any_prefix: [{'A' * 65}]}}"))


@pytest.mark.parametrize(
    ("literal", "value", "expected"),
    [
        ("1.0e+16", 10**16, "approved"),
        ("1.0e+16", 10**16 - 2, "pended"),
        ("1.0e-5", 0.00001, "approved"),
        ("1.0e-5", 0.000009, "pended"),
        ("1.7e+308", 1.7e308, "approved"),
        ("-1.0e+20", -(10**20), "approved"),
        (str(10**99), 10**99, "approved"),
        ("-0.0", 0, "approved"),
    ],
)
def test_extreme_numbers_reach_the_engine_as_it_reads_them(
    literal: str, value: object, expected: str
) -> None:
    text = criteria(f"{{fact: clinical.a, gte: {literal}}}")
    assert outcome(text, clinical={"a": value}) == expected


@pytest.mark.parametrize(
    ("spec", "accepted"),
    [("100y", True), ("101y", False), ("1200m", True), ("1201m", False), ("36525d", True), ("36526d", False)],
)
def test_frequency_windows_end_inside_the_calendar(spec: str, accepted: bool) -> None:
    text = criteria(f"{{frequency: {{service: [E0601], max: 1000000, per: {spec}}}}}")
    if accepted:
        assert outcome(text, history=[{"code": "E0601", "date": "0001-01-01"}]) == "approved"
    else:
        assert "criteria.frequency.per: a window of more than 100 years" in refused(text)


def test_a_frequency_maximum_past_a_million_is_refused() -> None:
    assert "criteria.frequency.max" in refused(
        criteria("{frequency: {service: [E0601], max: 1000001, per: 5y}}")
    )


def derive_chain(length: int) -> str:
    lines = ["derive:", "  d0: clinical.a + 1"]
    lines += [f"  d{i}: derived.d{i - 1} + 1" for i in range(1, length)]
    return HEADER + "\n".join(lines) + f"\ncriteria: {{fact: derived.d{length - 1}, gte: 1}}\n"


def test_derived_values_chain_up_to_the_limit_and_no_further() -> None:
    assert outcome(derive_chain(16), clinical={"a": 0}) == "approved"
    assert "derive.d16: 'd16' is computed through more than 16 derived values in a row" in refused(
        derive_chain(17)
    )


def test_operators_in_a_row_up_to_the_limit_and_no_further() -> None:
    def summing(terms: int) -> str:
        total = " + ".join(["clinical.a"] * terms)
        return HEADER + f"derive: {{total: '{total}'}}\ncriteria: {{fact: derived.total, gte: 33}}\n"

    assert outcome(summing(33), clinical={"a": 1}) == "approved"
    assert "more than 32 operators in a row" in refused(summing(34))


def test_generated_policies_the_validator_accepts_compile_and_evaluate() -> None:
    """Lists at the limit, code ranges, long strings, extreme numbers, many leaves; each
    decision also agrees with the reference evaluator. A native crash or hang fails here."""
    # Seed 1 found a batch cut short by a double written 1e+308.
    arguments = ("--examples", "0", "--engine", "25", "--seed", "1")
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "fuzz_policies.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "engine: 25 accepted, 0 refused" in result.stdout


@pytest.mark.parametrize("huge", [1e308, 1e16, -1e22, 10**400])
def test_a_huge_number_in_a_request_does_not_hide_the_facts_after_it(huge: float) -> None:
    """The C core refuses a double written ``1e+16`` and then skips the rest of the batch
    without an error: every later leaf would read as not met."""
    text = criteria(
        "{all: [{fact: clinical.big, gte: 0}, {fact: clinical.a, gte: 1}, {fact: clinical.b, gte: 1}]}"
    )
    expected = "approved" if huge > 0 else "pended"
    assert outcome(text, clinical={"big": huge, "a": 5, "b": 5}) == expected
