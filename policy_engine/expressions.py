"""The safe expression language of ``derive:`` values and ``count_if`` conditions.

A hand-written tokenizer and recursive-descent parser build a small tree (no ``eval``).
Evaluation follows edge rules 4, 8, 11 and 15: exact numbers; strict operators that turn
any unknown, absent or null input into ``UNKNOWN``; lazy Kleene ``and or if coalesce``;
type mismatches reported through ``env.flag_invalid`` rather than raised.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any, NamedTuple, Protocol

from policy_engine import values
from policy_engine.values import ABSENT, UNKNOWN, ValueTypeError, describe, is_missing

__all__ = ["Expression", "ExpressionEnv", "ExpressionError", "parse"]


class ExpressionError(ValueError):
    """Syntax error, unknown function or wrong argument count; .column is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column})")
        self.message = message
        self.column = column


class ExpressionEnv(Protocol):
    """What an expression may read: facts, bound list elements and the member's history."""

    date_of_service: dt.date

    def lookup(self, path: str) -> Any: ...
    def bind(self, name: str, value: Any, path: str) -> ExpressionEnv: ...
    def prior_services(self) -> list[values.PriorService]: ...
    def note_absent(self, path: str) -> None: ...
    def flag_invalid(self, message: str) -> None: ...


# Tokens ---------------------------------------------------------------------------

_KEYWORDS = frozenset({"and", "or", "not", "true", "false", "null"})
_CONSTANTS = {"true": True, "false": False, "null": None}
_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_PATH = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*|\[\d+\])*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SYMBOLS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", ",")
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


class _Token(NamedTuple):
    kind: str  # number, string, name, symbol, end; a string's text keeps its quotes
    text: str
    value: Any
    pos: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(source):
        char = source[pos]
        if char.isspace():
            pos += 1
            continue
        if match := _NUMBER.match(source, pos):
            if sum(char.isdigit() for char in match.group()) > _MAX_DIGITS:
                raise ExpressionError(f"a number of more than {_MAX_DIGITS} digits", pos + 1)
            # "1.", "1.2.3" and "12ab" would otherwise split into misleading tokens.
            following = source[match.end() : match.end() + 1]
            if following and (following.isalnum() or following in "._"):
                raise ExpressionError("malformed number", pos + 1)
            token = _Token("number", match.group(), Fraction(match.group()), pos)
        elif match := _PATH.match(source, pos):
            if source[match.end() : match.end() + 1] == ".":
                raise ExpressionError("expected a lower-case name after '.'", match.end() + 2)
            token = _Token("name", match.group(), None, pos)
        elif char == "'":
            token = _string(source, pos)
        elif symbol := next((s for s in _SYMBOLS if source.startswith(s, pos)), None):
            token = _Token("symbol", symbol, None, pos)
        else:
            hint = " (use '==')" if char == "=" else " (names are lower-case)" * char.isupper()
            raise ExpressionError(f"unexpected character {char!r}{hint}", pos + 1)
        tokens.append(token)
        pos += len(token.text)
    return [*tokens, _Token("end", "", None, len(source))]


def _string(source: str, start: int) -> _Token:
    """Single-quoted; a backslash takes the next character literally (\\' and \\\\)."""
    chars, pos = [], start + 1
    while pos < len(source) and source[pos] != "'":
        pos += source[pos] == "\\" and pos + 1 < len(source)
        chars.append(source[pos])
        pos += 1
    if pos >= len(source):
        raise ExpressionError("unterminated string", start + 1)
    return _Token("string", source[start : pos + 1], "".join(chars), start)


# Type checks ----------------------------------------------------------------------

_KINDS: dict[str, Callable[[Any], bool]] = {
    "a number": values.is_number,
    "a date": lambda v: isinstance(v, dt.date),
    "true or false": lambda v: isinstance(v, bool),
    "a list": lambda v: isinstance(v, list),
    "a list or a string": lambda v: isinstance(v, (list, str)),
}


def _need(kind: str, value: Any, where: str) -> Any:
    """Checks a value's type, since facts are never coerced (edge rule 11); numbers exact
    (an int stays an int: it is exact already, and cheaper than a ``Fraction``)."""
    if not _KINDS[kind](value):
        raise ValueTypeError(f"{where} needs {kind}, got {describe(value)}")
    return values.exact(value) if kind == "a number" else value


