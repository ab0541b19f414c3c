"""Runs the cases of each policy's ``tests.yaml`` against the engine, as authors do."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engine.evaluator import Evaluator
from .engine.trace import decision_dict
from .errors import PolicyInvalid, Problem
from .values import to_json
from .yamlsource import YamlSyntaxError, load

_LINE_KEYS = {"code", "outcome", "reason", "met", "not_met", "not_applicable", "missing"}
_EXPECT_KEYS = {"outcome", "reason", "met", "not_met", "not_applicable", "missing", "lines"}


@dataclass
class CaseResult:
    policy: str
    name: str
    file: str
    line: int
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def find_test_files(paths: list[str | Path]) -> list[Path]:
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(path.rglob("tests.yaml"))
        elif path.name == "tests.yaml":
            found.append(path)
    return found


def load_cases(path: Path) -> list[tuple[dict[str, Any], int]]:
    """The cases of one tests.yaml with their lines; malformed files raise ``PolicyInvalid``."""
    try:
        data, source = load(path.read_text(encoding="utf-8"))
    except YamlSyntaxError as error:
        problem = Problem(str(path), error.line, error.field, f"invalid YAML: {error.message}")
        raise PolicyInvalid([problem]) from None
    if not isinstance(data, list):
        raise PolicyInvalid([Problem(str(path), 1, "", "tests.yaml must be a list of cases")])
    problems, cases = [], []
    for index, case in enumerate(data):
        line = source.line_of((index,))
        if not isinstance(case, dict) or not {"name", "request", "expect"} <= set(case):
            problems.append(Problem(str(path), line, f"[{index}]", "a case needs name, request and expect"))
            continue
        unknown = set(case["expect"]) - _EXPECT_KEYS if isinstance(case["expect"], dict) else {"?"}
        if unknown:
            problems.append(
                Problem(
                    str(path),
                    source.line_of((index, "expect")),
                    f"[{index}].expect",
                    f"unknown expectation(s): {', '.join(sorted(map(str, unknown)))}",
                )
            )
            continue
        cases.append((case, line))
    if problems:
        raise PolicyInvalid(problems)
    return cases


def run_tests(evaluator: Evaluator, files: list[Path]) -> list[CaseResult]:
    results = []
    for path in files:
        for case, line in load_cases(path):
            result = CaseResult(path.parent.name, str(case["name"]), str(path), line)
            try:
                decision = decision_dict(evaluator.evaluate(to_json(case["request"])))
                result.failures = compare(path.parent.name, case["expect"], decision)
            except Exception as error:  # a crashing case is a failed case, reported with the rest
                result.failures = [f"evaluation failed: {type(error).__name__}: {error}"]
            results.append(result)
    return results


def compare(policy_id: str, expect: dict[str, Any], decision: dict[str, Any]) -> list[str]:
    failures: list[str] = []
    if "outcome" in expect and decision["status"] != expect["outcome"]:
        failures.append(f"outcome: expected {expect['outcome']}, got {decision['status']}")
    lines = decision["lines"]
    if "lines" in expect:
        for index, wanted in enumerate(expect["lines"]):
            if index >= len(lines):
                failures.append(f"lines[{index}]: the request has only {len(lines)} line(s)")
                continue
            for failure in _compare_line(policy_id, wanted, lines[index]):
                failures.append(f"lines[{index}].{failure}")
    elif lines:
        failures += _compare_line(policy_id, {k: v for k, v in expect.items() if k != "outcome"}, lines[0])
    return failures


def _compare_line(policy_id: str, wanted: dict[str, Any], line: dict[str, Any]) -> list[str]:
    failures = []
    for key in ("code", "outcome"):
        if key in wanted and str(wanted[key]) != str(line[key]):
            failures.append(f"{key}: expected {wanted[key]}, got {line[key]}")
    if "reason" in wanted and wanted["reason"] != line["reason"]:
        failures.append(f"reason: expected {wanted['reason']}, got {line['reason']}")
    if "missing" in wanted and sorted(map(str, wanted["missing"])) != sorted(line["missing"]):
        failures.append(
            f"missing: expected {sorted(map(str, wanted['missing']))}, got {sorted(line['missing'])}"
        )
    statuses = node_statuses(policy_id, line)
    for status in ("met", "not_met", "not_applicable"):
        for node_id in wanted.get(status, []):
            actual = statuses.get(str(node_id), "absent from the trace")
            if actual != status:
                failures.append(f"{status}: '{node_id}' is {actual}")
    return failures


def node_statuses(policy_id: str, line: dict[str, Any]) -> dict[str, str]:
    """Status of every traced node of the policy's result (other policies as a fallback)."""
    statuses: dict[str, str] = {}
    ordered = sorted(line["policies"], key=lambda p: p["policy"] == policy_id)
    for policy in ordered:
        for section in ("applies_when", "coverage", "documentation", "criteria"):
            items = policy[section]
            for item in [items] if isinstance(items, dict) else (items or []):
                _collect(item, statuses)
    return statuses


def _collect(node: dict[str, Any], statuses: dict[str, str]) -> None:
    statuses[node["id"]] = node["status"]
    if node.get("applies_when"):
        _collect(node["applies_when"], statuses)
    for child in node.get("children", []):
        _collect(child, statuses)
