"""The review queue: pended lines, oldest due first, with stable cursors; claims on cases."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from .. import clock
from ..errors import Conflict, RequestInvalid
from ..storage.models import LogEntry
from ..storage.review_store import ReviewStore
from ..storage.tokens import Actor
from .authorizations import Authorizations, iso
from .case_state import current_lines, request_status


class ReviewQueue:
    """Lists open work and records who is working which case."""

    def __init__(self, authorizations: Authorizations, store: ReviewStore) -> None:
        self.authorizations = authorizations
        self.store = store

    def pending(self, query: dict[str, Any]) -> dict[str, Any]:
        """One page of pended lines matching the filters, ordered by (due_by, decision_id, line)."""
        after = decode_cursor(query["cursor"]) if query.get("cursor") else None
        now = clock.now()
        claims = self.store.claims()
        items = [
            item
            for entries in self.store.open_cases()
            for item in queue_items(entries, now, claims.get(entries[0].decision_id))
            if matches(item, query)
        ]
        items.sort(key=sort_key)
        if after is not None:
            items = [item for item in items if sort_key(item) > after]
        page = items[: query["limit"]]
        more = len(items) > len(page)
        return {"items": page, "next_cursor": encode_cursor(page[-1]) if more else None}

    def claim(self, decision_id: str, actor: Actor) -> dict[str, Any]:
        """Take a pended case for review; a second reviewer gets ``Conflict``."""
        entries = self.authorizations.entries(decision_id, actor)
        case = entries[0].decision_id
        if request_status(current_lines(entries)) != "pended":
            raise Conflict("only a pended case can be claimed", {"decision_id": ["not pended"]})
        self.store.claim(case, actor.name, clock.now())
        return {"decision_id": case, "claimed_by": actor.name}

    def release(self, decision_id: str, actor: Actor) -> None:
        """Give a claimed case back to the queue; only its holder may."""
        case = self.authorizations.entries(decision_id, actor)[0].decision_id
        holder = self.store.holder(case)
        if holder != actor.name or not self.store.release(case, actor.name):
            why = f"it is claimed by {holder}" if holder else "it is not claimed"
            raise Conflict(f"the case cannot be released: {why}", {"decision_id": [why]})


def queue_items(entries: list[LogEntry], now: dt.datetime, claimed_by: str | None) -> list[dict[str, Any]]:
    """The case's pended lines as the queue shows them."""
    first = entries[0]
    items = []
    for line in current_lines(entries):
        if line["outcome"] != "pended":
            continue
        due = _parse(line["due_by"])
        items.append(
            {
                "decision_id": first.decision_id,
                "line": line["index"],
                "code": line["code"],
                "date_of_service": line["date_of_service"],
                "member_id": first.member_id,
                "urgency": first.urgency,
                "reason": line["reason"],
                "not_met": _leaves(line, "not_met"),
                "unknown": _leaves(line, "unknown"),
                "missing": line.get("missing", []),
                "policies": [p["policy"] for p in line["policies"] if p.get("governs")],
                "received_at": iso(first.received_at),
                "due_by": iso(due),
                "overdue": now > due,
                "extended": bool(line.get("extended")),
                "claimed_by": claimed_by,
            }
        )
    return items


def matches(item: dict[str, Any], query: dict[str, Any]) -> bool:
    assigned = query.get("assigned")
    return (
        query.get("reason") in (None, item["reason"])
        and query.get("urgency") in (None, item["urgency"])
        and query.get("overdue") in (None, item["overdue"])
        and (query.get("policy") is None or query["policy"] in item["policies"])
        and (assigned is None or (item["claimed_by"] or "none") == assigned)
    )


def sort_key(item: dict[str, Any]) -> tuple[dt.datetime, str, int]:
    return (_parse(item["due_by"]), item["decision_id"], item["line"])


def encode_cursor(item: dict[str, Any]) -> str:
    raw = json.dumps([item["due_by"], item["decision_id"], item["line"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str, int]:
    """The position a cursor names; a cursor this service did not issue is a 422."""
    try:
        due, decision_id, line = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not (isinstance(decision_id, str) and isinstance(line, int)):
            raise ValueError
        return (_parse(due), decision_id, line)
    except (ValueError, TypeError, AttributeError, binascii.Error, UnicodeDecodeError):
        raise RequestInvalid(
            "the cursor is not valid", {"cursor": ["not a cursor from this queue"]}
        ) from None


def _leaves(line: dict[str, Any], status: str) -> list[str]:
    """Ids of the criteria leaves with the status, so a reviewer sees what failed or is unknown."""
    found: list[str] = []
    for policy in line["policies"]:
        for section in ("coverage", "documentation"):
            for node in policy.get(section) or []:
                _collect(node, status, found)
        if policy.get("criteria"):
            _collect(policy["criteria"], status, found)
    return found


def _collect(node: dict[str, Any], status: str, found: list[str]) -> None:
    children = node.get("children")
    if not children and node["status"] == status and node["id"] not in found:
        found.append(node["id"])
    for child in children or ():
        _collect(child, status, found)


def _parse(moment: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