def _whole(value: Any, where: str) -> int:
    number = _need("a number", value, where)
    if number.denominator != 1:
        raise ValueTypeError(f"{where} needs a whole number, got {describe(value)}")
    return number.numerator


def _root(path: str) -> str:
    """First name of a path: "item" in "item.result", "gases" in "gases[0]"."""
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _kind(value: Any) -> str:
    if values.is_number(value):
        return "number"
    return "date" if isinstance(value, dt.date) else type(value).__name__


# Tree -----------------------------------------------------------------------------


class _Node:
    """A parsed sub-expression; ``text`` is its source, quoted in diagnostics."""

    text = ""
    children: tuple[_Node, ...] = ()

    def evaluate(self, env: ExpressionEnv) -> Any:
        """Never raises for bad data: a type mismatch is flagged and becomes UNKNOWN."""
        try:
            return self._eval(env)
        except ValueTypeError as error:
            env.flag_invalid(f"{error} in '{self.text}'")
            return UNKNOWN

    def _eval(self, env: ExpressionEnv) -> Any:
        raise NotImplementedError

    def _strict(self, env: ExpressionEnv) -> list[Any] | None:
        """Children's values, None if any is missing; all are read so all absences show."""
        args = []
        missing = False
        for child in self.children:  # a loop: this runs for every operation of every derived value
            value = child.evaluate(env)
            args.append(value)
            if value is None or value is ABSENT or value is UNKNOWN:  # is_missing, written out
                missing = True
        return None if missing else args


class _Literal(_Node):
    def __init__(self, value: Any) -> None:
        self.value = value

    def _eval(self, env: ExpressionEnv) -> Any:
        return self.value

    evaluate = _eval  # nothing to flag: spares a call per literal


class _Path(_Node):
    def __init__(self, path: str) -> None:
        self.path = path
        self.root = _root(path)

    def _eval(self, env: ExpressionEnv) -> Any:
        return env.lookup(self.path)

    evaluate = _eval  # reading a fact flags through the environment, never raises


class _List(_Node):
    def __init__(self, items: list[_Node]) -> None:
        self.children = tuple(items)

    def _eval(self, env: ExpressionEnv) -> Any:
        items = self._strict(env)
        return UNKNOWN if items is None else items


class _Operation(_Node):
    """Unary minus, ``not``, arithmetic, comparisons and the lazy ``and`` / ``or``."""

    def __init__(self, op: str, *operands: _Node) -> None:
        self.op = op
        self.children = operands

    def _eval(self, env: ExpressionEnv) -> Any:
        if self.op in ("and", "or"):
            # Kleene: a deciding operand (false for and, true for or) wins over unknown,
            # and once it is seen the rest is not evaluated.
            decider, unknown = self.op == "or", False
            for operand in self.children:
                value = operand.evaluate(env)
                if is_missing(value):
                    unknown = True
                elif _need("true or false", value, f"'{self.op}'") is decider:
                    return decider
            return UNKNOWN if unknown else not decider
        args = self._strict(env)
        if args is None:
            return UNKNOWN
        if self.op == "not":
            return not _need("true or false", args[0], "'not'")
        if len(args) == 1:
            return -_need("a number", args[0], "'-'")
        if self.op in _COMPARISONS:
            return _compare(self.op, *args)
        return _arithmetic(self.op, *args)


class _Call(_Node):
    def __init__(self, name: str, args: list[_Node]) -> None:
        self.name = name
        self.children = tuple(args)

    def _eval(self, env: ExpressionEnv) -> Any:
        if self.name in _LAZY:
            return _LAZY[self.name](self.children, env)
        args = self._strict(env)
        return UNKNOWN if args is None else _STRICT[self.name](env, *args)


# Operators and functions ----------------------------------------------------------


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if op == "-" and isinstance(left, dt.date) and isinstance(right, dt.date):
        return (left - right).days
    if isinstance(left, dt.date) and op in "+-":
        raise ValueTypeError(f"'{op}' cannot move a date by a number; use add_days(d, n)")
    a, b = _need("a number", left, f"'{op}'"), _need("a number", right, f"'{op}'")
    if op == "/":
        return UNKNOWN if b == 0 else Fraction(a) / b  # division by zero is unknown, not invalid
    return a + b if op == "+" else a - b if op == "-" else a * b


