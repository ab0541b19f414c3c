"""Auditors' reading of the log: search by page, export as a stream, the access trail.

Every decision an auditor is shown, on a page or in an export, is recorded in the
access trail before it is sent.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from ..errors import RequestInvalid
from ..storage.access_trail import AccessTrail, Read
from ..storage.decision_query import DECISION_COLUMNS, DecisionFilter, DecisionIndex
from ..storage.tokens import Actor
from .authorizations import iso
from .decision_export import CsvWriter, NdjsonWriter

FILTERS = (
    "from",
    "to",
    "policy",
    "version",
    "outcome",
    "reason",
    "x12_action",
    "code",
    "member_id",
    "submitter",
    "organization",
    "reviewer",
    "urgency",
    "overdue",
)
_CHUNK = 5000  # decisions recorded in the trail (one transaction), then sent, at a time


def decision_filter(filters: dict[str, Any], now: dt.datetime | None = None) -> DecisionFilter:
    """The API's filter names as the store's filter."""
    return DecisionFilter(
        recorded_from=filters.get("from"),
        recorded_to=filters.get("to"),
        policy=filters.get("policy"),
        policy_version=filters.get("version"),
        outcome=filters.get("outcome"),
        reason=filters.get("reason"),
        x12_action=filters.get("x12_action"),
        code=filters.get("code"),
        member_id=filters.get("member_id"),
        submitter=filters.get("submitter"),
        organization=filters.get("organization"),
        reviewer=filters.get("reviewer"),
        urgency=filters.get("urgency"),
        overdue=filters.get("overdue"),
        now=now or dt.datetime.now(dt.UTC),
    )


def filters_echo(filters: dict[str, Any]) -> dict[str, Any]:
    """The filters as given, in JSON terms, for headers and responses."""
    return {
        name: iso(value) if isinstance(value, dt.datetime) else value
        for name in FILTERS
        if (value := filters.get(name)) is not None
    }


class Cursor:
    """An opaque page token: the last position seen, bound to the query it came from."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.digest = hashlib.sha256(json.dumps(scope, sort_keys=True).encode()).hexdigest()[:16]

    def encode(self, position: int) -> str:
        raw = json.dumps({"after": position, "query": self.digest}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode(self, token: str | None) -> int | None:
        if token is None:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            position, digest = data["after"], data["query"]
        except (binascii.Error, ValueError, TypeError, KeyError):
            raise RequestInvalid(
                "the cursor is not valid", {"cursor": ["not a cursor this service issued"]}
            ) from None
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise RequestInvalid("the cursor is not valid", {"cursor": ["not a cursor this service issued"]})
        if digest != self.digest:
            raise RequestInvalid(
                "the cursor belongs to another query",
                {"cursor": ["issued for different filters or order; start again without it"]},
            )
        return position


def line_view(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "index": line["line"],
        "code": line["code"],
        "date_of_service": line["date_of_service"],
        "outcome": line["outcome"],
        "reason": line["reason"],
        "x12_action": line["x12_action"],
        "policies": [_policy_ref(label) for label in line["policies"].split()],
        "decided_by": json.loads(line["decided_by"]),
        "authorization_number": line["authorization_number"],
        "due_by": iso(line["due_by"]) if line["due_by"] else None,
    }


def decision_view(decision: dict[str, Any]) -> dict[str, Any]:
    view = {name: decision[name] for name in DECISION_COLUMNS if name != "actor"}
    view["submitted_by"] = decision["actor"]
    view["recorded_at"] = iso(decision["recorded_at"])
    view["received_at"] = iso(decision["received_at"])
    view["lines"] = [line_view(line) for line in decision["lines"]]
    if "later" in decision:
        view["later_entries"] = [{**e, "recorded_at": iso(e["recorded_at"])} for e in decision["later"]]
        for entry in view["later_entries"]:
            del entry["decision_id"]
    return view


def _policy_ref(label: str) -> dict[str, Any]:
    policy, _, version = label.rpartition("@")
    return {"policy": policy, "version": int(version)}


class DecisionSearch:
    def __init__(self, index: DecisionIndex, trail: AccessTrail) -> None:
        self.index = index
        self.trail = trail

    def search(self, query: dict[str, Any], actor: Actor) -> dict[str, Any]:
        """One page of matching decisions, oldest first (or newest with ``order=desc``)."""
        descending = query.get("order") == "desc"
        cursor = Cursor({"filters": filters_echo(query), "order": descending})
        after = cursor.decode(query.get("cursor"))
        decisions, more = self.index.page(decision_filter(query), after, query["limit"], descending)
        self.trail.record_many(
            actor, "search", [(d["seq"], d["decision_id"], d["member_id"]) for d in decisions]
        )
        return {
            "filters": filters_echo(query),
            "decisions": [decision_view(d) for d in decisions],
            "next_cursor": cursor.encode(decisions[-1]["seq"]) if more else None,
        }

    def export(
        self, query: dict[str, Any], fmt: str, actor: Actor, now: dt.datetime | None = None
    ) -> Iterator[str]:
        """The matching decisions as CSV (one row per line) or NDJSON (one object per decision).

        Both open with what was exported, when and by whom, and end with a count, so a
        truncated file shows. The rows come from one database snapshot.
        """
        now = now or dt.datetime.now(dt.UTC)
        header = {"exported_at": iso(now), "exported_by": actor.name, "filters": filters_echo(query)}
        writer = CsvWriter(header) if fmt == "csv" else NdjsonWriter(header)
        if self.index.formats_in_database:
            yield from self._export_formatted(decision_filter(query, now), fmt, actor, writer)
            return
        rows = self.index.lines(decision_filter(query, now))
        yield writer.start()
        pending: list[Read] = []
        decisions = lines = 0
        last_seq = None
        for row in rows:
            if row[0] != last_seq:
                if len(pending) >= _CHUNK:
                    self.trail.record_many(actor, "export", pending)
                    yield writer.flush()
                    pending = []
                last_seq = row[0]
                decisions += 1
                pending.append((row[0], row[1], row[5]))
            lines += 1
            writer.add(row)
        self.trail.record_many(actor, "export", pending)
        yield writer.flush()
        yield writer.end(decisions, lines)

    def _export_formatted(
        self, f: DecisionFilter, fmt: str, actor: Actor, writer: CsvWriter | NdjsonWriter
    ) -> Iterator[str]:
        """The database formats the rows; every exported decision's read is recorded before it is sent."""

        def record(positions: list[int]) -> None:
            self.trail.record_positions(actor, "export", positions)

        decisions = lines = 0
        started = False
        for text, begun, count in self.index.formatted(f, fmt, record):
            if not started:
                yield writer.start()
                started = True
            decisions, lines = decisions + begun, lines + count
            yield text
        if not started:
            yield writer.start()
        if fmt == "ndjson" and decisions:
            yield "]}\n"
        yield writer.end(decisions, lines)

    def access(self, query: dict[str, Any]) -> dict[str, Any]:
        """Recorded reads, oldest first, filtered by who read and whose record."""
        echo = {k: query[k] for k in ("user", "member_id", "decision_id") if query.get(k) is not None}
        echo.update({k: iso(query[k]) for k in ("from", "to") if query.get(k) is not None})
        cursor = Cursor({"access": echo})
        rows, more = self.trail.listing(
            actor=query.get("user"),
            member_id=query.get("member_id"),
            decision_id=query.get("decision_id"),
            period=(query.get("from"), query.get("to")),
            after=cursor.decode(query.get("cursor")),
            limit=query["limit"],
        )
        return {
            "filters": echo,
            "reads": [{**row, "at": iso(row["at"])} for row in rows],
            "next_cursor": cursor.encode(rows[-1]["id"]) if more else None,
        }
