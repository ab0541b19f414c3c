"""The decision log's search index: one row per decision line, written with its entry."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, Connection, column, delete, insert, select, table

from .models import DecisionLine, DecisionLinePolicy

_LINES = insert(DecisionLine)
_POLICIES = insert(DecisionLinePolicy)
# The log as the migration sees it: the columns the index is built from.
_LOG = table("decision_log", column("seq"), column("kind"), column("result", JSON))


def compact_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_instant(value: str | None) -> dt.datetime | None:
    """An ISO instant as recorded in a line (``...Z``), as an aware UTC datetime."""
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def policy_label(policy: str, version: int) -> str:
    return f"{policy}@{version}"


def index_rows(seq: int, result: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The line rows and line-policy rows of a first decision's recorded result."""
    lines, policies = [], []
    for line in result.get("lines", ()):
        governing = [p for p in line.get("policies", ()) if p.get("governs", True)]
        lines.append(
            {
                "seq": seq,
                "line": line["index"],
                "code": line["code"],
                "date_of_service": line.get("date_of_service"),
                "outcome": line["outcome"],
                "reason": line.get("reason"),
                "x12_action": line.get("x12_action"),
                "policies": " ".join(policy_label(p["policy"], p["version"]) for p in governing),
                "decided_by": compact_json(line.get("decided_by", [])),
                "authorization_number": line.get("authorization_number"),
                "due_by": parse_instant(line.get("due_by")),
            }
        )
        seen = set()
        for p in governing:
            if p["policy"] not in seen:
                seen.add(p["policy"])
                policies.append(
                    {
                        "seq": seq,
                        "line": line["index"],
                        "policy_id": p["policy"],
                        "policy_version": p["version"],
                    }
                )
    return lines, policies


def write_index(connection: Connection, seq: int, result: dict[str, Any]) -> None:
    """Index one first decision, inside the transaction that appends it."""
    lines, policies = index_rows(seq, result)
    if lines:
        connection.execute(_LINES, lines)
    if policies:
        connection.execute(_POLICIES, policies)


def rebuild(connection: Connection, batch: int = 2000, progress: Callable[[int], None] | None = None) -> int:
    """Index every first decision already in the log; returns how many were indexed."""
    connection.execute(delete(DecisionLinePolicy))
    connection.execute(delete(DecisionLine))
    query = select(_LOG.c.seq, _LOG.c.result).where(_LOG.c.kind == "decision").order_by(_LOG.c.seq)
    count, lines, policies = 0, [], []
    with connection.execute(query.execution_options(stream_results=True, yield_per=batch)) as result:
        for seq, recorded in result:
            more_lines, more_policies = index_rows(seq, recorded)
            lines += more_lines
            policies += more_policies
            count += 1
            if len(lines) >= batch:
                _flush(connection, lines, policies)
                lines, policies = [], []
                if progress:
                    progress(count)
    _flush(connection, lines, policies)
    return count


def _flush(connection: Connection, lines: list[dict[str, Any]], policies: list[dict[str, Any]]) -> None:
    if lines:
        connection.execute(_LINES, lines)
    if policies:
        connection.execute(_POLICIES, policies)
