"""The request as the engine sees it for one service line: paths in, exact values out.

Every read is reported with the request path it came from, so a trace shows what the
engine looked at and an unknown names exactly what to ask for. A policy path is split
once (``FactPath``) and a line reads each request path once, however many criteria
look at it.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from .values import (
    ABSENT,
    UNKNOWN,
    PriorService,
    ValueTypeError,
    age_on,
    exact,
    normalize,
    normalize_code,
    parse_date,
)

_SEGMENT = re.compile(r"([a-z_][a-z0-9_]*)|\[(\d+)\]")

# How a path's root is read (DESIGN.md "Facts"); anything else walks the request.
REQUEST, SERVICE, QUANTITY, MODIFIERS, AGE, PRIMARY, DERIVED, OTHER_LINES, HISTORY, EMPTY = range(10)

# A located fact: (value, where, raw, asks, problems). ``value`` is the engine value or
# ABSENT; ``where`` the request path read (None for an absent derived value); ``raw`` the
# value as sent; ``asks`` the paths to ask for when absent; ``problems`` type errors found
# on the way (a birth date that is not a date, a derived value's wrongly typed input).
Located = tuple[Any, str | None, Any, tuple[str, ...], tuple[str, ...]]


@functools.lru_cache(maxsize=4096)
def split_path(path: str) -> tuple[str | int, ...]:
    """``clinical.gases[1].pao2`` → ``('clinical', 'gases', 1, 'pao2')``."""
    return tuple(name if name else int(index) for name, index in _SEGMENT.findall(path))


def join_path(base: str, rest: tuple[str | int, ...]) -> str:
    for part in rest:
        base = f"{base}[{part}]" if isinstance(part, int) else (f"{base}.{part}" if base else part)
    return base


class FactPath:
    """A policy fact path split once, with the rule that reads its root."""

    __slots__ = ("dig", "parts", "reading", "rest", "root", "tail", "text", "where")

    def __init__(self, text: str) -> None:
        parts = split_path(text)
        self.text = text
        self.parts = parts
        self.root = parts[0] if parts else ""
        self.rest = rest = parts[1:]
        self.tail = join_path("_", rest)[1:]  # what follows a base path: ".x[0]"
        root = self.root
        self.dig = rest if root == "service" else parts  # the parts walked from the reading's base
        self.where = join_path("", parts)
        if not parts:
            self.reading = EMPTY
        elif root == "service":
            self.reading = {("quantity",): QUANTITY, ("modifiers",): MODIFIERS}.get(rest, SERVICE)
        elif root == "member" and rest[:1] == ("age",):
            self.reading = AGE
        elif root == "primary_diagnosis":
            self.reading, self.dig = PRIMARY, (0, *rest)
            self.where = join_path("diagnoses", self.dig)
        elif root == "derived" and len(rest) == 1:
            self.reading = DERIVED
        elif root == "services" and not rest:
            self.reading = OTHER_LINES
        elif root == "history" and not rest:
            self.reading = HISTORY
        else:
            self.reading = REQUEST

    def __repr__(self) -> str:
        return f"FactPath({self.text!r})"


@functools.lru_cache(maxsize=4096)
def fact_path(text: str) -> FactPath:
    return FactPath(text)


def located(raw: Any, where: str, problems: tuple[str, ...] = ()) -> Located:
    """A read value as the engine uses it; null counts as absent."""
    kind = type(raw)
    if kind is int or kind is bool:
        return raw, where, raw, (), problems
    if raw is ABSENT or raw is None or raw is UNKNOWN:
        return ABSENT, where, raw, (where,), problems
    if kind is list:
        return [normalize(item) for item in raw], where, raw, (), problems
    return normalize(raw), where, raw, (), problems


def located_in(value: Any, base: str, path: FactPath) -> Located:
    """The path below a bound list element (``item.result``) read from that element."""
    raw = _dig(value, path.rest)
    return located(raw, base + path.tail)


def located_derived(name: str, value: Any, absent: list[str], invalid: list[str]) -> Located:
    """A derived value read as a fact; when unknown, its missing inputs are what to ask for."""
    if value is UNKNOWN or value is ABSENT or value is None:
        return ABSENT, None, value, tuple(absent), tuple(invalid)
    return normalize(value), f"derived.{name}", value, (), tuple(invalid)


class LineFacts:
    """Facts of one line of one request; cheap to build, read many times."""

    def __init__(
        self, request: dict[str, Any], index: int, derive: Callable[[str, FactReader], Any] | None = None
    ) -> None:
        self.request = request
        self.index = index
        lines = request.get("services") or []
        self.line: dict[str, Any] = lines[index] if index < len(lines) else {}
        self.line_path = f"services[{index}]"
        self.date_of_service: dt.date | None = parse_date(self.line.get("date_of_service"))
        code = self.line.get("code")
        self.code: str | None = normalize_code(code) if isinstance(code, str) else None
        self.derive = derive
        self._prior: list[PriorService] | None = None
        self._quantity: int | Fraction | None = None
        self._sent: list[str] | None = None
        self.seen: dict[FactPath, Located] = {}  # request paths read so far (see ``located``)

    @property
    def quantity(self) -> int | Fraction:
        """The line's quantity, 1 when absent (edge rule 15)."""
        if self._quantity is None:
            quantity = self.line.get("quantity")
            try:
                self._quantity = exact(1 if quantity is None else quantity)
            except ValueTypeError:
                self._quantity = 1
        return self._quantity

    def documents(self) -> list[Any]:
        documents = self.request.get("documentation")
        return documents if isinstance(documents, list) else []

    def sent_documents(self) -> list[str]:
        """The document ids the request lists (other items are ignored), read once per line."""
        if self._sent is None:
            self._sent = [item for item in self.documents() if isinstance(item, str)]
        return self._sent

    def prior_services(self) -> list[PriorService]:
        """History entries, then earlier lines of this request (edge rule 6)."""
        if self._prior is None:
            prior = []
            history = self.request.get("history")
            entries = [(entry, f"history[{i}]") for i, entry in enumerate(history or [])]
            entries += [
                (line, f"services[{i}]")
                for i, line in enumerate((self.request.get("services") or [])[: self.index])
            ]
            for entry, path in entries:
                if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
                    continue
                from_history = path.startswith("history")
                day = parse_date(entry.get("date" if from_history else "date_of_service"))
                if day is None and not from_history:
                    continue  # an undated line is rejected with the request, never counted
                quantity = entry.get("quantity")
                try:
                    amount = exact(1 if quantity is None else quantity)
                except ValueTypeError:
                    amount = 1
                prior.append(PriorService(normalize_code(entry["code"]), day, amount, path))
            self._prior = prior
        return self._prior

    def reader(self) -> FactReader:
        return FactReader(self, {})

    def located(self, path: FactPath) -> Located:
        """A path read from the request (not a bound element, not a derived value), once per line."""
        found = self.seen.get(path)
        if found is None:
            found = self.seen[path] = self._locate(path)
        return found

    def _locate(self, path: FactPath) -> Located:
        reading = path.reading
        if reading == REQUEST:
            value: Any = self.request
            for part in path.dig:  # what _dig does, for the most common reading
                if type(part) is int:
                    value = value[part] if isinstance(value, list) and part < len(value) else None
                else:
                    value = value.get(part) if isinstance(value, dict) else None
                if value is None:
                    return ABSENT, path.where, ABSENT, (path.where,), ()
            return located(value, path.where)
        if reading == SERVICE or (reading == MODIFIERS and self.line.get("modifiers") is not None):
            return located(_dig(self.line, path.dig), self.line_path + path.tail)
        if reading == QUANTITY:
            return located(self.quantity, f"{self.line_path}.quantity")
        if reading == MODIFIERS:
            return located([], f"{self.line_path}.modifiers")
        if reading == AGE:
            return self._age()
        if reading == PRIMARY:
            return located(_dig(self.request.get("diagnoses"), path.dig), path.where)
        if reading == OTHER_LINES:
            lines = self.request.get("services") or []
            return located([line for i, line in enumerate(lines) if i != self.index], "services")
        if reading == HISTORY and self.request.get("history") is None:
            return located([], "history")
        if reading == EMPTY:
            return located(ABSENT, path.text)
        return located(_dig(self.request, path.dig), path.where)

    def _age(self) -> Located:
        member = self.request.get("member")
        birth = parse_date(member.get("birth_date")) if isinstance(member, dict) else None
        day = self.date_of_service
        if birth is None or day is None:
            problems: tuple[str, ...] = ()
            if isinstance(member, dict) and member.get("birth_date") is not None and birth is None:
                problems = ("member.birth_date is not a date (YYYY-MM-DD)",)
            return located(
                ABSENT, "member.birth_date" if day else f"{self.line_path}.date_of_service", problems
            )
        return located(age_on(birth, day), "member.age")


