"""Value model shared by facts, derived expressions and the evaluator.

Numbers are exact: ints as they are, every other number as a ``Fraction``; dates are
``datetime.date``; codes compare upper-cased without dots. ``ABSENT`` marks a fact the
request does not carry; ``UNKNOWN`` marks a value that could not be computed (absent
input, division by zero, wrong type).
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __bool__(self) -> bool:
        raise TypeError(f"{self.name} has no truth value")


ABSENT = _Marker("ABSENT")
UNKNOWN = _Marker("UNKNOWN")

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ValueTypeError(ValueError):
    """A value whose type does not fit the operation reading it."""


def is_missing(value: Any) -> bool:
    """True for ``ABSENT``, ``UNKNOWN`` and ``None`` (JSON null counts as absent)."""
    return value is ABSENT or value is UNKNOWN or value is None


def is_number(value: Any) -> bool:
    return isinstance(value, (int, Fraction, float, Decimal)) and not isinstance(value, bool)


def to_number(value: Any) -> Fraction:
    """Exact rational for a JSON or YAML number; floats keep their decimal spelling."""
    if isinstance(value, bool) or not is_number(value):
        raise ValueTypeError(f"expected a number, got {describe(value)}")
    if isinstance(value, float):
        return Fraction(Decimal(repr(value)))
    return Fraction(value)


def exact(value: Any) -> int | Fraction:
    """``to_number``, except that an int stays an int (it is exact, and cheaper)."""
    return value if type(value) is int else to_number(value)


def parse_date(value: Any) -> dt.date | None:
    """The date an ISO ``YYYY-MM-DD`` string or a date names, else None."""
    if isinstance(value, str):
        return iso_date(value)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def iso_date(text: str) -> dt.date | None:
    """The date an ISO ``YYYY-MM-DD`` string names, else None."""
    # The length test first: most strings a request carries are not dates.
    return _parse_iso_date(text) if len(text) == 10 else None


@functools.lru_cache(maxsize=4096)  # requests repeat dates: services, birthdays, tests
def _parse_iso_date(text: str) -> dt.date | None:
    if not _ISO_DATE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def to_date(value: Any) -> dt.date:
    parsed = parse_date(value)
    if parsed is None:
        raise ValueTypeError(f"expected a date (YYYY-MM-DD), got {describe(value)}")
    return parsed


def normalize(value: Any) -> Any:
    """Request JSON to engine values: numbers exact, ISO date strings to dates.

    Ints (and booleans) are returned as they are: they are exact already, and a
    ``Fraction`` for every count and score would cost more than it is worth.
    """
    kind = type(value)
    if kind is int or kind is bool:
        return value
    if kind is Fraction:  # a whole one as an int, which is cheaper to compare and hash
        return value.numerator if value.denominator == 1 else value
    if kind is str:
        return iso_date(value) or value
    if is_number(value):
        return to_number(value)
    if isinstance(value, dt.date):
        return parse_date(value)
    return value


def describe(value: Any) -> str:
    """Short human description of a value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if is_number(value):
        return f"the number {format_number(value)}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dt.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def format_number(value: Any) -> str:
    """Exact numbers print as integers or decimals where they can."""
    number = to_number(value) if not isinstance(value, Fraction) else value
    if number.denominator == 1:
        return str(number.numerator)
    decimal = Decimal(number.numerator) / Decimal(number.denominator)
    if Fraction(decimal) == number:
        return str(decimal)
    return f"{number.numerator}/{number.denominator}"


def to_json(value: Any) -> Any:
    """Engine values back to JSON-friendly ones, for traces."""
    if value is ABSENT or value is UNKNOWN:
        return None
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return value.numerator
        decimal = Decimal(value.numerator) / Decimal(value.denominator)
        return float(decimal) if Fraction(decimal) == value else float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


# Codes ----------------------------------------------------------------------------


def normalize_code(code: Any) -> str:
    if not isinstance(code, str):
        raise ValueTypeError(f"expected a code as a string, got {describe(code)}")
    return code.strip().upper().replace(".", "")


def normalize_codes(codes: list[str]) -> list[str]:
    """``normalize_code`` over a list already known to hold only strings."""
    return [code.strip().upper().replace(".", "") for code in codes]


def split_range(spec: str) -> tuple[str, str] | None:
    """``A-B`` is a range only with one hyphen and ends of equal length."""
    if spec.count("-") != 1:
        return None
    low, high = (normalize_code(part) for part in spec.split("-"))
    if not low or len(low) != len(high):
        return None
    return low, high


class CodeSet:
    """Exact codes and inclusive ranges, as written in ``applies_to`` or ``frequency``."""

    __slots__ = ("codes", "ranges")

    def __init__(self, specs: list[str]) -> None:
        self.codes: set[str] = set()
        self.ranges: list[tuple[str, str]] = []
        for spec in specs:
            bounds = split_range(spec)
            if bounds:
                self.ranges.append(bounds)
            else:
                self.codes.add(normalize_code(spec))

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.holds(normalize_code(code))

    def holds(self, code: str) -> bool:
        """``in`` for a code already normalized (the evaluator's line codes are)."""
        if code in self.codes:
            return True
        for low, high in self.ranges:  # noqa: SIM110 (a loop, not any(): this runs for every line)
            if len(code) == len(low) and low <= code <= high:
                return True
        return False


# Calendar arithmetic (edge rule 8) -------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """Add calendar months, clamping to the end of a shorter month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, _month_length(year, month)))


def months_between(start: dt.date, end: dt.date) -> int:
    """Largest n with ``add_months(start, n) <= end`` (negative when end precedes start)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    # add_months(start, months) falls in end's month, on start's day clamped to that
    # month's length; when that is after end, one month less is the answer.
    if months and min(start.day, _month_length(end.year, end.month)) > end.day:
        months -= 1
    return months


def _month_length(year: int, month: int) -> int:
    return 29 if month == 2 and calendar.isleap(year) else _MONTH_LENGTHS[month]


_MONTH_LENGTHS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def years_between(start: dt.date, end: dt.date) -> int:
    months = months_between(start, end)
    return months // 12 if months >= 0 else -((-months) // 12)


def calendar_months_between(start: dt.date, end: dt.date) -> int:
    """Full calendar months after start's month and before end's month (42 CFR 410.37)."""
    return 12 * (end.year - start.year) + (end.month - start.month) - 1


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Whole years of age: completed months divided by twelve."""
    return months_between(birth_date, day) // 12


class PriorService:
    """A service the member already had: a history entry or an earlier line of the request."""

    __slots__ = ("code", "date", "path", "quantity")

    def __init__(self, code: str, date: dt.date | None, quantity: int | Fraction, path: str) -> None:
        self.code = code
        self.date = date
        self.quantity = quantity
        self.path = path
