"""From settled outcomes to a line's determination, and from lines to the request's status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..model import Policy
from .outcome import MET, NOT_MET, UNKNOWN, Outcome, decisive_failures, decisive_unknowns

X12_ACTION = {
    "approved": "A1",
    "partially_approved": "A2",
    "not_covered": "A3",
    "denied": "A3",
    "pended": "A4",
    "modified": "A6",
}
_SEVERITY = {"not_covered": 3, "clinical_review": 2, "missing_information": 1, "approved": 0}


@dataclass
class PolicyResult:
    """One governing policy version's verdict on a line, with its trees."""

    policy: Policy
    when: Outcome | None
    coverage: list[Outcome]
    documentation: list[Outcome]
    criteria: Outcome | None
    result: str = "approved"  # approved | not_covered | clinical_review | missing_information
    missing: list[str] = field(default_factory=list)
    failed: list[Outcome] = field(default_factory=list)  # coverage entries or criteria not met

    def decide(self) -> None:
        # Plain loops rather than comprehensions: this runs for every version on every line.
        missing = self.missing
        unknown = _note_unknown(self.when, missing)
        not_covered: list[Outcome] = []
        for outcome in self.coverage:
            if _note_unknown(outcome, missing):
                unknown = True
            elif outcome.status == NOT_MET:
                not_covered.append(outcome)
        criteria = self.criteria
        if _note_unknown(criteria, missing):
            unknown = True
        for document in self.documentation:
            _note_unknown(document, missing)
        if not_covered:
            self.result, self.failed = "not_covered", not_covered
        elif criteria is not None and criteria.status == NOT_MET:
            self.result, self.failed = "clinical_review", decisive_failures(criteria)
        elif missing or unknown:
            self.result = "missing_information"
        else:
            self.result = "approved"

    @property
    def governs(self) -> bool:
        return self.when is None or self.when.status != NOT_MET


@dataclass
class LineDetermination:
    index: int
    code: str | None
    date_of_service: str | None
    outcome: str  # approved | not_covered | pended
    reason: str | None  # no_policy | clinical_review | missing_information
    missing: list[str]
    results: list[PolicyResult]
    failed: list[tuple[Policy, Outcome]]

    @property
    def x12_action(self) -> str:
        return X12_ACTION[self.outcome]


def determine_line(
    index: int, code: str | None, day: str | None, results: list[PolicyResult]
) -> LineDetermination:
    """DESIGN.md's order: no policy, coverage, criteria, unknowns, approved; most severe wins."""
    governing = []
    for result in results:
        if result.governs:
            governing.append(result)
    if not governing:
        return LineDetermination(index, code, day, "pended", "no_policy", [], results, [])
    worst = governing[0]
    for result in governing:  # the first of the most severe, as max() would pick
        if _SEVERITY[result.result] > _SEVERITY[worst.result]:
            worst = result
    if worst.result == "approved":
        return LineDetermination(index, code, day, "approved", None, [], results, [])
    failed = [(r.policy, o) for r in governing if r.result == worst.result for o in r.failed]
    if worst.result == "not_covered":
        return LineDetermination(index, code, day, "not_covered", None, [], results, failed)
    missing: list[str] = []
    for result in governing:
        _extend(missing, result.missing)
    return LineDetermination(index, code, day, "pended", worst.result, missing, results, failed)


def request_status(outcomes: list[str]) -> str:
    """``pended`` if any line is, the shared outcome if all agree, else ``partial``."""
    if not outcomes:
        return "pended"
    if "pended" in outcomes:
        return "pended"
    first = outcomes[0]
    return first if outcomes.count(first) == len(outcomes) else "partial"


def _note_unknown(outcome: Outcome | None, missing: list[str]) -> bool:
    """Whether the outcome is unknown; if so, what decides it joins ``missing``."""
    if outcome is None or outcome.status != UNKNOWN:
        return False
    _extend(missing, decisive_unknowns(outcome))
    return True


def _extend(found: list[str], items: list[str]) -> None:
    for item in items:
        if item not in found:
            found.append(item)


__all__ = [
    "MET",
    "X12_ACTION",
    "Any",
    "LineDetermination",
    "PolicyResult",
    "determine_line",
    "request_status",
]
