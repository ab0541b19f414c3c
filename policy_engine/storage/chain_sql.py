"""The chain walk done by PostgreSQL: it hashes each entry and links it to the one before it.

The canonical JSON of an entry is assembled in SQL from the stored columns exactly as
``chain_hash`` assembles it (``to_json`` escapes text as the canonical JSON does; JSON
columns are stored canonical and kept verbatim by the ``json`` type), so only the
entries whose hashes or links do not match, and the last of each chunk, leave the
database. A flagged entry is checked again here the slow way before it is called altered.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import Connection, text

from .chain_check import ChainReport, ChainWalk, stored_row_matches
from .chain_hash import CHAINED, DOCUMENTS, TIMES, WHOLE, CanonicalForm

CHUNK = 50_000  # entries a query checks; progress is reported after each


def _column(name: str) -> str:
    if name in DOCUMENTS:
        return f"coalesce(CAST({name} AS text), 'null')"
    if name in TIMES:
        return f"""'"' || to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '"'"""
    if name == "seq":
        return "CAST(seq AS text)"
    return f"coalesce(CAST(to_json({name}) AS text), 'null')"


def canonical_sql(form: CanonicalForm) -> str:
    """An SQL expression for ``form.text`` of a ``decision_log`` row."""
    parts = [("{" if i == 0 else ",") + json.dumps(name) + ":" for i, name in enumerate(form.order)]
    pieces = " || ".join(f"'{part}' || {_column(name)}" for part, name in zip(parts, form.order, strict=True))
    return f"{pieces} || '}}'"


def _sha256(expression: str) -> str:
    return f"encode(sha256(convert_to({expression}, 'UTF8')), 'hex')"


_HASHES_OK = f"""coalesce(CASE WHEN content_hash IS NULL THEN {_sha256(canonical_sql(WHOLE))} = entry_hash
    ELSE {_sha256(canonical_sql(CHAINED))} = content_hash
         AND {_sha256("prev_hash || content_hash")} = entry_hash END, false)"""

CHECK = text(f"""
SELECT seq, entry_id, prev_hash, entry_hash, before_seq, before_hash, ok, position FROM (
    SELECT seq, entry_id, prev_hash, entry_hash,
           lag(seq) OVER w AS before_seq, lag(entry_hash) OVER w AS before_hash,
           row_number() OVER w AS position, lead(seq) OVER w IS NULL AS last,
           {_HASHES_OK} AS ok
    FROM (SELECT * FROM decision_log WHERE seq > :after ORDER BY seq LIMIT :chunk) AS chunk
    WINDOW w AS (ORDER BY seq)
) AS checked
WHERE NOT ok OR before_seq IS NULL OR seq <> before_seq + 1 OR prev_hash <> before_hash
    OR last OR seq = :anchor
ORDER BY seq
""")


def walk_in_database(
    connection: Connection,
    anchor: tuple[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
) -> ChainReport:
    """``chain_check.walk`` with the hashing and linking done by the database, a chunk at a time."""
    chain = ChainWalk(anchor)
    after = 0
    while True:
        rows = connection.execute(
            CHECK, {"after": after, "chunk": chunk, "anchor": chain.anchor_seq or -1}
        ).all()
        if not rows:
            break
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
                return chain.report()
        checked = rows[-1].position
        chain.count += checked
        after = rows[-1].seq
        if progress:
            progress(checked)
        if checked < chunk:
            break
    return chain.report()
