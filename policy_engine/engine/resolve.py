"""Resolve a line's facts against a policy's trees, leaving comparisons for the rules engine.

Everything that needs the request (paths, absent facts, types, derived values,
quantifier elements, frequency totals) happens here in Python; every comparison of a
fact with a criterion becomes a small engine fact that the compiled ruleset judges.
What does not depend on the request (split paths, which type rule applies, how a
fact is encoded) is decided once per policy version, in ``PolicyPlan``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any, Protocol

from ..facts import DERIVED, FactPath, FactReader, LineFacts, Located, fact_path, located_derived, located_in
from ..model import Document, FactRef, Frequency, Leaf, Node, Policy, Quantifier, Ref, Window
from ..values import ABSENT, add_months, calendar_months_between, describe, normalize_code
from .outcome import MET, NOT_MET, UNKNOWN, Outcome

Bindings = dict[str, tuple[Any, str]]
_ORDERED = ("gt", "gte", "lt", "lte", "between")
_LISTY = ("any_prefix", "includes_any", "includes_all")
_KINDS = {bool: "boolean", int: "number", Fraction: "number", dt.date: "date", str: "string", list: "list"}
# One value of each kind, to decide once per leaf which kinds its operator accepts.
_SAMPLES = (True, 1, dt.date(2000, 1, 1), "x", {})
LEAF, EXISTS, DOCUMENT, FREQUENCY, REF, QUANTIFIER, BRANCH = range(7)


class Encoder(Protocol):
    """How a checkable node's facts are written for the rules engine (see ``rules.Encoder``)."""

    part: int

    def encode(self, index: int, value: Any, other: Any, lists: dict[int, str]) -> str: ...


class Step:
    """One node of a policy version, prepared for resolution."""

    __slots__ = (
        "action",
        "children",
        "codes",
        "encoder",
        "fact",
        "guard",
        "index",
        "item_kinds",
        "node",
        "operand",
        "prefix",
        "scalar_kinds",
        "simple",
    )

    def __init__(self, node: Node, index: int, encoder: Encoder | None) -> None:
        self.node = node
        self.index = index  # where a line keeps this node's outcome
        self.encoder = encoder
        self.guard: Step | None = None
        self.children: tuple[Step, ...] = ()
        self.fact: FactPath | None = None
        self.operand: Any = None  # a FactPath, a tuple of bounds (FactPath or literal), or None
        self.scalar_kinds: frozenset[str] | None = None  # kinds a single value may have
        self.item_kinds: frozenset[str] | None = None  # kinds a list's items may have
        self.codes = self.prefix = self.simple = False
        self.action = BRANCH
        if isinstance(node, Leaf):
            self._leaf(node)
        elif isinstance(node, Document):
            self.action = DOCUMENT
        elif isinstance(node, Frequency):
            self.action = FREQUENCY
        elif isinstance(node, Ref):
            self.action = REF
        elif isinstance(node, Quantifier):
            self.action = QUANTIFIER

    def _leaf(self, node: Leaf) -> None:
        self.action = EXISTS if node.op == "exists" else LEAF
        self.fact = fact_path(node.fact)
        self.codes, self.prefix = node.codes, node.op == "any_prefix"
        operand = node.operand
        if isinstance(operand, FactRef):
            self.operand = fact_path(operand.path)
        elif node.op == "between" and any(isinstance(bound, FactRef) for bound in operand):
            self.operand = tuple(fact_path(b.path) if isinstance(b, FactRef) else b for b in operand)
        elif self.action == LEAF:
            # With literal operands the verdict depends only on the value's kind (and,
            # for a list, its items' kinds): decide it now for each kind.
            self.scalar_kinds = frozenset(
                kind_of(sample) for sample in _SAMPLES if type_problem(node, sample, None) is None
            )
            if node.op in _LISTY:
                wanted = {kind_of(x) for x in operand} if node.op != "any_prefix" else {"string"}
                self.item_kinds = frozenset(wanted)
            # the common leaf: one fact of the request against literals
            self.simple = self.fact.reading != DERIVED

    def problem(self, value: Any, other: Any) -> str | None:
        """Why the value cannot be read by the leaf's operator (see ``type_problem``), or None."""
        kinds = self.scalar_kinds
        if kinds is not None:
            if isinstance(value, list):
                wanted = self.item_kinds
                if wanted is not None and all((_KINDS.get(type(x)) or kind_of(x)) in wanted for x in value):
                    return None
            elif (_KINDS.get(type(value)) or kind_of(value)) in kinds:
                return None
        return type_problem(self.node, value, other)  # type: ignore[arg-type]


