"""Structural diff of two policy versions, each change judged as a CMO reviewing it would.

Nodes pair by explicit id (a node found under another parent is a move); unnamed
siblings pair by shape, then by fact and operator, so a changed threshold is one change.
Every change is judged on its own, all else equal: a node's polarity flips under
``not``, an added alternative (``any``, ``n_of``) loosens, an added requirement tightens.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .model import FactRef, Frequency, Group, Leaf, Node, NOf, Not, Policy, Quantifier, Ref, Window
from .values import format_number, normalize_code, split_range, to_json

MORE, LESS, NEUTRAL = "more_restrictive", "less_restrictive", "neutral"
SECTIONS = ("metadata", "applies_to", "derive", "coverage", "documentation", "criteria")
UNDECIDED = "effect not decided"
SEP = " \u203a "
_LABELS = {MORE: "more restrictive", LESS: "less restrictive", NEUTRAL: "neutral", "mixed": "mixed"}
_ADDED = {"list": 1, "root": 1, "all": 1, "any": -1, "n_of": -1, "not": 0, "where": 0}
_ROLES = {"list": "requirement", "root": "criteria tree", "all": "requirement", "any": "alternative"}
_ROLES |= {"n_of": "option", "not": "negated condition", "where": "condition"}
_BOUNDS = {"gt": (1, True), "gte": (1, False), "lt": (-1, True), "lte": (-1, False)}
_LIST_GROWTH = {"in": -1, "any_prefix": -1, "includes_any": -1, "not_in": 1, "includes_all": 1}
_Nodes = tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Change:
    """One difference; ``old``/``new`` hold what changed (for codes_* only the codes concerned)."""

    section: str
    kind: str
    id: str
    path: tuple[str, ...]
    description: str
    effect: str = NEUTRAL
    old: Any = None
    new: Any = None

    @property
    def where(self) -> str:
        return _where(self.section, (*self.path, self.id))

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "kind": self.kind,
            "id": self.id,
            "path": list(self.path),
            "old": _json(self.old),
            "new": _json(self.new),
            "description": self.description,
            "effect": self.effect,
        }


@dataclass(slots=True)
class PolicyDiff:
    """What changed from ``old`` to ``new``, in section order."""

    old: Policy
    new: Policy
    changes: list[Change]

    def counts(self) -> dict[str, int]:
        return {effect: sum(c.effect == effect for c in self.changes) for effect in (MORE, LESS, NEUTRAL)}

    @property
    def verdict(self) -> str:
        counts = self.counts()
        if counts[MORE] and counts[LESS]:
            return "mixed"
        return MORE if counts[MORE] else LESS if counts[LESS] else NEUTRAL

    def as_dict(self) -> dict[str, Any]:
        return {
            "old": {"id": self.old.id, "version": self.old.version, "sha256": self.old.sha256},
            "new": {"id": self.new.id, "version": self.new.version, "sha256": self.new.sha256},
            "summary": {**self.counts(), "verdict": self.verdict},
            "changes": [change.as_dict() for change in self.changes],
        }


def diff_policies(old: Policy, new: Policy) -> PolicyDiff:
    """Compare two versions so a reviewer sees what tightened, what loosened and what moved."""
    differ = _Differ(old, new)
    differ.metadata()
    differ.derive()
    for section, old_roots, new_roots, container in _sections(old, new):
        differ.children(old_roots, new_roots, container, _Place(section, (), 1))
    changes = sorted(differ.changes, key=lambda change: SECTIONS.index(change.section))
    return PolicyDiff(old, new, changes)


def render_text(diff: PolicyDiff) -> str:
    """One line per change, grouped by section, for a terminal or a review comment."""
    counts = diff.counts()
    new_id = "" if diff.new.id == diff.old.id else f"{diff.new.id} "
    title = f"{diff.old.id} v{diff.old.version} → {new_id}v{diff.new.version}"
    if not diff.changes:
        return f"{title}: no changes"
    tally = ", ".join(f"{counts[effect]} {_LABELS[effect]}" for effect in (MORE, LESS, NEUTRAL))
    lines, section = [f"{title}: {_LABELS[diff.verdict]} ({tally})"], None
    for change in diff.changes:
        if change.section != section:
            lines.append("")
            section = change.section
        lines.append(f"{_LABELS[change.effect]:<16}  {change.where}: {change.description}")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a node sits; ``sign`` is +1 where a harder node makes the policy stricter."""

    section: str
    path: tuple[str, ...]
    sign: int

    def inside(self, node: Node) -> _Place:
        return _Place(self.section, (*self.path, node.id), -self.sign if isinstance(node, Not) else self.sign)


