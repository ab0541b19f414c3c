"""Decisions as plain data (for JSON and the log) and as a readable tree (for people)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..model import Policy
from ..values import to_json
from .determination import LineDetermination, PolicyResult
from .evaluator import Decision
from .outcome import NOT_APPLICABLE, Outcome

_MARK = {"met": "✔", "not_met": "✘", "unknown": "?", "not_applicable": "-"}


def decision_dict(decision: Decision) -> dict[str, Any]:
    return {
        "status": decision.status,
        "engine_version": decision.engine_version,
        "lines": [line_dict(line) for line in decision.lines],
    }


def line_dict(line: LineDetermination) -> dict[str, Any]:
    day = line.date_of_service
    return {
        "index": line.index,
        "code": line.code,
        "date_of_service": day.isoformat() if isinstance(day, dt.date) else day,
        "outcome": line.outcome,
        "reason": line.reason,
        "x12_action": line.x12_action,
        "missing": list(line.missing),
        "decided_by": [
            {
                **policy_ref(policy),
                "node": o.node.id,
                "text": o.node.text,
                "cite": o.node.cite,
                "status": o.status,
            }
            for policy, o in line.failed
        ],
        "policies": [policy_result_dict(result) for result in line.results],
    }


def policy_ref(policy: Policy) -> dict[str, Any]:
    return {"policy": policy.id, "version": policy.version, "sha256": policy.sha256}


def policy_result_dict(result: PolicyResult) -> dict[str, Any]:
    return {
        **policy_ref(result.policy),
        "title": result.policy.title,
        "governs": result.governs,
        "result": result.result if result.governs else "not_applicable",
        "missing": list(result.missing),
        "applies_when": outcome_dict(result.when) if result.when else None,
        "coverage": [outcome_dict(o) for o in result.coverage],
        "documentation": [outcome_dict(o) for o in result.documentation],
        "criteria": outcome_dict(result.criteria) if result.criteria else None,
    }


def outcome_dict(outcome: Outcome, inapplicable: bool = False) -> dict[str, Any]:
    """One node; descendants of a not-applicable node are traced as not applicable."""
    node = outcome.node
    status = NOT_APPLICABLE if inapplicable else outcome.status
    below = inapplicable or status == NOT_APPLICABLE
    data: dict[str, Any] = {"id": node.id, "kind": node.kind, "status": status}
    if node.text:
        data["text"] = node.text
    if node.cite:
        data["cite"] = node.cite
    if outcome.facts:
        data["facts"] = to_json(outcome.facts)
    if outcome.missing and status == "unknown":
        data["missing"] = list(outcome.missing)
    if outcome.invalid:
        data["invalid"] = list(outcome.invalid)
    if outcome.guard is not None:
        data["applies_when"] = outcome_dict(outcome.guard, inapplicable)
    if outcome.target is not None:
        data["ref"] = outcome.target.node.id
    if outcome.children:
        data["children"] = [outcome_dict(child, below) for child in outcome.children]
    return data


def render_text(data: dict[str, Any]) -> str:
    """A decision dict as an indented tree a nurse or an author can read."""
    out = [f"Request: {data['status']}"]
    for line in data["lines"]:
        reason = f" ({line['reason']})" if line["reason"] else ""
        out.append(
            f"\nLine {line['index'] + 1}: {line['code']} on {line['date_of_service']}: "
            f"{line['outcome']}{reason} [X12 {line['x12_action']}]"
        )
        if line["missing"]:
            out.append(f"  needs: {', '.join(line['missing'])}")
        for policy in line["policies"]:
            out.append(f"  {policy['policy']} v{policy['version']} — {policy['title']}: {policy['result']}")
            for section in ("applies_when", "coverage", "documentation", "criteria"):
                items = policy[section]
                items = [items] if isinstance(items, dict) else (items or [])
                if items:
                    out.append(f"    {section}:")
                    for item in items:
                        _render_node(item, 3, out)
    return "\n".join(out)


def _render_node(node: dict[str, Any], depth: int, out: list[str]) -> None:
    pad = "  " * depth
    label = node.get("text") or node["id"]
    cite = f"  [{node['cite']}]" if node.get("cite") else ""
    facts = node.get("facts")
    shown = f"  ({', '.join(f'{k}={v}' for k, v in facts.items())})" if facts else ""
    out.append(f"{pad}{_MARK[node['status']]} {node['status']}: {label}{shown}{cite}")
    for problem in node.get("invalid", []):
        out.append(f"{pad}    invalid: {problem}")
    if node.get("applies_when"):
        out.append(f"{pad}  applies when:")
        _render_node(node["applies_when"], depth + 2, out)
    for child in node.get("children", []):
        _render_node(child, depth + 1, out)
