"""Exports formatted by PostgreSQL: each CSV row or NDJSON line is built as text in SQL.

The text is exactly what ``services.decision_export`` writes on the portable path:
fields quoted as Python's ``csv`` module quotes them (only when they hold a comma, a
quote or a line break), rows ended by CRLF; JSON strings escaped by ``to_json`` as the
canonical JSON escapes them; instants as ``iso`` writes them. Rows are read through a
server-side cursor a batch at a time, so memory stays flat however many are exported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, literal_column, select

from .decision_query import DecisionFilter, conditions
from .models import DecisionLine, LogEntry

_LOG = LogEntry.__table__
_LINES = DecisionLine.__table__
BATCH = 5_000


def _instant(column: str) -> str:
    """``iso()``: UTC, microseconds only when there are any, then ``Z`` (one ``to_char``)."""
    stamp = f"""to_char(({column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    return f"replace({stamp}, '.000000Z', 'Z')"


def _csv(column: str) -> str:
    """A field quoted only when it holds a quote, a comma or a line break: four ``strpos``
    cost far less than a regular expression, evaluated for every field of every row."""
    text = f"CAST({column} AS text)"
    special = " + ".join(f"strpos({text}, {char})" for char in ("'\"'", "','", "E'\\r'", "E'\\n'"))
    quoted = f"""'"' || replace({text}, '"', '""') || '"'"""
    return f"CASE WHEN {special} > 0 THEN {quoted} ELSE coalesce({text}, '') END"


def _json(column: str) -> str:
    return f"coalesce(CAST(to_json({column}) AS text), 'null')"


_CSV_FIELDS = (
    "CAST(decision_log.seq AS text)",
    *(_csv(f"decision_log.{n}") for n in ("decision_id", "request_id")),
    _instant("decision_log.recorded_at"),
    _instant("decision_log.received_at"),
    *(_csv(f"decision_log.{n}") for n in ("member_id", "organization", "actor", "urgency", "status")),
    *(_csv(f"decision_log.{n}") for n in ("engine_version", "entry_hash")),
    "CAST(decision_lines.line AS text)",
    *(_csv(f"decision_lines.{n}") for n in ("code", "date_of_service", "outcome", "reason", "x12_action")),
    *(_csv(f"decision_lines.{n}") for n in ("policies", "decided_by", "authorization_number")),
    f"CASE WHEN decision_lines.due_by IS NULL THEN '' ELSE {_instant('decision_lines.due_by')} END",
)
CSV_ROW = " || ',' || ".join(_CSV_FIELDS) + " || E'\\r\\n'"


def _pairs(table: str, names: tuple[str, ...], first: bool = False) -> str:
    return " || ".join(
        f"""'{"" if first and i == 0 else ","}"{name}":' || {_json(f"{table}.{name}")}"""
        for i, name in enumerate(names)
    )


# The labels ``id@version id@version`` as ``{"policy":"id","version":version},...`` by two
# replacements: a policy id is a lower-case slug and a version a whole number (the schema
# says so), so neither needs escaping and neither holds ``@`` or a space.
_POLICIES = (
    """CASE WHEN coalesce(decision_lines.policies, '') = '' THEN '' ELSE '{"policy":"' || """
    """replace(replace(decision_lines.policies, '@', '","version":'), ' ', '},{"policy":"') || '}' END"""
)
NDJSON_DECISION = (
    """'{"seq":' || CAST(decision_log.seq AS text) || """
    + _pairs("decision_log", ("decision_id", "request_id"))
    + """ || ',"recorded_at":"' || """
    + _instant("decision_log.recorded_at")
    + """ || '","received_at":"' || """
    + _instant("decision_log.received_at")
    + """ || '"' || """
    + _pairs("decision_log", ("member_id", "organization", "urgency", "status", "engine_version"))
    + " || "
    + _pairs("decision_log", ("entry_hash",))
    + """ || ',"submitted_by":' || """
    + _json("decision_log.actor")
    + """ || ',"lines":['"""
)
NDJSON_LINE = (
    """'{"index":' || CAST(decision_lines.line AS text) || """
    + _pairs("decision_lines", ("code", "date_of_service", "outcome", "reason", "x12_action"))
    + """ || ',"policies":[' || """
    + _POLICIES
    + """ || '],"decided_by":' || decision_lines.decided_by || """
    + _pairs("decision_lines", ("authorization_number",))
    + """ || ',"due_by":' || CASE WHEN decision_lines.due_by IS NULL THEN 'null' ELSE '"' || """
    + _instant("decision_lines.due_by")
    + """ || '"' END || '}'"""
)


def _query(f: DecisionFilter, fmt: str) -> Any:
    texts = [CSV_ROW] if fmt == "csv" else [NDJSON_DECISION, NDJSON_LINE]
    return (
        select(_LOG.c.seq, *[literal_column(t) for t in texts])
        .join_from(_LOG, _LINES, _LINES.c.seq == _LOG.c.seq)
        .where(*conditions(f))
        .order_by(_LOG.c.seq, _LINES.c.line)
    )


def formatted(
    connection: Connection, f: DecisionFilter, fmt: str, batch: int | None = None
) -> Iterator[tuple[str, int, int, list[int]]]:
    """The export's body a batch at a time: ``(text, decisions begun, lines, their positions)``.

    An NDJSON decision's closing ``]}`` is written when the next one begins, or by the caller
    at the end (``close_ndjson``).
    """
    batch = batch or BATCH
    compiled = _query(f, fmt).compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    raw = connection.connection.driver_connection
    last = None
    with raw.cursor(name="decision_export") as cursor:
        cursor.itersize = batch
        cursor.execute(str(compiled), compiled.params)
        while rows := cursor.fetchmany(batch):
            parts: list[str] = []
            begun: list[int] = []
            if fmt == "csv":
                for seq, row in rows:
                    if seq != last:
                        last = seq
                        begun.append(seq)
                    parts.append(row)
            else:
                for seq, head, line in rows:
                    if seq != last:
                        parts.append(head if last is None else "]}\n" + head)
                        last = seq
                        begun.append(seq)
                    else:
                        parts.append(",")
                    parts.append(line)
            yield "".join(parts), len(begun), len(rows), begun
