"""The `policy-engine` command line as authors use it: test, evaluate, validate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from policy_engine.cli import main

REPO = Path(__file__).resolve().parent.parent

POLICY = """\
id: cpap-lite
version: 1
title: CPAP device for obstructive sleep apnea
effective: 2024-01-01
owner: Sleep medicine policy committee
summary: A CPAP device is covered for adults with obstructive sleep apnea and an AHI of 15 or more.
references:
  - id: ncd-240.4
    title: CMS NCD 240.4, Continuous positive airway pressure therapy for OSA
    url: https://www.cms.gov/medicare-coverage-database/view/ncd.aspx?NCDId=226
applies_to:
  services: [E0601]
coverage:
  - id: adult
    text: Member is 18 or older on the date of service
    cite: ncd-240.4 B
    fact: member.age
    gte: 18
documentation:
  - id: psg-report
    text: Polysomnography report
criteria:
  id: medical-necessity
  text: All medical-necessity criteria are met
  all:
    - id: osa-dx
      text: Diagnosis of obstructive sleep apnea
      cite: ncd-240.4 B.3
      fact: diagnoses
      any_prefix: [G47.33]
    - id: ahi-15
      text: AHI of 15 or more events per hour
      cite: ncd-240.4 B.5.a
      fact: clinical.ahi
      gte: 15
"""

TESTS = """\
- name: severe OSA is approved
  request:
    member: {id: M1, birth_date: 1961-04-02}
    diagnoses: [G47.33]
    services: [{code: E0601, date_of_service: 2025-03-10}]
    clinical: {ahi: 31}
    documentation: [psg-report]
  expect: {outcome: approved, met: [adult, osa-dx, ahi-15, medical-necessity, psg-report]}

- name: mild OSA goes to clinical review
  request:
    member: {id: M2, birth_date: 1961-04-02}
    diagnoses: [G47.33]
    services: [{code: E0601, date_of_service: 2025-03-10}]
    clinical: {ahi: 9}
    documentation: [psg-report]
  expect: {outcome: pended, reason: clinical_review, met: [osa-dx], not_met: [ahi-15]}

- name: a missing AHI and sleep study report are asked for
  request:
    member: {id: M3, birth_date: 1961-04-02}
    diagnoses: [G47.33]
    services: [{code: E0601, date_of_service: 2025-03-10}]
    clinical: {}
  expect: {outcome: pended, reason: missing_information, missing: [clinical.ahi, psg-report]}

- name: a child is not covered
  request:
    member: {id: M4, birth_date: 2015-01-01}
    diagnoses: [G47.33]
    services: [{code: E0601, date_of_service: 2025-03-10}]
    clinical: {ahi: 31}
    documentation: [psg-report]
  expect: {outcome: not_covered, not_met: [adult]}
"""

APPROVED_REQUEST = {
    "member": {"id": "M1001", "birth_date": "1961-04-02", "sex": "F"},
    "diagnoses": ["G47.33"],
    "services": [{"code": "E0601", "quantity": 1, "date_of_service": "2025-03-10"}],
    "clinical": {"ahi": 31, "evaluation_date": "2025-01-15", "sleep_test_date": "2025-02-01"},
    "documentation": ["psg-report", "f2f-note"],
}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "cpap-lite"
    folder.mkdir()
    (folder / "v1.yaml").write_text(POLICY)
    (folder / "tests.yaml").write_text(TESTS)
    return folder


def case_line(text: str, name: str) -> int:
    """1-based line of the ``- name: <name>`` item that starts a case."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line == f"- name: {name}":
            return number
    raise AssertionError(f"no case named {name!r}")


def line_of(text: str, fragment: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1) if fragment in line)


# --- policy-engine test -----------------------------------------------------------------


def test_passing_cases_exit_0(policy_dir: Path) -> None:
    result = run("test", str(policy_dir))

    no_traceback(result)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "4 passed, 0 failed"
    assert "FAIL" not in result.stdout


