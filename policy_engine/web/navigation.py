"""What each role sees in the navigation, and where it lands after signing in."""

from __future__ import annotations

from typing import NamedTuple


class Item(NamedTuple):
    endpoint: str
    label: str
    roles: tuple[str, ...]


NAVIGATION = (
    Item("web.submit.form", "New request", ("submitter",)),
    Item("web.queue.queue", "Review queue", ("reviewer",)),
    Item("web.policies.listing", "Policies", ("author", "cmo")),
    Item("web.policies.new_version", "Submit a version", ("author",)),
    Item("web.audit.decisions", "Decision log", ("auditor",)),
    Item("web.audit.integrity", "Integrity", ("auditor",)),
    Item("web.audit.metrics", "Metrics", ("cmo", "auditor")),
)


def items_for(role: str) -> list[Item]:
    return [item for item in NAVIGATION if role in item.roles]


def home_for(role: str) -> str | None:
    """The first page of the role's navigation; None for a role without pages (admin)."""
    found = items_for(role)
    return found[0].endpoint if found else None
