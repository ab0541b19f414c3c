"""Walking the decision log's hash chain in bounded memory, fast enough for millions of entries.

Entries are streamed (a server-side cursor on PostgreSQL) and nothing is kept but the
previous hash. JSON columns are read as stored text: the log stores canonical JSON, so
an entry's hash is recomputed from that text without parsing it. Text that does not
hash (an entry written before JSON was stored canonically, or one altered to equivalent
JSON) is parsed and hashed the slow way before anything is called altered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import Connection, Text, cast, func, select

from .canonical import canonical_json, sha256_of, utc
from .models import LogEntry

GENESIS = "0" * 64
HASHED = (
    "seq",
    "entry_id",
    "decision_id",
    "kind",
    "organization",
    "request_id",
    "request_sha256",
    "member_id",
    "urgency",
    "status",
    "received_at",
    "recorded_at",
    "actor",
    "actor_role",
    "engine_version",
    "policies",
    "request",
    "result",
    "prev_hash",
)
_DOCUMENTS = ("policies", "request", "result")
_TIMES = ("received_at", "recorded_at")
_ORDER = tuple(sorted(HASHED))
# The canonical JSON of an entry, with a slot for each hashed column's text in key order.
_TEMPLATE = "{" + ",".join(json.dumps(name) + ":%s" for name in _ORDER) + "}"
_ROWS = select(
    *[cast(getattr(LogEntry, n), Text).label(n) if n in _DOCUMENTS else getattr(LogEntry, n) for n in _ORDER],
    LogEntry.entry_hash,
).order_by(LogEntry.seq)
_SEQ, _ID, _PREV = (_ORDER.index(n) for n in ("seq", "entry_id", "prev_hash"))
_HASH = len(_ORDER)


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    entry_id: str | None
    problem: str


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_seq: int
    head_hash: str
    problem: ChainProblem | None

    @property
    def intact(self) -> bool:
        return self.problem is None


def stored_hash(row: Mapping[str, Any]) -> str:
    """The hash of an entry as stored, taking its JSON columns' text to be canonical."""
    return row_hash([row[name] for name in _ORDER])


def row_hash(row: Sequence[Any]) -> str:
    """``stored_hash`` of a row holding the hashed columns in key order (``_ROWS``)."""
    text = _TEMPLATE % tuple([form(value) for form, value in zip(_FORMS, row, strict=False)])
    return hashlib.sha256(text.encode()).hexdigest()


def content_hash(row: Mapping[str, Any]) -> str:
    """The hash of an entry's content, whatever form its JSON text is in."""
    return sha256_of({n: json.loads(row[n]) if n in _DOCUMENTS else row[n] for n in HASHED})


def log_length(connection: Connection) -> int:
    return connection.execute(select(func.coalesce(func.max(LogEntry.seq), 0))).scalar_one()


def walk(
    connection: Connection,
    anchor: tuple[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = 2000,
) -> ChainReport:
    """Check every entry in chain order; stop at the first that is missing, altered or out of place."""
    expected_seq, previous, count, problem = 1, GENESIS, 0, None
    anchor_seq, anchor_hash = anchor if anchor else (None, None)
    with connection.execute(_ROWS.execution_options(stream_results=True, yield_per=batch)) as result:
        for row in result:
            count += 1
            if row[_SEQ] != expected_seq or row[_PREV] != previous or row_hash(row) != row[_HASH]:
                problem = _check(row, expected_seq, previous)
                if problem:
                    break
            if row[_SEQ] == anchor_seq and row[_HASH] != anchor_hash:
                problem = ChainProblem(row[_SEQ], row[_ID], "does not match the anchor kept")
                break
            expected_seq, previous = expected_seq + 1, row[_HASH]
            if progress and count % batch == 0:
                progress(batch)
    if progress:
        progress(count % batch)
    if problem is None and anchor_seq is not None and not 0 < anchor_seq < expected_seq:
        problem = ChainProblem(
            anchor_seq, None, f"the anchored entry {anchor_seq} is gone: the log ends at {expected_seq - 1}"
        )
    return ChainReport(count, expected_seq - 1, previous, problem)


def _check(row: Sequence[Any], expected_seq: int, previous: str) -> ChainProblem | None:
    seq = row[_SEQ]
    if seq != expected_seq:
        missing = f"entry {expected_seq} is missing" if seq > expected_seq else f"entry {seq} appears twice"
        return ChainProblem(
            expected_seq, None, f"{missing}: the chain jumps from {expected_seq - 1} to {seq}"
        )
    if row[_PREV] != previous:
        return ChainProblem(
            seq,
            row[_ID],
            f"does not follow entry {seq - 1}: an entry before it was removed, replaced or reordered",
        )
    stored = row[_HASH]
    if row_hash(row) != stored and content_hash(dict(zip(_ORDER, row[:_HASH], strict=True))) != stored:
        return ChainProblem(seq, row[_ID], "its content was altered: it no longer matches its hash")
    return None


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _document(value: str | None) -> str:
    return "null" if value is None else value


def _instant(value: dt.datetime) -> str:
    """``timestamp_text`` as JSON, for years from 1000 on (earlier ones fall back to the slow check)."""
    return '"' + utc(value).isoformat(timespec="microseconds")[:-6] + 'Z"'


# How each hashed column, in key order, is written in canonical JSON.
_FORMS: tuple[Callable[[Any], str], ...] = tuple(
    _document if n in _DOCUMENTS else _instant if n in _TIMES else str if n == "seq" else _text
    for n in _ORDER
)


__all__ = ["GENESIS", "HASHED", "ChainProblem", "ChainReport", "canonical_json", "log_length", "walk"]
