"""Node outcomes: the trace of one evaluation, and the Kleene rules that settle it.

Leaves are judged first (by the rules engine); ``settle`` then folds groups, guards,
refs and quantifiers bottom-up exactly as DESIGN.md's "Semantics, precisely" says.
"""

from __future__ import annotations

from typing import Any, NoReturn

from ..model import Frequency, Group, Node, NOf, Not, Quantifier, Ref

MET, NOT_MET, UNKNOWN, NOT_APPLICABLE = "met", "not_met", "unknown", "not_applicable"


class Outcome:
    """What one node came to on one line, with everything needed to explain it."""

    __slots__ = (
        "body",
        "children",
        "facts",
        "guard",
        "invalid",
        "missing",
        "node",
        "status",
        "target",
    )

    def __init__(self, node: Node) -> None:
        self.node = node
        self.status: str | None = None  # the node's result, guard included
        self.body: str | None = None  # the result before the guard and if_absent
        # Most outcomes keep these empty: they share one empty list or dict, which refuses
        # to be filled, so an outcome is filled by assigning its own.
        self.facts: dict[str, Any] = NO_FACTS
        self.missing: list[str] = NOTHING
        self.invalid: list[str] = NOTHING
        self.children: list[Outcome] = NOTHING
        self.guard: Outcome | None = None
        self.target: Outcome | None = None


_allocate = object.__new__


def new_outcome(node: Node) -> Outcome:
    """``Outcome(node)``, without the type calling ``__init__`` (the dearer part; one per node per line)."""
    outcome = _allocate(Outcome)
    outcome.node = node
    outcome.status = outcome.body = outcome.guard = outcome.target = None
    outcome.facts = NO_FACTS
    outcome.missing = outcome.invalid = outcome.children = NOTHING
    return outcome


class _Nothing(list):  # type: ignore[type-arg]
    """The empty list outcomes share (an outcome per node, and most have nothing to list)."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("this empty list is shared by outcomes: assign a new list instead")

    append = extend = insert = remove = pop = clear = sort = reverse = _refuse  # type: ignore[assignment]
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse  # type: ignore[assignment]


class _NoFacts(dict):  # type: ignore[type-arg]
    """The empty dict of facts outcomes share."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("this empty dict is shared by outcomes: assign a new dict instead")

    __setitem__ = __delitem__ = __ior__ = setdefault = update = pop = popitem = clear = _refuse  # type: ignore[assignment]


NOTHING: list[Any] = _Nothing()
NO_FACTS: dict[str, Any] = _NoFacts()


def node_statuses(outcome: Outcome, found: dict[str, str] | None = None) -> dict[str, str]:
    """Each node's status under a settled outcome, by node id, guards included; a
    quantifier's body has a status per element, so only the quantifier's own is listed."""
    found = {} if found is None else found
    found[outcome.node.id] = outcome.status  # type: ignore[assignment]
    if outcome.guard is not None:
        node_statuses(outcome.guard, found)
    if not isinstance(outcome.node, Quantifier):
        for child in outcome.children:
            node_statuses(child, found)
    return found


def settle(outcome: Outcome) -> str:
    """The outcome's status, computing its children's first."""
    if outcome.status is not None:
        return outcome.status
    body = outcome.body
    node = outcome.node
    if body is None:
        if type(node) is Group:
            body = _all(outcome) if node.kind == "all" else _any(outcome)
        else:
            body = _body(outcome)
    if body == UNKNOWN and node.if_absent and not outcome.invalid:
        body = MET if node.if_absent == "met" else NOT_MET
    outcome.body = body
    if outcome.guard is None:
        outcome.status = body
    else:
        guard = settle(outcome.guard)
        if guard == NOT_MET:
            outcome.status = NOT_APPLICABLE
        elif guard == UNKNOWN:
            outcome.status = MET if body == MET else UNKNOWN
        elif guard == NOT_APPLICABLE:
            outcome.status = NOT_APPLICABLE
        else:
            outcome.status = body
    return outcome.status


def _all(outcome: Outcome) -> str:
    result = NOT_APPLICABLE
    for child in outcome.children:
        status = child.status or settle(child)
        if status == NOT_MET:
            result = NOT_MET
        elif status == UNKNOWN:
            if result != NOT_MET:
                result = UNKNOWN
        elif status == MET and result == NOT_APPLICABLE:
            result = MET
    return result


