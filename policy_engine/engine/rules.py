"""The only module that talks to durable-rules.

Each policy version compiles to a ruleset named ``<id>@<version>``: one condition per
leaf, frequency limit and document, keyed by the leaf's number ``n`` as a property
``l<n>``. A line's checks are asserted as one batch of small facts ``{id, l<n>, v, w}``
(written by ``encode``); rules carry ``cap`` so each fires once with every fact it
matched, and the matched facts are the leaves that are met.

What we measured about the engine decides the shape (docs/decisions/0001):
- conditions are grouped into rules of the size the C core accepts (it rejects large
  ``$or`` groups with error 113), and rules into rulesets of at most ``RULES_PER_SET``
  so no fact ever meets the 64-rules limit;
- the engine compares strings as text and numbers as doubles, so values arrive typed
  and encoded (dates as day numbers, exact rationals as order-preserving doubles);
- sessions are keyed by a 32-bit hash of the sid, so evaluations run one at a time
  under a lock with a single sid whose state is always deleted.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections import deque
from collections.abc import Iterable
from itertools import repeat
from operator import itemgetter
from typing import Any

import durable_rules_engine as native

from ..errors import EvaluationError
from ..model import Document, FactRef, Frequency, Leaf, Node, Policy, walk
from ..values import split_range
from .encode import Encoder, engine_json, leaf_key, literal

RULES_PER_SET = 48
CONDITIONS_PER_RULE = 10
_SID = "0"  # the engine's default sid: facts that name none belong to it
# Every batch carries this fact, matched by the first rule: a batch that matches nothing
# leaves the native session corrupt, and deleting it later crashes the process.
_SENTINEL = {leaf_key(0): 1}
# It carries an ``id``, as every fact does (the engine would otherwise hash the fact for
# one), after its marker and as a string, so its frame is never read as a check's.
_SENTINEL_TEXT = json.dumps({**_SENTINEL, "id": "s"}, separators=(",", ":"))
_PROBED: dict[bytes, bool] = {}  # rule definitions the C core was asked about, and its answer
_REVERSED = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte", "ne": "$neq"}
# The engine hands back each matched fact as the text we sent, inside ``{"m":...}``; a
# check's fact starts with its index ``id`` (the sentinel's does not). A JSON string cannot
# hold an unescaped quote, so this never matches inside a value.
_MATCHED = '{"m":{"id":'
_FRAME = '{"m":{'
_BEFORE_COMMA = itemgetter(0)  # of a piece's ``partition(",")``


class CompiledPolicy:
    """A policy version's rulesets and, per checkable node, how its facts are encoded."""

    def __init__(self, policy: Policy, numbers: dict[str, int], handles: list[int], owner: list[int]) -> None:
        self.policy = policy
        self.numbers = numbers  # node id -> leaf number
        self.handles = handles  # native ruleset handles
        self.owner = owner  # leaf number -> index into handles
        self.texts: list[str] = []  # each ruleset's definition, as the C core reads it
        self.encoders = {
            node.id: Encoder(node, numbers[node.id], owner[numbers[node.id]]) for node in checkable(policy)
        }