class _Differ:
    """Walks both versions side by side and collects the changes, judged where they sit."""

    def __init__(self, old: Policy, new: Policy) -> None:
        self.old, self.new = old, new
        self.old_ids, self.new_ids = _index(old), _index(new)
        self.changes: list[Change] = []

    def add(self, place: _Place, node_id: str, kind: str, text: str, harder: int = 0, **values: Any) -> None:
        effect = (MORE if harder * place.sign > 0 else LESS) if harder else NEUTRAL
        self.changes.append(Change(place.section, kind, node_id, place.path, text, effect, **values))

    def metadata(self) -> None:
        old, new, top = self.old, self.new, _Place("metadata", (), 1)
        for name in ("id", "title", "owner", "summary", "effective", "expires"):
            before, after = getattr(old, name), getattr(new, name)
            if before != after:
                kind = "text_changed" if name in ("title", "owner", "summary") else "changed"
                text = f"{_short(_text(before))} → {_short(_text(after))}" if name != "summary" else "changed"
                self.add(top, name, kind, text, old=before, new=after)
        refs = _Place("metadata", ("references",), 1)
        for ref_id in sorted(old.references.keys() | new.references.keys()):
            before, after = old.references.get(ref_id), new.references.get(ref_id)
            if before is None or after is None:
                kind = "added" if before is None else "removed"
                text = f"reference {kind}: {(after or before).title}"
                self.add(refs, ref_id, kind, text, old=_ref(before), new=_ref(after))
            elif before != after:
                self.add(refs, ref_id, "changed", "title or url changed", old=_ref(before), new=_ref(after))
        scope = _Place("applies_to", (), 1)
        before_codes, after_codes = ([_spec(s) for s in p.service_specs] for p in (old, new))
        self.codes(scope, "services", before_codes, after_codes, 0, "now also governs", "no longer governs")
        self.guard(scope, "when", old.when, new.when)

    def derive(self) -> None:
        place = _Place("derive", (), 1)
        for name in sorted(self.old.derive.keys() | self.new.derive.keys()):
            before, after = (_expression(p.derive.get(name)) for p in (self.old, self.new))
            if before == after:
                continue
            if before is None or after is None:
                kind = "added" if before is None else "removed"
                self.add(place, name, kind, f"derived value {kind}: {after or before}", old=before, new=after)
            else:
                self.add(place, name, "expression_changed", f"{before} → {after}", old=before, new=after)

    def children(self, old_items: _Nodes, new_items: _Nodes, container: str, place: _Place) -> None:
        pairs, added, removed = self.pair(old_items, new_items, container in ("root", "not", "where"))
        for before, after in pairs:
            self.node(before, after, place)
        for node in added:
            if node.explicit_id and node.id in self.old_ids:
                self.moved(node, place)
                continue
            self.report(place, node, container, "added", _ADDED[container])
            self.adopted(node, place)
        for node in removed:
            if not (node.explicit_id and node.id in self.new_ids):
                self.report(place, node, container, "removed", -_ADDED[container])

    def report(self, place: _Place, node: Node, container: str, kind: str, harder: int) -> None:
        role = _ROLES[container]
        if container in ("list", "all") and place.section == "documentation":
            role = "required document"
        elif container == "list" and place.section == "coverage":
            role = "coverage rule"
        summary = _short(node.text or node.id) if node.kind == "document" else _describe(node)
        text = f"{kind} {role}: {summary}" + ("" if harder else f"; {UNDECIDED}")
        self.add(place, node.id, kind, text, harder, **{"new" if kind == "added" else "old": _describe(node)})

    def pair(self, old_items: _Nodes, new_items: _Nodes, single: bool) -> tuple[list, list, list]:
        """Pairs of the same node, then the added and the removed ones."""
        olds, news, pairs = list(old_items), list(new_items), []

        def take(match: Any) -> None:
            for after in list(news):
                before = next((b for b in olds if match(b, after)), None)
                if before is not None:
                    pairs.append((before, after))
                    olds.remove(before)
                    news.remove(after)

        def loose(before: Node, after: Node) -> bool:
            return (not before.explicit_id or before.id not in self.new_ids) and (
                not after.explicit_id or after.id not in self.old_ids
            )

        take(lambda b, a: b.explicit_id and a.explicit_id and b.id == a.id)
        for same in (_same_shape, _same_test, _same_fact, _same_form):
            take(lambda b, a, same=same: loose(b, a) and not (b.explicit_id and a.explicit_id) and same(b, a))
        if single and len(olds) == len(news) == 1 and loose(olds[0], news[0]):
            pairs.append((olds.pop(), news.pop()))
        pairs.sort(key=lambda pair: new_items.index(pair[1]))
        return pairs, news, olds

    def moved(self, node: Node, place: _Place) -> None:
        before, section, path = self.old_ids[node.id]
        origin, target = _where(section, path), _where(place.section, place.path)
        text = f"moved from {origin} to {target}; {UNDECIDED}"
        self.add(place, node.id, "moved", text, old=origin, new=target)
        self.node(before, node, place)

    def adopted(self, node: Node, place: _Place) -> None:
        """Nodes inside an added subtree that existed elsewhere before are moves, not additions."""
        for child in node.children():
            if child.explicit_id and child.id in self.old_ids:
                self.moved(child, place.inside(node))
            else:
                self.adopted(child, place.inside(node))

    def node(self, old: Node, new: Node, place: _Place) -> None:
        if old.explicit_id and new.explicit_id and old.id != new.id:
            self.add(place, new.id, "renamed", f"id {old.id} → {new.id}", old=old.id, new=new.id)
        for name in ("text", "cite", "if_absent"):
            before, after, kind = getattr(old, name), getattr(new, name), f"{name}_changed"
            if before != after:
                text = f"{name}: {_short(_text(before))} → {_short(_text(after))}"
                self.add(place, new.id, kind, text, old=before, new=after)
        self.guard(place, new.id, old.applies_when, new.applies_when)
        groups = (Group, NOf)
        if type(old) is not type(new) and not (isinstance(old, groups) and isinstance(new, groups)):
            text = f"{_form(old)} → {_form(new)}; {UNDECIDED}"
            self.add(place, new.id, "changed", text, old=_describe(old), new=_describe(new))
            self.adopted(new, place)
            return
        if isinstance(new, Leaf):
            self.leaf(old, new, place)
        elif isinstance(new, groups):
            self.group(old, new, place)
        elif isinstance(new, Frequency):
            self.frequency(old, new, place)
        elif isinstance(new, Quantifier):
            self.quantifier(old, new, place)
        elif isinstance(new, Ref) and _describe(old) != _describe(new):
            self.add(place, new.id, "changed", f"{_describe(old)} → {_describe(new)}; {UNDECIDED}")
        self.children(old.children(), new.children(), _container(new), place.inside(new))

    def quantifier(self, old: Quantifier, new: Quantifier, place: _Place) -> None:
        if old.kind != new.kind:
            self.add(place, new.id, "changed", f"{old.kind} → {new.kind}", 1 if new.kind == "every" else -1)
        if (old.list_path, old.var) != (new.list_path, new.var):
            before, after = (f"{q.list_path} as {q.var}" for q in (old, new))
            self.add(place, new.id, "changed", f"{before} → {after}; {UNDECIDED}", old=before, new=after)

    def guard(self, place: _Place, id: str, old: Node | None, new: Node | None) -> None:
        before, after = (_describe(n, deep=True) if n else None for n in (old, new))
        if before != after:
            what = "added" if before is None else "removed" if after is None else "changed"
            text = (
                f"applies_when {what}: "
                + " → ".join(_short(t) for t in (before, after) if t)
                + f"; {UNDECIDED}"
            )
            self.add(place, id, "guard_changed", text, old=before, new=after)

    def leaf(self, old: Leaf, new: Leaf, place: _Place) -> None:
        if old.fact != new.fact:
            before, after = _describe(old), _describe(new)
            self.add(place, new.id, "changed", f"{before} → {after}; {UNDECIDED}", old=before, new=after)
        elif old.op == new.op and old.op in _LIST_GROWTH:
            test, growth = f"{new.fact} {new.op}: {'codes' if new.codes else 'values'}", _LIST_GROWTH[new.op]
            self.codes(place, new.id, old.operand, new.operand, growth, f"{test} added", f"{test} removed")
        elif old.op != new.op or old.operand != new.operand:
            harder, note = _tightening(old, new)
            same = old.op == new.op
            after = _text(new.operand) if same else f"{new.op} {_text(new.operand)}"
            text = f"{new.fact} {old.op} {_text(old.operand)} → {after}" + (f"; {note}" if note else "")
            if same:
                kind = "threshold_changed" if new.op in (*_BOUNDS, "between") else "value_changed"
                self.add(place, new.id, kind, text, harder, old=old.operand, new=new.operand)
            else:
                before, after = ({"op": n.op, "value": n.operand} for n in (old, new))
                self.add(place, new.id, "operator_changed", text, harder, old=before, new=after)

    def group(self, old: Group | NOf, new: Group | NOf, place: _Place) -> None:
        count = len(new.items)
        before, after = _required(old, count), _required(new, count)
        if _form(old) != _form(new):
            text = f"{_form(old)} → {_form(new)}: {after} of {count} must be met instead of {before}"
            self.add(
                place, new.id, "group_changed", text, _cmp(after, before), old=_form(old), new=_form(new)
            )

    def frequency(self, old: Frequency, new: Frequency, place: _Place) -> None:
        if old.max != new.max:
            text = f"max {old.max} → {new.max}"
            self.add(place, new.id, "limit_changed", text, _cmp(old.max, new.max), old=old.max, new=new.max)
        if old.window != new.window:
            longer, before, after = (
                _longer(old.window, new.window),
                old.window.describe(),
                new.window.describe(),
            )
            text = f"per {before} → {after}" + (f"; {UNDECIDED}" if longer is None else "")
            self.add(place, new.id, "window_changed", text, longer or 0, old=before, new=after)
        before, after = [_spec(s) for s in old.code_specs], [_spec(s) for s in new.code_specs]
        self.codes(place, new.id, before, after, 1, "also counts", "no longer counts")

    def codes(self, place: _Place, id: str, old: Any, new: Any, growth: int, more: str, less: str) -> None:
        """List operands compare as sets of specs; ``growth`` is what adding one does."""
        added, removed = [c for c in new if c not in old], [c for c in old if c not in new]
        if added:
            self.add(place, id, "codes_added", f"{more} {_text(added)}", growth, new=added)
        if removed:
            self.add(place, id, "codes_removed", f"{less} {_text(removed)}", -growth, old=removed)


