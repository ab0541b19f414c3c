"""A plain recursive evaluator, written independently of the compiled path.

It is the oracle the property tests and the benchmark hold the durable-rules path
against: same policy model and fact reading, but its own comparisons and its own
three-valued logic, in the most direct form we could write.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

from ..facts import FactReader, LineFacts
from ..model import Document, FactRef, Frequency, Group, Leaf, Node, NOf, Not, Policy, Quantifier, Ref
from ..values import (
    ABSENT,
    UNKNOWN,
    add_months,
    calendar_months_between,
    is_missing,
    normalize_code,
    split_range,
)
from .library import PolicyLibrary

Statuses = dict[str, dict[str, str]]  # policy key -> node id -> status


class ReferenceEvaluator:
    def __init__(self, policies: list[Policy]) -> None:
        self.library = PolicyLibrary(policies)

    def line_statuses(self, request: dict[str, Any], index: int) -> Statuses:
        """Status of every node outside quantifiers, for each version governing the line."""
        facts = LineFacts(request, index)
        run = _Run(self.library, facts)
        result: Statuses = {}
        for policy in self.library.governing(facts.code, facts.date_of_service):
            for root in policy.roots():
                run.status(policy, root, {})
            result[policy.key] = dict(run.seen.get(policy.key, {}))
        return result


class _Run:
    def __init__(self, library: PolicyLibrary, facts: LineFacts) -> None:
        self.library = library
        self.facts = facts
        self.seen: dict[str, dict[str, str]] = {}
        self.derived: dict[tuple[str, str], Any] = {}
        self.policy: Policy | None = None
        facts.derive = self._derive

    def status(self, policy: Policy, node: Node, bound: dict[str, tuple[Any, str]]) -> str:
        if not bound and node.id in self.seen.get(policy.key, {}):
            return self.seen[policy.key][node.id]
        body = self._body(policy, node, bound)
        if body == "unknown" and node.if_absent and not self._invalid:
            body = node.if_absent
        result = body
        if node.applies_when is not None:
            guard = self.status(policy, node.applies_when, bound)
            if guard in ("not_met", "not_applicable"):
                result = "not_applicable"
            elif guard == "unknown":
                result = "met" if body == "met" else "unknown"
        if not bound:
            self.seen.setdefault(policy.key, {})[node.id] = result
        return result

    def _body(self, policy: Policy, node: Node, bound: dict[str, tuple[Any, str]]) -> str:
        self._invalid = False
        if isinstance(node, Leaf):
            return self._leaf(policy, node, bound)
        if isinstance(node, Document):
            return "met" if node.id in self.facts.documents() else "unknown"
        if isinstance(node, Frequency):
            return self._frequency(node)
        if isinstance(node, Ref):
            owner = (
                policy
                if node.policy in (None, policy.id)
                else self.library.version_of(node.policy, self.facts.date_of_service)
            )
            if owner is None or node.target not in owner.nodes:
                return "unknown"
            return self.status(owner, owner.nodes[node.target], {})
        if isinstance(node, Quantifier):
            reader = FactReader(self.facts, bound)
            elements = reader.elements(node.list_path)
            if elements is None:
                self._invalid = bool(reader.invalid)
                return "unknown"
            results = [self.status(policy, node.where, {**bound, node.var: element}) for element in elements]
            results = [r for r in results if r != "not_applicable"]
            self._invalid = False  # if_absent looks at this node's own reads, not its elements'
            if node.kind == "some":
                return "met" if "met" in results else ("unknown" if "unknown" in results else "not_met")
            return "not_met" if "not_met" in results else ("unknown" if "unknown" in results else "met")
        results = [self.status(policy, child, bound) for child in node.children()]
        applicable = [r for r in results if r != "not_applicable"]
        if isinstance(node, Not):
            return {"met": "not_met", "not_met": "met"}.get(results[0], results[0])
        if not applicable:
            return "not_applicable"
        if isinstance(node, NOf):
            met, unknown = applicable.count("met"), applicable.count("unknown")
            return "met" if met >= node.n else ("not_met" if met + unknown < node.n else "unknown")
        assert isinstance(node, Group)
        if node.kind == "all":
            return "not_met" if "not_met" in applicable else ("unknown" if "unknown" in applicable else "met")
        return "met" if "met" in applicable else ("unknown" if "unknown" in applicable else "not_met")

    def _leaf(self, policy: Policy, node: Leaf, bound: dict[str, tuple[Any, str]]) -> str:
        self.policy = policy
        reader = FactReader(self.facts, bound)
        value = reader.lookup(node.fact)
        if node.op == "exists":
            return "met" if (value is not ABSENT) == node.operand else "not_met"
        operand = node.operand
        if isinstance(operand, FactRef):
            operand = reader.lookup(operand.path)
        elif node.op == "between":
            operand = tuple(reader.lookup(b.path) if isinstance(b, FactRef) else b for b in operand)
        if (
            reader.invalid
            or value is ABSENT
            or operand is ABSENT
            or (isinstance(operand, tuple) and ABSENT in operand)
        ):
            self._invalid = bool(reader.invalid)
            return "unknown"
        verdict = _compare(node, value, operand)
        if verdict is None:
            self._invalid = True
            return "unknown"
        return "met" if verdict else "not_met"

    def _frequency(self, node: Frequency) -> str:
        day = self.facts.date_of_service
        total = self.facts.quantity if self.facts.code in node.codes else Fraction(0)
        undated = False
        for prior in self.facts.prior_services():
            if prior.code not in node.codes:
                continue
            if prior.date is None:
                undated = True
            elif prior.date <= day and _within(prior.date, day, node):
                total += prior.quantity
        if total > node.max:
            return "not_met"
        return "unknown" if undated else "met"

    def _derive(self, name: str, reader: FactReader) -> tuple[Any, list[str], list[str]]:
        key = (self.policy.key, name)
        if key not in self.derived:
            inner = FactReader(self.facts, {})
            value = self.policy.derive[name].evaluate(inner)
            self.derived[key] = (UNKNOWN if is_missing(value) else value, inner.absent, inner.invalid)
        return self.derived[key]

    _invalid = False


def _within(day: dt.date, service_day: dt.date, node: Frequency) -> bool:
    unit, amount = node.window.unit, node.window.amount
    if unit == "d":
        return (service_day - day).days < amount
    if unit == "m":
        return day > add_months(service_day, -amount)
    if unit == "calendar_year":
        return day.year == service_day.year
    return calendar_months_between(day, service_day) < amount


def _kind(value: Any) -> str:
    return (
        type(value).__name__ if not isinstance(value, int | Fraction) or isinstance(value, bool) else "number"
    )


def _compare(node: Leaf, value: Any, operand: Any) -> bool | None:
    """The leaf's verdict, or None when the types do not fit (unknown, never coerced)."""
    op = node.op
    if node.codes:
        try:
            value = [normalize_code(v) for v in value] if isinstance(value, list) else normalize_code(value)
        except ValueError:
            return None
    if op in ("includes_any", "includes_all", "any_prefix"):
        items = value if isinstance(value, list) else ([value] if op == "any_prefix" else None)
        if items is None:
            return None
        if op == "any_prefix":
            if not all(isinstance(i, str) for i in items):
                return None
            return any(i.startswith(p) for i in items for p in operand)
        if any(_kind(i) not in {_kind(o) for o in operand} for i in items):
            return None
        found = [any(_kind(i) == _kind(o) and i == o for i in items) for o in operand]
        return any(found) if op == "includes_any" else all(found)
    if isinstance(value, list | dict):
        return None
    if op in ("in", "not_in"):
        if _kind(value) not in {_kind(o) for o in operand}:
            return None
        hit = any(_member(value, o, node.codes) for o in operand)
        return hit if op == "in" else not hit
    bounds = operand if op == "between" else (operand,)
    if any(_kind(b) != _kind(value) for b in bounds):
        return None
    if op in ("gt", "gte", "lt", "lte", "between") and _kind(value) not in ("number", "date"):
        return None
    return {
        "eq": lambda: value == operand,
        "ne": lambda: value != operand,
        "gt": lambda: value > operand,
        "gte": lambda: value >= operand,
        "lt": lambda: value < operand,
        "lte": lambda: value <= operand,
        "between": lambda: bounds[0] <= value <= bounds[1],
    }[op]()


def _member(value: Any, option: Any, codes: bool) -> bool:
    bounds = split_range(option) if codes and isinstance(option, str) else None
    if bounds:
        low, high = bounds
        return len(value) == len(low) and low <= value <= high
    return _kind(value) == _kind(option) and value == option
