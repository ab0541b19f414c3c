"""Hypothesis strategies for policy files: hostile text, mutated bundled policies, and
valid policies that push every size the engine has to hold.

Shared by the property tests and ``scripts/fuzz_policies.py`` (the longer run).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from policy_engine.limits import MAX_CODE_RANGES, MAX_OPERAND_VALUES

REPO = Path(__file__).resolve().parent.parent
BUNDLED = sorted(p for p in (REPO / "policies").glob("*/v*.yaml"))
HEADER = """\
id: fuzz
version: 1
title: Fuzzed policy
effective: 2020-01-01
owner: tests
summary: Generated.
references: [{id: ref, title: Reference}]
applies_to: {services: [E0601]}
"""
KEYS = [
    "id", "version", "title", "effective", "expires", "owner", "summary", "references", "applies_to",
    "services", "when", "derive", "coverage", "documentation", "criteria", "all", "any", "n_of", "n",
    "of", "not", "ref", "some", "every", "where", "as", "frequency", "service", "max", "per", "fact",
    "eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in", "any_prefix", "includes_any",
    "includes_all", "exists", "text", "cite", "applies_when", "if_absent",
]  # fmt: skip
WEIRD_SCALARS = [
    "1e309", "1.0e309", "-1.0e309", ".nan", ".inf", "-.inf", "-0", "-0.0", "0x1F", "0o17", "1_000",
    "190:20:30", "~", "null", "yes", "no", "on", "2020-02-30", "2020-01-01 10:00:00", "'\\u202e'",
    '"\\0"', '"\\ud800"', '"\\U0001F600"', "!!binary aGVsbG8=", "!!python/name:os.system",
    "!!python/object/apply:os.system ['true']", "!!set {a, b}", "!custom x", "*undefined", "&a x",
    "'" + "x" * 5000 + "'", "9" * 120, "9" * 5000, "[" * 50, "{a: " * 30, "|", ">-", "@", "`", "%",
]  # fmt: skip


# Hostile text ------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**120), max_value=10**120),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["E0601", "G47.33", "A0000-A9999", "clinical.ahi", "2020-01-01", "ref"]),
    st.dates(min_value=dt.date(1, 1, 1)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=6),
    ),
    max_leaves=40,
)


def _dump(value: Any) -> str:
    try:
        return yaml.safe_dump(value, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError, OverflowError):
        return repr(value)


def laughs(width: int, levels: int) -> str:
    """Each anchor lists the previous one ``width`` times: width**levels values from a few lines."""
    lines = ["a0: &a0 [x]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def nested(depth: int, form: str) -> str:
    open_, close = {"all": ("{all: [", "]}"), "not": ("{not: ", "}"), "list": ("[", "]")}[form]
    body = "{fact: clinical.a, gte: 1}"
    return HEADER + "criteria: " + open_ * depth + body + close * depth + "\n"


templates = st.one_of(
    st.builds(laughs, st.integers(2, 12), st.integers(1, 9)),
    st.builds(nested, st.integers(1, 3000), st.sampled_from(["all", "not", "list"])),
    st.builds(
        lambda s: HEADER + f"criteria: {{fact: clinical.a, gte: {s}}}\n", st.sampled_from(WEIRD_SCALARS)
    ),
    st.builds(lambda s: HEADER.replace("version: 1", f"version: {s}"), st.sampled_from(WEIRD_SCALARS)),
    st.builds(lambda s: HEADER + f"derive: {{x: {s}}}\n", st.sampled_from(WEIRD_SCALARS)),
    st.builds(lambda n: HEADER + "derive: {x: '" + "(" * n + "1" + ")" * n + "'}\n", st.integers(1, 3000)),
    st.builds(lambda n: HEADER + "derive: {x: '" + " + ".join(["1"] * n) + "'}\n", st.integers(1, 3000)),
    st.builds(
        lambda n: HEADER + "criteria: {fact: clinical.a, in: [" + ",".join(map(str, range(n))) + "]}\n",
        st.integers(1, 100_000),
    ),
    st.builds(
        lambda n: HEADER.replace("[E0601]", "[" + ",".join(f"A{i:05d}" for i in range(n)) + "]"),
        st.integers(1, 100_000),
    ),
    st.builds(lambda n: HEADER + "---\n" * n + HEADER, st.integers(1, 3)),
    st.just(HEADER + "base: &b {fact: clinical.a}\ncriteria: {<<: *b, gte: 1}\n"),
    st.just(HEADER + "criteria: &c {all: [*c]}\n"),
    st.just(HEADER + "title: again\n"),
    st.just(""),
)
hostile_text = st.one_of(
    templates,
    st.builds(_dump, values),
    st.builds(lambda v: HEADER + _dump({"criteria": v}), values),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)


# Mutations of the bundled policies --------------------------------------------------

_mutation = st.tuples(
    st.sampled_from(["delete", "duplicate", "swap", "scalar", "indent", "dedent", "truncate", "insert"]),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.sampled_from([*WEIRD_SCALARS, "x", "1", "''", "[]", "{}", "- x", "E0601", "&a", "*a"]),
)


def mutate(text: str, mutations: list[tuple[str, int, int, str]]) -> str:
    """Line-level edits an author (or a bad merge) could make."""
    lines = text.splitlines()
    for kind, first, second, junk in mutations:
        if not lines:
            break
        i, j = first % len(lines), second % len(lines)
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "scalar" and ": " in lines[i]:
            lines[i] = lines[i].split(": ", 1)[0] + ": " + junk
        elif kind == "indent":
            lines[i] = "  " + lines[i]
        elif kind == "dedent":
            lines[i] = lines[i][2:] if lines[i].startswith("  ") else lines[i]
        elif kind == "truncate":
            lines[i] = lines[i][: j % (len(lines[i]) + 1)]
        elif kind == "insert":
            lines.insert(i, junk)
    return "\n".join(lines) + "\n"


mutated_bundled = st.builds(
    mutate, st.sampled_from([p.read_text() for p in BUNDLED]), st.lists(_mutation, min_size=1, max_size=4)
)


# Valid policies at the engine's limits ----------------------------------------------

_extreme_numbers = st.one_of(
    st.integers(-(10**99), 10**99),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 1e-300, 2**53, 2**53 + 1, 0.1, 1 / 3]),
    st.floats(allow_nan=False, allow_infinity=False),
)
_dates = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)).map(dt.date.isoformat)
_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20) | (
    st.sampled_from(["x" * 20_000, "\u202eRTL\u202c", "\u05d0\u05d1", "\U0001f600", "é", "a\tb\x01"])
)
_code = st.from_regex(r"[A-Z][0-9]{2}(\.[0-9]{1,2})?", fullmatch=True) | st.just("Z" * 64)
_range = st.integers(0, 8999).map(lambda i: f"A{i:04d}-A{i + 999:04d}")


def _code_list(min_size: int = 1) -> st.SearchStrategy[list[str]]:
    return st.tuples(
        st.lists(_code, min_size=min_size, max_size=MAX_OPERAND_VALUES - MAX_CODE_RANGES),
        st.lists(_range, max_size=MAX_CODE_RANGES),
    ).map(lambda parts: parts[0] + parts[1])


_number_fact = st.sampled_from(["clinical.a", "clinical.b", "member.age", "service.quantity"])
_string_fact = st.sampled_from(["clinical.s", "clinical.t"])
leaves = st.one_of(
    st.builds(
        lambda fact, op, value: {"fact": fact, op: value},
        _number_fact,
        st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
        _extreme_numbers,
    ),
    st.builds(
        lambda fact, low, span: {"fact": fact, "between": [low, low + span]},
        _number_fact,
        st.integers(-(10**40), 10**40),
        st.integers(0, 10**40),
    ),
    st.builds(
        lambda op, items: {"fact": "clinical.a", op: items},
        st.sampled_from(["in", "not_in"]),
        st.lists(_extreme_numbers, min_size=1, max_size=MAX_OPERAND_VALUES),
    ),
    st.builds(
        lambda op, items: {"fact": "clinical.s", op: items},
        st.sampled_from(["in", "not_in", "eq", "ne"]),
        st.lists(_text, min_size=1, max_size=MAX_OPERAND_VALUES),
    ).map(lambda leaf: {**leaf, **{op: v[0] for op, v in leaf.items() if op in ("eq", "ne")}}),
    st.builds(
        lambda fact, op, items: {"fact": fact, op: items},
        st.sampled_from(["service.code", "primary_diagnosis"]),
        st.sampled_from(["in", "not_in"]),
        _code_list(),
    ),
    st.builds(
        lambda items: {"fact": "diagnoses", "any_prefix": items}, st.lists(_code, min_size=1, max_size=256)
    ),
    st.builds(
        lambda op, items: {"fact": "clinical.conditions", op: items},
        st.sampled_from(["includes_any", "includes_all"]),
        st.lists(_text, min_size=1, max_size=MAX_OPERAND_VALUES),
    ),
    st.builds(lambda day, op: {"fact": "clinical.d", op: day}, _dates, st.sampled_from(["gte", "lt", "eq"])),
    st.builds(lambda flag: {"fact": "clinical.e", "exists": flag}, st.booleans()),
    st.builds(
        lambda codes, top, per: {"frequency": {"service": codes, "max": top, "per": per}},
        _code_list(),
        st.integers(0, 1_000_000),
        st.one_of(
            st.integers(1, 36_500).map(lambda n: f"{n}d"),
            st.integers(1, 1200).map(lambda n: f"{n}m"),
            st.integers(1, 100).map(lambda n: f"{n}y"),
            st.just("calendar_year"),
            st.integers(1, 1200).map(lambda n: {"full_months": n}),
        ),
    ),
)
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(
            lambda kind, items: {kind: items},
            st.sampled_from(["all", "any"]),
            st.lists(inner, min_size=1, max_size=8),
        ),
        st.builds(lambda item: {"not": item}, inner),
        st.builds(
            lambda items, n: {"n_of": {"n": 1 + n % len(items), "of": items}},
            st.lists(inner, min_size=1, max_size=6),
            st.integers(0, 9),
        ),
        st.builds(lambda guard, body: {**body, "applies_when": guard}, leaves, inner),
    ),
    max_leaves=60,
)


def _policy(criteria: dict[str, Any], many: int, title: str, coverage: list[dict[str, Any]]) -> str:
    leaves_in_bulk = [{"fact": f"clinical.v{i}", "gte": i} for i in range(many)]
    data = yaml.safe_load(HEADER)
    data["title"] = title or "t"
    data["applies_to"]["services"] = ["E0601", "A0000-A9999"]
    data["documentation"] = [{"id": "doc-a", "text": "A document"}]
    data["coverage"] = coverage
    data["criteria"] = {"all": [criteria, *leaves_in_bulk]} if many else criteria
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


valid_policies = st.builds(
    _policy,
    trees,
    st.integers(0, 1200) | st.just(0),  # three values a leaf: inside the 5,000-value limit
    _text,
    st.lists(leaves, max_size=3),
)

requests = st.fixed_dictionaries(
    {
        "services": st.lists(
            st.fixed_dictionaries(
                {
                    "code": st.sampled_from(["E0601", "A0001", "A9999"]),
                    "date_of_service": _dates,
                    "quantity": st.integers(0, 10**6),
                }
            ),
            min_size=1,
            max_size=2,
        ),
        "member": st.fixed_dictionaries({"birth_date": _dates}),
        "diagnoses": st.lists(_code, max_size=5),
        "clinical": st.fixed_dictionaries(
            {},
            optional={
                "a": _extreme_numbers,
                "b": _extreme_numbers,
                "s": _text,
                "d": _dates,
                "e": st.booleans(),
                "conditions": st.lists(_text, max_size=4),
                **{f"v{i}": st.integers(0, 2000) for i in range(5)},
            },
        ),
        "documentation": st.lists(st.sampled_from(["doc-a", "doc-b"]), max_size=2),
        "history": st.lists(
            st.fixed_dictionaries({"code": st.sampled_from(["E0601", "A0001"]), "date": _dates}), max_size=3
        ),
    }
)