def test_verbose_lists_passing_cases(policy_dir: Path) -> None:
    result = run("test", "--verbose", str(policy_dir))

    assert result.exit_code == 0, result.output
    assert "PASS" in result.stdout
    assert "cpap-lite: severe OSA is approved" in result.stdout
    assert f"({policy_dir / 'tests.yaml'}:{case_line(TESTS, 'severe OSA is approved')})" in result.stdout


def test_a_wrong_expectation_fails_with_file_and_line(policy_dir: Path) -> None:
    wrong = TESTS.replace("expect: {outcome: approved,", "expect: {outcome: not_covered,")
    (policy_dir / "tests.yaml").write_text(wrong)

    result = run("test", str(policy_dir))

    no_traceback(result)
    assert result.exit_code == 1
    tests_file = policy_dir / "tests.yaml"
    line = case_line(wrong, "severe OSA is approved")
    assert re.search(
        rf"FAIL\s+cpap-lite: severe OSA is approved\s+\({re.escape(str(tests_file))}:{line}\)", result.stdout
    ), result.stdout
    assert "outcome: expected not_covered, got approved" in result.stdout
    assert result.stdout.splitlines()[-1] == "3 passed, 1 failed"


def test_a_wrong_node_status_is_named(policy_dir: Path) -> None:
    wrong = TESTS.replace("not_met: [ahi-15]}", "not_met: [ahi-15, osa-dx]}")
    (policy_dir / "tests.yaml").write_text(wrong)

    result = run("test", str(policy_dir))

    assert result.exit_code == 1
    assert "not_met: 'osa-dx' is met" in result.stdout
    assert (
        f"{policy_dir / 'tests.yaml'}:{case_line(wrong, 'mild OSA goes to clinical review')}" in result.stdout
    )
    assert result.stdout.splitlines()[-1] == "3 passed, 1 failed"


def test_an_unknown_expectation_key_is_reported(policy_dir: Path) -> None:
    malformed = TESTS.replace("not_met: [adult]}", "not_mett: [adult]}")
    (policy_dir / "tests.yaml").write_text(malformed)

    result = run("test", str(policy_dir))

    no_traceback(result)
    assert result.exit_code == 1
    line = line_of(malformed, "not_mett")
    assert (
        f"{policy_dir / 'tests.yaml'}:{line}: [3].expect: unknown expectation(s): not_mett" in result.stderr
    ), result.stderr
    assert "passed" not in result.stdout


def test_a_tests_file_that_is_not_yaml_is_reported(policy_dir: Path) -> None:
    (policy_dir / "tests.yaml").write_text(TESTS.replace("clinical: {ahi: 9}", "clinical: {ahi: 9"))

    result = run("test", str(policy_dir))

    no_traceback(result)
    assert result.exit_code == 1
    assert re.search(rf"^{re.escape(str(policy_dir / 'tests.yaml'))}:\d+: invalid YAML", result.stderr, re.M)


def test_an_invalid_policy_stops_the_test_run(policy_dir: Path) -> None:
    (policy_dir / "v1.yaml").write_text(POLICY.replace("gte: 15", "gtee: 15"))

    result = run("test", str(policy_dir))

    no_traceback(result)
    assert result.exit_code == 1
    line = line_of(POLICY, "gte: 15")
    assert f"{policy_dir / 'v1.yaml'}:{line}: criteria.all[1].gtee: unknown field 'gtee'" in result.stderr


# --- policy-engine evaluate ---------------------------------------------------------------


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    path = tmp_path / "req.json"
    path.write_text(json.dumps(APPROVED_REQUEST, indent=2))
    return path


def test_evaluate_prints_the_readable_tree(monkeypatch: pytest.MonkeyPatch, request_file: Path) -> None:
    monkeypatch.chdir(REPO)
    result = run("evaluate", "--policies", "policies", str(request_file))

    no_traceback(result)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("Request: approved")
    assert re.search(r"Line 1: E0601 on 2025-03-10: approved \[X12 A1\]", text), text
    assert "cpap-osa v2" in text
    assert "Diagnosis of obstructive sleep apnea" in text
    assert "met: Member is 18 or older on the date of service" in text

    # Every traced node shows up with its status and its text (or its id when it has none).
    decision = json.loads(run("evaluate", "--json", "--policies", "policies", str(request_file)).stdout)
    for node in _nodes(decision["lines"][0]["policies"][0]):
        assert f"{node['status']}: {node.get('text') or node['id']}" in text


