"""The append-only decision log and its hash chain.

Each entry's ``entry_hash`` is the SHA-256 of its canonical content including
``prev_hash``, the previous entry's hash; ``seq`` numbers the chain without gaps.
Changing, removing, inserting or reordering an entry breaks the chain at that entry.
Removing the newest entries leaves a shorter valid chain, which only an anchor kept
outside the database reveals: ``verify`` reports the head to keep and checks one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from sqlalchemy import Connection, bindparam, func, insert, select

from .. import clock
from ..errors import Conflict
from .canonical import canonical_json, sha256_of, utc
from .chain_check import GENESIS, HASHED, ChainProblem, ChainReport, log_length, walk
from .database import Database
from .decision_index import write_index
from .models import LogEntry

__all__ = [
    "GENESIS",
    "ChainProblem",
    "ChainReport",
    "DecisionLog",
    "canonical_json",
    "entry_hash",
    "sha256_of",
    "utc",
]

_HASHED = HASHED


# The append path's statements, built once: it runs under the chain lock, so every
# microsecond spent there is spent by every writer.
_HEAD = select(LogEntry.seq, LogEntry.entry_hash).order_by(LogEntry.seq.desc()).limit(1)
_RECORDED = select(*[getattr(LogEntry, name) for name in (*_HASHED, "entry_hash")]).where(
    LogEntry.kind == "decision",
    LogEntry.organization == bindparam("organization"),
    LogEntry.request_id == bindparam("request_id"),
)
_INSERT = insert(LogEntry)
_LATEST = select(func.max(LogEntry.seq)).where(LogEntry.decision_id == bindparam("decision_id"))


def entry_hash(entry: LogEntry) -> str:
    return sha256_of({name: getattr(entry, name) for name in _HASHED})


class DecisionLog:
    """Appends entries under the chain lock; reads cases; verifies the chain."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def append_decision(self, entry: LogEntry) -> tuple[LogEntry, bool]:
        """Record a first decision, or return the one already recorded for its request key.

        The lookup happens under the append lock, so racing retries of one request
        record exactly one decision.
        """
        with self.database.appending() as connection:
            if entry.request_id is not None:
                existing = connection.execute(
                    _RECORDED, {"organization": entry.organization, "request_id": entry.request_id}
                ).first()
                if existing is not None:
                    return LogEntry(**existing._asdict()), False
            self._chain(connection, entry)
        return entry, True

    def append(self, entry: LogEntry, after: int | None = None) -> LogEntry:
        """Record a later entry about a case (a determination, an appeal).

        With ``after``, the seq of the case's latest entry its author read, the entry is
        recorded only if nothing was added to the case since; otherwise ``Conflict``.
        """
        with self.database.appending() as connection:
            if after is not None:
                latest = connection.execute(_LATEST, {"decision_id": entry.decision_id}).scalar()
                if latest != after:
                    raise Conflict(
                        "the case changed while this was being recorded; read it again",
                        {"_case": [f"its latest entry is now {latest}, not {after}"]},
                    )
            self._chain(connection, entry)
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
            return walk(connection, anchor, progress)

    def length(self) -> int:
        """The newest entry's position (0 for an empty log)."""
        with self.database.reading() as connection:
            return log_length(connection)

    @staticmethod
    def _chain(connection: Connection, entry: LogEntry) -> None:
        head = connection.execute(_HEAD).first()
        entry.seq = head.seq + 1 if head else 1
        entry.prev_hash = head.entry_hash if head else GENESIS
        entry.recorded_at = clock.now()
        entry.entry_hash = entry_hash(entry)
        connection.execute(_INSERT, {name: getattr(entry, name) for name in (*_HASHED, "entry_hash")})
        if entry.kind == "decision":
            write_index(connection, entry.seq, entry.result)
