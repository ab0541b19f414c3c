"""Submitting an authorization request and reading a case: evaluate, record, then answer."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from .. import clock
from ..engine.trace import decision_dict
from ..errors import NotFound, RequestConflict, RequestInvalid
from ..storage.access_trail import AccessTrail
from ..storage.decision_log import DecisionLog, sha256_of, utc
from ..storage.models import LogEntry
from ..storage.tokens import Actor
from .case_state import current_lines, request_status
from .catalog import PolicyCatalog

SEES_EVERY_ORGANIZATION = ("reviewer", "cmo", "auditor")


class Authorizations:
    """The authorization use cases over one catalog, log and access trail."""

    def __init__(
        self,
        catalog: PolicyCatalog,
        log: DecisionLog,
        trail: AccessTrail,
        timezone: str = "UTC",
        valid_days: int = 90,
    ) -> None:
        self.catalog = catalog
        self.log = log
        self.trail = trail
        self.zone = ZoneInfo(timezone)
        self.valid_days = valid_days

    def submit(self, request: dict[str, Any], actor: Actor) -> tuple[dict[str, Any], bool]:
        """The recorded decision for the request, and whether it was recorded just now.

        The decision is committed to the log before this returns; a retry with the same
        ``request_id`` gets the recorded decision back, a different body under it a conflict.
        """
        received = clock.now()
        digest = sha256_of(request)
        decision = self.judge(request)
        decision_id = str(uuid.uuid4())
        for line in decision["lines"]:
            self.complete_line(line, decision_id, request.get("urgency", "standard"), received)
        entry, created = self.log.append_decision(
            LogEntry(
                entry_id=decision_id,
                decision_id=decision_id,
                kind="decision",
                organization=actor.organization,
                request_id=request["request_id"],
                request_sha256=digest,
                member_id=(request.get("member") or {}).get("id"),
                urgency=request.get("urgency", "standard"),
                status=decision["status"],
                received_at=received,
                actor=actor.name,
                actor_role=actor.role,
                engine_version=decision["engine_version"],
                policies=policies_used(decision),
                request=request,
                result={"status": decision["status"], "lines": decision["lines"]},
            )
        )
        if not created:
            return self._retried(entry, digest), False
        return case_view([entry]), True

    def judge(self, request: dict[str, Any]) -> dict[str, Any]:
        """The engine's decision on a request, without recording it (coverage discovery asks this)."""
        decision = decision_dict(self.catalog.evaluator.evaluate(request))
        problems = invalid_facts(decision)
        if problems:
            raise RequestInvalid("some facts have a type the policies cannot read", problems)
        return decision

    def read_by_request_id(self, request_id: str, actor: Actor) -> list[LogEntry]:
        """The case the actor's organization recorded under a request key; the read is recorded."""
        decision_id = self.log.find(actor.organization, request_id)
        if decision_id is None:
            raise NotFound(f"no decision for request '{request_id}'")
        return self.read(decision_id, actor)

    def read(self, decision_id: str, actor: Actor, action: str = "read") -> list[LogEntry]:
        """A case's entries, if the actor may see it; the read itself is recorded."""
        entries = self.entries(decision_id, actor)
        first = entries[0]
        self.trail.record(actor, action, first.seq, first.decision_id, first.member_id)
        return entries

    def entries(self, decision_id: str, actor: Actor) -> list[LogEntry]:
        """A case's entries, if the actor may see it (404 otherwise, as for an unknown case)."""
        entries = self.log.case(_uuid_text(decision_id))
        if not entries or not may_see(actor, entries[0]):
            raise NotFound(f"no decision '{decision_id}'")
        return entries

    def _retried(self, entry: LogEntry, digest: str) -> dict[str, Any]:
        if entry.request_sha256 != digest:
            raise RequestConflict(
                f"request_id '{entry.request_id}' was already used for a different request "
                f"(decision {entry.decision_id})",
                {"request_id": ["already used for a different request"]},
            )
        return case_view(self.log.case(entry.decision_id))

    def complete_line(
        self, line: dict[str, Any], decision_id: str, urgency: str, received: dt.datetime
    ) -> None:
        """What the engine does not decide: authorization numbers, validity, deadlines."""
        if line["outcome"] == "approved":
            start = dt.date.fromisoformat(line["date_of_service"])
            line["authorization_number"] = authorization_number(decision_id, line["index"], received)
            line["valid_from"] = start.isoformat()
            line["valid_to"] = (start + dt.timedelta(days=self.valid_days - 1)).isoformat()
        elif line["outcome"] == "pended":
            line["due_by"] = iso(due_by(received, urgency, self.zone))


