"""YAML reading that remembers where each value was written.

Authors fix what they can find: every error names ``file:line``. PyYAML drops source
positions once it builds Python objects, so this module composes the node graph itself
and keeps the line of every mapping key and sequence item, keyed by its field path.
"""

from __future__ import annotations

from typing import Any

import yaml

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


# libyaml's composer when PyYAML was built with it: the same nodes and marks, many times faster.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain Python values and their source lines."""
    source = SourceMap()
    try:
        node = yaml.compose(text, Loader=_COMPOSER)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlSyntaxError(str(error.problem or error), line) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(str(error), 1) from None
    if node is None:
        return None, source
    constructor = yaml.SafeLoader("")
    return _build(node, (), source, constructor), source


def _build(node: yaml.Node, path: Path, source: SourceMap, constructor: Any) -> Any:
    source.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            if key in result:
                line, first = key_node.start_mark.line + 1, source.lines[child]
                raise YamlSyntaxError(f"duplicate key '{key}' (first written at line {first})", line, child)
            source.lines[child] = key_node.start_mark.line + 1
            result[key] = _build(value_node, child, source, constructor)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, index), source, constructor) for index, item in enumerate(node.value)]
    return constructor.construct_object(node, deep=True)