def _sections(old: Policy, new: Policy) -> list[tuple[str, tuple[Node, ...], tuple[Node, ...], str]]:
    criteria = [(p.criteria,) if p.criteria else () for p in (old, new)]
    return [
        ("coverage", old.coverage, new.coverage, "list"),
        ("documentation", old.documentation, new.documentation, "list"),
        ("criteria", *criteria, "root"),
    ]


def _index(policy: Policy) -> dict[str, tuple[Node, str, tuple[str, ...]]]:
    """Every explicitly named node of the trees (guards excluded), with its section and ancestors."""
    found: dict[str, tuple[Node, str, tuple[str, ...]]] = {}

    def visit(node: Node, section: str, path: tuple[str, ...]) -> None:
        if node.explicit_id:
            found[node.id] = (node, section, path)
        for child in node.children():
            visit(child, section, (*path, node.id))

    for section, roots, _, _ in _sections(policy, policy):
        for root in roots:
            visit(root, section, ())
    return found


def _same_shape(old: Node, new: Node) -> bool:
    return _describe(old, deep=True) == _describe(new, deep=True)


def _same_test(old: Node, new: Node) -> bool:
    return isinstance(old, Leaf) and isinstance(new, Leaf) and (old.fact, old.op) == (new.fact, new.op)