class RulesHost:
    """Owns the native rulesets of the compiled versions; one evaluation at a time.

    A version's layout (leaf numbers, rule groups, encoders) is made when an evaluator
    holding it is built; its native rulesets only when a request first needs them, so
    versions no request reaches (long superseded ones) cost no native memory. Each
    evaluator holds its versions until it is dropped; a version no evaluator holds any
    more is forgotten and its rulesets deleted, which gives their memory back (the C core
    frees a deleted ruleset fully as long as no condition is a ``$mt`` pattern, which is
    why none is). Drops are queued and carried out at the next call, under the lock, so a
    drop made by the garbage collector never waits on an evaluation in progress.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._compiled: dict[tuple[str, str], CompiledPolicy] = {}  # by key and content
        self._holders: dict[tuple[str, str], int] = {}  # how many evaluators hold each
        self._dropped: deque[tuple[str, str]] = deque()  # released, not yet forgotten
        # Versions whose rules are identical (a new effective date, new wording) share rulesets.
        self._shared: dict[str, tuple[int, int]] = {}  # definition -> (handle, versions using it)
        weakref.finalize(self, _delete_all, self._shared)

    def compile(self, policy: Policy) -> CompiledPolicy:
        """The version's layout and native rulesets."""
        with self._lock:
            self._forget_dropped()
            return self._ready(policy)

    def layout(self, policy: Policy) -> CompiledPolicy:
        """The version's layout, made once per ``<id>@<version>`` and content; no rulesets yet."""
        with self._lock:
            self._forget_dropped()
            return self._layout(policy)

    def hold(self, policy: Policy) -> CompiledPolicy:
        """The version's layout, kept (with its rulesets, once made) until ``release``."""
        with self._lock:
            self._forget_dropped()
            compiled = self._layout(policy)
            identity = _identity(policy)
            self._holders[identity] = self._holders.get(identity, 0) + 1
            return compiled

    def release(self, policy: Policy) -> None:
        """Let go of a held version; safe from any thread and from a finalizer."""
        self._dropped.append(_identity(policy))

    def trim(self, keep: Iterable[Policy]) -> None:
        """Delete the native rulesets of every version but ``keep`` (superseded ones, say),
        and forget the fact texts their encoders remembered; their layouts stay, and their
        rulesets are made again if a request needs them."""
        kept = {_identity(policy) for policy in keep}
        with self._lock:
            self._forget_dropped()
            for identity, compiled in self._compiled.items():
                if identity not in kept:
                    self._unshare(compiled)
                    for encoder in compiled.encoders.values():
                        encoder.texts.clear()

    def get(self, key: str) -> CompiledPolicy | None:
        """The layout of ``<id>@<version>``, if one is kept."""
        return next((compiled for (held, _), compiled in self._compiled.items() if held == key), None)

    @property
    def live(self) -> int:
        """How many native rulesets exist (after carrying out the drops)."""
        with self._lock:
            self._forget_dropped()
            return len(self._shared)

    @property
    def versions(self) -> int:
        """How many versions have a layout kept."""
        with self._lock:
            self._forget_dropped()
            return len(self._compiled)

    def judge(self, policy: Policy, batches: list[list[str]]) -> list[int]:
        """The ``id`` of each fact the version's rulesets match; one batch of facts per ruleset."""
        matched: list[int] = []
        with self._lock:
            self._forget_dropped()
            compiled = self._ready(policy)
            for handle, batch in zip(compiled.handles, batches, strict=True):
                if batch:
                    matched += _run(handle, batch)
        return matched

    def _layout(self, policy: Policy) -> CompiledPolicy:
        identity = _identity(policy)
        compiled = self._compiled.get(identity)
        if compiled is None:
            compiled = self._compiled[identity] = _compile(policy)
        return compiled

    def _ready(self, policy: Policy) -> CompiledPolicy:
        compiled = self._layout(policy)
        if not compiled.handles:
            compiled.handles = [self._share(policy.key, i, text) for i, text in enumerate(compiled.texts)]
        return compiled

    def _share(self, key: str, part: int, text: str) -> int:
        handle, users = self._shared.get(text) or (_create(_name(key, part), text), 0)
        self._shared[text] = (handle, users + 1)
        return handle

    def _forget_dropped(self) -> None:
        """Forget the versions no evaluator holds any more; delete rulesets no version uses.

        A version used but never held (an evaluation outside any evaluator's library) is
        kept until an evaluator holding it is dropped.
        """
        while self._dropped:
            identity = self._dropped.popleft()
            holders = self._holders.get(identity, 0) - 1
            if holders > 0:
                self._holders[identity] = holders
                continue
            self._holders.pop(identity, None)
            compiled = self._compiled.pop(identity, None)
            if compiled is not None:
                self._unshare(compiled)

    def _unshare(self, compiled: CompiledPolicy) -> None:
        """Let go of a version's rulesets; delete those no other version uses."""
        for text in compiled.texts if compiled.handles else ():
            handle, users = self._shared[text]
            if users > 1:
                self._shared[text] = (handle, users - 1)
            else:
                del self._shared[text]
                native.delete_ruleset(handle)
        compiled.handles = []


