"""Resolve a line's facts against a policy's trees, leaving comparisons for the rules engine.

Everything that needs the request (paths, absent facts, types, derived values,
quantifier elements, frequency totals) happens here in Python; every comparison of a
fact with a criterion becomes a small engine fact that the compiled ruleset judges.
What does not depend on the request is decided once per version (``plan.PolicyPlan``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from typing import Any

from ..facts import DERIVED, FactPath, FactReader, LineFacts, Located, located_derived, located_in
from ..model import Frequency, Node, Policy, Quantifier, Ref, Window
from ..values import ABSENT, add_months, calendar_months_between, normalize_code
from . import program
from .encode import strings
from .outcome import MET, NOT_MET, UNKNOWN, Outcome, new_outcome
from .plan import BRANCH, DOCUMENT, EXISTS, FREQUENCY, LEAF, QUANTIFIER, REF, Encoder, PolicyPlan, Step

Bindings = dict[str, tuple[Any, str]]


class PolicyLine:
    """One policy version on one line: outcomes by step, and the facts for the rules engine."""

    __slots__ = ("batches", "derived", "judged", "outcomes", "plan")

    def __init__(self, plan: PolicyPlan) -> None:
        self.plan = plan
        self.outcomes: list[Outcome | None] = [None] * plan.size
        self.judged: list[Outcome] = []  # waiting for the engine; a fact's ``id`` indexes it
        parts = plan.parts
        self.batches: list[list[str]] = [[]] if parts == 1 else [[] for _ in range(parts)]  # per ruleset
        self.derived: dict[str, tuple[Any, list[str], list[str]]] = {}

    def submit(self, step: Step, outcome: Outcome, value: Any, other: Any = None) -> None:
        """Hand a value to the rules engine; until it matches, the node is not met
        (a document: unknown, with its own id missing)."""
        encoder: Encoder = step.encoder  # type: ignore[assignment]
        judged = self.judged
        self.batches[encoder.part].append(encoder.encode(len(judged), value, other))
        judged.append(outcome)
        outcome.body = body = step.waiting
        if body is UNKNOWN:
            outcome.missing = [outcome.node.id]
        if step.plain:
            outcome.status = body

    def record(self, matched: Iterable[int]) -> None:
        """The rules engine matched these facts: their nodes are met."""
        judged = self.judged
        for index in matched:
            outcome = judged[index]
            outcome.body = MET
            if outcome.status is not None:  # settled early (a node without guard or if_absent)
                outcome.status = MET
            if outcome.missing:  # only a document waits with something missing: its own id
                outcome.missing = []


class LineResolver:
    """Outcomes for every node one line reaches, shared where a node is reached twice."""

    def __init__(
        self,
        facts: LineFacts,
        version_of: Callable[[str, dt.date | None], Policy | None],
        plan_of: Callable[[Policy], PolicyPlan],
    ) -> None:
        self.facts = facts
        self.version_of = version_of  # another policy's version in effect on a date
        self.plan_of = plan_of
        self.lines: dict[str, PolicyLine] = {}
        self._deriving: PolicyLine | None = None
        self._documents: tuple[dict[str, Any], str] | None = None

    def documents(self) -> tuple[dict[str, Any], str]:
        """The document ids the request lists, as a document's facts (one dict its outcomes
        share: nothing fills an outcome's facts after it is made) and as written for the
        rules engine; made once a line."""
        if self._documents is None:
            sent = self.facts.sent_documents()
            self._documents = ({"documentation": sent}, strings(sent))
        return self._documents

    def outcome(self, policy: Policy, node: Node) -> Outcome:
        """A node outside any quantifier: one outcome per line however often it is reached."""
        line = self._line(self.plan_of(policy))
        step = line.plan.step(node)
        if step.index >= len(line.outcomes):  # a node no root of the plan holds
            line.outcomes += [None] * (line.plan.size - len(line.outcomes))
        return self.resolved(line, step)

    def roots(self, plan: PolicyPlan) -> tuple[Outcome | None, list[Outcome], list[Outcome], Outcome | None]:
        """The outcomes of a version's guard, coverage, documentation and criteria."""
        outcomes: list[Outcome] = self.run(plan).outcomes  # type: ignore[assignment]
        when = outcomes[plan.when.index] if plan.when else None
        pick = outcomes.__getitem__  # mapped, not a loop or a comprehension: each costs a call per item
        coverage: list[Outcome] = list(map(pick, plan.coverage_at))
        documentation: list[Outcome] = list(map(pick, plan.documentation_at))
        return when, coverage, documentation, outcomes[plan.criteria.index] if plan.criteria else None

    def run(self, plan: PolicyPlan) -> PolicyLine:
        """Resolve every node the version's roots reach: one pass over its program."""
        line = self.lines.get(plan.key)
        if line is None and plan.in_order:
            # A new line whose nodes only the program reaches (refs' targets come before
            # the refs): none is resolved before its turn.
            line = self.lines[plan.key] = PolicyLine(plan)
            outcomes = line.outcomes
            for index, resolve in plan.program:
                outcomes[index] = resolve(self, line)
            return line
        line = self._line(plan)
        outcomes = line.outcomes
        for index, resolve in plan.program:
            if outcomes[index] is None:  # not already reached through another version's ref
                outcomes[index] = resolve(self, line)
        return line

    def _line(self, plan: PolicyPlan) -> PolicyLine:
        line = self.lines.get(plan.key)
        if line is None:
            line = self.lines[plan.key] = PolicyLine(plan)
        return line

    def resolved(self, line: PolicyLine, step: Step) -> Outcome:
        found = line.outcomes[step.index]
        if found is None:
            found = line.outcomes[step.index] = step.resolve(self, line, step, None)
        return found

    def _start(self, line: PolicyLine, step: Step, bindings: Bindings | None) -> Outcome:
        outcome = new_outcome(step.node)
        guard = step.guard
        if guard is not None:
            outcome.guard = (
                guard.resolve(self, line, guard, bindings) if bindings else self.resolved(line, guard)
            )
        return outcome

    # One method per kind of step; ``plan.Step`` points each step at its own.

    def branch(self, line: PolicyLine, step: Step, bindings: Bindings | None) -> Outcome:
        outcome = self._start(line, step, bindings) if step.guard else new_outcome(step.node)
        if bindings:
            outcome.children = [child.resolve(self, line, child, bindings) for child in step.children]
            return outcome
        children = outcome.children = []
        outcomes = line.outcomes
        for child in step.children:
            found = outcomes[child.index]
            if found is None:
                found = outcomes[child.index] = child.resolve(self, line, child, None)
            children.append(found)
        return outcome

    def leaf(self, line: PolicyLine, step: Step, bindings: Bindings | None) -> Outcome:
        outcome = self._start(line, step, bindings) if step.guard else new_outcome(step.node)
        if step.simple and not bindings:
            # The common leaf: a fact of the request, present, of a kind the operator
            # takes, against literals (the encoder normalizes codes). This is ``submit``
            # written out, as it runs for most nodes; anything else takes ``general_leaf``.
            facts = self.facts
            found = facts.seen.get(step.fact) or facts.located(step.fact)  # type: ignore[arg-type]
            value, where, raw, _, problems = found
            if value is not ABSENT and not problems:
                if type(value) is list:
                    accepted = step.item_types is not None and set(map(type, value)) <= step.item_types
                else:
                    accepted = type(value) in step.scalar_types
                if accepted:
                    outcome.facts = {where: raw}
                    encoder: Encoder = step.encoder  # type: ignore[assignment]
                    judged = line.judged
                    line.batches[encoder.part].append(encoder.encode(len(judged), value, None))
                    judged.append(outcome)
                    outcome.body = NOT_MET
                    if step.plain:
                        outcome.status = NOT_MET
                    return outcome
        self.general_leaf(line, step, bindings, outcome)
        return outcome

    def document(self, line: PolicyLine, step: Step, bindings: Bindings | None) -> Outcome:
        outcome = self._start(line, step, bindings) if step.guard else new_outcome(step.node)
        sent = self.facts.sent_documents()
        outcome.facts = {"documentation": sent}
        line.submit(step, outcome, sent)
        return outcome

    def frequency(self, line: PolicyLine, step: Step, bindings: Bindings | None) -> Outcome:
        outcome = self._start(line, step, bindings) if step.guard else new_outcome(step.node)
        node: Frequency = step.node  # type: ignore[assignment]
        facts = self.facts
        day = facts.date_of_service
        if day is None:
            outcome.missing, outcome.body = [f"{facts.line_path}.date_of_service"], UNKNOWN
            return outcome
        codes, window = node.codes, node.window
        total: int | Fraction = facts.quantity if facts.code is not None and codes.holds(facts.code) else 0
        undated = []
        after: dt.date | None = None  # the last day before a day or month window, found once
        for prior in facts.prior_services():  # their codes are normalized, as ``holds`` wants
            if not codes.holds(prior.code):
                continue
            if prior.date is None:
                undated.append(f"{prior.path}.date")
            elif window.unit in ("d", "m"):
                if after is None:
                    after = window_floor(day, window)
                if after < prior.date <= day:
                    total += prior.quantity
            elif in_window(prior.date, day, window):
                total += prior.quantity
        outcome.facts = {"count": total, "max": node.max, "window": step.window}
        if undated and total <= node.max:
            outcome.missing, outcome.body = undated, UNKNOWN
            return outcome
        line.submit(step, outcome, total)
        return outcome

    def ref(self, line: PolicyLine, step: Step, bindings: Bindings | None) -> Outcome:
        outcome = self._start(line, step, bindings) if step.guard else new_outcome(step.node)
        node: Ref = step.node  # type: ignore[assignment]
        policy = line.plan.policy
        owner = (
            policy
            if node.policy in (None, policy.id)
            else self.version_of(node.policy, self.facts.date_of_service)  # type: ignore[arg-type]
        )
        target = owner.nodes.get(node.target) if owner else None
        if owner is None or target is None:
            missing = new_outcome(node)
            missing.body = UNKNOWN
            missing.invalid = [
                f"no version of policy '{node.policy}' with node '{node.target}' governs this date"
            ]
            outcome.target = missing
        else:
            outcome.target = self.outcome(owner, target)
        return outcome

    def quantifier(self, line: PolicyLine, step: Step, bindings: Bindings | None) -> Outcome:
        outcome = self._start(line, step, bindings) if step.guard else new_outcome(step.node)
        node: Quantifier = step.node  # type: ignore[assignment]
        bindings = bindings or {}
        reader = FactReader(self.facts, bindings)
        previous = self._enter(line)
        try:
            elements = reader.elements(node.list_path)
        finally:
            self._leave(previous)
        outcome.missing, outcome.invalid = reader.absent, reader.invalid
        if elements is None:
            return outcome
        outcome.facts = {node.list_path: f"{len(elements)} item(s)"}
        where = step.children[0]
        var = node.var
        outcome.children = [
            where.resolve(self, line, where, {**bindings, var: (value, path)}) for value, path in elements
        ]
        return outcome

    # Leaves the common path does not cover ---------------------------------------

    def general_leaf(self, line: PolicyLine, step: Step, bindings: Bindings | None, outcome: Outcome) -> None:
        """A leaf any way it comes: facts as operands, derived or bound values, absent or
        wrongly typed ones."""
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
        problem = step.problem(value, other)
        if problem:
            invalid = outcome.invalid = [*invalid, problem]
        if invalid:
            fact = step.fact.text  # type: ignore[union-attr]
            outcome.missing = [path for path in read if not path.startswith("derived.")] or [fact]
            outcome.body = UNKNOWN
            return
        node = step.node
        if node.codes:  # type: ignore[attr-defined]
            value = [normalize_code(v) for v in value] if isinstance(value, list) else normalize_code(value)
        if node.op == "any_prefix" and not isinstance(value, list):  # type: ignore[attr-defined]
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

    # Derived values ------------------------------------------------------------------

    def _derived(self, line: PolicyLine, name: str) -> Located:
        return located_derived(name, *self.derived(line, name))

    def _derive(self, name: str, reader: FactReader) -> tuple[Any, list[str], list[str]]:
        """A derived value read inside an expression (one derived value using another)."""
        assert self._deriving is not None
        return self.derived(self._deriving, name)

    def derived(self, line: PolicyLine, name: str) -> tuple[Any, list[str], list[str]]:
        """A derived value of the line's version, with its missing and invalid inputs (once a line)."""
        found = line.derived.get(name)
        if found is None:
            inner = FactReader(self.facts, {})
            previous = self._enter(line)
            try:
                value = line.plan.policy.derive[name].evaluate(inner)
            finally:
                self._leave(previous)
            # a wrongly typed input is as much "needed" as an absent one: name what was read
            needed = inner.absent or (list(inner.read) if inner.invalid else [])
            found = line.derived[name] = (value, needed, inner.invalid)
        return found

    def _enter(self, line: PolicyLine) -> PolicyLine | None:
        """Let ``FactReader`` read the line's policy's derived values, until ``_leave``.

        The facts hold the callback only meanwhile: left in place, it would tie the facts
        and this resolver in a cycle that only the garbage collector could free.
        """
        previous = self._deriving
        self._deriving, self.facts.derive = line, self._derive
        return previous

    def _leave(self, previous: PolicyLine | None) -> None:
        self._deriving = previous
        self.facts.derive = self._derive if previous is not None else None


