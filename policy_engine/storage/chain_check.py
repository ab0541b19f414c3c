"""Walking the decision log's hash chain in bounded memory, fast enough for millions of entries.

On PostgreSQL the database hashes every entry and compares each with the one before
it (``chain_sql``); only the entries it flags, and one per chunk for progress, come back.
Elsewhere entries are streamed and hashed here, keeping nothing but the previous hash.
Either way, text that does not hash (JSON altered to an equivalent form) is parsed and
hashed the slow way before anything is called altered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Text, cast, func, select

from .chain_hash import DOCUMENTS, GENESIS, HASHED, hashes_match
from .models import LogEntry

# Every hashed column, JSON columns as their stored text.
ROWS = select(
    *[cast(getattr(LogEntry, n), Text).label(n) if n in DOCUMENTS else getattr(LogEntry, n) for n in HASHED],
    LogEntry.entry_hash,
    LogEntry.content_hash,
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


def log_length(connection: Connection) -> int:
    return connection.execute(select(func.coalesce(func.max(LogEntry.seq), 0))).scalar_one()


class ChainWalk:
    """The walk's state: where the chain should go next, and the first problem met."""

    def __init__(self, anchor: tuple[int, str] | None) -> None:
        self.expected_seq, self.previous, self.count = 1, GENESIS, 0
        self.anchor_seq, self.anchor_hash = anchor if anchor else (None, None)
        self.problem: ChainProblem | None = None

    def step(
        self, seq: int, entry_id: str, prev_hash: str, entry_hash: str, hashes_ok: Callable[[], bool]
    ) -> bool:
        """Check one entry against the one before it; False once a problem is found."""
        self.problem = judge(seq, entry_id, prev_hash, self.expected_seq, self.previous, hashes_ok)
        if self.problem is None and seq == self.anchor_seq and entry_hash != self.anchor_hash:
            self.problem = ChainProblem(seq, entry_id, "does not match the anchor kept")
        if self.problem is not None:
            return False
        self.expected_seq, self.previous = seq + 1, entry_hash
        return True

    def report(self) -> ChainReport:
        anchored = self.anchor_seq
        if self.problem is None and anchored is not None and not 0 < anchored < self.expected_seq:
            self.problem = ChainProblem(
                self.anchor_seq,
                None,
                f"the anchored entry {self.anchor_seq} is gone: the log ends at {self.expected_seq - 1}",
            )
        return ChainReport(self.count, self.expected_seq - 1, self.previous, self.problem)


def judge(
    seq: int,
    entry_id: str,
    prev_hash: str,
    expected_seq: int,
    previous: str,
    hashes_ok: Callable[[], bool],
) -> ChainProblem | None:
    """The problem with an entry found where ``expected_seq`` after ``previous`` should be, if any."""
    if seq != expected_seq:
        missing = f"entry {expected_seq} is missing" if seq > expected_seq else f"entry {seq} appears twice"
        return ChainProblem(
            expected_seq, None, f"{missing}: the chain jumps from {expected_seq - 1} to {seq}"
        )
    if prev_hash != previous:
        return ChainProblem(
            seq,
            entry_id,
            f"does not follow entry {seq - 1}: an entry before it was removed, replaced or reordered",
        )
    if not hashes_ok():
        return ChainProblem(seq, entry_id, "its content was altered: it no longer matches its hash")
    return None


def stored_row_matches(connection: Connection, seq: int) -> bool:
    """The slow check of one entry: its JSON parsed, so text in an equivalent form is accepted."""
    row = connection.execute(ROWS.where(LogEntry.seq == seq)).first()
    return row is not None and hashes_match(row._mapping, parse=True)


def walk(
    connection: Connection,
    anchor: tuple[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = 2000,
) -> ChainReport:
    """Check every entry in chain order; stop at the first that is missing, altered or out of place."""
    chain = ChainWalk(anchor)
    with connection.execute(ROWS.execution_options(stream_results=True, yield_per=batch)) as result:
        for row in result:
            chain.count += 1
            values: Any = row._mapping
            fast = hashes_match(values)
            if not chain.step(
                values["seq"],
                values["entry_id"],
                values["prev_hash"],
                values["entry_hash"],
                lambda values=values, fast=fast: fast or hashes_match(values, parse=True),
            ):
                break
            if progress and chain.count % batch == 0:
                progress(batch)
    if progress:
        progress(chain.count % batch)
    return chain.report()


__all__ = ["GENESIS", "HASHED", "ChainProblem", "ChainReport", "log_length", "walk"]
