"""Walking the decision log's hash chain in bounded memory, fast enough for millions of entries.

Entries are streamed (a server-side cursor on PostgreSQL) and nothing is kept but the
previous hash. JSON columns are read as stored text: the log stores canonical JSON, so
an entry's hash is recomputed from that text without parsing it. Text that does not
hash (an entry written before JSON was stored canonically, or one altered to equivalent
JSON) is parsed and hashed the slow way before anything is called altered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Text, cast, func, select

from .canonical import canonical_json, sha256_of, timestamp_text
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
_ORDER = sorted(HASHED)
_PREFIXES = [("{" if i == 0 else ",") + json.dumps(name) + ":" for i, name in enumerate(_ORDER)]
_ROWS = select(
    *[cast(getattr(LogEntry, n), Text).label(n) if n in _DOCUMENTS else getattr(LogEntry, n) for n in HASHED],
    LogEntry.entry_hash,
).order_by(LogEntry.seq)


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
    parts = []
    for prefix, name in zip(_PREFIXES, _ORDER, strict=True):
        value = row[name]
        if name in _DOCUMENTS:
            text = value
        elif name in _TIMES:
            text = '"' + timestamp_text(value) + '"'
        else:
            text = json.dumps(value, ensure_ascii=False)
        parts.append(prefix)
        parts.append(text)
    parts.append("}")
    return hashlib.sha256("".join(parts).encode()).hexdigest()


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
    anchor_seen = anchor is None
    with connection.execute(_ROWS.execution_options(stream_results=True, yield_per=batch)) as result:
        for row in result.mappings():
            count += 1
            problem = _check(row, expected_seq, previous)
            if problem:
                break
            if anchor and row["seq"] == anchor[0]:
                anchor_seen = True
                if row["entry_hash"] != anchor[1]:
                    problem = ChainProblem(row["seq"], row["entry_id"], "does not match the anchor kept")
                    break
            expected_seq, previous = row["seq"] + 1, row["entry_hash"]
            if progress and count % batch == 0:
                progress(batch)
    if progress:
        progress(count % batch)
    if problem is None and not anchor_seen:
        problem = ChainProblem(
            anchor[0], None, f"the anchored entry {anchor[0]} is gone: the log ends at {expected_seq - 1}"
        )
    return ChainReport(count, expected_seq - 1, previous, problem)


def _check(row: Mapping[str, Any], expected_seq: int, previous: str) -> ChainProblem | None:
    seq = row["seq"]
    if seq != expected_seq:
        missing = f"entry {expected_seq} is missing" if seq > expected_seq else f"entry {seq} appears twice"
        return ChainProblem(
            expected_seq, None, f"{missing}: the chain jumps from {expected_seq - 1} to {seq}"
        )
    if row["prev_hash"] != previous:
        return ChainProblem(
            seq,
            row["entry_id"],
            f"does not follow entry {seq - 1}: an entry before it was removed, replaced or reordered",
        )
    if stored_hash(row) != row["entry_hash"] and content_hash(row) != row["entry_hash"]:
        return ChainProblem(seq, row["entry_id"], "its content was altered: it no longer matches its hash")
    return None


__all__ = ["GENESIS", "HASHED", "ChainProblem", "ChainReport", "canonical_json", "log_length", "walk"]
