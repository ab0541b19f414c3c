"""What a reviewer's determination must say to be recorded: cited criteria, reduced amounts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from ..errors import RequestInvalid

# The reason code of a denial, from the part of the policy its first cited node belongs to.
REASON_CODES = {
    "criteria": "medical_necessity",
    "coverage": "not_covered",
    "documentation": "insufficient_documentation",
    "applies_when": "not_covered",
}


def check_determination(
    body: dict[str, Any], line: dict[str, Any], requested: int, default_end: dt.date
) -> dict[str, Any]:
    """The determination's recorded content, or ``RequestInvalid`` naming every field at fault."""
    outcome = body["outcome"]
    errors: dict[str, list[str]] = {}
    result: dict[str, Any] = {"outcome": outcome, "rationale": body["rationale"]}
    sections = trace_nodes(line)
    cited = list(dict.fromkeys(body.get("criteria") or []))
    unknown = [node for node in cited if node not in sections]
    if unknown:
        errors["criteria"] = [f"not a node of this line's policies: {', '.join(unknown)}"]
    elif outcome == "denied" and not cited:
        errors["criteria"] = ["a denial must cite the policy criteria it rests on"]
    elif cited:
        result["criteria"] = cited
    result["reason"] = (
        REASON_CODES[sections[cited[0]]] if outcome == "denied" and cited and not unknown else None
    )
    quantity, end = body.get("quantity"), body.get("valid_to")
    if outcome == "approved" and (quantity is not None or end is not None):
        message = "an approval covers the quantity and period requested; use partially_approved"
        errors.update({name: [message] for name in ("quantity", "valid_to") if body.get(name) is not None})
    if outcome in ("partially_approved", "modified"):
        if quantity is not None and quantity >= requested:
            errors["quantity"] = [f"must be less than the {requested} requested"]
        start = dt.date.fromisoformat(line["date_of_service"])
        if end is not None and not start <= end < default_end:
            errors["valid_to"] = [f"must be from {start} and before {default_end}, the full period"]
        if outcome == "partially_approved" and quantity is None and end is None:
            errors["quantity"] = ["a partial approval reduces the quantity or the period (valid_to)"]
        if outcome == "modified" and not body.get("modification"):
            errors["modification"] = ["say what was modified"]
    if errors:
        raise RequestInvalid("the determination cannot be recorded as sent", errors)
    result["quantity_approved"] = None if outcome == "denied" else (quantity or requested)
    if end is not None:
        result["valid_to"] = end.isoformat()
    if body.get("modification"):
        result["modification"] = body["modification"]
    return result


def trace_nodes(line: dict[str, Any]) -> dict[str, str]:
    """Every node id in a line's traces, with the section of the policy it stands in."""
    found: dict[str, str] = {}
    for policy in line.get("policies", ()):
        for section in ("applies_when", "coverage", "documentation", "criteria"):
            roots = policy.get(section) or []
            for root in [roots] if isinstance(roots, dict) else roots:
                for node_id in _ids(root):
                    found.setdefault(node_id, section)
    return found


def _ids(node: dict[str, Any]) -> Iterator[str]:
    yield node["id"]
    if node.get("applies_when"):
        yield from _ids(node["applies_when"])
    for child in node.get("children", ()):
        yield from _ids(child)
