"""Whatever an author uploads, the loader accepts it or names file:line for each problem.

Hostile YAML and mutated bundled policies never raise anything but ``PolicyInvalid``;
each limit on reading is tested on both sides; the CLI refuses the classic attacks in
a subprocess that would time out rather than hang the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from policy_strategies import HEADER, hostile_text, laughs, mutated_bundled, nested

from policy_engine.errors import PolicyInvalid
from policy_engine.limits import PolicyLimits
from policy_engine.loader import parse_policy_text

REPO = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "policy-engine")
FILE = "fuzz/v1.yaml"
FUZZ = settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def refusal(text: str, limits: PolicyLimits | None = None) -> list[str]:
    """The problems as printed, or [] when the text is accepted; any other exception fails."""
    try:
        parse_policy_text(text, FILE, limits)
    except PolicyInvalid as invalid:
        last = max(1, text.count("\n") + 1)
        for problem in invalid.problems:
            assert problem.file == FILE
            assert 1 <= problem.line <= last, problem
            assert problem.message
        return [str(problem) for problem in invalid.problems]
    return []


@FUZZ
@given(hostile_text)
def test_hostile_text_is_accepted_or_refused_with_located_problems(text: str) -> None:
    refusal(text)


@FUZZ
@given(mutated_bundled)
def test_mutated_bundled_policies_are_accepted_or_refused_with_located_problems(text: str) -> None:
    refusal(text)


CRITERIA = HEADER + "criteria: "
HOSTILE = {
    "empty file": ("", "fuzz/v1.yaml:1: a policy file must be a YAML mapping"),
    "binary junk": ("\x00\x01\xfe", "fuzz/v1.yaml:1: invalid YAML: unacceptable character #x0000"),
    "python tag": (
        CRITERIA + "{fact: clinical.a, gte: !!python/name:os.system }\n",
        "fuzz/v1.yaml:9: criteria.gte: the YAML tag '!!python/name:os.system' is not allowed",
    ),
    "tag on a mapping": (
        CRITERIA + "!!python/object:os.system {fact: clinical.a}\n",
        "fuzz/v1.yaml:9: criteria: the YAML tag '!!python/object:os.system' is not allowed",
    ),
    "merge key": (
        HEADER + "base: &b {fact: clinical.a}\ncriteria: {<<: *b, gte: 1}\n",
        "fuzz/v1.yaml:10: criteria: merge keys ('<<') are not supported",
    ),
    "second document": (HEADER + "---\n" + HEADER, "fuzz/v1.yaml:9: a policy file holds one YAML document"),
    "duplicate key": (
        HEADER + "title: again\n",
        "fuzz/v1.yaml:9: title: invalid YAML: duplicate key 'title'",
    ),
    "alias to itself": (
        CRITERIA + "&c {all: [*c]}\n",
        "fuzz/v1.yaml:9: criteria.all[0]: the alias '*c' refers to a value that contains it",
    ),
    "undefined alias": (
        CRITERIA + "*nowhere\n",
        "fuzz/v1.yaml:9: criteria: the alias '*nowhere' names no anchor",
    ),
    "billion laughs": (
        laughs(10, 9),
        "the file holds more than 5,000 values (the alias '*a3' repeats 2,111)",
    ),
    "groups 3,000 deep": (nested(3000, "all"), "all: values nest more than 64 levels deep"),
    "lists 20,000 deep": (
        CRITERIA + "[" * 20_000 + "]" * 20_000,
        "invalid YAML: exceeded maximum nesting depth",
    ),
    "not 100 deep": (nested(100, "not"), "values nest more than 64 levels deep"),
    "NaN": (CRITERIA + "{fact: clinical.a, gte: .nan}\n", "criteria.gte: '.nan' is not a finite number"),
    "infinity": (CRITERIA + "{fact: clinical.a, lt: -.inf}\n", "criteria.lt: '-.inf' is not a finite number"),
    "10**5000": (
        CRITERIA + "{fact: clinical.a, gte: 1" + "0" * 5000 + "}\n",
        "a number of more than 100 digits",
    ),
    "in with 100,000 values": (
        CRITERIA + "{fact: clinical.a, in: [" + ",".join(map(str, range(100_000))) + "]}\n",
        "criteria.in[4983]: the file holds more than 5,000 values",
    ),
    "100,000 service codes": (
        HEADER.replace("[E0601]", "[" + ",".join(f"A{i:05d}" for i in range(100_000)) + "]"),
        "applies_to.services[4987]: the file holds more than 5,000 values",
    ),
    "derive parenthesised 5,000 deep": (
        HEADER + "derive: {x: '" + "(" * 5000 + "1" + ")" * 5000 + "'}\n",
        "derive.x: column 2001: an expression of more than 2,000 characters",
    ),
    "a date and time where text belongs": (
        CRITERIA + "{fact: clinical.a, gte: 1, cite: 2020-01-01 10:00:00}\n",
        "criteria.cite: cites '2020-01-01', which is not among the references (ref)",
    ),
    "NUL in a text": (
        HEADER.replace("title: Fuzzed policy", 'title: "a\\0b"'),
        "fuzz/v1.yaml:3: title: a text may not contain the NUL character ('\\0')",
    ),
    "policy id longer than a column": (HEADER.replace("id: fuzz", "id: " + "a" * 65), "is too long"),
    "unterminated last line": ("[", "fuzz/v1.yaml:1: invalid YAML: did not find expected node content"),
    "surrogate escape": (HEADER.replace("title: Fuzzed policy", 'title: "\\ud800"'), "invalid YAML"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_file_is_refused_with_a_clear_message(case: str) -> None:
    text, expected = HOSTILE[case]
    problems = refusal(text)
    assert any(expected in problem for problem in problems), problems


def test_text_values_in_any_script_are_kept_as_written() -> None:
    title = '"\\u202eRTL \\u05d0 \\U0001F600"'
    text = HEADER.replace("Fuzzed policy", title) + "criteria: {fact: clinical.a, gte: -0.0}\n"
    assert refusal(text) == []
    assert parse_policy_text(text, FILE).title == "\u202eRTL \u05d0 \U0001f600"


def test_aliases_within_the_budget_are_expanded_with_their_lines() -> None:
    text = HEADER.replace("[E0601]", "&codes [E0601, E0470]") + (
        "criteria:\n  all:\n    - {fact: service.code, in: *codes}\n    - {fact: clinical.a, gte: x}\n"
    )
    expected = "expected a number, a date (YYYY-MM-DD) or {fact: <path>}, got 'x'"
    assert refusal(text) == [f"fuzz/v1.yaml:12: criteria.all[1].gte: {expected}"]


LIMITS = PolicyLimits(max_bytes=2000, max_nodes=60, max_depth=8, max_digits=5)


@pytest.mark.parametrize(
    ("at_limit", "over_limit", "message"),
    [
        (HEADER + "summary2: " + "x", HEADER + "x" * 2000, "bytes; the limit is 2,000"),
        (CRITERIA + "{fact: clinical.a, in: [" + ",".join("1" * 42) + "]}\n", None, "more than 60 values"),
        (nested(2, "all"), nested(4, "all"), "values nest more than 8 levels deep"),
        (
            CRITERIA + "{fact: clinical.a, gte: 99999}\n",
            CRITERIA + "{fact: clinical.a, gte: 100000}\n",
            "5 digits",
        ),
    ],
)
def test_each_reading_limit_admits_its_bound_and_refuses_past_it(
    at_limit: str, over_limit: str | None, message: str
) -> None:
    over_limit = over_limit or at_limit.replace("[1,", "[1,1,1,")
    assert not any(message in problem for problem in refusal(at_limit, LIMITS))
    assert any(message in problem for problem in refusal(over_limit, LIMITS)), refusal(over_limit, LIMITS)


def test_limits_come_from_the_environment() -> None:
    limits = PolicyLimits.from_environment(
        {"POLICY_ENGINE_POLICY_MAX_NODES": "50", "POLICY_ENGINE_POLICY_MAX_DEPTH": ""}
    )
    assert limits == PolicyLimits(max_nodes=50)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "fuzz" / "v1.yaml"
    big.parent.mkdir()
    big.write_text(HEADER + "#" * 3000)
    result = subprocess.run(
        [CLI, "validate", str(big)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "POLICY_ENGINE_POLICY_MAX_BYTES": "2000"},
        cwd=REPO,
    )
    assert result.returncode == 1
    size = big.stat().st_size
    assert f"{big}:1: the file has {size:,} bytes; the limit is 2,000" in result.stderr


def test_validate_refuses_expansion_and_deep_nesting_without_hanging(tmp_path: Path) -> None:
    for name, text in {"laughs": laughs(12, 9), "deep": nested(200, "not")}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "v1.yaml").write_text(text)
    result = subprocess.run(
        [CLI, "validate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "the file holds more than 5,000 values" in result.stderr
    assert "values nest more than 64 levels deep" in result.stderr
