"""CMS-0057-F public-reporting figures and the plan's own review figures, from the log.

Counted per service line (each item or service requested), for the cases received in
the period; pend aging and overdue are a snapshot of every open case now.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from dataclasses import dataclass, field
from typing import Any

from .. import clock
from ..storage.decision_log import utc
from ..storage.models import LogEntry
from ..storage.review_store import ReviewStore
from .authorizations import iso
from .case_state import current_lines

URGENCIES = ("standard", "expedited")
AGE_BUCKETS = (("under_24h", 24), ("24h_to_72h", 72), ("72h_to_7d", 168), ("over_7d", None))
DENIED = ("denied", "not_covered")


@dataclass
class Tally:
    """The counts behind one block of figures (an urgency, or a policy and an urgency)."""

    lines: int = 0
    decided: int = 0
    approved: int = 0
    denied: int = 0
    approved_after_appeal: int = 0
    approved_after_extension: int = 0
    auto_approved: int = 0
    hours: list[float] = field(default_factory=list)
    aging: dict[str, int] = field(default_factory=lambda: {name: 0 for name, _ in AGE_BUCKETS})
    overdue: int = 0

    def figures(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "decided": self.decided,
            "approved": self.approved,
            "denied": self.denied,
            "percent_approved": _percent(self.approved, self.decided),
            "percent_denied": _percent(self.denied, self.decided),
            "percent_approved_after_appeal": _percent(self.approved_after_appeal, self.decided),
            "percent_approved_after_extension": _percent(self.approved_after_extension, self.decided),
            "auto_approval_rate": _percent(self.auto_approved, self.lines),
            "average_hours_to_determination": _round(statistics.fmean(self.hours)) if self.hours else None,
            "median_hours_to_determination": _round(statistics.median(self.hours)) if self.hours else None,
            "pend_aging": dict(self.aging),
            "overdue": self.overdue,
        }


class Metrics:
    """Computes the figures for a period."""

    def __init__(self, store: ReviewStore) -> None:
        self.store = store

    def report(self, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        now = clock.now()
        totals = {urgency: Tally() for urgency in URGENCIES}
        policies: dict[str, dict[str, Tally]] = {}

        def tallies(urgency: str, line: dict[str, Any]) -> list[Tally]:
            governing = [p["policy"] for p in line["policies"] if p.get("governs")]
            found = [totals[urgency]]
            for policy in governing:
                found.append(policies.setdefault(policy, {u: Tally() for u in URGENCIES})[urgency])
            return found

        for entries in self.store.cases_received(start, end):
            for line, facts in line_facts(entries):
                for tally in tallies(entries[0].urgency, line):
                    _count(tally, facts)
        for entries in self.store.open_cases():
            age = (now - utc(entries[0].received_at)).total_seconds() / 3600
            pended = [line for line in current_lines(entries) if line["outcome"] == "pended"]
            overdue = any(now > _parse(line["due_by"]) for line in pended)
            counted: set[int] = set()
            for line in pended:
                for tally in tallies(entries[0].urgency, line):
                    if id(tally) not in counted:
                        counted.add(id(tally))
                        tally.aging[_bucket(age)] += 1
                        tally.overdue += overdue
        return {
            "period": {"from": iso(start), "to": iso(end)},
            "as_of": iso(now),
            "urgency": {urgency: totals[urgency].figures() for urgency in URGENCIES},
            "policies": {
                policy: {urgency: by[urgency].figures() for urgency in URGENCIES}
                for policy, by in sorted(policies.items())
            },
        }


def line_facts(entries: list[LogEntry]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each line's final state with what the figures need: when it was first decided, and how."""
    received = utc(entries[0].received_at)
    first_decided: dict[int, float] = {}
    for upto in range(1, len(entries) + 1):
        for line in current_lines(entries[:upto]):
            if line["outcome"] != "pended" and line["index"] not in first_decided:
                moment = utc(entries[upto - 1].recorded_at)
                first_decided[line["index"]] = (moment - received).total_seconds() / 3600
    extended = {int(i) for e in entries if e.kind == "extension" for i in e.result["due_by"]}
    result = []
    for line in current_lines(entries):
        approved = line["outcome"] == "approved"
        result.append(
            (
                line,
                {
                    "decided": line["outcome"] != "pended",
                    "approved": approved,
                    "denied": line["outcome"] in DENIED,
                    "after_appeal": approved and bool(line.get("on_appeal")),
                    "after_extension": approved and line["index"] in extended,
                    "auto": approved and not line.get("determined_by"),
                    "hours": first_decided.get(line["index"]),
                },
            )
        )
    return result


def as_csv(report: dict[str, Any]) -> str:
    """One row per policy (``all`` for every line) and urgency."""
    rows = [("all", urgency, figures) for urgency, figures in report["urgency"].items()]
    rows += [
        (policy, urgency, figures)
        for policy, by in report["policies"].items()
        for urgency, figures in by.items()
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    scalar = [name for name in rows[0][2] if name != "pend_aging"]
    writer.writerow(["policy", "urgency", *scalar, *(f"pend_aging_{name}" for name, _ in AGE_BUCKETS)])
    for policy, urgency, figures in rows:
        aging = [figures["pend_aging"][name] for name, _ in AGE_BUCKETS]
        writer.writerow(
            [policy, urgency, *("" if figures[n] is None else figures[n] for n in scalar), *aging]
        )
    return buffer.getvalue()


def _count(tally: Tally, facts: dict[str, Any]) -> None:
    tally.lines += 1
    tally.decided += facts["decided"]
    tally.approved += facts["approved"]
    tally.denied += facts["denied"]
    tally.approved_after_appeal += facts["after_appeal"]
    tally.approved_after_extension += facts["after_extension"]
    tally.auto_approved += facts["auto"]
    if facts["decided"] and facts["hours"] is not None:
        tally.hours.append(facts["hours"])


def _bucket(hours: float) -> str:
    for name, limit in AGE_BUCKETS:
        if limit is None or hours < limit:
            return name
    raise AssertionError("the last bucket has no limit")


def _percent(part: int, whole: int) -> float | None:
    return _round(100 * part / whole) if whole else None


def _round(value: float) -> float:
    return round(value, 2)


def _parse(moment: str) -> dt.datetime:
    return dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
