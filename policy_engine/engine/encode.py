"""Facts as the rules engine reads them: JSON text, written once per node and value.

The engine compares strings as text and numbers as doubles, so values reach it typed:
dates as day numbers, booleans as 0/1, codes normalized, exact numbers as doubles moved
one step where rounding would tie two different numbers. A request's float arrives as it
is (see ``read``): it stands for the decimal it prints as, the number compared. A fact is
``{"id": index, "l<n>": 1, "v": value, ...}``: the index is its ``id``, which spares
the engine hashing the fact for one, and ``l<n>`` marks it as leaf n's.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Callable
from fractions import Fraction
from json.encoder import encode_basestring_ascii as _text
from typing import Any

from ..model import Document, FactRef, Frequency, Leaf, Node
from ..values import ABSENT, normalize_code, normalize_codes, to_number

_KEPT = 256  # encodings a node remembers; a full table starts again
_HEADS_KEPT = 512
_HEADS = tuple(f'{{"id":{index}' for index in range(_HEADS_KEPT))  # a fact's start, by index
_EXACT_INTS = 2**53  # ints below this in size are exactly doubles (and print as such)


def leaf_key(number: int) -> str:
    """The property that marks a fact as leaf ``number``'s.

    A property of its own per leaf, not ``l: number``: the engine indexes conditions by
    property name, so a fact meets only its own leaf's condition instead of being
    tested against every leaf's number.
    """
    return f"l{number}"


class Encoder:
    """How one checkable node's facts are written, decided at compile time.

    ``encode(index, value, other)`` writes one fact; ``other`` is the operand read from
    the request, if any. A value met before is not written again: what follows the
    index is remembered per value (booleans, fractions, lists of non-strings and fact
    operands are always written afresh).
    """

    __slots__ = ("bare", "codes", "cuts", "encode", "limits", "part", "prefix", "tail", "texts", "ties")

    def __init__(self, node: Node, number: int, part: int) -> None:
        self.part = part  # index of the ruleset that judges it
        self.tail = f',"{leaf_key(number)}":1,"v":'  # what follows the index
        self.bare = f',"{leaf_key(number)}":1}}'  # the same for a fact without a value
        self.limits: tuple[tuple[Any, float], ...] = ()  # numbers the value is compared with
        self.ties: frozenset[float] = frozenset()  # their doubles: only a value on one is nudged
        self.codes = self.prefix = False
        self.cuts: tuple[int, ...] = ()  # an ``any_prefix`` leaf's prefix lengths
        self.texts: dict[Any, str] = {}
        self.encode: Callable[[int, Any, Any], str]
        if isinstance(node, Document):
            self.encode = self.encode_value
        elif isinstance(node, Frequency):
            self.limits = _numbers((node.max,))
            self.encode = self.encode_value
        else:
            assert isinstance(node, Leaf)
            operand = node.operand
            literals = operand if isinstance(operand, tuple) else (operand,)
            self.limits = _numbers(item for item in literals if not isinstance(item, FactRef))
            self.codes, self.prefix = node.codes, node.op == "any_prefix"
            if self.prefix:
                self.cuts = tuple(sorted({len(prefix) for prefix in operand}))
            self.encode = self._exists if node.op == "exists" else self._leaf
        self.ties = frozenset(approximate for _, approximate in self.limits)

    def encode_value(self, index: int, value: Any, other: Any = None) -> str:
        """A fact for the value alone: a leaf against literals, a document, a frequency total."""
        head = _HEADS[index] if index < _HEADS_KEPT else f'{{"id":{index}'
        kind = type(value)
        if kind is int:
            # Below 2**53 its double is exact, so it ties a limit only by being equal to
            # it, and ``repr`` would write the double as the int's digits and ".0".
            if -_EXACT_INTS < value < _EXACT_INTS and value not in self.ties:
                return f"{head}{self.tail}{value}.0}}"
        elif kind is str or kind is list:  # codes, lists of codes: most were met before
            text = self.texts.get(tuple(value) if kind is list else value)
            if text is not None:
                return head + text
        return head + self._written(value, kind)

    def _written(self, value: Any, kind: type) -> str:
        """What follows the index, for a value off ``encode_value``'s quick paths."""
        if kind is int or kind is float:
            # Most numbers are no limit's double: written as they are (``_number`` nudges
            # none of them), adding 0.0 to write -0.0 as the 0.0 its decimal is.
            try:
                double = float(value) + 0.0
            except OverflowError:
                double = math.nan  # too large an int: ``_number`` knows how to write it
            if double - double == 0 and double not in self.ties:
                return f"{self.tail}{double_text(double)}}}"
        if kind is bool or kind is Fraction:  # True == 1; hashing a Fraction costs more than writing it
            return self._write(value)[0]
        key = tuple(value) if kind is list else value
        text = self.texts.get(key)
        if text is None:
            text, kept = self._write(value)
            if kept:
                if len(self.texts) >= _KEPT:
                    self.texts.clear()
                self.texts[key] = text
        return text

    def listed(self, index: int, items: str) -> str:
        """A fact whose value is a list of strings already written (``strings``)."""
        head = _HEADS[index] if index < _HEADS_KEPT else f'{{"id":{index}'
        return f"{head}{self.tail}{items}}}"

    def _write(self, value: Any) -> tuple[str, bool]:
        """What follows the index for one value, and whether it may be remembered."""
        if self.prefix:  # ``any_prefix``: each code's starts, one per prefix length, whole
            codes = normalize_codes(value) if isinstance(value, list) else [normalize_code(value)]
            return f"{self.tail}{strings(self._starts(codes))}}}", True
        if isinstance(value, list):
            items = normalize_codes(value) if self.codes else value
            try:
                return f"{self.tail}[{','.join(map(_text, items))}]}}", True  # codes, document ids
            except TypeError:  # a list of numbers, dates or booleans: never remembered
                return f"{self.tail}{engine_json([literal(item) for item in items])}}}", False
        if isinstance(value, str):
            text = normalize_code(value) if self.codes else value
            return f'{self.tail}{_text(text)},"n":{len(text)}}}', True
        return f"{self.tail}{_scalar(value, self.limits)}}}", True

    def _starts(self, codes: list[str]) -> list[str]:
        """The codes' first characters, cut at each prefix length the leaf tests: the rules
        engine then finds a prefix by equality."""
        return sorted({code[:length] for code in codes for length in self.cuts if len(code) >= length})

    def _leaf(self, index: int, value: Any, other: Any) -> str:
        if other is None:
            return self.encode_value(index, value)
        head = (_HEADS[index] if index < _HEADS_KEPT else f'{{"id":{index}') + self.tail
        if isinstance(other, tuple):
            low, high = other
            mine = _numbers((value,))
            bounds = f',"w":{_scalar(low, mine)},"x":{_scalar(high, mine)}'
            text = f"{head}{_scalar(value, _numbers(other))}{bounds}"
        else:
            text = f'{head}{_scalar(value, _numbers((other,)))},"w":{_scalar(other, _numbers((value,)))}'
        if isinstance(value, str):
            text += f',"n":{len(value)}'
        return text + "}"

    def _exists(self, index: int, value: Any, other: Any = None) -> str:
        head = _HEADS[index] if index < _HEADS_KEPT else f'{{"id":{index}'
        if value is None or value is ABSENT:
            return head + self.bare
        return f"{head}{self.tail}1}}"