def _same_fact(old: Node, new: Node) -> bool:
    return isinstance(old, Leaf) and isinstance(new, Leaf) and old.fact == new.fact


def _same_form(old: Node, new: Node) -> bool:
    unnamed = not old.explicit_id and not new.explicit_id
    return unnamed and not isinstance(new, Leaf) and type(old) is type(new) and old.kind == new.kind


def _tightening(old: Leaf, new: Leaf) -> tuple[int, str]:
    """+1 when the new test is harder to meet, -1 easier, 0 with a note when it cannot be said."""
    bounds = (old.operand, new.operand)
    if old.op == new.op == "between":
        bounds = (*old.operand, *new.operand)
    if any(isinstance(value, FactRef) for value in bounds):
        return 0, f"compares with another fact, {UNDECIDED}"
    if not _comparable(bounds):
        return 0, UNDECIDED
    if old.op == new.op == "between":
        (low, high), (new_low, new_high) = old.operand, new.operand
        if new_low >= low and new_high <= high:
            return 1, "range narrowed"
        if new_low <= low and new_high >= high:
            return -1, "range widened"
        return 0, f"range shifted, {UNDECIDED}"
    if old.op in _BOUNDS and new.op in _BOUNDS and _BOUNDS[old.op][0] == _BOUNDS[new.op][0]:
        side, old_strict, new_strict = _BOUNDS[old.op][0], _BOUNDS[old.op][1], _BOUNDS[new.op][1]
        if old.operand != new.operand:
            return side * (1 if new.operand > old.operand else -1), ""
        return new_strict - old_strict, ""
    return 0, UNDECIDED


