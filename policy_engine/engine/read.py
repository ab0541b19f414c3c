"""Readers of request facts for the engine, one per fact path, prepared once per version.

``LineFacts.located`` walks any path by its parts and normalizes what it finds; most
leaves read a request path of one to three names (``clinical.ahi``, ``diagnoses``)
or the member's age. A reader made here for such a path does only that walk, and
hands back ``(value, where, raw)`` for a present value of a kind the engine takes as
it is, ``(ABSENT, where, None)`` for a request path that is absent, or None, which
sends the leaf the general way (wrongly typed values and everything else are
explained there).

Floats stay floats: a request's number is the decimal the requester wrote, whose
double is the float itself, so the encoder writes it as it is and works out the exact
decimal (``values.to_number``) only when the float ties a policy limit's double.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..facts import AGE, REQUEST, SERVICE, FactPath
from ..values import ABSENT, age_on, iso_date, normalize, parse_date

if TYPE_CHECKING:
    from .resolve import LineResolver, PolicyLine

Read = tuple[Any, str, Any]  # (value, where, raw)
Reader = Callable[["LineResolver", "PolicyLine"], Read | None]


def reader(path: FactPath) -> Reader | None:
    """A quick reader for the path, or None where only the general reading will do."""
    if path.reading == AGE and path.rest == ("age",):
        return _age
    names = path.dig
    if not names or not all(type(name) is str for name in names):
        return None
    if path.reading == REQUEST:
        where = path.where
        if len(names) == 1:
            return _top(names[0], where)
        if len(names) == 2:
            return _second(*names, where)  # type: ignore[arg-type]
        return None
    if path.reading == SERVICE and len(names) == 1:
        return _service(names[0], path.tail)
    return None


def value_of(raw: Any) -> Any:
    """A raw request value as the engine takes it, or None when the general reading must decide."""
    kind = type(raw)
    if kind is int or kind is bool:
        return raw
    if kind is str:
        return iso_date(raw) or raw
    if kind is float:
        return raw if math.isfinite(raw) else None
    if kind is list:
        for item in raw:
            if type(item) is not str or len(item) == 10:  # not a plain string, or maybe a date
                return [normalize(item) for item in raw]
        return raw  # strings that are no dates are what normalize would make of them
    return None  # absent, null, an object or anything unusual


def _top(name: str, where: str) -> Reader:
    def read(resolver: LineResolver, line: PolicyLine) -> Read | None:
        raw = resolver.facts.request.get(name)
        if raw is None:
            return ABSENT, where, raw
        value = value_of(raw)
        return None if value is None else (value, where, raw)

    return read


def _second(first: str, name: str, where: str) -> Reader:
    def read(resolver: LineResolver, line: PolicyLine) -> Read | None:
        parent = resolver.facts.request.get(first)
        # below anything but an object, a name is absent (``LineFacts.located`` says so too)
        raw = parent.get(name) if type(parent) is dict else None
        if raw is None:
            return ABSENT, where, raw
        value = value_of(raw)
        return None if value is None else (value, where, raw)

    return read


def _service(name: str, tail: str) -> Reader:
    def read(resolver: LineResolver, line: PolicyLine) -> Read | None:
        facts = resolver.facts
        raw = facts.line.get(name)
        if raw is None:
            return ABSENT, facts.line_path + tail, raw
        value = value_of(raw)
        return None if value is None else (value, facts.line_path + tail, raw)

    return read


def _age(resolver: LineResolver, line: PolicyLine) -> Read | None:
    facts = resolver.facts
    member = facts.request.get("member")
    born = parse_date(member.get("birth_date")) if type(member) is dict else None
    day = facts.date_of_service
    if born is None or day is None:
        return None
    age = age_on(born, day)
    return age, "member.age", age
