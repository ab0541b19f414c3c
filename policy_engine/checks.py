"""Semantic checks the schema cannot express: ids, refs, cites, facts, types, derive cycles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from fractions import Fraction

from .limits import MAX_CODE_RANGES, MAX_OPERAND_VALUES
from .model import COMPARISONS, FactRef, Frequency, Leaf, Node, Policy, Quantifier, Ref, walk
from .values import split_range

FACT_ROOTS = frozenset(
    {
        "member",
        "provider",
        "diagnoses",
        "primary_diagnosis",
        "service",
        "services",
        "clinical",
        "documentation",
        "history",
        "derived",
        "request_id",
        "urgency",
    }
)

# Facts whose type the request format fixes, so a policy can be checked against them.
KNOWN_TYPES = {
    "member.age": "number",
    "member.birth_date": "date",
    "service.quantity": "number",
    "service.date_of_service": "date",
    "service.code": "code",
    "primary_diagnosis": "code",
    "diagnoses": "code list",
    "documentation": "list",
    "service.modifiers": "list",
    "history": "list",
    "services": "list",
}
_NEEDS = {
    "gt": ("number", "date"),
    "gte": ("number", "date"),
    "lt": ("number", "date"),
    "lte": ("number", "date"),
    "between": ("number", "date"),
    "includes_any": ("list", "code list"),
    "includes_all": ("list", "code list"),
    "any_prefix": ("code", "code list"),
    "eq": ("number", "date", "code", "string"),
    "ne": ("number", "date", "code", "string"),
    "in": ("number", "date", "code", "string"),
    "not_in": ("number", "date", "code", "string"),
}

Finding = tuple[Node | None, str, str]  # node (for its line), field suffix, message

MAX_WINDOW_MONTHS = 1200  # a frequency window of 100 years is a lifetime; longer leaves the calendar
MAX_DERIVE_CHAIN = 16  # derived values computed from derived values, evaluated by recursion


def check_policy(policy: Policy) -> Iterator[Finding]:
    """Every semantic problem of one version, each tied to the node it concerns."""
    yield from _check_cites(policy)
    yield from _check_refs(policy)
    yield from _check_facts(policy)
    yield from _check_derive(policy)
    yield from _check_sizes(policy)
    if policy.expires and policy.expires < policy.effective:
        yield None, "expires", f"expires {policy.expires} is before effective {policy.effective}"


def _all_nodes(policy: Policy) -> Iterator[tuple[Node, tuple[str, ...]]]:
    """Nodes with the quantifier variables in scope at each."""

    def visit(node: Node, scope: tuple[str, ...]) -> Iterator[tuple[Node, tuple[str, ...]]]:
        yield node, scope
        if node.applies_when is not None:
            yield from visit(node.applies_when, scope)
        inner = (*scope, node.var) if isinstance(node, Quantifier) else scope
        for child in node.children():
            yield from visit(child, inner)

    for root in policy.roots():
        yield from visit(root, ())


def _check_cites(policy: Policy) -> Iterator[Finding]:
    for node, _ in _all_nodes(policy):
        if node.cite:
            reference = node.cite.split()[0]
            if reference not in policy.references:
                known = ", ".join(sorted(policy.references))
                yield (
                    node,
                    "cite",
                    f"cites '{reference}', which is not among the references ({known})",
                )


def _check_refs(policy: Policy) -> Iterator[Finding]:
    inside_where: set[str] = set()
    for node, scope in _all_nodes(policy):
        if scope:
            inside_where.add(node.id)
    ancestors: dict[str, set[str]] = {}

    def collect(node: Node, above: frozenset[str]) -> None:
        ancestors[node.id] = set(above)
        below = above | {node.id}
        if node.applies_when is not None:
            collect(node.applies_when, below)
        for child in node.children():
            collect(child, below)

    for root in policy.roots():
        collect(root, frozenset())
    for node, _ in _all_nodes(policy):
        if not isinstance(node, Ref) or node.policy not in (None, policy.id):
            continue
        if node.target not in policy.nodes:
            yield node, "ref", f"refers to '{node.target}', which is no node of this policy"
        elif node.target in inside_where:
            yield (
                node,
                "ref",
                f"refers to '{node.target}' inside a 'where'; refs cannot reach into a quantifier",
            )
        elif node.target in ancestors.get(node.id, ()):
            yield node, "ref", f"refers to its own ancestor '{node.target}'"
    yield from _check_ref_cycles(policy)


def _check_ref_cycles(policy: Policy) -> Iterator[Finding]:
    """A node whose subtree refers, through any chain of refs, back to that node."""

    def refs_under(node: Node) -> set[str]:
        return {n.target for n in walk(node) if isinstance(n, Ref) and n.policy in (None, policy.id)}

    edges = {node_id: refs_under(node) for node_id, node in policy.nodes.items()}
    for node in policy.nodes.values():
        if isinstance(node, Ref) and node.policy in (None, policy.id) and node.target in policy.nodes:
            inside = {n.id for n in walk(policy.nodes[node.target])}
            if node.id not in inside and _reaches(edges, node.target, node.target):
                yield node, "ref", f"'{node.id}' refers back to itself through refs (a cycle)"


def _reaches(edges: dict[str, set[str]], start: str, goal: str) -> bool:
    seen: set[str] = set()
    stack = list(edges.get(start, ()))
    while stack:
        current = stack.pop()
        if current == goal:
            return True
        if current not in seen:
            seen.add(current)
            stack.extend(edges.get(current, ()))
    return False


def _check_facts(policy: Policy) -> Iterator[Finding]:
    for node, scope in _all_nodes(policy):
        paths: list[tuple[str, str]] = []
        if isinstance(node, Leaf):
            paths.append(("fact", node.fact))
            operands = node.operand if isinstance(node.operand, tuple) else (node.operand,)
            paths += [(node.op, item.path) for item in operands if isinstance(item, FactRef)]
            yield from _check_leaf_types(node)
        elif isinstance(node, Quantifier):
            paths.append((node.kind, node.list_path))
            if node.var in FACT_ROOTS:
                yield node, "as", f"'{node.var}' is a fact name; choose another variable name"
        for key, path in paths:
            root = path.split(".")[0].split("[")[0]
            if root not in FACT_ROOTS and root not in scope:
                hint = " (element variables exist only inside 'where')" if root == "item" else ""
                yield (
                    node,
                    key,
                    f"unknown fact '{path}': it must start with one of {', '.join(sorted(FACT_ROOTS))}{hint}",
                )
            elif root == "derived":
                name = path.split(".")[1] if "." in path else ""
                if name not in policy.derive_names:
                    yield node, key, f"'{path}' names no value defined under 'derive'"


def _check_leaf_types(leaf: Leaf) -> Iterator[Finding]:
    known = KNOWN_TYPES.get(leaf.fact)
    needs = _NEEDS.get(leaf.op)
    if known and needs and known not in needs:
        yield leaf, leaf.op, f"'{leaf.op}' cannot apply to {leaf.fact}, which is a {known}"
        return
    literals = leaf.operand if isinstance(leaf.operand, tuple) else (leaf.operand,)
    for literal in literals:
        if isinstance(literal, FactRef) or literal is None:
            continue
        kind = _kind(literal)
        if leaf.op in (*COMPARISONS[2:], "between") and kind not in ("number", "date"):
            yield leaf, leaf.op, f"expected a number or a date, got {_shown(literal)}"
        elif known == "number" and kind not in ("number",) and leaf.op not in ("exists",):
            yield leaf, leaf.op, f"{leaf.fact} is a number, got {_shown(literal)}"
        elif known == "date" and kind != "date" and leaf.op not in ("exists",):
            yield leaf, leaf.op, f"{leaf.fact} is a date, got {_shown(literal)}"
        elif leaf.codes and kind != "string" and leaf.op not in ("exists",):
            yield leaf, leaf.op, f"codes are strings: quote {_shown(literal)} as '{literal}'"
    if leaf.op == "between" and all(not isinstance(b, FactRef) for b in leaf.operand):
        low, high = leaf.operand
        if _kind(low) != _kind(high):
            yield leaf, leaf.op, "both bounds must be numbers or both dates"
        elif low > high:
            yield leaf, leaf.op, f"the lower bound {low} is above the upper bound {high}"


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, Fraction)):
        return "number"
    if isinstance(value, dt.date):
        return "date"
    return "string" if isinstance(value, str) else type(value).__name__


def _shown(value: object) -> str:
    from .values import describe

    return describe(value)


def _check_derive(policy: Policy) -> Iterator[Finding]:
    uses: dict[str, set[str]] = {}
    for name, expression in policy.derive.items():
        uses[name] = set()
        for path in expression.paths:
            root = path.split(".")[0].split("[")[0]
            if root == "derived":
                other = path.split(".")[1] if "." in path else ""
                if other not in policy.derive_names:
                    yield None, f"derive.{name}", f"'{path}' names no value defined under 'derive'"
                uses[name].add(other)
            elif root not in FACT_ROOTS:
                yield None, f"derive.{name}", f"unknown fact '{path}' in the expression"
    for name in policy.derive:
        if _reaches(uses, name, name):
            yield (
                None,
                f"derive.{name}",
                f"'{name}' depends on itself (a cycle through derived values)",
            )


def _check_sizes(policy: Policy) -> Iterator[Finding]:
    """What the rules engine and the calendar can hold (docs/decisions/0009)."""
    for node, _ in _all_nodes(policy):
        if isinstance(node, Leaf) and isinstance(node.operand, tuple) and node.op != "between":
            split = (
                "an 'all' of several not_in leaves" if node.op == "not_in" else "an 'any' of several leaves"
            )
            ranges = sum(
                1 for item in node.operand if node.codes and isinstance(item, str) and split_range(item)
            )
            if len(node.operand) > MAX_OPERAND_VALUES:
                count = len(node.operand)
                yield (
                    node,
                    node.op,
                    f"{count} values; one leaf takes at most {MAX_OPERAND_VALUES}: write {split}",
                )
            elif ranges > MAX_CODE_RANGES:
                yield (
                    node,
                    node.op,
                    f"{ranges} code ranges; one leaf takes at most {MAX_CODE_RANGES}: write {split}",
                )
        if isinstance(node, Frequency) and node.window.unit in ("d", "m", "full_months"):
            months = node.window.amount / 30.4375 if node.window.unit == "d" else node.window.amount
            if months > MAX_WINDOW_MONTHS:
                yield node, "frequency.per", f"a window of more than {MAX_WINDOW_MONTHS // 12} years"
    depth: dict[str, int] = {}
    for name in policy.derive:
        if _chain(policy, name, depth, set()) > MAX_DERIVE_CHAIN:
            message = f"'{name}' is computed through more than {MAX_DERIVE_CHAIN} derived values in a row"
            yield None, f"derive.{name}", message
            return  # the first is enough: every value computed from it would be reported too


def _chain(policy: Policy, name: str, depth: dict[str, int], visiting: set[str]) -> int:
    """How many derived values in a row computing ``name`` takes (cycles are reported elsewhere)."""
    if name in depth or name in visiting or name not in policy.derive:
        return depth.get(name, 0)
    if len(visiting) > MAX_DERIVE_CHAIN:  # too long already: the answer is "too many"
        return 1
    visiting.add(name)
    used = [
        path.split(".")[1]
        for path in policy.derive[name].paths
        if path.startswith("derived.") and "." in path
    ]
    depth[name] = 1 + max((_chain(policy, other, depth, visiting) for other in used), default=0)
    return depth[name]
