"""Resolve a line's facts against a policy's trees, leaving comparisons for the rules engine.

Everything that needs the request (paths, absent facts, types, derived values,
quantifier elements, frequency totals) happens here in Python; every comparison of a
fact with a criterion becomes a ``Check`` that the compiled ruleset judges.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from ..facts import FactReader, LineFacts
from ..model import Document, FactRef, Frequency, Leaf, Node, Policy, Quantifier, Ref, Window
from ..values import (
    ABSENT,
    UNKNOWN,
    ValueTypeError,
    add_months,
    calendar_months_between,
    describe,
    normalize_code,
)
from .outcome import MET, NOT_MET, Check, Outcome
from .outcome import UNKNOWN as STATUS_UNKNOWN

Scalar = Fraction | dt.date | str | bool
_ORDERED = ("gt", "gte", "lt", "lte", "between")


class LineResolver:
    """Outcomes for every node one line reaches, shared where a node is reached twice."""

    def __init__(self, facts: LineFacts, version_of: Callable[[str], Policy | None]) -> None:
        self.facts = facts
        self.version_of = version_of
        self.checks: dict[str, list[Check]] = {}
        self._memo: dict[tuple[str, str], Outcome] = {}
        self._derived: dict[tuple[str, str], tuple[Any, list[str], list[str]]] = {}
        self._policy: Policy | None = None
        facts.derive = self._derive

    def outcome(self, policy: Policy, node: Node) -> Outcome:
        """A node outside any quantifier: one outcome per line however often it is reached."""
        key = (policy.key, node.id)
        found = self._memo.get(key)
        if found is None:
            found = self._resolve(policy, node, {})
            self._memo[key] = found
        return found

    def _resolve(self, policy: Policy, node: Node, bindings: dict[str, tuple[Any, str]]) -> Outcome:
        def child(item: Node) -> Outcome:
            return self.outcome(policy, item) if not bindings else self._resolve(policy, item, bindings)

        outcome = Outcome(node)
        if node.applies_when is not None:
            outcome.guard = child(node.applies_when)
        if isinstance(node, Ref):
            outcome.target = self._ref_target(policy, node, outcome)
        elif isinstance(node, Quantifier):
            self._quantifier(policy, node, bindings, outcome)
        elif isinstance(node, Leaf):
            self._leaf(policy, node, bindings, outcome)
        elif isinstance(node, Frequency):
            self._frequency(policy, node, outcome)
        elif isinstance(node, Document):
            sent = [item for item in self.facts.documents() if isinstance(item, str)]
            outcome.facts = {"documentation": sent}
            self._check(policy, Check(outcome, sent))
        else:
            outcome.children = [child(item) for item in node.children()]
        return outcome

    def _check(self, policy: Policy, check: Check) -> None:
        self.checks.setdefault(policy.key, []).append(check)

    def _ref_target(self, policy: Policy, node: Ref, outcome: Outcome) -> Outcome:
        owner = policy if node.policy in (None, policy.id) else self.version_of(node.policy)
        target = owner.nodes.get(node.target) if owner else None
        if owner is None or target is None:
            missing = Outcome(node)
            missing.body = STATUS_UNKNOWN
            missing.invalid.append(
                f"no version of policy '{node.policy}' with node '{node.target}' governs this date"
            )
            return missing
        return self.outcome(owner, target)

    def _quantifier(self, policy: Policy, node: Quantifier, bindings: dict, outcome: Outcome) -> None:
        reader = FactReader(self.facts, bindings)
        elements = reader.elements(node.list_path)
        outcome.missing, outcome.invalid = reader.absent, reader.invalid
        if elements is None:
            return
        outcome.facts = {node.list_path: f"{len(elements)} item(s)"}
        for value, path in elements:
            inner = {**bindings, node.var: (value, path)}
            outcome.children.append(self._resolve(policy, node.where, inner))

    def _leaf(self, policy: Policy, node: Leaf, bindings: dict, outcome: Outcome) -> None:
        self._policy = policy
        reader = FactReader(self.facts, bindings)
        value = reader.lookup(node.fact)
        other = self._operands(reader, node)
        outcome.facts = dict(reader.read)
        outcome.invalid = reader.invalid
        if node.op == "exists":
            outcome.missing = []
            self._check(policy, Check(outcome, value))
            return
        if value is ABSENT or other is ABSENT:
            outcome.missing = list(reader.absent)
            outcome.body = STATUS_UNKNOWN
            return
        problem = type_problem(node, value, other)
        if problem or reader.invalid:
            outcome.invalid = [*reader.invalid, *([problem] if problem else [])]
            outcome.missing = [path for path in reader.read if not path.startswith("derived.")] or [node.fact]
            outcome.body = STATUS_UNKNOWN
            return
        if node.codes:
            value = [normalize_code(v) for v in value] if isinstance(value, list) else normalize_code(value)
        if node.op == "any_prefix" and not isinstance(value, list):
            value = [value]  # one code is a list of one for the engine's $iany
        self._check(policy, Check(outcome, value, other))

    def _operands(self, reader: FactReader, node: Leaf) -> Any:
        """Fact operands resolved (ABSENT if any is absent); literal operands give None."""
        if isinstance(node.operand, FactRef):
            return reader.lookup(node.operand.path)
        if node.op == "between" and any(isinstance(bound, FactRef) for bound in node.operand):
            bounds = tuple(reader.lookup(b.path) if isinstance(b, FactRef) else b for b in node.operand)
            return ABSENT if ABSENT in bounds else bounds
        return None

    def _derive(self, name: str, reader: FactReader) -> tuple[Any, list[str], list[str]]:
        policy = self._policy
        assert policy is not None
        key = (policy.key, name)
        if key not in self._derived:
            inner = FactReader(self.facts, {})
            expression = policy.derive[name]
            value = expression.evaluate(inner)
            # a wrongly typed input is as much "needed" as an absent one: name what was read
            needed = inner.absent or (list(inner.read) if inner.invalid else [])
            self._derived[key] = (value, needed, inner.invalid)
        return self._derived[key]

    def _frequency(self, policy: Policy, node: Frequency, outcome: Outcome) -> None:
        day = self.facts.date_of_service
        if day is None:
            outcome.missing, outcome.body = (
                [f"{self.facts.line_path}.date_of_service"],
                STATUS_UNKNOWN,
            )
            return
        total, undated = Fraction(0), []
        if self.facts.code in node.codes:
            total += self.facts.quantity
        for prior in self.facts.prior_services():
            if prior.code not in node.codes:
                continue
            if prior.date is None:
                undated.append(f"{prior.path}.date")
            elif in_window(prior.date, day, node.window):
                total += prior.quantity
        outcome.facts = {"count": total, "max": node.max, "window": node.window.describe()}
        if undated and total <= node.max:
            outcome.missing, outcome.body = undated, STATUS_UNKNOWN
            return
        self._check(policy, Check(outcome, total))


def in_window(day: dt.date, service_day: dt.date, window: Window) -> bool:
    """Whether a prior service on ``day`` falls in the window ending on the date of service."""
    if day > service_day:
        return False
    if window.unit == "d":
        return day > service_day - dt.timedelta(days=window.amount)
    if window.unit == "m":
        return day > add_months(service_day, -window.amount)
    if window.unit == "calendar_year":
        return day.year == service_day.year
    return calendar_months_between(day, service_day) < window.amount


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Fraction):
        return "number"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def type_problem(node: Leaf, value: Any, other: Any) -> str | None:
    """Why the fact cannot be read by the operator, or None (edge rule 11: never coerced)."""
    op, kind = node.op, kind_of(value)
    if op in ("any_prefix", "includes_any", "includes_all"):
        items = value if isinstance(value, list) else ([value] if op == "any_prefix" else None)
        if items is None:
            return f"{node.fact} must be a list for {op}, got {describe(value)}"
        wanted = {kind_of(x) for x in node.operand} if op != "any_prefix" else {"string"}
        bad = [x for x in items if kind_of(x) not in wanted]
        return f"{node.fact} holds {describe(bad[0])}, which {op} cannot compare" if bad else None
    if kind in ("list", "object"):
        return f"{node.fact} is {describe(value)}; {op} needs a single value"
    if node.codes and kind != "string":
        return f"{node.fact} must be a code (a string), got {describe(value)}"
    if op in ("in", "not_in"):
        wanted = {kind_of(x) for x in node.operand}
        return (
            None
            if kind in wanted
            else f"{node.fact} is {describe(value)}, not comparable with the listed values"
        )
    operands = (
        other
        if isinstance(other, tuple)
        else (node.operand if op == "between" else (other if other is not None else node.operand,))
    )
    for operand in operands:
        other_kind = kind_of(operand)
        if op in _ORDERED and kind not in ("number", "date"):
            return f"{node.fact} must be a number or a date for {op}, got {describe(value)}"
        if other_kind != kind:
            return f"{node.fact} is {describe(value)}, which cannot be compared with {describe(operand)}"
    return None


def judged(check: Check, met: bool) -> None:
    """Record the rules engine's verdict on a check."""
    outcome = check.outcome
    if isinstance(check.node, Document):
        outcome.body = MET if met else STATUS_UNKNOWN
        outcome.missing = [] if met else [check.node.id]
    else:
        outcome.body = MET if met else NOT_MET


__all__ = [
    "UNKNOWN",
    "LineResolver",
    "ValueTypeError",
    "in_window",
    "judged",
    "kind_of",
    "type_problem",
]
