"""The policy's own words behind a line's unmet and unknown criteria, for the reviewer reading a case."""

from __future__ import annotations

from typing import Any

from ..model import Policy
from ..storage.policy_store import PolicyStore

SHOWN = ("not_met", "unknown")
MAX_LINES = 12


class PolicyText:
    """Looks up recorded policy versions and quotes the nodes a trace points at."""

    def __init__(self, store: PolicyStore) -> None:
        self.store = store

    def behind(self, line: dict[str, Any]) -> list[dict[str, Any]]:
        """For each governing policy of the line, its unmet/unknown nodes: text, citation, YAML."""
        results = [result for result in line.get("policies", ()) if result.get("governs")]
        versions = {(p.id, p.version): p for p in self.store.versions([_key(r) for r in results])}
        quoted = []
        for result in results:
            policy = versions.get(_key(result))
            if policy is None:
                continue
            nodes = [_quote(policy, node_id, status) for node_id, status in _unsettled(result)]
            if nodes:
                quoted.append(
                    {"policy": policy.id, "version": policy.version, "title": policy.title, "nodes": nodes}
                )
        return quoted

    def references(self, line: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Every reference of the line's policies by id, so a trace's citations can link to them."""
        keys = [_key(result) for result in line.get("policies", ())]
        found: dict[str, dict[str, Any]] = {}
        for policy in self.store.versions(keys):
            for ref in policy.references.values():
                found.setdefault(ref.id, {"title": ref.title, "url": ref.url})
        return found


def _key(result: dict[str, Any]) -> tuple[str, int]:
    return (result["policy"], result["version"])


def _unsettled(result: dict[str, Any]) -> list[tuple[str, str]]:
    """(node id, status) of every unmet or unknown leaf of a trace, in reading order.

    Leaves are where the policy states a test; the guard of a node that does not apply is
    left out, since its failing is what made the node not apply.
    """
    found: list[tuple[str, str]] = []

    def visit(node: dict[str, Any]) -> None:
        leaf = not node.get("children")
        if leaf and node["status"] in SHOWN and all(node["id"] != seen for seen, _ in found):
            found.append((node["id"], node["status"]))
        if node.get("applies_when") and node["status"] != "not_applicable":
            visit(node["applies_when"])
        for child in node.get("children", ()):
            visit(child)

    for root in [result.get("applies_when"), *result.get("coverage", ()), *result.get("documentation", ())]:
        if root:
            visit(root)
    if result.get("criteria"):
        visit(result["criteria"])
    return found


def _quote(policy: Policy, node_id: str, status: str) -> dict[str, Any]:
    node = policy.nodes.get(node_id)
    if node is None:
        return {
            "id": node_id,
            "status": status,
            "text": None,
            "cite": None,
            "reference": None,
            "yaml": "",
            "line": None,
        }
    reference = policy.references.get((node.cite or "").split(" ", 1)[0]) if node.cite else None
    return {
        "id": node_id,
        "status": status,
        "text": node.text,
        "cite": node.cite,
        "reference": {"title": reference.title, "url": reference.url} if reference else None,
        "yaml": excerpt(policy.source, node.line),
        "line": node.line,
    }


def excerpt(source: str, line: int) -> str:
    """The YAML block that starts on ``line`` (1-based): that line and the lines indented under it."""
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    first = lines[line - 1]
    indent = len(first) - len(first.lstrip())
    block = [first]
    for text in lines[line:]:
        if text.strip() and len(text) - len(text.lstrip()) <= indent:
            break
        block.append(text)
        if len(block) >= MAX_LINES:
            block.append(" " * (indent + 2) + "…")
            break
    return "\n".join(block).rstrip()