def _compare(op: str, left: Any, right: Any) -> bool:
    kind = _kind(left)
    if kind != _kind(right):
        raise ValueTypeError(f"'{op}' cannot compare {describe(left)} with {describe(right)}")
    if op in ("==", "!="):
        return (left == right) is (op == "==")
    if kind not in ("number", "date", "str"):
        raise ValueTypeError(f"'{op}' cannot order {describe(left)}")
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def _extreme(pick: Callable[..., Any], name: str) -> Callable[..., Any]:
    def extreme(env: ExpressionEnv, *args: Any) -> Any:
        items = list(_need("a list", args[0], name) if len(args) == 1 else args)
        if not items or any(is_missing(item) for item in items):
            return UNKNOWN
        kinds = {_kind(item) for item in items}
        if kinds not in ({"number"}, {"date"}):
            found = " and ".join(sorted(kinds))
            raise ValueTypeError(f"{name} needs all numbers or all dates, got {found}")
        return pick(values.exact(i) if kinds == {"number"} else i for i in items)

    return extreme


def _dates(name: str, measure: Callable[[dt.date, dt.date], int]) -> Callable[..., int]:
    def span(env: ExpressionEnv, start: Any, end: Any) -> int:
        if type(start) is not dt.date or type(end) is not dt.date:  # the checks, when not plainly dates
            start = _need("a date", start, f"{name} argument 1")
            end = _need("a date", end, f"{name} argument 2")
        return measure(start, end)

    return span


def _shift(name: str, move: Callable[[dt.date, int], dt.date]) -> Callable[..., dt.date]:
    def shift(env: ExpressionEnv, day: Any, amount: Any) -> dt.date:
        start = _need("a date", day, f"{name} argument 1")
        count = _whole(amount, f"{name} argument 2")
        try:
            return move(start, count)
        except (OverflowError, ValueError) as error:
            raise ValueTypeError(f"{name} goes past the calendar's range") from error

    return shift


def _size(kind: str, name: str) -> Callable[..., int]:
    return lambda env, value: len(_need(kind, value, name))


def _prior(env: ExpressionEnv, codes: Any, name: str) -> list[values.PriorService] | None:
    """Prior services with a listed code up to the date of service; None if one is undated."""
    specs = _need("a list", codes, f"{name} argument 1")
    if not all(isinstance(spec, str) for spec in specs):
        raise ValueTypeError(f"{name} needs a list of code strings, got {describe(specs)}")
    code_set, found, undated = values.CodeSet(specs), [], False
    for service in env.prior_services():
        if service.code not in code_set:
            continue
        if service.date is None:
            # An undated matching entry could be the one that decides the answer.
            env.note_absent(f"{service.path}.date")
            undated = True
        elif service.date <= env.date_of_service:
            found.append(service)
    return None if undated else found


def _last_service(env: ExpressionEnv, codes: Any) -> Any:
    found = _prior(env, codes, "last_service")
    if found is None:
        return UNKNOWN
    # No match is absent (edge rule 4): strict operators see unknown, coalesce skips it.
    return max(service.date for service in found) if found else ABSENT


def _count_services(env: ExpressionEnv, codes: Any, since: Any) -> Any:
    start = _need("a date", since, "count_services argument 2")
    found = _prior(env, codes, "count_services")
    if found is None:
        return UNKNOWN
    return sum((s.quantity for s in found if s.date >= start), 0)  # quantities are exact already


def _coalesce(args: tuple[_Node, ...], env: ExpressionEnv) -> Any:
    for arg in args:
        value = arg.evaluate(env)
        if not is_missing(value):
            return value
    return UNKNOWN


def _if(args: tuple[_Node, ...], env: ExpressionEnv) -> Any:
    condition = args[0].evaluate(env)
    if is_missing(condition):
        return UNKNOWN
    return args[1 if _need("true or false", condition, "if") else 2].evaluate(env)


def _count_if(args: tuple[_Node, ...], env: ExpressionEnv) -> Any:
    items = args[0].evaluate(env)
    if is_missing(items):
        return UNKNOWN
    base = args[0].path if isinstance(args[0], _Path) else args[0].text
    count, unknown = 0, False
    # Every element is evaluated, so each absent input is reported, not only the first.
    for index, item in enumerate(_need("a list", items, "count_if argument 1")):
        verdict = args[1].evaluate(env.bind("item", item, f"{base}[{index}]"))
        if is_missing(verdict):
            unknown = True
        else:
            count += _need("true or false", verdict, "count_if condition")
    return UNKNOWN if unknown else count


