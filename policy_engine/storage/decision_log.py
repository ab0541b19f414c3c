"""The append-only decision log and its hash chain.

Each entry's ``entry_hash`` is the SHA-256 of its canonical content including
``prev_hash``, the previous entry's hash; ``seq`` numbers the chain without gaps.
Changing, removing, inserting or reordering an entry breaks the chain at that entry.
Removing the newest entries leaves a shorter valid chain, which only an anchor kept
outside the database reveals: ``verify`` reports the head to keep and checks one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select

from .. import clock
from ..errors import Conflict
from .database import Database
from .models import LogEntry

GENESIS = "0" * 64
_HASHED = (
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


def canonical_json(value: Any) -> str:
    """The one serialization that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_timestamp)


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def entry_hash(entry: LogEntry) -> str:
    return sha256_of({name: getattr(entry, name) for name in _HASHED})


def utc(moment: dt.datetime) -> dt.datetime:
    """Timestamps as stored: SQLite hands them back naive, in UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _timestamp(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    raise TypeError(f"cannot hash {type(value).__name__}")


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

    def verify(self, anchor: tuple[int, str] | None = None) -> ChainReport:
        """Walk the chain; name the first entry that is missing, altered or out of place."""
        expected_seq, previous, count, problem = 1, GENESIS, 0, None
        anchor_seen = anchor is None
        entries = self.entries()
        for entry in entries:
            count += 1
            problem = _check(entry, expected_seq, previous)
            if problem:
                break
            if anchor and entry.seq == anchor[0]:
                anchor_seen = True
                if entry.entry_hash != anchor[1]:
                    problem = ChainProblem(entry.seq, entry.entry_id, "does not match the anchor kept")
                    break
            expected_seq, previous = entry.seq + 1, entry.entry_hash
        entries.close()
        if problem is None and not anchor_seen:
            problem = ChainProblem(
                anchor[0], None, f"the anchored entry {anchor[0]} is gone: the log ends at {expected_seq - 1}"
            )
        return ChainReport(count, expected_seq - 1, previous, problem)

    @staticmethod
    def _chain(connection: Connection, entry: LogEntry) -> None:
        head = connection.execute(_HEAD).first()
        entry.seq = head.seq + 1 if head else 1
        entry.prev_hash = head.entry_hash if head else GENESIS
        entry.recorded_at = clock.now()
        entry.entry_hash = entry_hash(entry)
        connection.execute(_INSERT, {name: getattr(entry, name) for name in (*_HASHED, "entry_hash")})


def _check(entry: LogEntry, expected_seq: int, previous: str) -> ChainProblem | None:
    if entry.seq != expected_seq:
        missing = (
            f"entry {expected_seq} is missing"
            if entry.seq > expected_seq
            else f"entry {entry.seq} appears twice"
        )
        return ChainProblem(
            expected_seq, None, f"{missing}: the chain jumps from {expected_seq - 1} to {entry.seq}"
        )
    if entry.prev_hash != previous:
        return ChainProblem(
            entry.seq,
            entry.entry_id,
            f"does not follow entry {entry.seq - 1}: an entry before it was removed, replaced or reordered",
        )
    if entry.entry_hash != entry_hash(entry):
        return ChainProblem(
            entry.seq, entry.entry_id, "its content was altered: it no longer matches its hash"
        )
    return None
