"""Who looked at which decision (and so at which member's record), and when."""

from __future__ import annotations

import datetime as dt

from .database import Database
from .models import AccessRecord
from .tokens import Actor


class AccessTrail:
    def __init__(self, database: Database) -> None:
        self.database = database

    def record(self, actor: Actor, action: str, decision_id: str, member_id: str | None) -> None:
        with self.database.session() as session:
            session.add(
                AccessRecord(
                    at=dt.datetime.now(dt.UTC),
                    actor=actor.name,
                    actor_role=actor.role,
                    action=action,
                    decision_id=decision_id,
                    member_id=member_id,
                )
            )
            session.commit()
