"""The chain walk done by PostgreSQL: it hashes each entry and links it to the one before it.

The canonical JSON of an entry is assembled in SQL from the stored columns exactly as
``chain_hash`` assembles it (``to_json`` escapes text as the canonical JSON does; JSON
columns are stored canonical and kept verbatim by the ``json`` type), so only the
entries whose hashes or links do not match, and the last of each chunk, leave the
database. A flagged entry is checked again here the slow way before it is called altered.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, Row, text

from .chain_check import ChainReport, ChainWalk, stored_row_matches
from .chain_hash import CHAINED, DOCUMENTS, TIMES, WHOLE, CanonicalForm

CHUNK = 50_000  # entries a query checks; progress is reported after each
JOBS = 2  # chunks checked at once, each by its own database connection


def _column(name: str) -> str:
    if name in DOCUMENTS:
        return f"coalesce(CAST({name} AS text), 'null')"
    if name in TIMES:
        return f"""'"' || to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '"'"""
    if name == "seq":
        return "CAST(seq AS text)"
    return f"coalesce(CAST(to_json({name}) AS text), 'null')"


def canonical_sql(form: CanonicalForm) -> str:
    """An SQL expression for ``form.text`` of a ``decision_log`` row.

    One ``concat`` rather than a chain of ``||``, each of which would copy the text built
    so far (the request and result documents among it) once more.
    """
    keys = [("{" if i == 0 else ",") + json.dumps(name) + ":" for i, name in enumerate(form.order)]
    pieces = ", ".join(f"'{key}', {_column(name)}" for key, name in zip(keys, form.order, strict=True))
    return f"concat({pieces}, '}}')"


def _sha256(expression: str) -> str:
    return f"encode(sha256(convert_to({expression}, 'UTF8')), 'hex')"


_HASHES_OK = f"""coalesce(CASE WHEN content_hash IS NULL THEN {_sha256(canonical_sql(WHOLE))} = entry_hash
    ELSE {_sha256(canonical_sql(CHAINED))} = content_hash
         AND {_sha256("prev_hash || content_hash")} = entry_hash END, false)"""

# One chunk: the entries with ``low <= seq <= high``, each hashed and linked to the one
# before it in the chunk; only those that fail, the first and the last come back. The
# hashes are computed below the window (``OFFSET 0`` keeps the planner from moving them
# up), so the rows the window buffers are narrow, not whole entries with their documents.
CHECK = text(f"""
SELECT seq, entry_id, prev_hash, entry_hash, before_seq, before_hash, ok, position FROM (
    SELECT seq, entry_id, prev_hash, entry_hash,
           lag(seq) OVER w AS before_seq, lag(entry_hash) OVER w AS before_hash,
           row_number() OVER w AS position, lead(seq) OVER w IS NULL AS last, ok
    FROM (
        SELECT seq, entry_id, prev_hash, entry_hash, {_HASHES_OK} AS ok
        FROM decision_log WHERE seq BETWEEN :low AND :high OFFSET 0
    ) AS hashed
    WINDOW w AS (ORDER BY seq)
) AS checked
WHERE NOT ok OR before_seq IS NULL OR seq <> before_seq + 1 OR prev_hash <> before_hash
    OR last OR seq = :anchor
ORDER BY seq
""")

Reader = Callable[[str], AbstractContextManager[Connection]]


def walk_in_database(
    connection: Connection,
    reader: Reader,
    anchor: tuple[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
    chunk: int | None = None,
    jobs: int = JOBS,
) -> ChainReport:
    """``chain_check.walk`` with the hashing and linking done by the database.

    The log is cut into chunks of ``chunk`` positions, checked ``jobs`` at a time on
    connections ``reader(snapshot)`` opens in the snapshot of ``connection``, so every
    chunk sees the log as it was when the walk began, and hashing uses every core the
    database has. The chunks' answers are then walked in order, as one chain.
    """
    chunk = chunk or CHUNK
    snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
    first, last = connection.execute(text("SELECT min(seq), max(seq) FROM decision_log")).one()
    chain = ChainWalk(anchor)
    if last is None:
        return chain.report()
    params = {"anchor": chain.anchor_seq or -1}
    ranges = [(low, min(low + chunk - 1, last)) for low in range(min(first, 1), last + 1, chunk)]

    def check(bounds: tuple[int, int]) -> list[Row[Any]]:
        with reader(snapshot) as own:
            return list(own.execute(CHECK, {**params, "low": bounds[0], "high": bounds[1]}).all())

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        pending = deque(pool.submit(check, bounds) for bounds in ranges[:jobs])
        following = iter(ranges[jobs:])
        while pending:
            rows = pending.popleft().result()
            if not _walk_chunk(chain, connection, rows):
                for future in pending:
                    future.cancel()
                break
            bounds = next(following, None)
            if bounds is not None:
                pending.append(pool.submit(check, bounds))
            if progress and rows:
                progress(rows[-1].position)
    return chain.report()


def _walk_chunk(chain: ChainWalk, connection: Connection, rows: list[Row[Any]]) -> bool:
    """Step the walk through one chunk's answer; False at the first problem."""
    for row in rows:
        if row.before_seq is not None:  # linked to the entry before it in this chunk
            chain.expected_seq, chain.previous = row.before_seq + 1, row.before_hash
        seq = row.seq
        if not chain.step(
            seq,
            row.entry_id,
            row.prev_hash,
            row.entry_hash,
            lambda ok=row.ok, seq=seq: ok or stored_row_matches(connection, seq),
        ):
            chain.count += row.position
            return False
    chain.count += rows[-1].position if rows else 0
    return True