_STRICT: dict[str, Callable[..., Any]] = {
    "days_between": _dates("days_between", lambda a, b: (b - a).days),
    "months_between": _dates("months_between", values.months_between),
    "years_between": _dates("years_between", values.years_between),
    "calendar_months_between": _dates("calendar_months_between", values.calendar_months_between),
    "add_days": _shift("add_days", lambda day, n: day + dt.timedelta(days=n)),
    "add_months": _shift("add_months", values.add_months),
    "count": _size("a list", "count"),
    "len": _size("a list or a string", "len"),
    "min": _extreme(min, "min"),
    "max": _extreme(max, "max"),
    "last_service": _last_service,
    "count_services": _count_services,
}
_LAZY: dict[str, Callable[[tuple[_Node, ...], ExpressionEnv], Any]] = {
    "coalesce": _coalesce,
    "if": _if,
    "count_if": _count_if,
}
# Fewest and most arguments (None: no limit); date() is folded to a literal at parse time.
_ARITY: dict[str, tuple[int, int | None]] = {
    **dict.fromkeys([*_STRICT, *_LAZY], (2, 2)),
    **dict.fromkeys(["date", "count", "len", "last_service"], (1, 1)),
    **dict.fromkeys(["min", "max", "coalesce"], (1, None)),
    "if": (3, 3),
}


# Parser ---------------------------------------------------------------------------

_MAX_DEPTH = 32  # nesting plus operators in a row: keeps parsing and evaluation well inside
# Python's recursion limit (a chain "a + b + c ..." is a tree as deep as it is long)
_MAX_LENGTH = 2000  # characters; bounds the work one expression can ask of the validator
_MAX_DIGITS = 100  # as for a number written in the policy's YAML
# Binary operators, loosest first; "not" is a prefix at the comparison level, so
# "not a == b" is "not (a == b)", and unary minus binds tightest.
_LEVELS: tuple[tuple[str, ...], ...] = (("or",), ("and",), _COMPARISONS, ("+", "-"), ("*", "/"))
_NOT_LEVEL = 2


