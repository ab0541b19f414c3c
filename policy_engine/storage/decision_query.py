"""Searching the decision log through its line index: filters, keyset pages, streamed rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, exists, func, not_, select
from sqlalchemy.sql.elements import ColumnElement

from .database import Database
from .models import DecisionLine, DecisionLinePolicy, LogEntry
from .recorded_first import sent_once_recorded

_LOG = LogEntry.__table__
_LATER = _LOG.alias("later")
_LINES = DecisionLine.__table__
_MATCH = _LINES.alias("matching")  # the line a filter looks at, apart from the lines shown
_POLICIES = DecisionLinePolicy.__table__

DECISION_COLUMNS = (
    "seq",
    "decision_id",
    "request_id",
    "recorded_at",
    "received_at",
    "member_id",
    "organization",
    "actor",
    "urgency",
    "status",
    "engine_version",
    "entry_hash",
)
LINE_COLUMNS = (
    "line",
    "code",
    "date_of_service",
    "outcome",
    "reason",
    "x12_action",
    "policies",
    "decided_by",
    "authorization_number",
    "due_by",
)
LATER_COLUMNS = ("decision_id", "seq", "kind", "actor", "actor_role", "status", "recorded_at")


@dataclass(frozen=True)
class DecisionFilter:
    """What an auditor narrows the log to; every field left ``None`` does not narrow it.

    Line fields (policy, outcome, reason, X12 action, code, overdue) must hold for one and
    the same line of a decision.
    """

    recorded_from: dt.datetime | None = None
    recorded_to: dt.datetime | None = None
    policy: str | None = None
    policy_version: int | None = None
    outcome: str | None = None
    reason: str | None = None
    x12_action: str | None = None
    code: str | None = None
    member_id: str | None = None
    submitter: str | None = None
    organization: str | None = None
    reviewer: str | None = None
    urgency: str | None = None
    overdue: bool | None = None
    now: dt.datetime | None = None


def conditions(f: DecisionFilter) -> list[ColumnElement[bool]]:
    log = _LOG.c
    found: list[ColumnElement[bool]] = [log.kind == "decision"]
    for value, condition in (
        (f.recorded_from, lambda v: log.recorded_at >= v),
        (f.recorded_to, lambda v: log.recorded_at < v),
        (f.member_id, lambda v: log.member_id == v),
        (f.submitter, lambda v: log.actor == v),
        (f.organization, lambda v: log.organization == v),
        (f.urgency, lambda v: log.urgency == v),
    ):
        if value is not None:
            found.append(condition(value))
    if f.reviewer is not None:
        found.append(
            exists().where(
                _LATER.c.decision_id == log.decision_id,
                _LATER.c.kind != "decision",
                _LATER.c.actor == f.reviewer,
            )
        )
    line = _line_conditions(f)
    if line:
        found.append(exists().where(_MATCH.c.seq == log.seq, *line))
    if f.overdue is not None:
        late = and_(
            exists().where(
                _MATCH.c.seq == log.seq,
                _MATCH.c.outcome == "pended",
                _MATCH.c.due_by < (f.now or dt.datetime.now(dt.UTC)),
            ),
            not_(exists().where(_LATER.c.decision_id == log.decision_id, _LATER.c.kind != "decision")),
        )
        found.append(late if f.overdue else not_(late))
    return found


def _line_conditions(f: DecisionFilter) -> list[ColumnElement[bool]]:
    lines = _MATCH.c
    found = [
        column == value
        for column, value in (
            (lines.outcome, f.outcome),
            (lines.reason, f.reason),
            (lines.x12_action, f.x12_action),
            (lines.code, f.code),
        )
        if value is not None
    ]
    if f.policy is not None:
        governed = [
            _POLICIES.c.seq == lines.seq,
            _POLICIES.c.line == lines.line,
            _POLICIES.c.policy_id == f.policy,
        ]
        if f.policy_version is not None:
            governed.append(_POLICIES.c.policy_version == f.policy_version)
        found.append(exists().where(*governed))
    return found


def _keyset(after: int | None, descending: bool) -> list[ColumnElement[bool]]:
    if after is None:
        return []
    return [_LOG.c.seq < after] if descending else [_LOG.c.seq > after]


def page(
    connection: Connection, f: DecisionFilter, after: int | None, limit: int, descending: bool = False
) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` decisions after the cursor, with their lines and later entries; whether more follow."""
    order = _LOG.c.seq.desc() if descending else _LOG.c.seq
    query = (
        select(*[_LOG.c[name] for name in DECISION_COLUMNS])
        .where(*conditions(f), *_keyset(after, descending))
        .order_by(order)
        .limit(limit + 1)
    )
    decisions = [dict(row._mapping) for row in connection.execute(query)]
    more = len(decisions) > limit
    decisions = decisions[:limit]
    if not decisions:
        return [], False
    by_seq = {d["seq"]: d for d in decisions}
    by_case = {d["decision_id"]: d for d in decisions}
    for d in decisions:
        d["lines"], d["later"] = [], []
    lines = select(_LINES.c.seq, *[_LINES.c[n] for n in LINE_COLUMNS]).where(_LINES.c.seq.in_(list(by_seq)))
    for row in connection.execute(lines.order_by(_LINES.c.seq, _LINES.c.line)):
        by_seq[row.seq]["lines"].append({n: row._mapping[n] for n in LINE_COLUMNS})
    later = select(*[_LOG.c[n] for n in LATER_COLUMNS]).where(
        _LOG.c.decision_id.in_(list(by_case)), _LOG.c.kind != "decision"
    )
    for row in connection.execute(later.order_by(_LOG.c.seq)):
        by_case[row.decision_id]["later"].append(dict(row._mapping))
    return decisions, more


