"""Stored policy versions and their history: drafts, approvals, supersession, retirement.

Every change of state is a conditional update (``WHERE state = <expected>``) plus an
event row in one transaction, so two racing reviewers cannot both move a version, and
the history always says who did what, when and why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import clock
from ..errors import NotFound, PolicyConflict
from ..loader import load_policies
from ..model import Policy
from .database import Database
from .models import PolicyEvent, PolicyVersionRecord
from .past_versions import parse_records

# Superseded and retired versions still govern their own period (retired ones up to retired_on).
IN_FORCE = ("approved", "superseded", "retired")


@dataclass
class LoadReport:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """Who moves a version, and why."""

    actor: str
    role: str
    comment: str | None = None


class PolicyStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def load_directory(self, directory: str | Path, author: str = "policy library") -> LoadReport:
        """Store every version found under the folder as approved, all or nothing.

        A version already stored with the same content is left alone; one stored with
        different content is a conflict, since an approved version never changes.
        """
        root = Path(directory)
        policies = load_policies([root])
        report = LoadReport()
        now = dt.datetime.now(dt.UTC)
        change = Change(author, "admin", "loaded from the policy library")
        with self.database.session() as session:
            for policy in sorted(policies, key=lambda p: (p.id, p.version)):
                stored = _find(session, policy.id, policy.version)
                if stored is not None:
                    if stored.sha256 != policy.sha256:
                        raise PolicyConflict(
                            f"{policy.file}: {policy.key} is already stored with different content "
                            f"(sha256 {stored.sha256[:12]}…); a changed policy needs a new version"
                        )
                    report.unchanged.append(policy.key)
                    continue
                session.add(_record(policy, _relative(policy.file, root), author, "approved", now))
                session.add(_event(policy.id, policy.version, "loaded", change, now))
                report.added.append(policy.key)
            session.flush()
            _mark_superseded(session, change, now)
            session.commit()
        return report

    def add_draft(self, policy: Policy, author: str, role: str) -> PolicyVersionRecord:
        """Store a new version as a draft; the unique (policy, version) index settles races."""
        now = dt.datetime.now(dt.UTC)
        record = _record(policy, f"{policy.id}/v{policy.version}.yaml", author, "draft", now)
        record.approver = record.decided_at = record.comment = None
        try:
            with self.database.session() as session:
                session.add(record)
                session.add(_event(policy.id, policy.version, "submitted", Change(author, role), now))
                session.commit()
        except IntegrityError:
            raise PolicyConflict(f"{policy.key} already exists; the next is {policy.version + 1}") from None
        return record

    def approve(self, policy_id: str, version: int, change: Change) -> None:
        """Draft → approved; the approved version before it → superseded."""
        now = dt.datetime.now(dt.UTC)
        with self.database.session() as session:
            _move(session, policy_id, version, "draft", "approved", change, now, approver=change.actor)
            session.add(_event(policy_id, version, "approved", change, now))
            _mark_superseded(session, change, now)
            session.commit()

    def reject(self, policy_id: str, version: int, change: Change) -> None:
        now = dt.datetime.now(dt.UTC)
        with self.database.session() as session:
            _move(session, policy_id, version, "draft", "rejected", change, now, approver=change.actor)
            session.add(_event(policy_id, version, "rejected", change, now))
            session.commit()

    def retire(self, policy_id: str, version: int, last_day: dt.date, change: Change) -> None:
        """The current version stops governing after ``last_day``; earlier ones keep their periods."""
        now = dt.datetime.now(dt.UTC)
        with self.database.session() as session:
            _move(session, policy_id, version, "approved", "retired", change, now, retired_on=last_day)
            session.add(_event(policy_id, version, "retired", change, now))
            session.commit()

    def record(self, policy_id: str, version: int) -> PolicyVersionRecord | None:
        with self.database.session() as session:
            return _find(session, policy_id, version)

    def history(self, policy_id: str) -> tuple[list[PolicyVersionRecord], list[PolicyEvent]]:
        with self.database.session() as session:
            versions = session.scalars(
                select(PolicyVersionRecord)
                .where(PolicyVersionRecord.policy_id == policy_id)
                .order_by(PolicyVersionRecord.version)
            ).all()
            events = session.scalars(
                select(PolicyEvent).where(PolicyEvent.policy_id == policy_id).order_by(PolicyEvent.id)
            ).all()
        return list(versions), list(events)

    def latest_versions(self) -> list[PolicyVersionRecord]:
        """Each policy's newest version, whatever its state."""
        newest = (
            select(PolicyVersionRecord.policy_id, func.max(PolicyVersionRecord.version).label("version"))
            .group_by(PolicyVersionRecord.policy_id)
            .subquery()
        )
        with self.database.session() as session:
            return list(
                session.scalars(
                    select(PolicyVersionRecord)
                    .join(
                        newest,
                        (PolicyVersionRecord.policy_id == newest.c.policy_id)
                        & (PolicyVersionRecord.version == newest.c.version),
                    )
                    .order_by(PolicyVersionRecord.policy_id)
                )
            )

    def in_force(self, today: dt.date | None = None) -> list[Policy]:
        """Every approved version (current, superseded or retired), linked into effective
        periods; those that ended before ``today`` (by default, today) kept light."""
        with self.database.session() as session:
            rows = session.scalars(
                select(PolicyVersionRecord).where(PolicyVersionRecord.state.in_(IN_FORCE))
            ).all()
        return parse_records(list(rows), today or clock.now().date(), keep=True, read=self.source)

    def versions(self, keys: list[tuple[str, int]]) -> list[Policy]:
        """Exactly the named versions (for replay), whatever their state."""
        wanted = set(keys)
        with self.database.session() as session:
            rows = session.scalars(
                select(PolicyVersionRecord).where(
                    PolicyVersionRecord.policy_id.in_({policy_id for policy_id, _ in wanted})
                )
            ).all()
        return parse_records(
            [row for row in rows if (row.policy_id, row.version) in wanted], clock.now().date()
        )

    def source(self, policy_id: str, version: int) -> str:
        """A stored version's text (versions are never deleted or changed once stored)."""
        record = self.record(policy_id, version)
        if record is None:
            raise NotFound(f"no version {version} of policy '{policy_id}'")
        return record.source

    def generation(self) -> int:
        """Grows with every change to any policy: workers compare it to know when to reload."""
        with self.database.session() as session:
            return session.scalar(select(func.max(PolicyEvent.id))) or 0

    def next_version(self, policy_id: str) -> int:
        with self.database.session() as session:
            newest = select(func.max(PolicyVersionRecord.version))
            latest = session.scalar(newest.where(PolicyVersionRecord.policy_id == policy_id))
        return (latest or 0) + 1

    def count(self) -> int:
        with self.database.session() as session:
            return session.scalar(select(func.count()).select_from(PolicyVersionRecord)) or 0


