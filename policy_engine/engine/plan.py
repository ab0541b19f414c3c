"""A policy version prepared for resolution, once: what does not depend on the request.

Each node becomes a ``Step`` that knows how it is resolved, its fact paths already
split, which kinds of value its operator accepts and how its facts are encoded for
the rules engine; a line then only reads the request and fills in outcomes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any, Protocol

from ..facts import DERIVED, FactPath, fact_path
from ..model import Document, FactRef, Frequency, Leaf, Node, Policy, Quantifier, Ref
from ..values import describe
from .outcome import NOT_MET, UNKNOWN

LEAF, EXISTS, DOCUMENT, FREQUENCY, REF, QUANTIFIER, BRANCH = range(7)
# A request's float is a number too: the engine's readers leave it a float (see ``read``).
_TYPES = {"boolean": (bool,), "number": (int, Fraction, float), "date": (dt.date,), "string": (str,)}
_ORDERED = ("gt", "gte", "lt", "lte", "between")
_LISTY = ("any_prefix", "includes_any", "includes_all")
# One value of each kind, to decide once per leaf which kinds its operator accepts.
_SAMPLES = (True, 1, dt.date(2000, 1, 1), "x", {})


class Encoder(Protocol):
    """How a checkable node's facts are written for the rules engine (see ``encode.Encoder``)."""

    part: int

    def encode(self, index: int, value: Any, other: Any) -> str: ...
    def encode_value(self, index: int, value: Any) -> str: ...


class Step:
    """One node of a policy version, prepared for resolution."""

    __slots__ = (
        "action",
        "children",
        "encoder",
        "fact",
        "guard",
        "index",
        "item_kinds",
        "item_types",
        "node",
        "operand",
        "plain",
        "resolve",
        "scalar_kinds",
        "scalar_types",
        "simple",
        "waiting",
        "window",
    )

    def __init__(self, node: Node, index: int, encoder: Encoder | None) -> None:
        self.node = node
        self.index = index  # where a line keeps this node's outcome
        self.encoder = encoder
        self.resolve: Callable[..., Any]  # the resolver's method for this kind of step
        self.guard: Step | None = None
        self.children: tuple[Step, ...] = ()
        # Without guard or if_absent a node's status is its body as soon as that is known.
        self.plain = node.applies_when is None and not node.if_absent
        self.waiting = NOT_MET  # its body while the rules engine has not matched it
        self.fact: FactPath | None = None
        self.operand: Any = None  # a FactPath, a tuple of bounds (FactPath or literal), or None
        self.scalar_kinds: frozenset[str] | None = None  # kinds a single value may have
        self.item_kinds: frozenset[str] | None = None  # kinds a list's items may have
        # the same as Python types, for a quick test (a subclass takes the long way)
        self.scalar_types: frozenset[type] = frozenset()
        self.item_types: frozenset[type] | None = None
        self.simple = False  # a leaf reading one fact of the request against literals
        self.window = ""
        self.action = BRANCH
        if isinstance(node, Leaf):
            self._leaf(node)
        elif isinstance(node, Document):
            self.action, self.waiting = DOCUMENT, UNKNOWN
        elif isinstance(node, Frequency):
            self.action, self.window = FREQUENCY, node.window.describe()
        elif isinstance(node, Ref):
            self.action = REF
        elif isinstance(node, Quantifier):
            self.action = QUANTIFIER

    def _leaf(self, node: Leaf) -> None:
        self.action = EXISTS if node.op == "exists" else LEAF
        self.fact = fact_path(node.fact)
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
            self.scalar_types = frozenset(t for kind in self.scalar_kinds for t in _TYPES.get(kind, ()))
            if node.op in _LISTY:
                wanted = {kind_of(x) for x in operand} if node.op != "any_prefix" else {"string"}
                self.item_kinds = frozenset(wanted)
                self.item_types = frozenset(t for kind in wanted for t in _TYPES.get(kind, ()))
            self.simple = self.fact.reading != DERIVED

    def problem(self, value: Any, other: Any) -> str | None:
        """Why the value cannot be read by the leaf's operator (see ``type_problem``), or None."""
        kinds = self.scalar_kinds
        if kinds is not None:
            if isinstance(value, list):
                wanted = self.item_kinds
                if wanted is not None and all(kind_of(x) in wanted for x in value):
                    return None
            elif kind_of(value) in kinds:
                return None
        return type_problem(self.node, value, other)  # type: ignore[arg-type]


class PolicyPlan:
    """A policy version prepared once: a step per node, guards and children linked."""

    def __init__(
        self,
        policy: Policy,
        encoders: Mapping[str, Encoder],
        parts: int,
        resolvers: Mapping[int, Callable[..., Any]],
    ) -> None:
        self.policy = policy
        self.key = policy.key
        self.parts = parts  # how many rulesets judge the version
        self.size = 0
        self._encoders = encoders
        self._resolvers = resolvers
        self._steps: dict[int, Step] = {}
        # the nodes' specialised resolvers, in the order a line runs them (``program.build``)
        self.program: tuple[tuple[int, Callable[..., Any]], ...] = ()
        self.in_order = False  # whether only the program reaches the nodes (``program.in_order``)
        self.when = self.step(policy.when) if policy.when is not None else None
        self.coverage = tuple(self.step(node) for node in policy.coverage)
        self.documentation = tuple(self.step(node) for node in policy.documentation)
        self.criteria = self.step(policy.criteria) if policy.criteria is not None else None
        self.coverage_at = tuple(step.index for step in self.coverage)  # where a line keeps their outcomes
        self.documentation_at = tuple(step.index for step in self.documentation)
        for node in policy.nodes.values():
            self.step(node)

    def step(self, node: Node) -> Step:
        """The node's step, made on first use."""
        found = self._steps.get(id(node))
        if found is None:
            found = self._steps[id(node)] = Step(node, self.size, self._encoders.get(node.id))
            found.resolve = self._resolvers[found.action]
            self.size += 1
            if node.applies_when is not None:
                found.guard = self.step(node.applies_when)
            found.children = tuple(self.step(child) for child in node.children())
        return found


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
