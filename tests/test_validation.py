"""`policy-engine validate`: every deliberately broken policy is reported exactly, file:line: field: message.

Each folder under ``tests/invalid_policies/`` is shaped like the policy library
(``<case>/<policy-id>/vN.yaml``) and holds one defect; its ``expected.txt`` lists the
exact lines ``validate`` must print to stderr when given ``tests/invalid_policies/<case>``
from the repository root.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from policy_engine.cli import main
from policy_engine.loader import parse_policy_text

REPO = Path(__file__).resolve().parent.parent
CASES_DIR = REPO / "tests" / "invalid_policies"
CASES = sorted(path.name for path in CASES_DIR.iterdir() if (path / "expected.txt").is_file())
SUMMARY = re.compile(r"^\d+ problem\(s\) found\.$")


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.chdir(REPO)
    return CliRunner().invoke(main, list(args))


def problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not SUMMARY.match(line)]


def test_every_case_folder_has_an_expectation() -> None:
    folders = sorted(path.name for path in CASES_DIR.iterdir() if path.is_dir())
    assert folders == CASES
    assert len(CASES) >= 26


@pytest.mark.parametrize("case", CASES)
def test_invalid_policy_is_reported_exactly(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    expected = [line for line in (CASES_DIR / case / "expected.txt").read_text().splitlines() if line]
    result = run_cli(monkeypatch, "validate", f"tests/invalid_policies/{case}")

    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1, result.output
    assert sorted(problem_lines(result.stderr)) == sorted(expected)
    assert result.stderr.splitlines()[-1] == f"{len(expected)} problem(s) found."


def test_bundled_policies_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_cli(monkeypatch, "validate", "policies")

    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    versions = sorted(p for p in (REPO / "policies").rglob("v*.yaml") if re.fullmatch(r"v\d+\.yaml", p.name))
    assert versions
    for version in versions:
        assert f"ok  {version.relative_to(REPO)}  " in result.stdout
    assert result.stdout.splitlines()[-1] == f"{len(versions)} policy version(s) valid."


def test_all_invalid_cases_at_once_report_every_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    """One run over the whole folder reports the problems of every file, not just the first."""
    result = run_cli(monkeypatch, "validate", "tests/invalid_policies")

    assert result.exit_code == 1
    reported = problem_lines(result.stderr)
    for case in CASES:
        assert any(line.startswith(f"tests/invalid_policies/{case}/") for line in reported), case


# --- sha256 of a version's content ------------------------------------------------------

POLICY = """\
# yaml-language-server: $schema=../../schemas/policy.schema.json
id: cpap-osa
version: 1
title: CPAP therapy for obstructive sleep apnea
effective: 2024-01-01
owner: Sleep medicine policy committee
summary: CPAP is covered for adults with obstructive sleep apnea.
references:
  - id: ncd-240.4
    title: CMS NCD 240.4, Continuous positive airway pressure therapy for OSA
    url: https://www.cms.gov/medicare-coverage-database/view/ncd.aspx?NCDId=226
applies_to:
  services: [E0601]
coverage:
  - id: adult
    text: Member is 18 or older on the date of service
    fact: member.age
    gte: 18
criteria:
  all:
    - id: osa-dx
      text: Diagnosis of obstructive sleep apnea
      cite: ncd-240.4 B.3
      fact: diagnoses
      any_prefix: [G47.33]
    - id: ahi-15
      text: AHI of 15 or more events per hour
      fact: clinical.ahi
      gte: 15
"""

# The same content: other comments, flow instead of block style, other key order and quoting.
REFORMATTED = """\
# CPAP policy, version 1.
id: 'cpap-osa'
title: "CPAP therapy for obstructive sleep apnea"
version: 1   # first version
owner: Sleep medicine policy committee
effective: 2024-01-01
summary: >-
  CPAP is covered for adults
  with obstructive sleep apnea.
references: [{id: ncd-240.4, title: "CMS NCD 240.4, Continuous positive airway pressure therapy for OSA",
              url: "https://www.cms.gov/medicare-coverage-database/view/ncd.aspx?NCDId=226"}]
applies_to: {services: ["E0601"]}

coverage:
  - {fact: member.age, gte: 18, id: adult, text: Member is 18 or older on the date of service}

criteria:
  all:
    -   id: osa-dx
        text: Diagnosis of obstructive sleep apnea
        cite: "ncd-240.4 B.3"
        fact: diagnoses
        any_prefix:
          - G47.33
    - {id: ahi-15, text: AHI of 15 or more events per hour, fact: clinical.ahi, gte: 15}  # severity
"""


def sha(text: str) -> str:
    return parse_policy_text(text, "policies/cpap-osa/v1.yaml").sha256


def test_sha256_is_stable_for_the_same_content() -> None:
    first = sha(POLICY)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert sha(POLICY) == first
    assert parse_policy_text(POLICY, "elsewhere/v1.yaml").sha256 == first


def test_sha256_ignores_formatting_and_comments() -> None:
    assert sha(REFORMATTED) == sha(POLICY)
    assert sha(POLICY.replace("\n", "\n\n").replace("gte: 15", "gte: 15  # AHI")) == sha(POLICY)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("gte: 15", "gte: 16"),
        ("fact: clinical.ahi", "fact: clinical.rdi"),
        ("any_prefix: [G47.33]", "any_prefix: [G47.33, G47.30]"),
        ("    gte: 18", "    gt: 18"),
        ("cite: ncd-240.4 B.3", "cite: ncd-240.4 B.4"),
        ("text: AHI of 15 or more events per hour", "text: AHI of at least 15 events per hour"),
        ("  all:\n", "  any:\n"),
    ],
)
def test_sha256_changes_when_a_criterion_changes(before: str, after: str) -> None:
    assert before in POLICY
    changed = POLICY.replace(before, after, 1)
    assert sha(changed) != sha(POLICY)