def _find(session: Session, policy_id: str, version: int) -> PolicyVersionRecord | None:
    return session.scalars(
        select(PolicyVersionRecord).where(
            PolicyVersionRecord.policy_id == policy_id, PolicyVersionRecord.version == version
        )
    ).first()


def _move(
    session: Session,
    policy_id: str,
    version: int,
    expected: str,
    state: str,
    change: Change,
    now: dt.datetime,
    **values: object,
) -> None:
    """Change a version's state only if it is still in the expected one."""
    moved = session.execute(
        update(PolicyVersionRecord)
        .where(
            PolicyVersionRecord.policy_id == policy_id,
            PolicyVersionRecord.version == version,
            PolicyVersionRecord.state == expected,
        )
        .values(state=state, decided_at=now, comment=change.comment, **values)
    )
    if moved.rowcount != 1:
        current = _find(session, policy_id, version)
        found = f"it is {current.state}" if current else "it does not exist"
        raise PolicyConflict(f"{policy_id} version {version} cannot become {state}: {found}")


def _record(policy: Policy, path: str, author: str, state: str, now: dt.datetime) -> PolicyVersionRecord:
    return PolicyVersionRecord(
        policy_id=policy.id,
        version=policy.version,
        state=state,
        title=policy.title,
        sha256=policy.sha256,
        effective=policy.effective,
        expires=policy.expires,
        source=policy.source,
        source_path=path,
        author=author,
        approver=author,
        created_at=now,
        decided_at=now,
        comment="loaded from the policy library",
    )


def _event(policy_id: str, version: int, action: str, change: Change, now: dt.datetime) -> PolicyEvent:
    return PolicyEvent(
        policy_id=policy_id,
        version=version,
        action=action,
        actor=change.actor,
        actor_role=change.role,
        at=now,
        comment=change.comment,
    )


def _mark_superseded(session: Session, change: Change, now: dt.datetime) -> None:
    """Only the newest approved version of a policy stays ``approved``."""
    rows = session.scalars(select(PolicyVersionRecord).where(PolicyVersionRecord.state == "approved")).all()
    latest: dict[str, int] = {}
    for row in rows:
        latest[row.policy_id] = max(latest.get(row.policy_id, 0), row.version)
    for row in rows:
        if row.version != latest[row.policy_id]:
            row.state = "superseded"
            session.add(_event(row.policy_id, row.version, "superseded", change, now))


def _relative(file: str, root: Path) -> str:
    try:
        return str(Path(file).resolve().relative_to(root.resolve().parent))
    except ValueError:
        return file
