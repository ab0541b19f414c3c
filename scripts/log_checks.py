"""What must hold in the decision log after crashes: nothing acknowledged lost, nothing half-written."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, select, text

from policy_engine.services.authorizations import iso
from policy_engine.storage.decision_index import index_rows
from policy_engine.storage.models import LogEntry


def answered_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The parts of a 2xx answer that must match the log: the decision and where it stands."""
    return {
        "decision_id": body["decision_id"],
        "request_id": body["request_id"],
        "status": body["status"],
        "entry_hash": body["entry_hash"],
        "recorded_at": body["recorded_at"],
        "lines": [
            [
                line["index"],
                line["code"],
                line["outcome"],
                line.get("reason"),
                line.get("authorization_number"),
            ]
            for line in body["lines"]
        ],
    }


@dataclass
class LogFindings:
    entries: int = 0
    decisions: int = 0
    missing: list[str] = field(default_factory=list)  # acknowledged, not in the log
    different: list[str] = field(default_factory=list)  # in the log, not as acknowledged
    duplicate_keys: list[str] = field(default_factory=list)  # one request key, two decisions
    partial: list[int] = field(default_factory=list)  # entries whose index rows are wrong
    orphans: int = 0  # index rows of no entry
    head_problem: str | None = None

    @property
    def violations(self) -> int:
        return (
            len(self.missing)
            + len(self.different)
            + len(self.duplicate_keys)
            + len(self.partial)
            + self.orphans
            + (self.head_problem is not None)
        )


def check_log(database_url: str, acknowledged: dict[str, dict[str, Any]]) -> LogFindings:
    """Compare the acknowledged answers (by decision id) with the log and check its index and head."""
    engine = create_engine(database_url)
    found = LogFindings()
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    LogEntry.seq,
                    LogEntry.kind,
                    LogEntry.decision_id,
                    LogEntry.organization,
                    LogEntry.request_id,
                    LogEntry.status,
                    LogEntry.result,
                    LogEntry.entry_hash,
                    LogEntry.recorded_at,
                ).order_by(LogEntry.seq)
            ).all()
            lines = Counter(connection.execute(text("SELECT seq FROM decision_lines")).scalars())
            policies = Counter(connection.execute(text("SELECT seq FROM decision_line_policies")).scalars())
            head = connection.execute(text("SELECT seq, entry_hash FROM chain_head WHERE id = 1")).one()
    finally:
        engine.dispose()
    found.entries = len(rows)
    decisions = {row.decision_id: row for row in rows if row.kind == "decision"}
    found.decisions = len(decisions)
    for decision_id, answer in acknowledged.items():
        row = decisions.get(decision_id)
        if row is None:
            found.missing.append(decision_id)
        elif answer != _logged_fields(row):
            found.different.append(decision_id)
    keys = Counter((row.organization, row.request_id) for row in decisions.values())
    found.duplicate_keys = [f"{org}/{key}" for (org, key), count in keys.items() if count > 1]
    seqs = set()
    for row in decisions.values():
        seqs.add(row.seq)
        want_lines, want_policies = index_rows(row.seq, row.result)
        if lines.get(row.seq, 0) != len(want_lines) or policies.get(row.seq, 0) != len(want_policies):
            found.partial.append(row.seq)
    found.orphans = sum(n for seq, n in (lines + policies).items() if seq not in seqs)
    newest = rows[-1] if rows else None
    expected = (newest.seq, newest.entry_hash) if newest else (0, "0" * 64)
    if tuple(head) != expected:
        found.head_problem = f"chain_head is {tuple(head)}, the newest entry {expected}"
    return found


def _logged_fields(row: Any) -> dict[str, Any]:
    return answered_fields(
        {
            "decision_id": row.decision_id,
            "request_id": row.request_id,
            "status": row.status,
            "entry_hash": row.entry_hash,
            "recorded_at": iso(row.recorded_at),
            "lines": row.result["lines"],
        }
    )