def due_by(received: dt.datetime, urgency: str, zone: ZoneInfo) -> dt.datetime:
    """72 hours for expedited; 23:59:59 on the 7th calendar day in the plan's zone (edge rule 14)."""
    if urgency == "expedited":
        return received + dt.timedelta(hours=72)
    day = received.astimezone(zone).date() + dt.timedelta(days=7)
    return dt.datetime.combine(day, dt.time(23, 59, 59), zone).astimezone(dt.UTC)


def authorization_number(decision_id: str, index: int, received: dt.datetime) -> str:
    return f"PA{received:%y%m%d}-{decision_id[:8].upper()}-{index + 1}"


def invalid_facts(decision: dict[str, Any]) -> dict[str, list[str]]:
    """Request paths whose values a policy could not read, with why (edge rule 11)."""
    found: dict[str, list[str]] = {}
    for line in decision["lines"]:
        for policy in line["policies"]:
            for root in _roots(policy):
                _collect_invalid(root, found)
    return found


def _roots(policy: dict[str, Any]) -> list[dict[str, Any]]:
    roots = [*policy["coverage"], *policy["documentation"]]
    roots += [node for node in (policy["applies_when"], policy["criteria"]) if node]
    return roots


def _collect_invalid(node: dict[str, Any], found: dict[str, list[str]]) -> None:
    for message in node.get("invalid", ()):
        for path in node.get("missing") or [node["id"]]:
            messages = found.setdefault(path, [])
            if message not in messages:
                messages.append(message)
    for child in node.get("children", ()):
        _collect_invalid(child, found)
    if node.get("applies_when"):
        _collect_invalid(node["applies_when"], found)


def policies_used(decision: dict[str, Any]) -> list[dict[str, Any]]:
    used: dict[tuple[str, int], dict[str, Any]] = {}
    for line in decision["lines"]:
        for policy in line["policies"]:
            key = (policy["policy"], policy["version"])
            used[key] = {"policy": policy["policy"], "version": policy["version"], "sha256": policy["sha256"]}
    return [used[key] for key in sorted(used)]


def may_see(actor: Actor, entry: LogEntry) -> bool:
    """Submitters see their organization's cases; reviewers, the CMO and auditors all."""
    return actor.role in SEES_EVERY_ORGANIZATION or (
        actor.role == "submitter" and actor.organization == entry.organization
    )


def case_view(entries: list[LogEntry]) -> dict[str, Any]:
    """A case as clients see it: its lines as they stand now, then every later entry about it."""
    first = entries[0]
    lines = current_lines(entries)
    return {
        "decision_id": first.decision_id,
        "request_id": first.request_id,
        "status": request_status(lines),
        "urgency": first.urgency,
        "member_id": first.member_id,
        "received_at": iso(first.received_at),
        "recorded_at": iso(first.recorded_at),
        "submitted_by": first.actor,
        "engine_version": first.engine_version,
        "policies": first.policies,
        "lines": lines,
        "entry_hash": first.entry_hash,
        "determinations": [
            {
                "entry_id": entry.entry_id,
                "kind": entry.kind,
                "recorded_at": iso(entry.recorded_at),
                "actor": entry.actor,
                **entry.result,
            }
            for entry in entries[1:]
        ],
    }


def iso(moment: dt.datetime) -> str:
    return utc(moment).isoformat().replace("+00:00", "Z")


def _uuid_text(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(f"no decision '{value}'") from None
