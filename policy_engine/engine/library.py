"""The set of loaded policy versions, and which of them govern a code on a date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ..model import Policy

T = TypeVar("T")


class PolicyLibrary:
    """Versions by policy id, ordered; answers "which versions govern this line"."""

    def __init__(self, policies: list[Policy]) -> None:
        self.versions: dict[str, list[Policy]] = {}
        for policy in sorted(policies, key=lambda p: (p.id, p.version)):
            self.versions.setdefault(policy.id, []).append(policy)

    def __iter__(self) -> Iterator[Policy]:
        for versions in self.versions.values():
            yield from versions

    def version_of(self, policy_id: str, day: dt.date | None) -> Policy | None:
        """The version of a policy in effect on a date of service."""
        if day is None:
            return None
        for policy in self.versions.get(policy_id, ()):
            if policy.governs(day):
                return policy
        return None

    def governing(self, code: str | None, day: dt.date | None) -> list[Policy]:
        """Versions whose services list the code and whose period contains the date."""
        if code is None or day is None:
            return []
        found = []
        for versions in self.versions.values():
            for policy in versions:
                if policy.governs(day) and code in policy.services:
                    found.append(policy)
        return found


class ServiceIndex(Generic[T]):
    """Which versions may govern a code, found by a dict look-up instead of a scan.

    ``PolicyLibrary.governing`` tests every version's services for every line; this
    keeps, per code a version lists exactly, the versions whose services hold it, in
    library order, so a line tests only the dates of the few that can govern it. Each entry
    carries what the caller wants with the version (the evaluator: its plan).
    """

    def __init__(self, library: PolicyLibrary, attach: Callable[[Policy], T]) -> None:
        entries = [(policy, attach(policy)) for policy in library]
        self._ranged = tuple(entry for entry in entries if entry[0].services.ranges)
        codes = {code for policy, _ in entries for code in policy.services.codes}
        # A listed code's versions are known now; only their dates are left to test.
        self._listing = {code: tuple(e for e in entries if e[0].services.holds(code)) for code in codes}

    def governing(self, code: str | None, day: dt.date | None) -> list[T]:
        """What ``PolicyLibrary.governing`` finds, for a normalized code."""
        if code is None or day is None:
            return []
        found = []
        listed = self._listing.get(code)
        for policy, attached in listed if listed is not None else self._ranged:
            if policy.governs(day) and (listed is not None or policy.services.holds(code)):
                found.append(attached)
        return found