def strings(items: list[str]) -> str:
    """A list of strings as the engine reads it: written once, for every fact that carries it."""
    return f"[{','.join(map(_text, items))}]"


def literal(value: Any) -> Any:
    """A policy literal as the engine compares it."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Fraction | int):
        return float(value)
    if isinstance(value, dt.date):
        return value.toordinal()
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | Fraction | float) and not isinstance(value, bool)


def _numbers(items: Any) -> tuple[tuple[Any, float], ...]:
    """The exact numbers among the items, each with its double."""
    return tuple((item, _float(item)) for item in items if _is_number(item))


def _scalar(value: Any, limits: tuple[tuple[Any, float], ...]) -> str:
    """One value as engine JSON: numbers as nudged doubles, the rest as ``literal`` says."""
    if _is_number(value):
        return _number(value, limits)
    if isinstance(value, str):
        return _text(value)
    return engine_json(literal(value))


def _float(value: Any) -> float:
    """The value's double; a number beyond the doubles is the largest one of its sign, which
    keeps its order against every policy limit (those have at most 100 digits)."""
    try:
        return float(value)
    except OverflowError:
        return sys.float_info.max if value > 0 else -sys.float_info.max


def _number(value: Any, limits: tuple[tuple[Any, float], ...]) -> str:
    """``float(value)`` as JSON, moved one step if it would tie with a limit it differs from."""
    if type(value) is float:
        value = to_number(value)  # the decimal it stands for
    result = _float(value)
    for limit, approximate in limits:
        if result == approximate and value != limit:
            result = math.nextafter(result, math.inf if value > limit else -math.inf)
    # repr is what json writes for a finite double; json spells infinities its own way
    return engine_json(result)


def double_text(value: float) -> str:
    """A finite double as the C core reads it: it rejects a number like ``1e+16`` whose
    mantissa has no point (error 204) and then silently skips the batch's later facts, so
    such a double is written ``1.0e+16``."""
    text = repr(value)
    return text.replace("e", ".0e", 1) if "e" in text and "." not in text else text


def engine_json(value: Any) -> str:
    """JSON as the C core reads it: doubles as ``double_text`` writes them (json spells
    infinities its own way); keys sorted, for stable texts."""
    if isinstance(value, float):
        if math.isinf(value):  # a nudge past the largest double: the C core reads no Infinity
            value = math.copysign(sys.float_info.max, value)
        return double_text(value) if value == value else json.dumps(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_text(key)}:{engine_json(value[key])}" for key in sorted(value)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(engine_json(item) for item in value) + "]"
    return json.dumps(value)