def _nodes(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def visit(node: dict[str, Any]) -> None:
        found.append(node)
        if node.get("applies_when"):
            visit(node["applies_when"])
        for child in node.get("children", []):
            visit(child)

    for section in ("applies_when", "coverage", "documentation", "criteria"):
        items = policy[section]
        for item in [items] if isinstance(items, dict) else (items or []):
            visit(item)
    return found


def test_evaluate_json_is_parseable(monkeypatch: pytest.MonkeyPatch, request_file: Path) -> None:
    monkeypatch.chdir(REPO)
    result = run("evaluate", "--policies", "policies", "--json", str(request_file))

    no_traceback(result)
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    assert decision["status"] == "approved"
    line = decision["lines"][0]
    assert line["outcome"] == "approved"
    assert line["x12_action"] == "A1"
    assert line["code"] == "E0601"
    assert line["missing"] == []
    policy = line["policies"][0]
    assert policy["policy"] == "cpap-osa"
    assert policy["version"] == 2
    assert re.fullmatch(r"[0-9a-f]{64}", policy["sha256"])


def test_evaluate_pended_line_lists_what_is_needed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    request = {k: v for k, v in APPROVED_REQUEST.items() if k != "documentation"}
    path = tmp_path / "req.json"
    path.write_text(json.dumps(request))
    monkeypatch.chdir(REPO)

    result = run("evaluate", "--policies", "policies", "--json", str(path))

    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout)["lines"][0]
    assert (line["outcome"], line["reason"], line["x12_action"]) == ("pended", "missing_information", "A4")
    assert "f2f-note" in line["missing"]


def test_evaluate_asks_for_the_leaf_path_when_its_parent_object_is_absent(
    policy_dir: Path, tmp_path: Path
) -> None:
    """A request without any `clinical` object still asks for `clinical.ahi`, the path the leaf reads."""
    request = {
        "member": {"id": "M3", "birth_date": "1961-04-02"},
        "diagnoses": ["G47.33"],
        "services": [{"code": "E0601", "date_of_service": "2025-03-10"}],
        "documentation": ["psg-report"],
    }
    path = tmp_path / "req.json"
    path.write_text(json.dumps(request))

    result = run("evaluate", "--policies", str(policy_dir), "--json", str(path))

    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout)["lines"][0]
    assert (line["outcome"], line["reason"]) == ("pended", "missing_information")
    assert line["missing"] == ["clinical.ahi"]


def test_evaluate_invalid_json_names_the_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "member": {"id": "M1"},\n  "diagnoses": [G47.33]\n}\n')
    monkeypatch.chdir(REPO)

    result = run("evaluate", "--policies", "policies", str(path))

    no_traceback(result)
    assert result.exit_code == 1
    assert re.search(rf"^{re.escape(str(path))}:3: invalid JSON", result.stderr, re.M), result.stderr
    assert result.stdout == ""


def test_evaluate_a_request_that_is_not_an_object(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]\n")
    monkeypatch.chdir(REPO)

    result = run("evaluate", "--policies", "policies", str(path))

    no_traceback(result)
    assert result.exit_code == 1
    assert "must be a JSON object" in result.stderr


# --- policy-engine validate ---------------------------------------------------------------


def test_validate_a_missing_path_fails_cleanly(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-policies"

    result = run("validate", str(missing))

    no_traceback(result)
    assert result.exit_code != 0
    assert str(missing) in result.stderr
    assert "does not exist" in result.stderr


def test_validate_a_valid_folder(policy_dir: Path) -> None:
    result = run("validate", str(policy_dir))

    assert result.exit_code == 0, result.output
    assert f"ok  {policy_dir / 'v1.yaml'}  cpap-lite@1  sha256:" in result.stdout
    assert result.stdout.splitlines()[-1] == "1 policy version(s) valid."
