"""The append-only decision log and its hash chain.

Each entry's ``content_hash`` is the SHA-256 of its canonical content and its
``entry_hash`` is ``sha256(prev_hash ‖ content_hash)``, ``prev_hash`` being the previous
entry's hash; ``seq`` numbers the chain without gaps (``chain_hash`` has the details and
the older whole-entry scheme). Changing, removing, inserting or reordering an entry
breaks the chain at that entry. Removing the newest entries leaves a shorter valid
chain, which only an anchor kept outside the database reveals: ``verify`` reports the
head to keep and checks one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..errors import Conflict
from .canonical import canonical_json, sha256_of, utc
from .chain_check import ChainProblem, ChainReport, log_length, walk
from .chain_hash import CHAINED, CONTENT, DOCUMENTS, GENESIS, link_hash
from .chain_sql import walk_in_database
from .database import Database
from .decision_index import index_rows, write_index
from .models import ChainHead, LogEntry

__all__ = [
    "GENESIS",
    "ChainProblem",
    "ChainReport",
    "DecisionLog",
    "canonical_json",
    "sha256_of",
    "utc",
]

_STORED = (*CONTENT, "seq", "prev_hash", "entry_hash", "content_hash")
_RECORDED = select(*[getattr(LogEntry, name) for name in _STORED]).where(
    LogEntry.kind == "decision",
    LogEntry.organization == bindparam("organization"),
    LogEntry.request_id == bindparam("request_id"),
)
_LATEST = select(func.max(LogEntry.seq)).where(LogEntry.decision_id == bindparam("decision_id"))
_DUPLICATE_REQUEST = "uq_decision_request"

# PostgreSQL: one statement advances the head (its row lock serializes appenders until
# commit; the database links the new entry), inserts the entry and its index rows.
_LINE_TYPES = {"line": "integer", "policy_version": "integer", "due_by": "timestamptz"}
_LINE_FIELDS = (
    *("line", "code", "date_of_service", "outcome", "reason", "x12_action", "policies", "decided_by"),
    *("authorization_number", "due_by"),
)
_POLICY_FIELDS = ("line", "policy_id", "policy_version")


def _rows_of(name: str, fields: tuple[str, ...]) -> str:
    """The index rows passed as one JSON array (one parameter, not an array per column)."""
    columns = ", ".join(f"{f} {_LINE_TYPES.get(f, 'text')}" for f in fields)
    return f"json_to_recordset(CAST(:{name} AS json)) AS given({columns})"


def _rows_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=dt.datetime.isoformat)


_VALUES = ", ".join(
    f"CAST(:{name} AS json)" if name in DOCUMENTS else f":{name}" for name in (*CONTENT, "content_hash")
)
_APPEND = text(f"""
WITH head AS (
    UPDATE chain_head SET seq = seq + 1, prev_hash = entry_hash,
        entry_hash = encode(sha256(convert_to(entry_hash || :content_hash, 'UTF8')), 'hex')
    WHERE id = 1
    RETURNING seq, prev_hash, entry_hash
), entry AS (
    INSERT INTO decision_log (seq, prev_hash, entry_hash, {", ".join((*CONTENT, "content_hash"))})
    SELECT seq, prev_hash, entry_hash, {_VALUES} FROM head
    RETURNING seq
), lines AS (
    INSERT INTO decision_lines (seq, {", ".join(_LINE_FIELDS)})
    SELECT entry.seq, given.* FROM entry, {_rows_of("lines", _LINE_FIELDS)}
), line_policies AS (
    INSERT INTO decision_line_policies (seq, {", ".join(_POLICY_FIELDS)})
    SELECT entry.seq, given.* FROM entry, {_rows_of("line_policies", _POLICY_FIELDS)}
)
SELECT seq, prev_hash, entry_hash FROM head
""")

# SQLite (one writer at a time under BEGIN IMMEDIATE): the same steps, one statement each.
_HEAD = select(ChainHead.seq, ChainHead.entry_hash).where(ChainHead.id == 1)
_ADVANCE = update(ChainHead).where(ChainHead.id == 1)
_INSERT = insert(LogEntry)


def seal_content(entry: LogEntry) -> dict[str, Any]:
    """Stamp the entry and hash its content; returns its content columns as stored.

    All of this happens before the chain lock is taken: only the link to the previous
    entry is computed under it.
    """
    entry.recorded_at = clock.now()
    values = {n: canonical_json(getattr(entry, n)) if n in DOCUMENTS else getattr(entry, n) for n in CONTENT}
    entry.content_hash = values["content_hash"] = CHAINED.hash_of(values)
    return values


class DecisionLog:
    """Appends entries under the chain lock; reads cases; verifies the chain."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def append_decision(self, entry: LogEntry) -> tuple[LogEntry, bool]:
        """Record a first decision, or return the one already recorded for its request key.

        The request key is unique in the log, so of racing retries one is recorded and
        the others find it.
        """
        values = seal_content(entry)
        if self.database.is_sqlite:
            with self.database.appending() as connection:
                existing = self._recorded(connection, entry)
                if existing is not None:
                    return existing, False
                self._chain_sqlite(connection, entry, values)
            return entry, True
        try:
            with self.database.autocommit() as connection:
                self._chain_postgres(connection, entry, values)
        except IntegrityError as error:
            if getattr(getattr(error.orig, "diag", None), "constraint_name", None) != _DUPLICATE_REQUEST:
                raise
            with self.database.reading() as connection:
                existing = self._recorded(connection, entry)
            if existing is None:
                raise
            return existing, False
        return entry, True

    def append(self, entry: LogEntry, after: int | None = None) -> LogEntry:
        """Record a later entry about a case (a determination, an appeal).

        With ``after``, the seq of the case's latest entry its author read, the entry is
        recorded only if nothing was added to the case since; otherwise ``Conflict``.
        """
        values = seal_content(entry)
        with self.database.appending() as connection:
            if after is not None:
                latest = connection.execute(_LATEST, {"decision_id": entry.decision_id}).scalar()
                if latest != after:
                    raise Conflict(
                        "the case changed while this was being recorded; read it again",
                        {"_case": [f"its latest entry is now {latest}, not {after}"]},
                    )
            if self.database.is_sqlite:
                self._chain_sqlite(connection, entry, values)
            else:
                self._chain_postgres(connection, entry, values)
        return entry

    def find(self, organization: str | None, request_id: str) -> str | None:
        """The decision recorded for an organization's request key, if any."""
        with self.database.reading() as connection:
            row = connection.execute(
                _RECORDED, {"organization": organization, "request_id": request_id}
            ).first()
        return row.decision_id if row is not None else None

    def case(self, decision_id: str) -> list[LogEntry]:
        """The entries of one case, first decision first."""
        with self.database.session() as session:
            query = select(LogEntry).where(LogEntry.decision_id == decision_id).order_by(LogEntry.seq)
            return list(session.scalars(query))

    def entries(
        self, batch: int = 1000, period: tuple[dt.datetime, dt.datetime] | None = None
    ) -> Iterator[LogEntry]:
        """Every entry in chain order (or the first decisions recorded in a period), in batches."""
        query = select(LogEntry).order_by(LogEntry.seq).execution_options(yield_per=batch)
        if period is not None:
            query = query.where(
                LogEntry.kind == "decision",
                LogEntry.recorded_at >= period[0],
                LogEntry.recorded_at <= period[1],
            )
        with self.database.session() as session:
            result = session.scalars(query)
            try:
                for entry in result:
                    yield entry
                    session.expunge(entry)
            finally:
                result.close()

    def verify(
        self, anchor: tuple[int, str] | None = None, progress: Callable[[int], None] | None = None
    ) -> ChainReport:
        """Walk the chain; name the first entry that is missing, altered or out of place."""
        with self.database.reading() as connection:
            if self.database.is_sqlite:
                return walk(connection, anchor, progress)
            return walk_in_database(connection, self.database.reading, anchor, progress)

    def length(self) -> int:
        """The newest entry's position (0 for an empty log)."""
        with self.database.reading() as connection:
            return log_length(connection)

    @staticmethod
    def _recorded(connection: Connection, entry: LogEntry) -> LogEntry | None:
        if entry.request_id is None:
            return None
        found = connection.execute(
            _RECORDED, {"organization": entry.organization, "request_id": entry.request_id}
        ).first()
        return None if found is None else LogEntry(**found._asdict())

    @staticmethod
    def _chain_postgres(connection: Connection, entry: LogEntry, values: dict[str, Any]) -> None:
        lines, policies = index_rows(0, entry.result) if entry.kind == "decision" else ([], [])
        params = {**values, "lines": _rows_json(lines), "line_policies": _rows_json(policies)}
        head = connection.execute(_APPEND, params).first()
        if head is None:
            raise RuntimeError("the decision log has no chain_head row: run `policy-engine db upgrade`")
        entry.seq, entry.prev_hash, entry.entry_hash = head

    @staticmethod
    def _chain_sqlite(connection: Connection, entry: LogEntry, values: dict[str, Any]) -> None:
        head = connection.execute(_HEAD).one()
        entry.seq, entry.prev_hash = head.seq + 1, head.entry_hash
        entry.entry_hash = link_hash(entry.prev_hash, values["content_hash"])
        connection.execute(
            _ADVANCE, {"seq": entry.seq, "prev_hash": entry.prev_hash, "entry_hash": entry.entry_hash}
        )
        connection.execute(_INSERT, {name: getattr(entry, name) for name in _STORED})
        if entry.kind == "decision":
            write_index(connection, entry.seq, entry.result)