def _any(outcome: Outcome) -> str:
    result = NOT_APPLICABLE
    for child in outcome.children:
        status = child.status or settle(child)
        if status == MET:
            result = MET
        elif status == UNKNOWN:
            if result != MET:
                result = UNKNOWN
        elif status == NOT_MET and result == NOT_APPLICABLE:
            result = NOT_MET
    return result


def _body(outcome: Outcome) -> str:
    node = outcome.node
    if isinstance(node, Ref):
        assert outcome.target is not None
        return settle(outcome.target)
    statuses = [settle(child) for child in outcome.children]
    if isinstance(node, Group):
        return kleene_all(statuses) if node.kind == "all" else kleene_any(statuses)
    if isinstance(node, Quantifier):
        if outcome.missing or outcome.invalid:
            return UNKNOWN
        applicable = [s for s in statuses if s != NOT_APPLICABLE]
        if node.kind == "some":
            return kleene_any(applicable) if applicable else NOT_MET
        return kleene_all(applicable) if applicable else MET
    if isinstance(node, NOf):
        return n_of(node.n, statuses)
    if isinstance(node, Not):
        return {MET: NOT_MET, NOT_MET: MET}.get(statuses[0], statuses[0])
    raise AssertionError(f"{node!r} was never judged")  # leaves are judged before settling


def kleene_all(statuses: list[str]) -> str:
    applicable = [s for s in statuses if s != NOT_APPLICABLE]
    if not applicable:
        return NOT_APPLICABLE
    if NOT_MET in applicable:
        return NOT_MET
    return UNKNOWN if UNKNOWN in applicable else MET


def kleene_any(statuses: list[str]) -> str:
    applicable = [s for s in statuses if s != NOT_APPLICABLE]
    if not applicable:
        return NOT_APPLICABLE
    if MET in applicable:
        return MET
    return UNKNOWN if UNKNOWN in applicable else NOT_MET


def n_of(n: int, statuses: list[str]) -> str:
    applicable = [s for s in statuses if s != NOT_APPLICABLE]
    if not applicable:
        return NOT_APPLICABLE
    met = applicable.count(MET)
    if met >= n:
        return MET
    if met + applicable.count(UNKNOWN) < n:
        return NOT_MET
    return UNKNOWN


def decisive_unknowns(outcome: Outcome) -> list[str]:
    """Request paths and documents behind an unknown outcome (edge rule 3), in order."""
    found: list[str] = []
    _visit_unknown(outcome, found, set())
    return found


# The walks are module functions, not closures: a recursive closure is a reference
# cycle, and a cycle per evaluation leaves its whole trace for the garbage collector.
def _visit_unknown(current: Outcome, found: list[str], seen: set[int]) -> None:
    if current.status != UNKNOWN or id(current) in seen:
        return
    seen.add(id(current))
    if current.guard is not None and current.guard.status == UNKNOWN:
        _visit_unknown(current.guard, found, seen)
    if current.body != UNKNOWN:
        return
    if current.target is not None:
        _visit_unknown(current.target, found, seen)
    _extend(found, current.missing)
    for child in current.children:
        _visit_unknown(child, found, seen)


def decisive_failures(outcome: Outcome) -> list[Outcome]:
    """Not-met leaves reached from a not-met outcome through not-met nodes (for reviewers)."""
    found: list[Outcome] = []
    _visit_failed(outcome, NOT_MET, found)
    return found


def _visit_failed(current: Outcome, expect: str, found: list[Outcome]) -> None:
    if current.status != expect:
        return
    if current.target is not None:
        _visit_failed(current.target, expect, found)
        return
    if isinstance(current.node, Not):
        _visit_failed(current.children[0], MET if expect == NOT_MET else NOT_MET, found)
        return
    if not current.children or isinstance(current.node, (Frequency, Quantifier)):
        found.append(current)
        return
    for child in current.children:
        _visit_failed(child, expect, found)


def _extend(found: list[str], items: list[str]) -> None:
    for item in items:
        if item not in found:
            found.append(item)