def _comparable(values: tuple[Any, ...]) -> bool:
    numbers = all(isinstance(v, (int, Fraction)) and not isinstance(v, bool) for v in values)
    return numbers or all(isinstance(v, dt.date) for v in values)


def _required(node: Group | NOf, count: int) -> int:
    """How many children must be met, judged over the same children."""
    if isinstance(node, NOf):
        return node.n
    return count if node.kind == "all" else min(1, count)


def _longer(old: Window, new: Window) -> int | None:
    """+1 when the new window looks further back, -1 less far, None when it depends on the date."""
    if old.unit == new.unit:
        return _cmp(new.amount, old.amount)
    (old_low, old_high), (new_low, new_high) = _days(old), _days(new)
    return 1 if new_low > old_high else -1 if new_high < old_low else None


def _days(window: Window) -> tuple[int, int]:
    """The fewest and most days a window can cover."""
    if window.unit == "d":
        return window.amount, window.amount
    if window.unit == "m":
        return 28 * window.amount, 31 * window.amount
    if window.unit == "full_months":
        return 28 * window.amount, 31 * window.amount + 30
    return 0, 365


def _container(node: Node) -> str:
    if isinstance(node, Not | Quantifier):
        return "not" if isinstance(node, Not) else "where"
    return "n_of" if isinstance(node, NOf) else node.kind


def _form(node: Node) -> str:
    if isinstance(node, NOf):
        return f"n_of {node.n}"
    return node.kind


def _describe(node: Node, deep: bool = False) -> str:
    """A one-line rendering; shallow lists named children by id."""

    def child(item: Node) -> str:
        return item.id if item.explicit_id and not deep else _describe(item, deep)

    if isinstance(node, Leaf):
        text = f"{node.fact} {node.op} {_text(node.operand)}"
    elif isinstance(node, (Group, NOf)):
        text = f"{_form(node)}({', '.join(child(item) for item in node.items)})"
    elif isinstance(node, Not):
        text = f"not({child(node.item)})"
    elif isinstance(node, Ref):
        text = f"ref {node.policy + ':' if node.policy else ''}{node.target}"
    elif isinstance(node, Quantifier):
        text = f"{node.kind} {node.list_path} as {node.var}: {child(node.where)}"
    elif isinstance(node, Frequency):
        text = f"at most {node.max} of {_text(node.code_specs)} per {node.window.describe()}"
    else:
        text = f"document {node.id}"
    if node.applies_when is not None:
        text += f" when {_describe(node.applies_when, deep)}"
    return text + (f" (if absent: {node.if_absent})" if node.if_absent else "")


def _expression(expression: Any) -> str | None:
    return " ".join(expression.source.split()) if expression is not None else None


def _spec(spec: str) -> str:
    bounds = split_range(spec)
    return f"{bounds[0]}-{bounds[1]}" if bounds else normalize_code(spec)


def _ref(reference: Any) -> dict[str, Any] | None:
    return {"title": reference.title, "url": reference.url} if reference else None


def _cmp(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def _where(section: str, path: tuple[str, ...]) -> str:
    return SEP.join([section, *(p for p in path if p != section)])


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text(value: Any) -> str:
    if isinstance(value, FactRef):
        return value.path
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_text(item) for item in value) + "]"
    if isinstance(value, Fraction):
        return format_number(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).lower()
    return "none" if value is None else str(value)


def _json(value: Any) -> Any:
    if isinstance(value, FactRef):
        return {"fact": value.path}
    if isinstance(value, (tuple, list)):
        return [_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    return to_json(value)
