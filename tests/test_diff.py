"""The structural diff between two policy versions, rule by rule, as a CMO reads a change.

Each case builds two small policies from inline YAML and reads the changes as
``(kind, id, effect)``; the bundled version pairs and the ``diff`` command follow.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine.cli import main
from policy_engine.diff import LESS, MORE, NEUTRAL, SEP, PolicyDiff, diff_policies, render_text
from policy_engine.loader import load_policy_file, parse_policy_text, policy_files
from policy_engine.model import Policy

POLICIES = Path(__file__).resolve().parent.parent / "policies"

_HEADER = """\
id: p
version: {version}
title: {title}
effective: {effective}
owner: Test policy committee
summary: A small policy written for one diff test.
references:
  - {{id: ref, title: Reference text, url: 'https://example.org/ref'}}
{references}applies_to:
  services: {services}
"""

BASE = """\
all:
  - {id: dx, fact: diagnoses, any_prefix: [G47.33]}
  - {id: ahi, fact: clinical.ahi, gte: 15}
"""


def make_policy(
    criteria: str | None = BASE,
    *,
    coverage: str = "",
    documentation: str = "",
    derive: str = "",
    services: str = "[E0601]",
    when: str = "",
    version: int = 1,
    title: str = "Diff test policy",
    effective: str = "2024-01-01",
    references: str = "",
) -> Policy:
    """A minimal valid policy; each section is a YAML snippet written at column 0."""
    text = _HEADER.format(
        version=version, title=title, effective=effective, services=services, references=references
    )
    if when:
        text += f"  when: {when}\n"
    for key, body in (("derive", derive), ("coverage", coverage), ("documentation", documentation)):
        if body:
            text += f"{key}:\n" + textwrap.indent(textwrap.dedent(body), "  ")
    if criteria:
        text += "criteria:\n" + textwrap.indent(textwrap.dedent(criteria), "  ")
    return parse_policy_text(text, "inline.yaml")


def arrows(text: str) -> str:
    """Paths written with ``>`` in the tests, as the diff prints them."""
    return text.replace(" > ", SEP)


def changes(diff: PolicyDiff) -> list[tuple[str, str, str]]:
    return [(change.kind, change.id, change.effect) for change in diff.changes]


def criteria_changes(old: str, new: str) -> list[tuple[str, str, str]]:
    return changes(diff_policies(make_policy(old), make_policy(new, version=2)))


def leaf(test: str, id: str = "t", fact: str = "clinical.ahi") -> str:
    return f"all:\n  - {{id: {id}, fact: {fact}, {test}}}\n"


# Thresholds on leaves ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "kind", "effect"),
    [
        ("gte: 15", "gte: 20", "threshold_changed", MORE),
        ("gte: 15", "gte: 10", "threshold_changed", LESS),
        ("gt: 15", "gt: 16.5", "threshold_changed", MORE),
        ("lte: 40", "lte: 35", "threshold_changed", MORE),
        ("lt: 40", "lt: 45", "threshold_changed", LESS),
        ("gte: 2024-01-01", "gte: 2024-06-01", "threshold_changed", MORE),
        ("between: [5, 14]", "between: [6, 14]", "threshold_changed", MORE),
        ("between: [5, 14]", "between: [4, 20]", "threshold_changed", LESS),
        ("between: [5, 14]", "between: [6, 20]", "threshold_changed", NEUTRAL),
        ("eq: 1", "eq: 2", "value_changed", NEUTRAL),
        ("ne: a", "ne: b", "value_changed", NEUTRAL),
        ("exists: true", "exists: false", "value_changed", NEUTRAL),
        ("lte: {fact: clinical.a}", "lte: {fact: clinical.b}", "threshold_changed", NEUTRAL),
        ("gte: 15", "gte: {fact: clinical.b}", "threshold_changed", NEUTRAL),
        ("gt: 15", "gte: 15", "operator_changed", LESS),
        ("gte: 15", "gt: 15", "operator_changed", MORE),
        ("lt: 40", "lte: 40", "operator_changed", LESS),
        ("gt: 14", "gte: 20", "operator_changed", MORE),
        ("gte: 15", "lte: 15", "operator_changed", NEUTRAL),
        ("gte: 15", "eq: 15", "operator_changed", NEUTRAL),
    ],
)
def test_threshold_changes_are_classified(old: str, new: str, kind: str, effect: str) -> None:
    assert criteria_changes(leaf(old), leaf(new)) == [(kind, "t", effect)]


def test_an_undecided_effect_says_so() -> None:
    diff = diff_policies(make_policy(leaf("eq: 1")), make_policy(leaf("eq: 2")))
    assert "effect not decided" in diff.changes[0].description


def test_a_changed_threshold_of_an_unnamed_leaf_is_one_change() -> None:
    old = "all:\n  - {fact: clinical.ahi, gte: 15}\n  - {fact: primary_diagnosis, in: [G47.33]}\n"
    new = "all:\n  - {fact: clinical.ahi, gte: 20}\n  - {fact: primary_diagnosis, in: [G47.33, G47.30]}\n"
    diff = diff_policies(make_policy(old), make_policy(new))
    assert changes(diff) == [
        ("threshold_changed", "clinical.ahi-gte-20", MORE),
        ("codes_added", "primary_diagnosis-in-G4733,G4730", LESS),
    ]
    assert diff.changes[0].old == 15 and diff.changes[0].new == 20


def test_an_unnamed_leaf_with_a_changed_operator_pairs_by_fact() -> None:
    old, new = "all:\n  - {fact: clinical.ahi, gt: 14}\n", "all:\n  - {fact: clinical.ahi, gte: 15}\n"
    assert criteria_changes(old, new) == [("operator_changed", "clinical.ahi-gte-15", MORE)]


# Code lists ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "old", "new", "expected"),
    [
        ("any_prefix", "[G47.33]", "[G47.33, G47.30]", [("codes_added", LESS)]),
        ("any_prefix", "[G47.33, G47.30]", "[G47.33]", [("codes_removed", MORE)]),
        ("in", "[G47.33]", "[G47.33, G47.30]", [("codes_added", LESS)]),
        ("includes_any", "[I10]", "[I10, I11]", [("codes_added", LESS)]),
        ("includes_any", "[I10, I11]", "[I11]", [("codes_removed", MORE)]),
        ("not_in", "[Z00]", "[Z00, Z01]", [("codes_added", MORE)]),
        ("not_in", "[Z00, Z01]", "[Z00]", [("codes_removed", LESS)]),
        ("includes_all", "[I10]", "[I10, I11]", [("codes_added", MORE)]),
        ("includes_all", "[I10, I11]", "[I10]", [("codes_removed", LESS)]),
        ("in", "[G47.33, I10]", "[I10, G4733]", []),
        ("in", "[G47.33]", "[G47.30]", [("codes_added", LESS), ("codes_removed", MORE)]),
    ],
)
def test_code_list_changes_are_classified(op: str, old: str, new: str, expected: list) -> None:
    fact = "primary_diagnosis" if op in ("in", "not_in") else "diagnoses"
    found = criteria_changes(leaf(f"{op}: {old}", fact=fact), leaf(f"{op}: {new}", fact=fact))
    assert found == [(kind, "t", effect) for kind, effect in expected]


def test_code_ranges_compare_as_sets_of_specs() -> None:
    old = leaf("in: ['97110-97150', '97530']", fact="service.code")
    new = leaf("in: ['97110-97160', '97530']", fact="service.code")
    diff = diff_policies(make_policy(old), make_policy(new))
    assert [(c.kind, c.old, c.new) for c in diff.changes] == [
        ("codes_added", None, ["97110-97160"]),
        ("codes_removed", ["97110-97150"], None),
    ]


def test_service_codes_change_the_scope_without_a_verdict() -> None:
    old = make_policy(services="[E0601, '97110-97150']")
    new = make_policy(services="[E0601, E0470]")
    diff = diff_policies(old, new)
    assert changes(diff) == [("codes_added", "services", NEUTRAL), ("codes_removed", "services", NEUTRAL)]
    assert diff.changes[0].new == ["E0470"] and diff.changes[1].old == ["97110-97150"]
    assert diff.verdict == NEUTRAL


# Nodes added, removed, moved -------------------------------------------------------------

REQUIRED = "all:\n  - {id: a, fact: clinical.a, eq: true}\n"
TWO_REQUIRED = REQUIRED + "  - {id: b, fact: clinical.b, eq: true}\n"
ALTERNATIVE = "any:\n  - {id: a, fact: clinical.a, eq: true}\n"
TWO_ALTERNATIVES = ALTERNATIVE + "  - {id: b, fact: clinical.b, eq: true}\n"
N_OF = (
    "n_of:\n  n: {n}\n  of:\n"
    "    - {{id: a, fact: clinical.a, eq: true}}\n    - {{id: b, fact: clinical.b, eq: true}}\n"
)
NEGATED = "not:\n  id: neg\n  {kind}:\n    - {{id: a, fact: clinical.a, eq: true}}\n"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (REQUIRED, TWO_REQUIRED, [("added", "b", MORE)]),
        (TWO_REQUIRED, REQUIRED, [("removed", "b", LESS)]),
        (ALTERNATIVE, TWO_ALTERNATIVES, [("added", "b", LESS)]),
        (TWO_ALTERNATIVES, ALTERNATIVE, [("removed", "b", MORE)]),
        (
            N_OF.format(n=1),
            N_OF.format(n=1) + "    - {id: c, fact: clinical.c, eq: true}\n",
            [("added", "c", LESS)],
        ),
        (N_OF.format(n=1), N_OF.format(n=2), [("group_changed", "criteria", MORE)]),
        (N_OF.format(n=2), N_OF.format(n=1), [("group_changed", "criteria", LESS)]),
        (TWO_REQUIRED, TWO_ALTERNATIVES, [("group_changed", "criteria", LESS)]),
        (TWO_ALTERNATIVES, TWO_REQUIRED, [("group_changed", "criteria", MORE)]),
        (TWO_REQUIRED, N_OF.format(n=1), [("group_changed", "criteria", LESS)]),
        (
            NEGATED.format(kind="all"),
            NEGATED.format(kind="all") + "    - {id: b, fact: clinical.b, eq: true}\n",
            [("added", "b", LESS)],
        ),
        (
            NEGATED.format(kind="any"),
            NEGATED.format(kind="any") + "    - {id: b, fact: clinical.b, eq: true}\n",
            [("added", "b", MORE)],
        ),
        (
            "not: {id: neg, fact: clinical.bmi, gte: 40}\n",
            "not: {id: neg, fact: clinical.bmi, gte: 35}\n",
            [("threshold_changed", "neg", MORE)],
        ),
    ],
)
def test_structure_changes_follow_the_polarity_of_their_place(old: str, new: str, expected: list) -> None:
    assert criteria_changes(old, new) == expected


def test_a_renamed_root_is_paired_and_noted() -> None:
    old, new = "id: mn\n" + REQUIRED, "id: medical-necessity\n" + REQUIRED
    assert criteria_changes(old, new) == [("renamed", "medical-necessity", NEUTRAL)]


def test_criteria_added_where_there_were_none_is_more_restrictive() -> None:
    assert changes(diff_policies(make_policy(None), make_policy(REQUIRED))) == [("added", "criteria", MORE)]
    assert changes(diff_policies(make_policy(REQUIRED), make_policy(None))) == [("removed", "criteria", LESS)]


def test_a_node_under_another_parent_is_moved_and_still_compared() -> None:
    group = "  - id: g\n    any:\n      - {id: b, fact: clinical.b, eq: true}\n"
    old = "all:\n  - {id: a, fact: clinical.a, gte: 1}\n" + group
    new = "all:\n" + group + "      - {id: a, fact: clinical.a, gte: 2}\n"
    diff = diff_policies(make_policy(old), make_policy(new))
    assert changes(diff) == [("moved", "a", NEUTRAL), ("threshold_changed", "a", MORE)]
    moved = diff.changes[0]
    assert (moved.old, moved.new, moved.path) == ("criteria", arrows("criteria > g"), ("criteria", "g"))
    assert "effect not decided" in moved.description


def test_a_node_moved_into_an_added_group_is_a_move_not_an_addition() -> None:
    old = "all:\n  - {id: a, fact: clinical.a, eq: true}\n  - {id: b, fact: clinical.b, eq: true}\n"
    new = (
        "all:\n  - {id: b, fact: clinical.b, eq: true}\n  - id: either\n    any:\n"
        "      - {id: a, fact: clinical.a, eq: true}\n      - {id: c, fact: clinical.c, eq: true}\n"
    )
    assert criteria_changes(old, new) == [("added", "either", MORE), ("moved", "a", NEUTRAL)]


def test_a_quantifier_from_some_to_every_is_more_restrictive() -> None:
    old = "some: clinical.tests\nwhere: {fact: item.value, gte: 5}\n"
    new = "every: clinical.tests\nwhere: {fact: item.value, gte: 5}\n"
    assert criteria_changes(old, new) == [("changed", "criteria", MORE)]


def test_a_leaf_that_becomes_a_group_is_an_undecided_change() -> None:
    old = "all:\n  - {id: a, fact: clinical.a, eq: true}\n"
    new = "all:\n  - id: a\n    any:\n      - {fact: clinical.a, eq: true}\n"
    new += "      - {fact: clinical.b, eq: true}\n"
    assert criteria_changes(old, new) == [("changed", "a", NEUTRAL)]


# Neutral notes: guards, if_absent, text, derive, metadata -------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        (
            "{id: a, fact: clinical.a, eq: true}",
            "{id: a, fact: clinical.a, eq: true, if_absent: not_met}",
            "if_absent_changed",
        ),
        (
            "{id: a, fact: clinical.a, eq: true}",
            "{id: a, fact: clinical.a, eq: true, text: Now with text}",
            "text_changed",
        ),
        (
            "{id: a, fact: clinical.a, eq: true, cite: ref 1}",
            "{id: a, fact: clinical.a, eq: true, cite: ref 2}",
            "cite_changed",
        ),
        (
            "{id: a, fact: clinical.a, eq: true}",
            "{id: a, fact: clinical.a, eq: true, applies_when: {fact: service.code, eq: E0470}}",
            "guard_changed",
        ),
        (
            "{id: a, fact: clinical.a, eq: true, applies_when: {fact: clinical.bmi, gte: 40}}",
            "{id: a, fact: clinical.a, eq: true, applies_when: {fact: clinical.bmi, gte: 35}}",
            "guard_changed",
        ),
    ],
)
def test_guards_if_absent_and_text_are_neutral_notes(old: str, new: str, kind: str) -> None:
    assert criteria_changes(f"all:\n  - {old}\n", f"all:\n  - {new}\n") == [(kind, "a", NEUTRAL)]


def test_derive_and_applies_to_when_changes_are_neutral() -> None:
    old = make_policy(
        derive="days: days_between(clinical.a, clinical.b)\n", when="{fact: member.age, gte: 18}"
    )
    new = make_policy(
        derive="days: days_between(clinical.a, clinical.c)\nmonths: months_between(clinical.a, clinical.b)\n",
        when="{fact: member.age, gte: 21}",
    )
    diff = diff_policies(old, new)
    assert changes(diff) == [
        ("guard_changed", "when", NEUTRAL),
        ("expression_changed", "days", NEUTRAL),
        ("added", "months", NEUTRAL),
    ]
    assert diff.changes[1].new == "days_between(clinical.a, clinical.c)"


def test_metadata_changes_are_neutral() -> None:
    extra = "  - {id: lcd, title: A local coverage determination, url: 'https://example.org/lcd'}\n"
    old = make_policy()
    new = make_policy(title="Renamed policy", effective="2025-01-01", references=extra, version=2)
    diff = diff_policies(old, new)
    assert changes(diff) == [
        ("text_changed", "title", NEUTRAL),
        ("changed", "effective", NEUTRAL),
        ("added", "lcd", NEUTRAL),
    ]
    assert diff.changes[1].as_dict()["new"] == "2025-01-01"


# Coverage, frequency and documentation ---------------------------------------------------------

FREQUENCY = "- {{id: limit, frequency: {{service: {codes}, max: {max}, per: {per}}}}}\n"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"max": 1}, {"max": 2}, [("limit_changed", LESS)]),
        ({"max": 2}, {"max": 1}, [("limit_changed", MORE)]),
        ({"per": "12m"}, {"per": "2y"}, [("window_changed", MORE)]),
        ({"per": "5y"}, {"per": "90d"}, [("window_changed", LESS)]),
        ({"per": "90d"}, {"per": "6m"}, [("window_changed", MORE)]),
        ({"per": "12m"}, {"per": "calendar_year"}, [("window_changed", NEUTRAL)]),
        ({"per": "{full_months: 11}"}, {"per": "{full_months: 23}"}, [("window_changed", MORE)]),
        ({"codes": "[E0601]"}, {"codes": "[E0601, E0470]"}, [("codes_added", MORE)]),
        ({"codes": "[E0601, E0470]"}, {"codes": "[E0601]"}, [("codes_removed", LESS)]),
    ],
)
def test_frequency_limits_are_classified(old: dict, new: dict, expected: list) -> None:
    defaults = {"codes": "[E0601]", "max": 1, "per": "5y"}
    before = make_policy(coverage=FREQUENCY.format(**{**defaults, **old}))
    after = make_policy(coverage=FREQUENCY.format(**{**defaults, **new}))
    assert changes(diff_policies(before, after)) == [(kind, "limit", effect) for kind, effect in expected]


def test_coverage_rules_added_and_removed() -> None:
    adult = "- {id: adult, fact: member.age, gte: 18}\n"
    limit = FREQUENCY.format(codes="[E0601]", max=1, per="5y")
    one, two = make_policy(coverage=adult), make_policy(coverage=adult + limit)
    assert changes(diff_policies(one, two)) == [("added", "limit", MORE)]
    assert changes(diff_policies(two, one)) == [("removed", "limit", LESS)]
    assert diff_policies(two, one).changes[0].description.startswith("removed coverage rule: at most 1")


REPORT = "- {id: report, text: Sleep test report}\n"
NOTE = "- {id: note, text: Face-to-face note}\n"
EITHER = "- id: test-report\n  any:\n    - {id: psg, text: PSG report}\n"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (REPORT, REPORT + NOTE, [("added", "note", MORE)]),
        (REPORT + NOTE, REPORT, [("removed", "note", LESS)]),
        (EITHER, EITHER + "    - {id: hst, text: HST report}\n", [("added", "hst", LESS)]),
        (REPORT, "- {id: report, text: Attended sleep test report}\n", [("text_changed", "report", NEUTRAL)]),
    ],
)
def test_documentation_requirements(old: str, new: str, expected: list) -> None:
    assert changes(diff_policies(make_policy(documentation=old), make_policy(documentation=new))) == expected


# Summary, rendering ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new", "verdict"),
    [
        (leaf("gte: 20", "ahi") + "  - {id: dx, fact: diagnoses, any_prefix: [G47.33]}\n", MORE),
        (leaf("gte: 10", "ahi") + "  - {id: dx, fact: diagnoses, any_prefix: [G47.33]}\n", LESS),
        (leaf("gte: 20", "ahi") + "  - {id: dx, fact: diagnoses, any_prefix: [G47.33, G47.30]}\n", "mixed"),
        (BASE, NEUTRAL),
    ],
)
def test_the_verdict_sums_up_the_effects(new: str, verdict: str) -> None:
    diff = diff_policies(make_policy(), make_policy(new))
    assert diff.verdict == verdict
    summary = diff.as_dict()["summary"]
    assert summary["verdict"] == verdict
    assert sum(summary[effect] for effect in (MORE, LESS, NEUTRAL)) == len(diff.changes)


def test_the_text_names_the_path_and_the_change() -> None:
    old = "all:\n  - id: severity\n    any:\n      - {id: ahi-15, fact: clinical.ahi, gte: 15}\n"
    text = render_text(diff_policies(make_policy(old), make_policy(old.replace("15}", "20}"), version=2)))
    assert text.splitlines() == [
        "p v1 → v2: more restrictive (1 more restrictive, 0 less restrictive, 0 neutral)",
        "",
        arrows("more restrictive  criteria > severity > ahi-15: clinical.ahi gte 15 → 20"),
    ]


def test_the_dict_is_json_ready() -> None:
    diff = diff_policies(make_policy(leaf("lte: {fact: clinical.b}")), make_policy(leaf("gte: 2024-01-01")))
    data = json.loads(json.dumps(diff.as_dict()))
    assert set(data) == {"old", "new", "summary", "changes"}
    assert data["changes"] == [
        {
            "section": "criteria",
            "kind": "operator_changed",
            "id": "t",
            "path": ["criteria"],
            "old": {"op": "lte", "value": {"fact": "clinical.b"}},
            "new": {"op": "gte", "value": "2024-01-01"},
            "description": "clinical.ahi lte clinical.b → gte 2024-01-01; compares with another fact, "
            "effect not decided",
            "effect": NEUTRAL,
        }
    ]


# The bundled policies ----------------------------------------------------------------------------


def bundled(policy_id: str, old: int, new: int) -> PolicyDiff:
    return diff_policies(
        load_policy_file(POLICIES / policy_id / f"v{old}.yaml"),
        load_policy_file(POLICIES / policy_id / f"v{new}.yaml"),
    )


def test_cpap_v2_adds_the_face_to_face_before_the_test() -> None:
    diff = bundled("cpap-osa", 1, 2)
    assert diff.verdict == MORE
    criteria = [c for c in diff.changes if c.section == "criteria"]
    assert [(c.kind, c.id, c.path, c.effect) for c in criteria] == [
        ("added", "f2f-before-test", ("medical-necessity",), MORE)
    ]
    assert ("added", "eval_to_test_days", NEUTRAL) in changes(diff)
    assert arrows(
        "more restrictive  criteria > medical-necessity > f2f-before-test: added requirement"
    ) in render_text(diff)


def test_knee_v2_requires_longer_care_at_a_high_bmi() -> None:
    diff = bundled("knee-arthroplasty", 1, 2)
    assert diff.verdict == MORE
    (added,) = [c for c in diff.changes if c.effect != NEUTRAL]
    assert (added.kind, added.id, added.path) == (
        "added",
        "extended-care-high-bmi",
        ("medical-necessity", "nonsurgical-care-failed"),
    )
    assert added.description == (
        "added requirement: clinical.nonsurgical_care_weeks gte 24 when clinical.bmi gte 40"
    )


def test_power_mobility_v2_requires_the_home_assessment() -> None:
    diff = bundled("power-mobility", 1, 2)
    assert diff.verdict == MORE
    assert [(c.section, c.kind, c.id) for c in diff.changes if c.effect == MORE] == [
        ("documentation", "added", "home-assessment"),
        ("criteria", "added", "home-assessed-by-delivery"),
    ]


def test_going_back_a_version_is_less_restrictive() -> None:
    diff = bundled("cpap-osa", 2, 1)
    assert diff.verdict == LESS
    assert ("removed", "f2f-before-test", LESS) in changes(diff)


@pytest.mark.parametrize("path", policy_files([POLICIES]), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_version_diffed_with_itself_is_empty(path: Path) -> None:
    diff = diff_policies(load_policy_file(path), load_policy_file(path))
    assert diff.changes == [] and diff.verdict == NEUTRAL
    assert render_text(diff).endswith(": no changes")


# policy-engine diff ----------------------------------------------------------------------------------

CPAP = [str(POLICIES / "cpap-osa" / "v1.yaml"), str(POLICIES / "cpap-osa" / "v2.yaml")]


def test_the_diff_command_prints_the_text() -> None:
    result = CliRunner().invoke(main, ["diff", *CPAP])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("cpap-osa v1 → v2: more restrictive")
    assert arrows("criteria > medical-necessity > f2f-before-test: added requirement") in result.output


def test_the_diff_command_prints_json() -> None:
    result = CliRunner().invoke(main, ["diff", *CPAP, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["summary"]["verdict"] == MORE
    assert (data["old"]["version"], data["new"]["version"]) == (1, 2)
    assert {"kind": "added", "id": "f2f-before-test", "effect": MORE}.items() <= data["changes"][-1].items()


def test_the_diff_command_names_file_and_line_of_a_broken_version(tmp_path: Path) -> None:
    broken = tmp_path / "v2.yaml"
    broken.write_text(Path(CPAP[1]).read_text().replace("gte: 0", "gte: [0]"))
    result = CliRunner().invoke(main, ["diff", CPAP[0], str(broken)])
    assert result.exit_code == 1
    assert f"{broken}:63: " in result.stderr
    assert "Traceback" not in result.output
