"""Stored policy versions: loading a folder's history, and the versions that are in force."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from ..errors import PolicyConflict, PolicyInvalid
from ..loader import link_versions, load_policies, parse_policy_text
from ..model import Policy
from .database import Database
from .models import PolicyVersionRecord

IN_FORCE = ("approved", "superseded")  # superseded versions still govern their own period


@dataclass
class LoadReport:
    added: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


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
        with self.database.session() as session:
            for policy in sorted(policies, key=lambda p: (p.id, p.version)):
                stored = session.scalars(
                    select(PolicyVersionRecord).where(
                        PolicyVersionRecord.policy_id == policy.id,
                        PolicyVersionRecord.version == policy.version,
                    )
                ).first()
                if stored is not None:
                    if stored.sha256 != policy.sha256:
                        raise PolicyConflict(
                            f"{policy.file}: {policy.key} is already stored with different content "
                            f"(sha256 {stored.sha256[:12]}…); a changed policy needs a new version"
                        )
                    report.unchanged.append(policy.key)
                    continue
                session.add(_record(policy, _relative(policy.file, root), author, now))
                report.added.append(policy.key)
            session.flush()
            _mark_superseded(session)
            session.commit()
        return report

    def in_force(self) -> list[Policy]:
        """Every approved version (current or superseded), linked into effective periods."""
        with self.database.session() as session:
            rows = session.scalars(
                select(PolicyVersionRecord).where(PolicyVersionRecord.state.in_(IN_FORCE))
            ).all()
        return _parse(rows)

    def versions(self, keys: list[tuple[str, int]]) -> list[Policy]:
        """Exactly the named versions (for replay), whatever their state."""
        wanted = set(keys)
        with self.database.session() as session:
            rows = session.scalars(
                select(PolicyVersionRecord).where(
                    PolicyVersionRecord.policy_id.in_({policy_id for policy_id, _ in wanted})
                )
            ).all()
        return _parse([row for row in rows if (row.policy_id, row.version) in wanted])

    def count(self) -> int:
        with self.database.session() as session:
            return session.scalar(select(func.count()).select_from(PolicyVersionRecord)) or 0


def _record(policy: Policy, path: str, author: str, now: dt.datetime) -> PolicyVersionRecord:
    return PolicyVersionRecord(
        policy_id=policy.id,
        version=policy.version,
        state="approved",
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


def _mark_superseded(session) -> None:  # type: ignore[no-untyped-def]
    rows = session.scalars(select(PolicyVersionRecord).where(PolicyVersionRecord.state.in_(IN_FORCE))).all()
    latest: dict[str, int] = {}
    for row in rows:
        latest[row.policy_id] = max(latest.get(row.policy_id, 0), row.version)
    for row in rows:
        row.state = "approved" if row.version == latest[row.policy_id] else "superseded"


def _parse(rows: list[PolicyVersionRecord]) -> list[Policy]:
    policies = [parse_policy_text(row.source, row.source_path) for row in rows]
    problems = link_versions(policies)
    if problems:
        raise PolicyInvalid(problems)
    return policies


def _relative(file: str, root: Path) -> str:
    try:
        return str(Path(file).resolve().relative_to(root.resolve().parent))
    except ValueError:
        return file
