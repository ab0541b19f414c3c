"""Reads the review queue and metrics need from the log, and the claims table."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict
from .database import Database
from .models import LogEntry, ReviewClaim


class ReviewStore:
    """Open cases, cases of a period, and who has claimed which case."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def open_cases(self) -> list[list[LogEntry]]:
        """Every case whose latest entry leaves it pended, each as its entries in order."""
        latest = select(func.max(LogEntry.seq)).group_by(LogEntry.decision_id)
        pended = select(LogEntry.decision_id).where(LogEntry.seq.in_(latest), LogEntry.status == "pended")
        return self._cases(LogEntry.decision_id.in_(pended))

    def cases_received(self, start: dt.datetime, end: dt.datetime) -> list[list[LogEntry]]:
        """Every case whose request was received in ``[start, end]``, with all its entries."""
        received = select(LogEntry.decision_id).where(
            LogEntry.kind == "decision", LogEntry.received_at >= start, LogEntry.received_at <= end
        )
        return self._cases(LogEntry.decision_id.in_(received))

    def _cases(self, condition) -> list[list[LogEntry]]:  # type: ignore[no-untyped-def]
        query = select(LogEntry).where(condition).order_by(LogEntry.decision_id, LogEntry.seq)
        with self.database.session() as session:
            entries = list(session.scalars(query))
        return [list(group) for _, group in itertools.groupby(entries, key=lambda e: e.decision_id)]

    def claim(self, decision_id: str, reviewer: str, at: dt.datetime) -> None:
        """Claim a case (again, if ``reviewer`` holds it); ``Conflict`` if another does.

        The primary key decides races: of two reviewers inserting at once, one fails.
        """
        try:
            with self.database.session() as session, session.begin():
                session.add(ReviewClaim(decision_id=decision_id, reviewer=reviewer, claimed_at=at))
        except IntegrityError:
            holder = self.holder(decision_id)
            if holder == reviewer:
                return
            raise Conflict(
                f"the case is already claimed by {holder or 'another reviewer'}",
                {"decision_id": ["already claimed"]},
            ) from None

    def release(self, decision_id: str, reviewer: str | None = None) -> bool:
        """Remove the claim on a case (only ``reviewer``'s, if named); whether there was one."""
        statement = delete(ReviewClaim).where(ReviewClaim.decision_id == decision_id)
        if reviewer is not None:
            statement = statement.where(ReviewClaim.reviewer == reviewer)
        with self.database.session() as session, session.begin():
            return session.execute(statement).rowcount > 0

    def holder(self, decision_id: str) -> str | None:
        with self.database.session() as session:
            return session.scalar(select(ReviewClaim.reviewer).where(ReviewClaim.decision_id == decision_id))

    def claims(self) -> dict[str, str]:
        """Claimed cases and their reviewers."""
        with self.database.session() as session:
            rows = session.execute(select(ReviewClaim.decision_id, ReviewClaim.reviewer))
            return {decision_id: reviewer for decision_id, reviewer in rows}