class PolicyPlan:
    """A policy version prepared once: a step per node, guards and children linked."""

    def __init__(self, policy: Policy, encoders: Mapping[str, Encoder], parts: int = 1) -> None:
        self.policy = policy
        self.key = policy.key
        self.parts = parts  # how many rulesets judge the version
        self.size = 0
        self._encoders = encoders
        self._steps: dict[int, Step] = {}
        self.when = self.step(policy.when) if policy.when is not None else None
        self.coverage = tuple(self.step(node) for node in policy.coverage)
        self.documentation = tuple(self.step(node) for node in policy.documentation)
        self.criteria = self.step(policy.criteria) if policy.criteria is not None else None
        for node in policy.nodes.values():
            self.step(node)

    def step(self, node: Node) -> Step:
        """The node's step, made on first use."""
        found = self._steps.get(id(node))
        if found is None:
            found = self._steps[id(node)] = Step(node, self.size, self._encoders.get(node.id))
            self.size += 1
            if node.applies_when is not None:
                found.guard = self.step(node.applies_when)
            found.children = tuple(self.step(child) for child in node.children())
        return found


class PolicyLine:
    """One policy version on one line: outcomes by step, and the facts for the rules engine."""

    __slots__ = ("batches", "derived", "judged", "lists", "outcomes", "plan")

    def __init__(self, plan: PolicyPlan) -> None:
        self.plan = plan
        self.outcomes: list[Outcome | None] = [None] * plan.size
        self.judged: list[Outcome] = []  # waiting for the engine; a fact's index ``j`` points here
        self.batches: list[list[str]] = [[] for _ in range(plan.parts)]  # facts, per ruleset
        self.lists: dict[int, str] = {}  # lists encoded once per line (the documents sent)
        self.derived: dict[str, tuple[Any, list[str], list[str]]] = {}

    def submit(self, step: Step, outcome: Outcome, value: Any, other: Any = None) -> None:
        """Hand a value to the rules engine; until it matches, the node is not met."""
        encoder = step.encoder
        assert encoder is not None, f"{outcome.node.id} was not compiled"
        self.batches[encoder.part].append(encoder.encode(len(self.judged), value, other, self.lists))
        self.judged.append(outcome)
        if step.action == DOCUMENT:
            outcome.body, outcome.missing = UNKNOWN, [outcome.node.id]
        else:
            outcome.body = NOT_MET


def met(outcome: Outcome) -> None:
    """Record that the rules engine matched the node's fact."""
    outcome.body = MET
    if isinstance(outcome.node, Document):
        outcome.missing = []