def _identity(policy: Policy) -> tuple[str, str]:
    return policy.key, policy.sha256


def _delete_all(shared: dict[str, tuple[int, int]]) -> None:
    """A host's rulesets, deleted when the host itself is gone."""
    for handle, _ in shared.values():
        native.delete_ruleset(handle)
    shared.clear()


def _name(key: str, part: int) -> str:
    return key if part == 0 else f"{key}#{part + 1}"


def _run(handle: int, batch: list[str]) -> list[int]:
    """Assert a batch in a fresh session and collect the matched facts' indices."""
    matched: list[int] = []
    payload = f"[{_SENTINEL_TEXT},{','.join(batch)}]"
    try:
        result = native.assert_facts(handle, payload)
        action = native.start_action_for_state(handle, result[1])
        if action:
            _collect(action[1], matched)
            while True:
                following = native.complete_and_start_action(handle, result[1])
                if not following:
                    break
                _collect(following, matched)
    except native.error as error:
        raise EvaluationError(f"the rules engine failed: {error}") from error
    finally:
        native.delete_state(handle, _SID)
    return matched


def _collect(message: str, matched: list[int]) -> None:
    # Each check's frame starts with its id, up to a comma; the sentinel's has no id. Read
    # with C-level calls only: a loop or a regex over the answer costs several times more.
    pieces = message.split(_MATCHED)
    if len(pieces) == 1 and _FRAME not in message:
        raise EvaluationError(f"the rules engine answered in an unexpected form: {message[:200]}")
    del pieces[0]
    matched.extend(map(int, map(_BEFORE_COMMA, map(str.partition, pieces, repeat(",")))))


# Compilation ---------------------------------------------------------------------


def checkable(policy: Policy) -> list[Node]:
    """Every node the rules engine judges, in a stable order."""
    nodes: list[Node] = []
    seen: set[str] = set()
    for root in policy.roots():
        for node in walk(root):
            if isinstance(node, (Leaf, Frequency, Document)) and node.id not in seen:
                seen.add(node.id)
                nodes.append(node)
    return nodes


def _compile(policy: Policy) -> CompiledPolicy:
    """The layout: leaf numbers, conditions packed into rules, rules into rulesets."""
    numbers: dict[str, int] = {}
    conditions: list[dict[str, Any]] = []
    for number, node in enumerate(checkable(policy), start=1):
        numbers[node.id] = number
        conditions.append({"$and": [{leaf_key(number): 1}, condition(node)]})
    rules = _group_rules(conditions)
    owner = [0] * (len(conditions) + 1)
    definitions: list[dict[str, Any]] = []
    for start in range(0, len(rules), RULES_PER_SET):
        part = rules[start : start + RULES_PER_SET]
        definition = {f"r{i}": {"all": [{"m": _either(group)}], "cap": 1000} for i, group in enumerate(part)}
        definition["r0"]["all"][0]["m"] = _either([_SENTINEL, *part[0]])
        for group in part:
            for item in group:
                owner[_leaf_number(item)] = len(definitions)
        definitions.append(definition)
    compiled = CompiledPolicy(policy, numbers, [], owner)
    compiled.texts = [engine_json(definition) for definition in definitions]
    return compiled


def _leaf_number(item: dict[str, Any]) -> int:
    return int(next(iter(item["$and"][0]))[1:])


def _either(group: list[dict[str, Any]]) -> dict[str, Any]:
    return group[0] if len(group) == 1 else {"$or": group}


