"""Clinical review: reviewers' determinations, extensions, added information and appeals.

Every call appends one entry to the case in the decision log; nothing is updated. An
entry is recorded only if the case has not changed since it was read, so two reviewers
acting at once cannot both decide the same line.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from .. import clock
from ..engine.evaluator import ENGINE_VERSION
from ..engine.trace import decision_dict
from ..errors import Conflict, Forbidden, RequestInvalid
from ..storage.decision_log import DecisionLog, sha256_of
from ..storage.models import LogEntry
from ..storage.review_store import ReviewStore
from ..storage.tokens import Actor
from .authorizations import Authorizations, authorization_number, case_view, invalid_facts, iso
from .case_state import ADVERSE, X12_ACTION, current_lines, latest_request, request_status
from .catalog import PolicyCatalog
from .determination_rules import check_determination


class ClinicalReview:
    """The reviewer's and the submitter's calls on a case after its first decision."""

    def __init__(
        self,
        authorizations: Authorizations,
        catalog: PolicyCatalog,
        log: DecisionLog,
        store: ReviewStore,
        extension_days: int = 14,
        appeal_days: int = 30,
    ) -> None:
        self.authorizations = authorizations
        self.catalog = catalog
        self.log = log
        self.store = store
        self.extension_days = extension_days
        self.appeal_days = appeal_days

    def determine(self, decision_id: str, body: dict[str, Any], actor: Actor) -> dict[str, Any]:
        """Record a reviewer's determination of one pended line."""
        entries = self._case(decision_id, actor)
        lines = current_lines(entries)
        index = _line_index(body["line"], lines)
        line = lines[index]
        if line["outcome"] != "pended":
            raise Conflict(
                f"line {index} is not pending review: it is {line['outcome']}", {"line": ["decided"]}
            )
        on_appeal = line.get("reason") == "appeal"
        if (body["outcome"] in ADVERSE or on_appeal) and not actor.physician:
            what = "an appeal" if on_appeal else f"a determination of '{body['outcome']}'"
            raise Forbidden(f"{what} must be made by a physician reviewer (42 CFR 422.566(d))")
        if on_appeal and actor.name == line["appeal"]["determined_by"]:
            raise Conflict(
                "an appeal must be decided by a physician other than the one who made the determination",
                {"_actor": [f"{actor.name} made the determination under appeal"]},
            )
        holder = self.store.holder(entries[0].decision_id)
        if holder not in (None, actor.name):
            raise Conflict(
                f"the case is claimed by {holder}", {"decision_id": ["claimed by another reviewer"]}
            )
        first = entries[0]
        start = dt.date.fromisoformat(line["date_of_service"])
        default_end = start + dt.timedelta(days=self.authorizations.valid_days - 1)
        requested = latest_request(entries)["services"][index].get("quantity", 1)
        result = check_determination(body, line, requested, default_end)
        result.update(
            {"x12_action": X12_ACTION[body["outcome"]], "physician": actor.physician, "on_appeal": on_appeal}
        )
        if body["outcome"] != "denied":
            result["authorization_number"] = authorization_number(first.decision_id, index, first.received_at)
            result["valid_from"] = start.isoformat()
            result.setdefault("valid_to", default_end.isoformat())
        result["line"] = index
        stored = {**body, **({"valid_to": body["valid_to"].isoformat()} if body.get("valid_to") else {})}
        return self._append(entries, "determination", actor, stored, result)

    def add_information(self, decision_id: str, body: dict[str, Any], actor: Actor) -> dict[str, Any]:
        """Merge facts and documents into the request; re-run the engine on the lines waiting for them."""
        entries = self._case(decision_id, actor)
        lines = current_lines(entries)
        waiting = {
            line["index"]: line
            for line in lines
            if line["outcome"] == "pended" and line["reason"] == "missing_information"
        }
        if not waiting:
            raise Conflict("no line of this case is waiting for information", {"_case": ["nothing missing"]})
        updated = merged(latest_request(entries), body)
        decision = decision_dict(self.catalog.evaluator.evaluate(updated))
        problems = invalid_facts(decision)
        if problems:
            raise RequestInvalid("some facts have a type the policies cannot read", problems)
        first = entries[0]
        rerun = []
        for line in decision["lines"]:
            if line["index"] in waiting:
                self.authorizations.complete_line(line, first.decision_id, first.urgency, first.received_at)
                if line["outcome"] == "pended":
                    line["due_by"] = waiting[line["index"]]["due_by"]
                rerun.append(line)
        result = {"added": body, "lines": rerun}
        return self._append(entries, "information", actor, updated, result, ENGINE_VERSION)

    def extend(self, decision_id: str, body: dict[str, Any], actor: Actor) -> dict[str, Any]:
        """Move the due dates of a case's pended lines, once, by the configured number of days."""
        entries = self._case(decision_id, actor)
        pended = [line for line in current_lines(entries) if line["outcome"] == "pended"]
        if not pended:
            raise Conflict("the case is not pending review", {"_case": ["not pended"]})
        if any(entry.kind == "extension" for entry in entries):
            raise Conflict("the review deadline was already extended once", {"_case": ["already extended"]})
        moved = {
            str(line["index"]): iso(_parse(line["due_by"]) + dt.timedelta(days=self.extension_days))
            for line in pended
        }
        result = {"reason": body["reason"], "days": self.extension_days, "due_by": moved}
        return self._append(entries, "extension", actor, body, result)

    def appeal(self, decision_id: str, body: dict[str, Any], actor: Actor) -> dict[str, Any]:
        """Reopen adverse reviewer determinations for reconsideration by another physician."""
        entries = self._case(decision_id, actor)
        lines = current_lines(entries)
        appealed = {i for entry in entries if entry.kind == "appeal" for i in entry.result["lines"]}
        indices = sorted({_line_index(index, lines, "lines") for index in body["lines"]})
        for index in indices:
            line = lines[index]
            if line["outcome"] not in ADVERSE:
                raise Conflict(
                    f"line {index} has no adverse determination to appeal: it is {line['outcome']}",
                    {"lines": [f"line {index} is {line['outcome']}"]},
                )
            if index in appealed:
                raise Conflict(
                    f"line {index} was already appealed", {"lines": [f"line {index} already appealed"]}
                )
        now = clock.now()
        due = appeal_due(now, entries[0].urgency, self.authorizations.zone, self.appeal_days)
        result = {"lines": indices, "reason": body["reason"], "due_by": iso(due)}
        return self._append(entries, "appeal", actor, body, result)

    def _case(self, decision_id: str, actor: Actor) -> list[LogEntry]:
        """The case, if the actor may see it, without recording a read: the entry records the actor."""
        return self.authorizations.entries(decision_id, actor)

    def _append(
        self,
        entries: list[LogEntry],
        kind: str,
        actor: Actor,
        request: dict[str, Any],
        result: dict[str, Any],
        engine_version: str = "",
    ) -> dict[str, Any]:
        first = entries[0]
        entry = LogEntry(
            entry_id=str(uuid.uuid4()),
            decision_id=first.decision_id,
            kind=kind,
            organization=first.organization,
            request_id=first.request_id,
            request_sha256=sha256_of(request),
            member_id=first.member_id,
            urgency=first.urgency,
            status="",
            received_at=clock.now(),
            actor=actor.name,
            actor_role=actor.role,
            engine_version=engine_version or ENGINE_VERSION,
            policies=first.policies,
            request=request,
            result=result,
        )
        case = [*entries, entry]
        entry.status = request_status(current_lines(case))
        self.log.append(entry, after=entries[-1].seq)
        if entry.status != "pended":
            self.store.release(first.decision_id)
        return case_view(case)


