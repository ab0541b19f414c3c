"""The request as the engine sees it for one service line: paths in, exact values out.

Every read is reported with the request path it came from, so a trace shows what the
engine looked at and an unknown names exactly what to ask for.
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
    normalize,
    normalize_code,
    parse_date,
    to_number,
)

_SEGMENT = re.compile(r"([a-z_][a-z0-9_]*)|\[(\d+)\]")


@functools.lru_cache(maxsize=4096)
def split_path(path: str) -> tuple[str | int, ...]:
    """``clinical.gases[1].pao2`` → ``('clinical', 'gases', 1, 'pao2')``."""
    return tuple(name if name else int(index) for name, index in _SEGMENT.findall(path))


def join_path(base: str, rest: tuple[str | int, ...]) -> str:
    for part in rest:
        base = f"{base}[{part}]" if isinstance(part, int) else (f"{base}.{part}" if base else part)
    return base


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
        self.derive = derive
        self._prior: list[PriorService] | None = None

    @property
    def code(self) -> str | None:
        code = self.line.get("code")
        return normalize_code(code) if isinstance(code, str) else None

    @property
    def quantity(self) -> Fraction:
        """The line's quantity, 1 when absent (edge rule 15)."""
        quantity = self.line.get("quantity")
        try:
            return to_number(1 if quantity is None else quantity)
        except ValueTypeError:
            return to_number(1)

    def documents(self) -> list[Any]:
        documents = self.request.get("documentation")
        return documents if isinstance(documents, list) else []

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
                    amount = to_number(1 if quantity is None else quantity)
                except ValueTypeError:
                    amount = to_number(1)
                prior.append(PriorService(normalize_code(entry["code"]), day, amount, path))
            self._prior = prior
        return self._prior

    def reader(self) -> FactReader:
        return FactReader(self, {})


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
        value, where = self.locate(path)
        if value is ABSENT or value is None or value is UNKNOWN:
            for missing in where if isinstance(where, list) else [where]:
                self.note_absent(missing)
            return ABSENT
        self.read[where if isinstance(where, str) else path] = value
        if isinstance(value, list):
            return [normalize(item) for item in value]
        return normalize(value)

    def locate(self, path: str) -> tuple[Any, Any]:
        """Raw value and its request path (a list of paths for a derived value's inputs)."""
        parts = split_path(path)
        if not parts:
            return ABSENT, path
        root, rest = parts[0], parts[1:]
        if root in self.bindings:
            value, base = self.bindings[root]
            return _dig(value, rest, base)
        facts = self.facts
        if root == "service":
            if rest == ("quantity",):
                return facts.quantity, f"{facts.line_path}.quantity"
            if rest == ("modifiers",) and facts.line.get("modifiers") is None:
                return [], f"{facts.line_path}.modifiers"
            return _dig(facts.line, rest, facts.line_path)
        if root == "member" and rest[:1] == ("age",):
            return self._age()
        if root == "primary_diagnosis":
            return _dig(facts.request.get("diagnoses"), (0, *rest), "diagnoses")
        if root == "derived" and len(rest) == 1 and facts.derive is not None:
            return self._derived(str(rest[0]))
        if root == "services" and not rest:
            lines = facts.request.get("services") or []
            return [line for i, line in enumerate(lines) if i != facts.index], "services"
        if root == "history" and not rest and facts.request.get("history") is None:
            return [], "history"
        return _dig(facts.request, parts, "")

    def elements(self, path: str) -> list[tuple[Any, str]] | None:
        """A list's elements with their request paths; None when the list is absent."""
        value, where = self.locate(path)
        if value is ABSENT or value is None:
            self.note_absent(where if isinstance(where, str) else path)
            return None
        if not isinstance(value, list):
            self.flag_invalid(f"{path} is not a list")
            return None
        if path == "services":
            lines = self.facts.request.get("services") or []
            return [(line, f"services[{i}]") for i, line in enumerate(lines) if i != self.facts.index]
        return [(item, f"{where}[{i}]") for i, item in enumerate(value)]

    def _age(self) -> tuple[Any, Any]:
        member = self.facts.request.get("member")
        birth = parse_date(member.get("birth_date")) if isinstance(member, dict) else None
        day = self.facts.date_of_service
        if birth is None or day is None:
            if isinstance(member, dict) and member.get("birth_date") is not None and birth is None:
                self.flag_invalid("member.birth_date is not a date (YYYY-MM-DD)")
            return ABSENT, "member.birth_date" if day else f"{self.facts.line_path}.date_of_service"
        return age_on(birth, day), "member.age"

    def _derived(self, name: str) -> tuple[Any, Any]:
        value, absent, invalid = self.facts.derive(name, self)
        self.invalid.extend(message for message in invalid if message not in self.invalid)
        if value is UNKNOWN or value is ABSENT or value is None:
            return ABSENT, list(absent)
        return value, f"derived.{name}"


def _dig(value: Any, parts: tuple[str | int, ...], base: str) -> tuple[Any, str]:
    """The value at the path; when absent, the whole path is what to ask for."""
    for part in parts:
        if isinstance(part, int):
            present = isinstance(value, list) and part < len(value)
        else:
            present = isinstance(value, dict) and part in value
        value = value[part] if present else None
        if value is None:
            return ABSENT, join_path(base, parts)
    return value, join_path(base, parts)
