"""Two versions' YAML aligned line by line, with the diff's classified changes placed on their lines."""

from __future__ import annotations

import difflib
from typing import Any, NamedTuple

from ..diff import PolicyDiff


class Row(NamedTuple):
    tag: str  # equal, replace, delete, insert
    old_no: int | None
    old: str
    new_no: int | None
    new: str
    effects: tuple[str, ...]  # the classified changes that stand on this row


def aligned(diff: PolicyDiff) -> list[Row]:
    """Rows of old and new source; a row carries the effect of each change whose node starts on it."""
    old_lines, new_lines = diff.old.source.splitlines(), diff.new.source.splitlines()
    old_marks, new_marks = _marks(diff)
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        for k in range(max(a1 - a0, b1 - b0)):
            i, j = a0 + k, b0 + k
            old_no = i + 1 if i < a1 else None
            new_no = j + 1 if j < b1 else None
            effects = tuple(dict.fromkeys([*old_marks.get(old_no, ()), *new_marks.get(new_no, ())]))
            row_tag = (
                tag
                if tag != "replace"
                else ("replace" if old_no and new_no else ("delete" if old_no else "insert"))
            )
            rows.append(
                Row(
                    row_tag,
                    old_no,
                    old_lines[i] if old_no else "",
                    new_no,
                    new_lines[j] if new_no else "",
                    effects,
                )
            )
    return rows


def _marks(diff: PolicyDiff) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    old_marks: dict[int, list[str]] = {}
    new_marks: dict[int, list[str]] = {}
    for change in diff.changes:
        node = diff.new.nodes.get(change.id)
        if node is not None and change.kind != "removed":
            new_marks.setdefault(node.line, []).append(change.effect)
            continue
        node = diff.old.nodes.get(change.id)
        if node is not None:
            old_marks.setdefault(node.line, []).append(change.effect)
    return old_marks, new_marks


def counts(diff: PolicyDiff) -> dict[str, Any]:
    return {**diff.counts(), "verdict": diff.verdict}