def merged(request: dict[str, Any], added: dict[str, Any]) -> dict[str, Any]:
    """The request with the added facts: clinical keys replaced, lists extended without repeats."""
    result = dict(request)
    if "clinical" in added:
        result["clinical"] = {**(request.get("clinical") or {}), **added["clinical"]}
    for name in ("documentation", "diagnoses"):
        if name in added:
            known = list(request.get(name) or [])
            result[name] = known + [value for value in added[name] if value not in known]
    if "history" in added:
        result["history"] = [*(request.get("history") or []), *added["history"]]
    return result


def appeal_due(received: dt.datetime, urgency: str, zone: Any, days: int) -> dt.datetime:
    """72 hours for expedited; 23:59:59 on the ``days``-th calendar day in the plan's zone."""
    if urgency == "expedited":
        return received + dt.timedelta(hours=72)
    day = received.astimezone(zone).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(23, 59, 59), zone).astimezone(dt.UTC)


def _line_index(index: int, lines: list[dict[str, Any]], field: str = "line") -> int:
    if not 0 <= index < len(lines):
        raise RequestInvalid(
            f"the case has no line {index}", {field: [f"must be a line index from 0 to {len(lines) - 1}"]}
        )
    return index


def _parse(moment: str) -> dt.datetime:
    return dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
