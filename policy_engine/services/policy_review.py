"""Policy versions under review: drafts in, CMO decisions, history, diffs and impact."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from typing import Any

from ..engine.trace import decision_dict
from ..errors import NotFound, PolicyConflict, PolicyInvalid, RequestInvalid
from ..loader import link_versions, parse_policy_text
from ..model import Policy
from ..storage.decision_log import DecisionLog
from ..storage.models import PolicyEvent, PolicyVersionRecord
from ..storage.past_versions import parse_records
from ..storage.policy_store import Change, PolicyStore
from ..storage.tokens import Actor
from ..values import normalize_code
from .authorizations import iso
from .catalog import PolicyCatalog

UPLOAD = "policy.yaml"  # how errors name a submitted file: policy.yaml:LINE: field: message


class PolicyReview:
    def __init__(
        self, store: PolicyStore, catalog: PolicyCatalog, log: DecisionLog, impact_days: int
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.log = log
        self.impact_days = impact_days

    def submit(self, text: str, actor: Actor) -> dict[str, Any]:
        """Validate a new version and store it as a draft; it must be the next version."""
        policy = parse_policy_text(text, UPLOAD)
        expected = self.store.next_version(policy.id)
        if policy.version != expected:
            raise PolicyConflict(
                f"{policy.id} version {policy.version} cannot be submitted: the next is {expected}"
            )
        self._check_periods(policy)
        self.store.add_draft(policy, actor.name, actor.role)
        return self.version(policy.id, policy.version)

    def approve(self, policy_id: str, version: int, actor: Actor, comment: str | None) -> dict[str, Any]:
        """Approve a draft; refused if its effective period would conflict with approved versions."""
        draft = self._policy(self._record(policy_id, version))
        try:
            self._check_periods(draft)
        except PolicyInvalid as invalid:
            raise PolicyConflict(f"approving would make effective periods conflict: {invalid}") from None
        self.store.approve(policy_id, version, Change(actor.name, actor.role, comment))
        self.catalog.reload()
        return self.version(policy_id, version)

    def reject(self, policy_id: str, version: int, actor: Actor, comment: str) -> dict[str, Any]:
        self._record(policy_id, version)
        self.store.reject(policy_id, version, Change(actor.name, actor.role, comment))
        return self.version(policy_id, version)

    def retire(self, policy_id: str, actor: Actor, comment: str, last_day: dt.date | None) -> dict[str, Any]:
        """End a policy: its current version governs no date of service after ``last_day``."""
        versions, _ = self.store.history(policy_id)
        current = [v for v in versions if v.state == "approved"]
        if not current:
            raise NotFound(f"policy '{policy_id}' has no approved version to retire")
        self.store.retire(
            policy_id,
            current[-1].version,
            last_day or dt.date.today(),
            Change(actor.name, actor.role, comment),
        )
        self.catalog.reload()
        return self.history(policy_id)

    def policies(self) -> list[dict[str, Any]]:
        """Every policy: its newest version and the version currently approved."""
        found = []
        for newest in self.store.latest_versions():
            versions, _ = self.store.history(newest.policy_id)
            approved = [v for v in versions if v.state == "approved"]
            found.append(
                {
                    "policy": newest.policy_id,
                    "title": (approved[-1] if approved else newest).title,
                    "current": version_meta(approved[-1]) if approved else None,
                    "drafts": [v.version for v in versions if v.state == "draft"],
                    "retired": any(v.state == "retired" for v in versions) and not approved,
                }
            )
        return found

    def history(self, policy_id: str) -> dict[str, Any]:
        versions, events = self.store.history(policy_id)
        if not versions:
            raise NotFound(f"no policy '{policy_id}'")
        return {
            "policy": policy_id,
            "title": versions[-1].title,
            "versions": [version_meta(v) for v in versions],
            "events": [event_view(e) for e in events],
        }

    def version(self, policy_id: str, version: int) -> dict[str, Any]:
        record = self._record(policy_id, version)
        return {**version_meta(record), "yaml": record.source}

    def pair(self, policy_id: str, old: int, new: int) -> tuple[Policy, Policy]:
        """Two stored versions as policies, for a diff."""
        return self._policy(self._record(policy_id, old)), self._policy(self._record(policy_id, new))

    def impact(
        self, policy_id: str, version: int, start: dt.datetime | None, end: dt.datetime | None, limit: int
    ) -> dict[str, Any]:
        """Replay recorded decisions of a period as if this version had governed them.

        The version stands in for every version of its policy whatever its effective date;
        other policies are judged by the versions in force. Decisions are streamed from
        the log and nothing is written to it.
        """
        candidate = self._policy(self._record(policy_id, version))
        end = end or dt.datetime.now(dt.UTC)
        start = start or end - dt.timedelta(days=self.impact_days)
        if start > end:
            raise RequestInvalid("the period ends before it starts", {"from": ["must not be after 'to'"]})
        stand_in = dataclasses.replace(candidate, effective=dt.date.min, expires=None, ends=None)
        others = [p for p in self.store.in_force() if p.id != policy_id]
        evaluator = self.catalog.evaluator_for([*others, stand_in])
        examined, totals, changed, changed_count = 0, Counter(), [], 0
        for entry in self.log.entries(period=(start, end)):
            if not _concerns(entry.result["lines"], entry.request, candidate):
                continue
            examined += 1
            replayed = decision_dict(evaluator.evaluate(entry.request))
            differences = []
            for old, new in zip(entry.result["lines"], replayed["lines"], strict=True):
                transition = (_label(old), _label(new))
                totals[transition] += 1
                if transition[0] != transition[1]:
                    differences.append(_line_change(old, new, policy_id))
            if differences:
                changed_count += 1
                if len(changed) < limit:
                    changed.append({"decision_id": entry.decision_id, "lines": differences})
        return {
            "policy": policy_id,
            "version": version,
            "period": {"from": iso(start), "to": iso(end)},
            "decisions_examined": examined,
            "decisions_changed": changed_count,
            "lines": [{"from": a, "to": b, "count": n} for (a, b), n in sorted(totals.items())],
            "changed": changed,
        }

    def _record(self, policy_id: str, version: int) -> PolicyVersionRecord:
        record = self.store.record(policy_id, version)
        if record is None:
            raise NotFound(f"no version {version} of policy '{policy_id}'")
        return record

    @staticmethod
    def _policy(record: PolicyVersionRecord) -> Policy:
        return parse_records([record], today=dt.date.min)[0]  # parsed whole, whatever its period

    def _check_periods(self, candidate: Policy) -> None:
        """The candidate among the versions in force: ordered dates, no overlaps, refs resolve."""
        # Linking reads only versions, dates and nodes (it rewrites each version's last day),
        # so the same versions serve both links.
        others = [p for p in self.store.in_force() if p.key != candidate.key]
        before = set(link_versions(others, refs_of=()))
        after = link_versions([*others, candidate], refs_of=[candidate])
        caused = [problem for problem in after if problem not in before]
        if caused:
            raise PolicyInvalid(caused)


def _concerns(lines: list[dict[str, Any]], request: dict[str, Any], policy: Policy) -> bool:
    """A recorded decision the policy governed, or whose codes the version would govern."""
    return any(
        any(p["policy"] == policy.id for p in line["policies"])
        or normalize_code(line["code"] or "") in policy.services
        for line in lines
    )


def _label(line: dict[str, Any]) -> str:
    return f"{line['outcome']}/{line['reason']}" if line.get("reason") else line["outcome"]


def _line_change(old: dict[str, Any], new: dict[str, Any], policy_id: str) -> dict[str, Any]:
    """A line whose determination changes, and the criteria of the policy whose status moved."""
    before, after = _statuses(old, policy_id), _statuses(new, policy_id)
    return {
        "index": old["index"],
        "code": old["code"],
        "from": _label(old),
        "to": _label(new),
        "criteria": [
            {"node": node, "text": text, "from": before.get(node, ("absent", ""))[0], "to": status}
            for node, (status, text) in after.items()
            if before.get(node, ("absent", ""))[0] != status
        ],
        "missing": new["missing"],
    }


def _statuses(line: dict[str, Any], policy_id: str) -> dict[str, tuple[str, str]]:
    """Every node of the policy's trace on a line: id → (status, text)."""
    found: dict[str, tuple[str, str]] = {}

    def visit(node: dict[str, Any]) -> None:
        found[node["id"]] = (node["status"], node.get("text", ""))
        for child in node.get("children", ()):
            visit(child)

    for result in line["policies"]:
        if result["policy"] == policy_id:
            for section in ("coverage", "documentation"):
                for node in result[section]:
                    visit(node)
            if result["criteria"]:
                visit(result["criteria"])
    return found


def version_meta(record: PolicyVersionRecord) -> dict[str, Any]:
    return {
        "policy": record.policy_id,
        "version": record.version,
        "state": record.state,
        "title": record.title,
        "sha256": record.sha256,
        "effective": record.effective.isoformat(),
        "expires": record.expires.isoformat() if record.expires else None,
        "retired_on": record.retired_on.isoformat() if record.retired_on else None,
        "author": record.author,
        "approver": record.approver,
        "created_at": iso(record.created_at),
        "decided_at": iso(record.decided_at) if record.decided_at else None,
        "comment": record.comment,
    }


def event_view(event: PolicyEvent) -> dict[str, Any]:
    return {
        "version": event.version,
        "action": event.action,
        "actor": event.actor,
        "role": event.actor_role,
        "at": iso(event.at),
        "comment": event.comment,
    }