class _Parser:
    """Recursive descent over _LEVELS. A string token's text keeps its quotes, so token
    text alone tells symbols and keywords apart."""

    def __init__(self, source: str) -> None:
        self.source, self.tokens = source, _tokenize(source)
        self.index = self.depth = 0
        self.functions: set[str] = set()

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        self.index += 1
        return self.tokens[self.index - 1]

    def expect(self, text: str, what: str = "") -> None:
        token = self.advance()
        if token.text != text:
            found = f"'{token.text}'" if token.kind != "end" else "end of expression"
            raise ExpressionError(f"unexpected {found}, expected {what or repr(text)}", token.pos + 1)

    def finish(self, node: _Node, start: int) -> _Node:
        last = self.tokens[self.index - 1]
        node.text = self.source[start : last.pos + len(last.text)]
        return node

    def nested(self, level: int = 0) -> _Node:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise ExpressionError("expression is nested too deeply", self.peek().pos + 1)
        node = self.binary(level)
        self.depth -= 1
        return node

    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise ExpressionError("empty expression", 1)
        node = self.nested()
        self.expect("", "an operator or the end")
        return node

    def binary(self, level: int) -> _Node:
        """Operators of _LEVELS[level] and tighter; "not" and unary minus are prefixes."""
        start = self.peek()
        prefix = {_NOT_LEVEL: "not", len(_LEVELS): "-"}.get(level)
        if prefix and start.text == prefix:
            self.advance()
            return self.finish(_Operation(prefix, self.nested(level)), start.pos)
        if level == len(_LEVELS):
            return self.primary()
        node = self.binary(level + 1)
        chained = 0
        while self.peek().text in _LEVELS[level]:
            chained += 1
            self.depth += 1
            if self.depth > _MAX_DEPTH + 1:  # the whole expression is one level already
                message = f"more than {_MAX_DEPTH} operators in a row; split it into several derived values"
                raise ExpressionError(message, self.peek().pos + 1)
            op = self.advance().text
            node = self.finish(_Operation(op, node, self.binary(level + 1)), start.pos)
            if op in _COMPARISONS and self.peek().text in _COMPARISONS:
                # Non-associative: "a < b < c" would silently compare a boolean with c.
                message = "comparisons cannot be chained; use 'and'"
                raise ExpressionError(message, self.peek().pos + 1)
        self.depth -= chained
        return node

    def primary(self) -> _Node:
        token = self.advance()
        if token.text == "(":
            node = self.nested()
            self.expect(")")
            return node
        if token.kind in ("number", "string") or token.text in _CONSTANTS:
            node: _Node = _Literal(_CONSTANTS.get(token.text, token.value))
        elif token.text == "[":
            node = _List(self.arguments("]"))
        elif token.kind == "name" and _root(token.text) in _KEYWORDS:
            raise ExpressionError(f"'{_root(token.text)}' is a keyword", token.pos + 1)
        elif token.kind == "name":
            is_call = self.peek().text == "(" and _NAME.fullmatch(token.text)
            node = self.call(token) if is_call else _Path(token.text)
        else:
            found = f"'{token.text}'" if token.kind != "end" else "end of expression"
            raise ExpressionError(f"unexpected {found}, expected a value", token.pos + 1)
        node = self.finish(node, token.pos)
        if self.peek().text == "(":
            raise ExpressionError("only functions can be called", self.peek().pos + 1)
        if self.peek().text == "[":
            message = "a list index is a whole number right after the name, as in gases[0]"
            raise ExpressionError(message, self.peek().pos + 1)
        return node

    def arguments(self, closing: str) -> list[_Node]:
        items: list[_Node] = []
        if self.peek().text != closing:
            items.append(self.nested())
            while self.peek().text == ",":
                self.advance()
                items.append(self.nested())
        self.expect(closing, f"',' or '{closing}'")
        return items

    def call(self, name: _Token) -> _Node:
        if name.text not in _ARITY:
            raise ExpressionError(f"unknown function '{name.text}'", name.pos + 1)
        self.functions.add(name.text)
        self.advance()  # "("
        first = self.peek()
        args = self.arguments(")")
        fewest, most = _ARITY[name.text]
        if not fewest <= len(args) <= (most or len(args)):
            wanted = f"{fewest} or more" if most is None else str(fewest)
            plural = "" if wanted == "1" else "s"
            message = f"{name.text}() takes {wanted} argument{plural}, got {len(args)}"
            raise ExpressionError(message, name.pos + 1)
        if name.text != "date":
            return _Call(name.text, args)
        # date('YYYY-MM-DD') is checked now, so a typo fails validation, not evaluation.
        literal = args[0].value if isinstance(args[0], _Literal) else None
        if not isinstance(literal, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", literal):
            raise ExpressionError("date() takes a quoted 'YYYY-MM-DD' string", first.pos + 1)
        parsed = values.parse_date(literal)
        if parsed is None:
            raise ExpressionError(f"date() got an impossible date {literal!r}", first.pos + 1)
        return _Literal(parsed)


# Public API -----------------------------------------------------------------------


class Expression:
    """A parsed expression: what it reads (for validation and tracing) and how to evaluate it."""

    def __init__(self, source: str, root: _Node, functions: frozenset[str]) -> None:
        self.source = source
        self._root = root
        self.functions = functions
        paths: set[str] = set()
        _collect_paths(root, paths, frozenset())
        self.paths = frozenset(paths)

    def evaluate(self, env: ExpressionEnv) -> Any:
        """The value; UNKNOWN when it cannot be computed; ABSENT or None for a bare absent fact."""
        return self._root.evaluate(env)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def _collect_paths(node: _Node, paths: set[str], bound: frozenset[str]) -> None:
    """Fact paths as written; ``item`` inside a count_if condition names the element, not a fact."""
    if isinstance(node, _Path) and node.root not in bound:
        paths.add(node.path)
    for index, child in enumerate(node.children):
        inner = index == 1 and isinstance(node, _Call) and node.name == "count_if"
        _collect_paths(child, paths, bound | {"item"} if inner else bound)


def parse(source: str) -> Expression:
    """Parse and check an expression, so policy validation reports errors with a column."""
    if not isinstance(source, str):
        # YAML turns an unquoted "70" or "true" into a number or a boolean.
        raise ExpressionError(f"an expression must be a string, got {describe(source)}", 1)
    if len(source) > _MAX_LENGTH:
        message = (
            f"an expression of more than {_MAX_LENGTH:,} characters; split it into several derived values"
        )
        raise ExpressionError(message, _MAX_LENGTH + 1)
    parser = _Parser(source)
    return Expression(source, parser.parse(), frozenset(parser.functions))