def stream(connection: Connection, f: DecisionFilter, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Every matching decision line as a tuple of ``DECISION_COLUMNS + LINE_COLUMNS``, in chain order."""
    query = (
        select(*[_LOG.c[n] for n in DECISION_COLUMNS], *[_LINES.c[n] for n in LINE_COLUMNS])
        .join_from(_LOG, _LINES, _LINES.c.seq == _LOG.c.seq)
        .where(*conditions(f))
        .order_by(_LOG.c.seq, _LINES.c.line)
        .execution_options(stream_results=True, yield_per=batch)
    )
    with connection.execute(query) as result:
        yield from result


def count(connection: Connection, f: DecisionFilter) -> int:
    """How many decision lines match (for a progress bar)."""
    query = select(func.count()).select_from(_LOG.join(_LINES, _LINES.c.seq == _LOG.c.seq))
    return connection.execute(query.where(*conditions(f))).scalar_one()


class DecisionIndex:
    """The search side of the decision log, over one database."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def page(
        self, f: DecisionFilter, after: int | None, limit: int, descending: bool = False
    ) -> tuple[list[dict[str, Any]], bool]:
        with self.database.reading() as connection:
            return page(connection, f, after, limit, descending)

    @property
    def formats_in_database(self) -> bool:
        """Whether exports are formatted by the database (PostgreSQL) rather than row by row here."""
        return not self.database.is_sqlite

    def formatted(
        self, f: DecisionFilter, fmt: str, record: Callable[[list[int]], None]
    ) -> Iterator[tuple[str, int, int]]:
        """The export body from one snapshot (PostgreSQL), a batch at a time.

        ``record(positions)`` records the reads of a batch's decisions (by log position);
        no batch is handed out before its reads are committed, and the next batch's are
        recorded while it is sent (``sent_once_recorded``).
        """
        from .export_sql import formatted

        with self.database.reading() as connection:
            batches = ((body[:3], body[3]) for body in formatted(connection, f, fmt))
            yield from sent_once_recorded(batches, record)

    def lines(self, f: DecisionFilter, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Matching lines, streamed from one snapshot; the connection is held until the iterator ends."""
        with self.database.reading() as connection:
            yield from stream(connection, f, batch)

    def count(self, f: DecisionFilter) -> int:
        with self.database.reading() as connection:
            return count(connection, f)
