"""YAML reading that remembers where each value was written.

Authors fix what they can find: every error names ``file:line``. PyYAML drops source
positions once it builds Python objects, so this module composes the node graph itself
and keeps the line of every mapping key and sequence item, keyed by its field path.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from typing import Any, NamedTuple

import yaml

from .limits import PolicyLimits

Path = tuple[str | int, ...]


class YamlSyntaxError(ValueError):
    """The text is not YAML, or repeats a key; carries the 1-based line (and the key's path)."""

    def __init__(self, message: str, line: int, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.field = format_path(path)


class SourceMap:
    """Lines of the values of one YAML document, by field path."""

    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}

    def line_of(self, path: Path) -> int:
        """Line of the path, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def line_of_field(self, field: str) -> int:
        """Line of a formatted field path such as ``criteria.all[1].gte``."""
        if not hasattr(self, "_by_field"):
            self._by_field = {format_path(path): line for path, line in self.lines.items()}
        while field:
            if field in self._by_field:
                return self._by_field[field]
            field = field[: max(field.rfind("."), field.rfind("["), 0)]
        return self.lines.get((), 1)


def format_path(path: Path) -> str:
    """``('criteria', 'all', 1, 'gte')`` → ``criteria.all[1].gte``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# libyaml's parser when PyYAML was built with it: the same events and marks, many times faster.
_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STANDARD = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_STANDARD + name for name in ("str", "int", "float", "bool", "null", "timestamp"))
_COLLECTION_TAGS = frozenset((None, "!", _STANDARD + "map", _STANDARD + "seq"))


def _shown(tag: str) -> str:
    """A tag as authors write it: ``!!python/object``, not ``tag:yaml.org,2002:python/object``."""
    return "!!" + tag[len(_STANDARD) :] if tag.startswith(_STANDARD) else tag


class YamlRefused(YamlSyntaxError):
    """Well-formed YAML this reader will not build: too large, too deep, or a refused feature."""


