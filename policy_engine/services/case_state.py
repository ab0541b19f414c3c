"""A case's current state, derived from its log entries, since the log is never updated.

Each later entry changes some lines: a determination decides one, information re-runs
the engine on those waiting for it, an extension moves due dates, an appeal reopens
adverse lines. The request's status follows from the lines as for a first decision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..storage.decision_log import utc
from ..storage.models import LogEntry

ADVERSE = ("denied", "partially_approved", "modified")
X12_ACTION = {"approved": "A1", "partially_approved": "A2", "modified": "A6", "denied": "A3", "pended": "A4"}
# What a line carries only while in one state; a new state starts without them.
_STATEFUL = (
    "due_by",
    "authorization_number",
    "valid_from",
    "valid_to",
    "quantity_approved",
    "rationale",
    "criteria",
    "modification",
    "physician",
    "on_appeal",
    "determined_by",
    "determined_at",
    "appeal",
)


def current_lines(entries: list[LogEntry]) -> list[dict[str, Any]]:
    """Every line as it stands after all of the case's entries."""
    lines = [dict(line) for line in entries[0].result["lines"]]
    for entry in entries[1:]:
        change = _CHANGES.get(entry.kind)
        if change is not None:
            change(lines, entry)
    return lines


def request_status(lines: list[dict[str, Any]]) -> str:
    """Pended if any line is; else the outcome all lines share; else partial."""
    outcomes = {line["outcome"] for line in lines}
    if "pended" in outcomes:
        return "pended"
    return outcomes.pop() if len(outcomes) == 1 else "partial"


def latest_request(entries: list[LogEntry]) -> dict[str, Any]:
    """The request as last evaluated: the original, or the one information last completed."""
    for entry in reversed(entries):
        if entry.kind in ("decision", "information"):
            return entry.request
    raise ValueError("a case starts with a decision")


def _fresh(line: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in line.items() if name not in _STATEFUL}


def _determination(lines: list[dict[str, Any]], entry: LogEntry) -> None:
    result = dict(entry.result)
    index = result.pop("line")
    lines[index] = {
        **_fresh(lines[index]),
        **result,
        "determined_by": entry.actor,
        "determined_at": _iso(entry),
    }


def _information(lines: list[dict[str, Any]], entry: LogEntry) -> None:
    for line in entry.result["lines"]:
        lines[line["index"]] = dict(line)


def _extension(lines: list[dict[str, Any]], entry: LogEntry) -> None:
    for index, due in entry.result["due_by"].items():
        lines[int(index)] = {**lines[int(index)], "due_by": due, "extended": True}


def _appeal(lines: list[dict[str, Any]], entry: LogEntry) -> None:
    for index in entry.result["lines"]:
        before = lines[index]
        lines[index] = {
            **_fresh(before),
            "outcome": "pended",
            "reason": "appeal",
            "x12_action": X12_ACTION["pended"],
            "due_by": entry.result["due_by"],
            "appeal": {
                "appeal_id": entry.entry_id,
                "reason": entry.result["reason"],
                "outcome": before["outcome"],
                "determined_by": before.get("determined_by"),
            },
        }


def _iso(entry: LogEntry) -> str | None:
    if entry.recorded_at is None:
        return None
    return utc(entry.recorded_at).isoformat().replace("+00:00", "Z")


_CHANGES: dict[str, Callable[[list[dict[str, Any]], LogEntry], None]] = {
    "determination": _determination,
    "information": _information,
    "extension": _extension,
    "appeal": _appeal,
}
