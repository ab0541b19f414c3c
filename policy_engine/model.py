"""The policy model: what a validated policy version is, independent of YAML and engines."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .expressions import Expression
from .values import CodeSet

COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte")
LIST_OPERATORS = ("in", "not_in", "includes_any", "includes_all", "any_prefix")
OPERATORS = (*COMPARISONS, "between", *LIST_OPERATORS, "exists")
# The highest version number a policy may carry (schemas/policy.schema.json says the same).
MAX_VERSION = 1_000_000


@dataclass(frozen=True, slots=True)
class FactRef:
    """An operand read from the request instead of written in the policy."""

    path: str


class Node:
    """A criterion tree node; every node may carry a guard and a citation."""

    __slots__ = ("applies_when", "cite", "explicit_id", "field", "id", "if_absent", "line", "text")
    kind = "node"

    def __init__(
        self,
        *,
        field: str,
        line: int,
        id: str = "",
        text: str | None = None,
        cite: str | None = None,
        applies_when: Node | None = None,
        if_absent: str | None = None,
        explicit_id: bool = True,
    ) -> None:
        self.id = id
        self.field = field
        self.line = line
        self.text = text
        self.cite = cite
        self.applies_when = applies_when
        self.if_absent = if_absent
        self.explicit_id = explicit_id

    def children(self) -> tuple[Node, ...]:
        return ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"


class Leaf(Node):
    """``fact`` compared by one operator with a literal or another fact."""

    __slots__ = ("codes", "fact", "op", "operand")
    kind = "leaf"

    def __init__(self, *, fact: str, op: str, operand: Any, codes: bool, **common: Any) -> None:
        super().__init__(**common)
        self.fact = fact
        self.op = op
        self.operand = operand
        self.codes = codes


class Group(Node):
    """``all`` or ``any`` of its children, in Kleene logic."""

    __slots__ = ("items", "kind")

    def __init__(self, *, kind: str, items: tuple[Node, ...], **common: Any) -> None:
        super().__init__(**common)
        self.kind = kind
        self.items = items

    def children(self) -> tuple[Node, ...]:
        return self.items


class NOf(Node):
    __slots__ = ("items", "n")
    kind = "n_of"

    def __init__(self, *, n: int, items: tuple[Node, ...], **common: Any) -> None:
        super().__init__(**common)
        self.n = n
        self.items = items

    def children(self) -> tuple[Node, ...]:
        return self.items


class Not(Node):
    __slots__ = ("item",)
    kind = "not"

    def __init__(self, *, item: Node, **common: Any) -> None:
        super().__init__(**common)
        self.item = item

    def children(self) -> tuple[Node, ...]:
        return (self.item,)


class Ref(Node):
    """Reuses another node's result, in this policy or (``policy`` set) in another."""

    __slots__ = ("policy", "target")
    kind = "ref"

    def __init__(self, *, target: str, policy: str | None, **common: Any) -> None:
        super().__init__(**common)
        self.target = target
        self.policy = policy


class Quantifier(Node):
    """``some`` / ``every`` element of a list satisfies ``where`` (bound as ``var``)."""

    __slots__ = ("kind", "list_path", "var", "where")

    def __init__(self, *, kind: str, list_path: str, var: str, where: Node, **common: Any) -> None:
        super().__init__(**common)
        self.kind = kind
        self.list_path = list_path
        self.var = var
        self.where = where

    def children(self) -> tuple[Node, ...]:
        return (self.where,)


@dataclass(frozen=True, slots=True)
class Window:
    """How far back a frequency limit looks: ``days``/``months`` count, or a calendar rule."""

    unit: str  # "d", "m", "calendar_year" or "full_months"
    amount: int = 0

    def describe(self) -> str:
        if self.unit == "calendar_year":
            return "calendar year"
        if self.unit == "full_months":
            return f"{self.amount} full calendar months"
        return f"{self.amount} {'days' if self.unit == 'd' else 'months'}"


class Frequency(Node):
    __slots__ = ("code_specs", "codes", "max", "window")
    kind = "frequency"

    def __init__(self, *, code_specs: tuple[str, ...], max: int, window: Window, **common: Any) -> None:
        super().__init__(**common)
        self.code_specs = code_specs
        self.codes = CodeSet(list(code_specs))
        self.max = max
        self.window = window


class Document(Node):
    """A required document: met when the request lists its id."""

    __slots__ = ()
    kind = "document"


@dataclass(frozen=True, slots=True)
class Reference:
    id: str
    title: str
    url: str | None


@dataclass(slots=True)
class Policy:
    """One version of one policy, validated and ready to compile."""

    id: str
    version: int
    title: str
    effective: dt.date
    expires: dt.date | None
    owner: str
    summary: str
    references: dict[str, Reference]
    services: CodeSet
    service_specs: tuple[str, ...]
    when: Node | None
    derive: dict[str, Expression]
    coverage: tuple[Node, ...]
    documentation: tuple[Node, ...]
    criteria: Node | None
    sha256: str
    source: str
    file: str
    nodes: dict[str, Node] = field(default_factory=dict)
    derive_names: frozenset[str] = frozenset()  # every name under derive, parsed or not
    ends: dt.date | None = None  # last governed date: expires, or the day before the next version

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def governs(self, day: dt.date) -> bool:
        return self.effective <= day and (self.ends is None or day <= self.ends)

    def ended_before(self, day: dt.date) -> bool:
        """Whether the version's period was over before ``day`` (superseded or retired)."""
        return self.ends is not None and self.ends < day

    def roots(self) -> tuple[Node, ...]:
        """Every top-level tree: the guard, coverage, documentation and criteria."""
        top = [*self.coverage, *self.documentation]
        if self.when is not None:
            top.insert(0, self.when)
        if self.criteria is not None:
            top.append(self.criteria)
        return tuple(top)


def walk(node: Node):
    """Every node of a tree, guards included, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children()))
        if current.applies_when is not None:
            stack.append(current.applies_when)
