"""A policy version's nodes as specialised resolvers, in the order a line resolves them.

Made once per version (``resolve.prepare``). Each resolver closes over what its node
needs that does not depend on the request: where its outcome, its guard's and its
children's go, its fact's reader (``read``), the kinds its operator takes and its
encoder. A line's resolution is then one loop over the program (``LineResolver.run``),
guards, children and refs' targets before the nodes that hold them, with no dispatch
and no look-ups left for the common nodes: leaves reading the request against
literals, documents and groups. Every other node, and every leaf whose value is absent
or of a kind its operator refuses, is resolved by ``LineResolver``'s general methods;
nodes below a quantifier are resolved by it, once per element.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING

from ..facts import DERIVED
from ..model import Quantifier, Ref, walk
from ..values import ABSENT, normalize
from ..values import UNKNOWN as UNKNOWN_VALUE
from .outcome import NOT_MET, UNKNOWN, Outcome, new_outcome
from .plan import BRANCH, DOCUMENT, LEAF, QUANTIFIER, REF, PolicyPlan, Step
from .read import Read, Reader, reader

if TYPE_CHECKING:
    from .resolve import LineResolver, PolicyLine

Resolve = Callable[["LineResolver", "PolicyLine"], Outcome]
Program = tuple[tuple[int, Resolve], ...]  # (where the outcome goes, how it is made)


def build(plan: PolicyPlan) -> Program:
    """Every node the version's roots reach (quantifiers' bodies aside), dependencies first."""
    order: list[Step] = []
    seen: set[int] = set()
    roots = [*plan.coverage, *plan.documentation]
    for root in (plan.when, *roots, plan.criteria):
        if root is not None:
            _visit(plan, root, order, seen)
    return tuple((step.index, _resolver(step)) for step in order)


def in_order(plan: PolicyPlan) -> bool:
    """Whether, on a new line, the program reaches every node before anything else does:
    true unless a quantifier's body holds a ref, which reaches its target once per element."""
    for root in plan.policy.roots():
        for node in walk(root):
            if isinstance(node, Quantifier) and any(isinstance(inner, Ref) for inner in walk(node)):
                return False
    return True


def _visit(plan: PolicyPlan, step: Step, order: list[Step], seen: set[int]) -> None:
    if step.index in seen:
        return
    seen.add(step.index)
    if step.guard is not None:
        _visit(plan, step.guard, order, seen)
    if step.action != QUANTIFIER:  # its body is resolved once per element
        for child in step.children:
            _visit(plan, child, order, seen)
    if step.action == REF:
        node: Ref = step.node  # type: ignore[assignment]
        target = plan.policy.nodes.get(node.target)
        if node.policy in (None, plan.policy.id) and target is not None:
            _visit(plan, plan.step(target), order, seen)
    order.append(step)


def _resolver(step: Step) -> Resolve:
    if step.simple:
        read = reader(step.fact)  # type: ignore[arg-type]
        if read is not None:
            return _leaf(step, read)
    elif step.action == LEAF and step.scalar_kinds is not None and step.fact.reading == DERIVED:  # type: ignore[union-attr]
        return _leaf(step, _derived(str(step.fact.rest[0])))  # type: ignore[union-attr]
    if step.action == DOCUMENT:
        return _document(step)
    if step.action == BRANCH:
        return _branch(step)
    return _general(step)


def _guard_index(step: Step) -> int | None:
    return step.guard.index if step.guard is not None else None


def _leaf(step: Step, read: Reader) -> Resolve:
    """A leaf reading the request or a derived value against literals:
    ``LineResolver.leaf``'s common path."""
    node, plain, guard = step.node, step.plain, _guard_index(step)
    scalar_types, item_types = step.scalar_types, step.item_types
    listy = item_types is not None
    # Literal operands: the fact is the value alone, whatever the operator.
    part, encode = step.encoder.part, step.encoder.encode_value  # type: ignore[union-attr]

    def resolve(resolver: LineResolver, line: PolicyLine) -> Outcome:
        outcome = new_outcome(node)
        if guard is not None:
            outcome.guard = line.outcomes[guard]
        found = read(resolver, line)
        if found is not None:
            value, where, raw = found
            if value is ABSENT:  # what ``general_leaf`` makes of it: unknown, asking for the path
                outcome.missing = [where]
                outcome.body = UNKNOWN
                return outcome
            if listy and type(value) is list:  # a single value's kinds never include a list
                accepted = set(map(type, value)) <= item_types  # type: ignore[operator]
            else:
                accepted = type(value) in scalar_types
            if accepted:
                outcome.facts = {where: raw}
                judged = line.judged
                line.batches[part].append(encode(len(judged), value))
                judged.append(outcome)
                outcome.body = NOT_MET  # until the rules engine matches it
                if plain:
                    outcome.status = NOT_MET
                return outcome
        resolver.general_leaf(line, step, None, outcome)
        return outcome

    return resolve


def _derived(name: str) -> Reader:
    """A derived value read as a leaf's fact, when known and valid (else the general way explains it)."""
    where = f"derived.{name}"

    def read(resolver: LineResolver, line: PolicyLine) -> Read | None:
        raw, _, invalid = resolver.derived(line, name)
        if invalid or raw is UNKNOWN_VALUE or raw is ABSENT or raw is None:
            return None
        return normalize(raw), where, raw

    return read


def _document(step: Step) -> Resolve:
    """A document: the ids the request lists, for the rules engine to look in."""
    node, plain, guard = step.node, step.plain, _guard_index(step)
    part, listed = step.encoder.part, step.encoder.listed  # type: ignore[union-attr]

    def resolve(resolver: LineResolver, line: PolicyLine) -> Outcome:
        outcome = new_outcome(node)
        if guard is not None:
            outcome.guard = line.outcomes[guard]
        outcome.facts, written = resolver.documents()
        judged = line.judged
        line.batches[part].append(listed(len(judged), written))
        judged.append(outcome)
        outcome.body = UNKNOWN  # with its own id missing, until the rules engine matches it
        outcome.missing = [node.id]
        if plain:
            outcome.status = UNKNOWN
        return outcome

    return resolve


def _branch(step: Step) -> Resolve:
    """A group, n-of or not: its children's outcomes, made before it."""
    node, guard = step.node, _guard_index(step)
    children = [child.index for child in step.children]
    pick = itemgetter(*children)  # a tuple of outcomes, or the one outcome of a single child
    single = len(children) == 1

    def resolve(resolver: LineResolver, line: PolicyLine) -> Outcome:
        outcome = new_outcome(node)
        outcomes = line.outcomes
        if guard is not None:
            outcome.guard = outcomes[guard]
        outcome.children = [pick(outcomes)] if single else list(pick(outcomes))
        return outcome

    return resolve


def _general(step: Step) -> Resolve:
    """Any other node, by ``LineResolver``'s method for its kind."""
    method = step.resolve

    def resolve(resolver: LineResolver, line: PolicyLine) -> Outcome:
        return method(resolver, line, step, None)  # type: ignore[no-any-return]

    return resolve