def in_window(day: dt.date, service_day: dt.date, window: Window) -> bool:
    """Whether a prior service on ``day`` falls in the window ending on the date of service."""
    if day > service_day:
        return False
    if window.unit in ("d", "m"):
        return day > window_floor(service_day, window)
    if window.unit == "calendar_year":
        return day.year == service_day.year
    return calendar_months_between(day, service_day) < window.amount


def window_floor(service_day: dt.date, window: Window) -> dt.date:
    """The last day before a window of days or months that ends on the date of service."""
    if window.unit == "d":
        return service_day - dt.timedelta(days=window.amount)
    return add_months(service_day, -window.amount)


def prepare(policy: Policy, encoders: Mapping[str, Encoder], parts: int) -> PolicyPlan:
    """The version's plan, its steps resolved by this module and its program built."""
    plan = PolicyPlan(policy, encoders, parts, RESOLVERS)
    plan.program = program.build(plan)
    plan.in_order = program.in_order(plan)
    return plan


RESOLVERS = {
    LEAF: LineResolver.leaf,
    EXISTS: LineResolver.leaf,
    DOCUMENT: LineResolver.document,
    FREQUENCY: LineResolver.frequency,
    REF: LineResolver.ref,
    QUANTIFIER: LineResolver.quantifier,
    BRANCH: LineResolver.branch,
}
