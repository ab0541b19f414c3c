"""Who looked at which decision (and so at which member's record), and when."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, insert, select, text

from .database import Database
from .models import AccessRecord, LogEntry
from .tokens import Actor

_TABLE = AccessRecord.__table__
_LOG = LogEntry.__table__
COLUMNS = ("id", "at", "actor", "actor_role", "action", "decision_id", "member_id")
_COPIED = (*COLUMNS[1:], "seq")
Read = tuple[int, str, str | None]  # the read decision's log position, id and member
_BY_POSITION = text(
    f"INSERT INTO access_log ({', '.join(_COPIED)}) "
    "SELECT :at, :actor, :role, :action, decision_id, member_id, seq FROM decision_log "
    "WHERE seq = ANY(CAST(:positions AS bigint[])) AND kind = 'decision' ORDER BY seq"
)


class AccessTrail:
    def __init__(self, database: Database) -> None:
        self.database = database

    def record(self, actor: Actor, action: str, seq: int, decision_id: str, member_id: str | None) -> None:
        self.record_many(actor, action, [(seq, decision_id, member_id)])

    def record_many(self, actor: Actor, action: str, reads: Iterable[Read]) -> None:
        """Record one read per ``(seq, decision_id, member_id)``, in one transaction."""
        reads = list(reads)
        if not reads:
            return
        at = dt.datetime.now(dt.UTC)
        who = (at, actor.name, actor.role, action)
        with self.database.session() as session:
            if self.database.is_sqlite:
                rows = [
                    dict(zip(_COPIED, (*who, decision, member, seq), strict=True))
                    for seq, decision, member in reads
                ]
                session.execute(insert(_TABLE), rows)
            else:
                # an export records thousands of reads at a time: COPY, not one INSERT each
                cursor = session.connection().connection.driver_connection.cursor()
                with cursor.copy(f"COPY access_log ({', '.join(_COPIED)}) FROM STDIN") as copy:
                    for seq, decision, member in reads:
                        copy.write_row((*who, decision, member, seq))
            session.commit()

    def record_positions(self, actor: Actor, action: str, positions: list[int]) -> None:
        """Record one read per first decision at these log positions, in one statement:
        the database looks up each decision's id and member itself (PostgreSQL)."""
        if not positions:
            return
        with self.database.engine.begin() as connection:
            connection.execute(
                _BY_POSITION,
                {
                    "at": dt.datetime.now(dt.UTC),
                    "actor": actor.name,
                    "role": actor.role,
                    "action": action,
                    "positions": positions,
                },
            )

    def listing(
        self,
        actor: str | None = None,
        member_id: str | None = None,
        decision_id: str | None = None,
        period: tuple[dt.datetime | None, dt.datetime | None] = (None, None),
        after: int | None = None,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Reads in the order they were recorded, after the ``after`` id; and whether more follow."""
        c = _TABLE.c
        query = select(*[c[name] for name in COLUMNS]).order_by(c.id).limit(limit + 1)
        for value, condition in (
            (actor, lambda v: c.actor == v),
            (member_id, lambda v: c.seq.in_(_decisions(_LOG.c.member_id == v))),
            (decision_id, lambda v: c.seq.in_(_decisions(_LOG.c.decision_id == v))),
            (period[0], lambda v: c.at >= v),
            (period[1], lambda v: c.at < v),
            (after, lambda v: c.id > v),
        ):
            if value is not None:
                query = query.where(condition(value))
        with self.database.reading() as connection:
            rows = [dict(row._mapping) for row in connection.execute(query)]
        return rows[:limit], len(rows) > limit


def _decisions(condition: Any) -> Select[Any]:
    """The log positions of the first decisions meeting ``condition`` (by the log's indexes)."""
    return select(_LOG.c.seq).where(condition, _LOG.c.kind == "decision")