class LineResolver:
    """Outcomes for every node one line reaches, shared where a node is reached twice."""

    def __init__(
        self,
        facts: LineFacts,
        version_of: Callable[[str], Policy | None],
        plan_of: Callable[[Policy], PolicyPlan],
    ) -> None:
        self.facts = facts
        self.version_of = version_of
        self.plan_of = plan_of
        self.lines: dict[str, PolicyLine] = {}
        self._deriving: PolicyLine | None = None

    def outcome(self, policy: Policy, node: Node) -> Outcome:
        """A node outside any quantifier: one outcome per line however often it is reached."""
        line = self._line(self.plan_of(policy))
        step = line.plan.step(node)
        if step.index >= len(line.outcomes):  # a node no root of the plan holds
            line.outcomes += [None] * (line.plan.size - len(line.outcomes))
        return self.resolved(line, step)

    def roots(self, plan: PolicyPlan) -> tuple[Outcome | None, list[Outcome], list[Outcome], Outcome | None]:
        """The outcomes of a version's guard, coverage, documentation and criteria."""
        line = self._line(plan)
        return (
            self.resolved(line, plan.when) if plan.when else None,
            [self.resolved(line, step) for step in plan.coverage],
            [self.resolved(line, step) for step in plan.documentation],
            self.resolved(line, plan.criteria) if plan.criteria else None,
        )

    def _line(self, plan: PolicyPlan) -> PolicyLine:
        line = self.lines.get(plan.key)
        if line is None:
            line = self.lines[plan.key] = PolicyLine(plan)
        return line

    def resolved(self, line: PolicyLine, step: Step) -> Outcome:
        found = line.outcomes[step.index]
        if found is None:
            found = line.outcomes[step.index] = self._resolve(line, step, None)
        return found

    def _resolve(self, line: PolicyLine, step: Step, bindings: Bindings | None) -> Outcome:
        outcome = Outcome(step.node)
        if step.guard is not None:
            outcome.guard = (
                self._resolve(line, step.guard, bindings) if bindings else self.resolved(line, step.guard)
            )
        action = step.action
        if action in (LEAF, EXISTS):
            if not (step.simple and not bindings and self._simple_leaf(line, step, outcome)):
                self._leaf(line, step, bindings, outcome)
        elif action == BRANCH:
            if bindings:
                outcome.children = [self._resolve(line, child, bindings) for child in step.children]
            else:
                children = outcome.children
                outcomes = line.outcomes
                for child in step.children:
                    found = outcomes[child.index]
                    if found is None:
                        found = outcomes[child.index] = self._resolve(line, child, None)
                    children.append(found)
        elif action == DOCUMENT:
            sent = self.facts.sent_documents()
            outcome.facts = {"documentation": sent}
            line.submit(step, outcome, sent)
        elif action == FREQUENCY:
            self._frequency(line, step, outcome)
        elif action == REF:
            outcome.target = self._ref_target(line, step.node, outcome)  # type: ignore[arg-type]
        else:
            self._quantifier(line, step, bindings or {}, outcome)
        return outcome

    def _ref_target(self, line: PolicyLine, node: Ref, outcome: Outcome) -> Outcome:
        policy = line.plan.policy
        owner = policy if node.policy in (None, policy.id) else self.version_of(node.policy)
        target = owner.nodes.get(node.target) if owner else None
        if owner is None or target is None:
            missing = Outcome(node)
            missing.body = UNKNOWN
            missing.invalid.append(
                f"no version of policy '{node.policy}' with node '{node.target}' governs this date"
            )
            return missing
        return self.outcome(owner, target)

    def _quantifier(self, line: PolicyLine, step: Step, bindings: Bindings, outcome: Outcome) -> None:
        node: Quantifier = step.node  # type: ignore[assignment]
        reader = FactReader(self.facts, bindings)
        elements = self._deriving_for(line, lambda: reader.elements(node.list_path))
        outcome.missing, outcome.invalid = reader.absent, reader.invalid
        if elements is None:
            return
        outcome.facts = {node.list_path: f"{len(elements)} item(s)"}
        where = step.children[0]
        for value, path in elements:
            inner = {**bindings, node.var: (value, path)}
            outcome.children.append(self._resolve(line, where, inner))

    def _simple_leaf(self, line: PolicyLine, step: Step, outcome: Outcome) -> bool:
        """The common leaf (a present fact of the request, of a kind the operator takes)
        without the general path's bookkeeping; False leaves the leaf to ``_leaf``."""
        value, where, raw, _, problems = self.facts.located(step.fact)  # type: ignore[arg-type]
        if value is ABSENT or problems:
            return False
        kind = type(value)
        if kind is list:
            wanted = step.item_kinds
            if wanted is None or not all((_KINDS.get(type(x)) or kind_of(x)) in wanted for x in value):
                return False
            if step.codes:
                value = [normalize_code(code) for code in value]
        elif _KINDS.get(kind) in step.scalar_kinds:  # type: ignore[operator]
            if step.codes:
                value = normalize_code(value)
            if step.prefix:
                value = [value]  # one code is a list of one for the engine's $iany
        else:
            return False
        outcome.facts = {where: raw}
        encoder = step.encoder
        judged = line.judged
        line.batches[encoder.part].append(encoder.encode(len(judged), value, None, line.lists))  # type: ignore[union-attr]
        judged.append(outcome)
        outcome.body = NOT_MET
        return True

    def _leaf(self, line: PolicyLine, step: Step, bindings: Bindings | None, outcome: Outcome) -> None:
        read: dict[str, Any] = {}
        absent: list[str] = []
        invalid: list[str] = []
        value = self._read(line, step.fact, bindings, read, absent, invalid)  # type: ignore[arg-type]
        operand = step.operand
        if operand is None:
            other = None
        elif type(operand) is FactPath:
            other = self._read(line, operand, bindings, read, absent, invalid)
        else:
            bounds = tuple(
                self._read(line, b, bindings, read, absent, invalid) if type(b) is FactPath else b
                for b in operand
            )
            other = ABSENT if ABSENT in bounds else bounds
        outcome.facts = read
        outcome.invalid = invalid
        if step.action == EXISTS:
            line.submit(step, outcome, value)
            return
        if value is ABSENT or other is ABSENT:
            outcome.missing = absent
            outcome.body = UNKNOWN
            return
        kinds = step.scalar_kinds
        if kinds is None or type(value) is list or _KINDS.get(type(value)) not in kinds:
            problem = step.problem(value, other)
            if problem:
                invalid = [*invalid, problem]
        if invalid:
            outcome.invalid = invalid
            outcome.missing = [path for path in read if not path.startswith("derived.")] or [step.fact.text]  # type: ignore[union-attr]
            outcome.body = UNKNOWN
            return
        if step.codes:
            value = [normalize_code(v) for v in value] if type(value) is list else normalize_code(value)
        if step.prefix and type(value) is not list:
            value = [value]  # one code is a list of one for the engine's $iany
        line.submit(step, outcome, value, other)

    def _read(
        self,
        line: PolicyLine,
        path: FactPath,
        bindings: Bindings | None,
        read: dict[str, Any],
        absent: list[str],
        invalid: list[str],
    ) -> Any:
        """What ``FactReader.lookup`` does, on a path split beforehand and read once per line."""
        bound = bindings.get(path.root) if bindings else None
        if bound is not None:
            found = located_in(bound[0], bound[1], path)
        elif path.reading == DERIVED:
            found = self._derived(line, str(path.rest[0]))
        else:
            found = self.facts.located(path)
        value, where, raw, asks, problems = found
        for problem in problems:
            if problem not in invalid:
                invalid.append(problem)
        if value is ABSENT:
            for missing in asks:
                if missing not in absent:
                    absent.append(missing)
            return ABSENT
        read[where] = raw  # type: ignore[index]
        return value

    def _derived(self, line: PolicyLine, name: str) -> Located:
        return located_derived(name, *self._evaluate(line, name))

    def _derive(self, name: str, reader: FactReader) -> tuple[Any, list[str], list[str]]:
        """A derived value read inside an expression (one derived value using another)."""
        assert self._deriving is not None
        return self._evaluate(self._deriving, name)

    def _evaluate(self, line: PolicyLine, name: str) -> tuple[Any, list[str], list[str]]:
        found = line.derived.get(name)
        if found is None:
            inner = FactReader(self.facts, {})
            value = self._deriving_for(line, lambda: line.plan.policy.derive[name].evaluate(inner))
            # a wrongly typed input is as much "needed" as an absent one: name what was read
            needed = inner.absent or (list(inner.read) if inner.invalid else [])
            found = line.derived[name] = (value, needed, inner.invalid)
        return found

    def _deriving_for(self, line: PolicyLine, work: Callable[[], Any]) -> Any:
        """Run work that may read derived values of the line's policy through ``FactReader``.

        The facts hold the callback only meanwhile: left in place, it would tie the facts
        and this resolver in a cycle that only the garbage collector could free.
        """
        facts, previous = self.facts, self._deriving
        facts.derive, self._deriving = self._derive, line
        try:
            return work()
        finally:
            self._deriving = previous
            facts.derive = self._derive if previous is not None else None

    def _frequency(self, line: PolicyLine, step: Step, outcome: Outcome) -> None:
        node: Frequency = step.node  # type: ignore[assignment]
        day = self.facts.date_of_service
        if day is None:
            outcome.missing, outcome.body = [f"{self.facts.line_path}.date_of_service"], UNKNOWN
            return
        total: int | Fraction = 0
        undated = []
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
            outcome.missing, outcome.body = undated, UNKNOWN
            return
        line.submit(step, outcome, total)


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
    if isinstance(value, int | Fraction):
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
    if op in _LISTY:
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