def load(text: str, limits: PolicyLimits | None = None) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain Python values and their source lines."""
    limits = limits or PolicyLimits()
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise YamlRefused(f"the file has {size:,} bytes; the limit is {limits.max_bytes:,}", 1)
    try:
        return _Builder(_PARSER(text), limits).document()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        # libyaml marks the end of the text one line past an unterminated last line
        line = min(mark.line + 1, text.count("\n") + 1) if mark else 1
        raise YamlSyntaxError(str(error.problem or error), line) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(str(error), 1) from None


class _Anchor(NamedTuple):
    value: Any
    lines: list[tuple[Path, int]]  # lines of the value's parts, relative to it
    size: int  # nodes it counts for where an alias repeats it
    depth: int  # how deep it nests


class _Open:
    """A mapping or list being built: where it is, and what is known so far."""

    __slots__ = ("anchor", "depth", "key", "logged", "path", "size", "value")

    def __init__(self, value: Any, path: Path, anchor: str | None, logged: int, size: int) -> None:
        self.value, self.path, self.anchor = value, path, anchor
        self.logged, self.size = logged, size  # its own entry in the line log; the node count before it
        self.key: str | None = None  # the key whose value comes next, in a mapping
        self.depth = 0  # deepest nesting below it


class _Builder:
    """Builds values from the parser's events with an explicit stack: no recursion, so no
    depth of nesting can exhaust Python's stack, and every limit is checked as it is met."""

    def __init__(self, parser: Any, limits: PolicyLimits) -> None:
        self.parser, self.limits = parser, limits
        self.source = SourceMap()
        self.log: list[tuple[Path, int]] = []  # (path, line) in the order lines were recorded
        self.anchors: dict[str, _Anchor] = {}
        self.open_anchors: set[str] = set()
        self.stack: list[_Open] = []
        self.nodes = 0
        self.constructor = yaml.SafeLoader("")

    def document(self) -> tuple[Any, SourceMap]:
        parser = self.parser
        parser.get_event()  # stream start
        if parser.check_event(yaml.StreamEndEvent):
            return None, self.source
        parser.get_event()  # document start
        value = self.value()
        parser.get_event()  # document end
        if not parser.check_event(yaml.StreamEndEvent):
            line = parser.peek_event().start_mark.line + 1
            raise YamlRefused("a policy file holds one YAML document; a second starts here ('---')", line)
        return value, self.source

    def value(self) -> Any:
        """The next complete value: a scalar, an alias, or a whole mapping or list."""
        result: Any = None
        while True:
            event = self.parser.get_event()
            line = event.start_mark.line + 1
            parent = self.stack[-1] if self.stack else None
            if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                done = self.stack.pop()
                result = self._close(done)
            elif parent is not None and isinstance(parent.value, dict) and parent.key is None:
                self._key(parent, event, line)
                continue
            elif isinstance(event, yaml.AliasEvent):
                result = self._alias(event, parent, line)
            elif isinstance(event, yaml.ScalarEvent):
                self._count(1, line)
                result = self._scalar(event, line, self._path(parent))
                self._record(self._path(parent), line)
                self._anchor(event.anchor, result, len(self.log) - 1, 1, 0)
            else:
                self._start(event, parent, line)
                continue
            if not self.stack:
                return result
            self._place(self.stack[-1], result)

    def _start(self, event: Any, parent: _Open | None, line: int) -> None:
        if event.tag not in _COLLECTION_TAGS:
            raise YamlRefused(f"the YAML tag '{_shown(event.tag)}' is not allowed", line, self._path(parent))
        if len(self.stack) >= self.limits.max_depth:
            message = f"values nest more than {self.limits.max_depth} levels deep"
            raise YamlRefused(message, line, self._path(parent))
        self._count(1, line)
        path = self._path(parent)
        self._record(path, line)
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        value: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
        self.stack.append(_Open(value, path, event.anchor, len(self.log) - 1, self.nodes - 1))

    def _close(self, done: _Open) -> Any:
        if self.stack:
            self.stack[-1].depth = max(self.stack[-1].depth, done.depth + 1)
        if done.anchor is not None:
            self.open_anchors.discard(done.anchor)
            self._anchor(done.anchor, done.value, done.logged, self.nodes - done.size, done.depth + 1)
        return done.value

    def _key(self, parent: _Open, event: Any, line: int) -> None:
        if not isinstance(event, yaml.ScalarEvent):
            raise YamlRefused(
                "a mapping key must be a plain value, not a list, a mapping or an alias", line, parent.path
            )
        key = self._scalar(event, line, parent.path, merge_key=True)
        key = key if isinstance(key, str) else str(key)
        child = (*parent.path, key)
        if key in parent.value:
            first = self.source.lines[child]
            raise YamlSyntaxError(f"duplicate key '{key}' (first written at line {first})", line, child)
        parent.key = key
        self._record(child, line, replace=True)

    def _place(self, parent: _Open, value: Any) -> None:
        if isinstance(parent.value, list):
            parent.value.append(value)
        else:
            parent.value[parent.key] = value
            parent.key = None

    def _path(self, parent: _Open | None) -> Path:
        if parent is None:
            return ()
        if isinstance(parent.value, list):
            return (*parent.path, len(parent.value))
        return (*parent.path, parent.key)

    def _alias(self, event: Any, parent: _Open | None, line: int) -> Any:
        path = self._path(parent)
        if event.anchor in self.open_anchors:
            raise YamlRefused(f"the alias '*{event.anchor}' refers to a value that contains it", line, path)
        anchor = self.anchors.get(event.anchor)
        if anchor is None:
            raise YamlRefused(f"the alias '*{event.anchor}' names no anchor written before it", line, path)
        if len(self.stack) + anchor.depth > self.limits.max_depth:
            deep = self.limits.max_depth
            message = f"values nest more than {deep} levels deep (through the alias '*{event.anchor}')"
            raise YamlRefused(message, line, path)
        self._count(anchor.size, line, f" (the alias '*{event.anchor}' repeats {anchor.size:,})")
        if self.stack:
            self.stack[-1].depth = max(self.stack[-1].depth, anchor.depth)
        self._record(path, line)
        for relative, at in anchor.lines[1:]:
            self._record((*path, *relative), at)
        return copy.deepcopy(anchor.value)

    def _anchor(self, name: str | None, value: Any, logged: int, size: int, depth: int) -> None:
        if name is not None:
            base = len(self.log[logged][0])
            lines = [(path[base:], at) for path, at in self.log[logged:]]
            self.anchors[name] = _Anchor(value, lines, size, depth)

    def _count(self, nodes: int, line: int, why: str = "") -> None:
        self.nodes += nodes
        if self.nodes > self.limits.max_nodes:
            message = f"the file holds more than {self.limits.max_nodes:,} values{why}"
            raise YamlRefused(message, line, self._path(self.stack[-1] if self.stack else None))

    def _record(self, path: Path, line: int, replace: bool = False) -> None:
        if replace or path not in self.source.lines:
            self.source.lines[path] = line
            self.log.append((path, line))

    def _scalar(self, event: Any, line: int, path: Path, merge_key: bool = False) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.parser.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _STANDARD + "merge" and merge_key:
            raise YamlRefused("merge keys ('<<') are not supported: write the fields out", line, path)
        if tag not in _SCALAR_TAGS:
            raise YamlRefused(
                f"the YAML tag '{_shown(tag)}' is not allowed; quote the value if it is text", line, path
            )
        if tag == _STANDARD + "int" and sum(char.isdigit() for char in event.value) > self.limits.max_digits:
            raise YamlRefused(f"a number of more than {self.limits.max_digits} digits", line, path)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            value = self.constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as error:
            raise YamlRefused(
                f"cannot read {event.value[:40]!r} as {tag[len(_STANDARD) :]}: {error}", line, path
            ) from None
        if isinstance(value, dt.date):
            # As a JSON client would send it: a date where text is expected must stay text
            # (``cite: 2020-01-01``), and the schema checks the fields that take dates.
            return value.isoformat() if type(value) is dt.date else event.value
        if isinstance(value, str) and "\x00" in value:  # PostgreSQL text cannot hold it
            raise YamlRefused("a text may not contain the NUL character ('\\0')", line, path)
        if isinstance(value, float) and not math.isfinite(value):
            raise YamlRefused(f"{event.value[:40]!r} is not a finite number", line, path)
        return value