def _group_rules(conditions: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Pack conditions into as few rules as the C core accepts."""
    rules: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for item in conditions:
        trial = [*current, item]
        if len(trial) <= CONDITIONS_PER_RULE and _accepted(trial):
            current = trial
        else:
            if current:
                rules.append(current)
            current = [item]
            if not _accepted(current):
                raise EvaluationError(f"the rules engine rejects the condition of leaf {_leaf_number(item)}")
    if current:
        rules.append(current)
    return rules


def _accepted(group: list[dict[str, Any]]) -> bool:
    """Whether the C core accepts a rule of these conditions (answers kept: probing costs a ruleset)."""
    definition = engine_json({"r": {"all": [{"m": _either([_SENTINEL, *group])}], "cap": 1000}})
    # Kept by digest: each new version adds the texts of all its trial groupings, and a
    # process that approves versions for years must not keep them all.
    digest = hashlib.blake2b(definition.encode(), digest_size=16).digest()
    known = _PROBED.get(digest)
    if known is None:
        try:
            native.delete_ruleset(native.create_ruleset("probe", definition))
            known = True
        except native.error:
            known = False
        if len(_PROBED) >= 10_000:
            _PROBED.clear()
        _PROBED[digest] = known
    return known


def _create(name: str, definition: str) -> int:
    try:
        return native.create_ruleset(name, definition)
    except native.error as error:
        raise EvaluationError(f"the rules engine rejected ruleset {name}: {error}") from error


def condition(node: Node) -> dict[str, Any]:
    """The durable-rules condition a node's fact must satisfy to be met."""
    if isinstance(node, Document):
        return {"$iany": {"v": {"$i": node.id}}}
    if isinstance(node, Frequency):
        return {"$lte": {"v": float(node.max)}}
    assert isinstance(node, Leaf)
    op, operand = node.op, node.operand
    if op == "exists":
        return {"$ex": {"v": 1}} if operand else {"$nex": {"v": 1}}
    if op in ("eq", "ne", "gt", "gte", "lt", "lte"):
        right = {"$m": "w"} if isinstance(operand, FactRef) else literal(operand)
        return {"v": right} if op == "eq" else {_REVERSED[op]: {"v": right}}
    if op == "between":
        low, high = (
            {"$m": key} if isinstance(b, FactRef) else literal(b)
            for b, key in zip(operand, ("w", "x"), strict=True)
        )
        return {"$and": [{"$gte": {"v": low}}, {"$lte": {"v": high}}]}
    if op in ("in", "not_in"):
        options = [_member(item, node.codes) for item in operand]
        if op == "in":
            return _any_of(options)
        return _all_of([_negate(option) for option in options])
    if op == "any_prefix":
        # The encoder sends each code cut to every prefix length: no ``$mt`` pattern, since
        # the C core's pattern compiler never frees what it allocates (about 1 MiB a
        # ruleset), and a version's rulesets must be freed when it is no longer in force.
        return {"$iany": {"v": _any_of([{"$i": prefix} for prefix in sorted(set(operand))])}}
    items = [{"$iany": {"v": {"$i": literal(item)}}} for item in operand]
    return _any_of(items) if op == "includes_any" else _all_of(items)


def _member(item: Any, codes: bool) -> dict[str, Any]:
    bounds = split_range(item) if codes and isinstance(item, str) else None
    if bounds:
        low, high = bounds
        return {"$and": [{"n": len(low)}, {"$gte": {"v": low}}, {"$lte": {"v": high}}]}
    return {"v": literal(item)}


def _negate(option: dict[str, Any]) -> dict[str, Any]:
    if "$and" in option:
        length, low, high = option["$and"]
        return {"$or": [{"$neq": {"n": length["n"]}}, {"$lt": low["$gte"]}, {"$gt": high["$lte"]}]}
    return {"$neq": option}


def _any_of(items: list[dict[str, Any]]) -> dict[str, Any]:
    return items[0] if len(items) == 1 else {"$or": items}


def _all_of(items: list[dict[str, Any]]) -> dict[str, Any]:
    return items[0] if len(items) == 1 else {"$and": items}
