"""The set of loaded policy versions, and which of them govern a code on a date."""

from __future__ import annotations

import datetime as dt

from ..model import Policy


class PolicyLibrary:
    """Versions by policy id, ordered; answers "which versions govern this line"."""

    def __init__(self, policies: list[Policy]) -> None:
        self.versions: dict[str, list[Policy]] = {}
        for policy in sorted(policies, key=lambda p: (p.id, p.version)):
            self.versions.setdefault(policy.id, []).append(policy)

    def __iter__(self):
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