class FactReader:
    """Reads facts for one node, remembering what it read, what was absent, what was invalid."""

    __slots__ = ("absent", "bindings", "facts", "invalid", "read")

    def __init__(self, facts: LineFacts, bindings: dict[str, tuple[Any, str]]) -> None:
        self.facts = facts
        self.bindings = bindings
        self.read: dict[str, Any] = {}
        self.absent: list[str] = []
        self.invalid: list[str] = []

    # The expression environment -------------------------------------------------

    @property
    def date_of_service(self) -> dt.date | None:
        return self.facts.date_of_service

    def bind(self, name: str, value: Any, path: str) -> FactReader:
        child = FactReader(self.facts, {**self.bindings, name: (value, path)})
        child.read, child.absent, child.invalid = self.read, self.absent, self.invalid
        return child

    def prior_services(self) -> list[PriorService]:
        return self.facts.prior_services()

    def note_absent(self, path: str) -> None:
        if path not in self.absent:
            self.absent.append(path)

    def flag_invalid(self, message: str) -> None:
        self.invalid.append(message)

    # Reading --------------------------------------------------------------------

    def lookup(self, path: str) -> Any:
        """The exact value at a policy path, or ABSENT (noting the request path to ask for)."""
        split = fact_path(path)
        if not self.bindings and split.reading != DERIVED:  # ``locate``'s common case, written out
            value, where, raw, asks, problems = self.facts.located(split)
        else:
            value, where, raw, asks, problems = self.locate(split)
        for problem in problems:
            if problem not in self.invalid:
                self.invalid.append(problem)
        if value is ABSENT:
            for missing in asks:
                self.note_absent(missing)
            return ABSENT
        self.read[where] = raw
        return value

    def locate(self, path: FactPath) -> Located:
        """Where a path leads: a bound element, a derived value or the request."""
        bound = self.bindings.get(path.root) if self.bindings else None
        if bound is not None:
            return located_in(bound[0], bound[1], path)
        if path.reading == DERIVED and self.facts.derive is not None:
            name = str(path.rest[0])
            return located_derived(name, *self.facts.derive(name, self))
        return self.facts.located(path)

    def elements(self, path: str) -> list[tuple[Any, str]] | None:
        """A list's elements with their request paths; None when the list is absent."""
        value, where, raw, _, problems = self.locate(fact_path(path))
        for problem in problems:
            if problem not in self.invalid:
                self.invalid.append(problem)
        if value is ABSENT:
            self.note_absent(where if where is not None else path)
            return None
        if not isinstance(raw, list):
            self.flag_invalid(f"{path} is not a list")
            return None
        if path == "services":
            lines = self.facts.request.get("services") or []
            return [(line, f"services[{i}]") for i, line in enumerate(lines) if i != self.facts.index]
        return [(item, f"{where}[{i}]") for i, item in enumerate(raw)]


def _dig(value: Any, parts: tuple[str | int, ...]) -> Any:
    """The value at the path below ``value``, or ABSENT (a null on the way is absent too)."""
    for part in parts:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return ABSENT
        elif not isinstance(value, dict) or part not in value:
            return ABSENT
        value = value[part]
        if value is None:
            return ABSENT
    return value
