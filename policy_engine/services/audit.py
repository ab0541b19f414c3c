"""What auditors prove: the chain is intact, and a recorded decision reproduces."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..engine.evaluator import ENGINE_VERSION
from ..engine.trace import decision_dict
from ..storage.decision_log import ChainReport, DecisionLog
from ..storage.tokens import Actor
from .authorizations import Authorizations
from .catalog import PolicyCatalog

# What the engine decides about a line; authorization numbers and deadlines are not replayed.
_ENGINE_FIELDS = ("outcome", "reason", "x12_action", "missing", "decided_by", "policies")


def verify_report(report: ChainReport) -> dict[str, Any]:
    return {
        "intact": report.intact,
        "entries": report.entries,
        "head": {"seq": report.head_seq, "entry_hash": report.head_hash},
        "problem": None
        if report.problem is None
        else {
            "seq": report.problem.seq,
            "entry_id": report.problem.entry_id,
            "message": report.problem.problem,
        },
    }


class Audit:
    def __init__(self, log: DecisionLog, catalog: PolicyCatalog, authorizations: Authorizations) -> None:
        self.log = log
        self.catalog = catalog
        self.authorizations = authorizations

    def verify(
        self, anchor: tuple[int, str] | None = None, progress: Callable[[int], None] | None = None
    ) -> dict[str, Any]:
        """Check the whole chain in bounded memory; ``progress`` hears how many entries were checked."""
        return verify_report(self.log.verify(anchor, progress))

    def replay(self, decision_id: str, actor: Actor) -> dict[str, Any]:
        """Re-evaluate the recorded request with the recorded policy versions, and compare."""
        first = self.authorizations.read(decision_id, actor, action="replay")[0]
        recorded_versions = {(p["policy"], p["version"]): p["sha256"] for p in first.policies}
        policies = self.catalog.store.versions(list(recorded_versions))
        found = {(p.id, p.version): p.sha256 for p in policies}
        versions = [
            {
                "policy": policy_id,
                "version": version,
                "sha256": sha,
                "available": (policy_id, version) in found,
                "unchanged": found.get((policy_id, version)) == sha,
            }
            for (policy_id, version), sha in sorted(recorded_versions.items())
        ]
        replayed = decision_dict(self.catalog.evaluator_for(policies).evaluate(first.request))
        lines = []
        for recorded, again in zip(first.result["lines"], replayed["lines"], strict=True):
            differences = [name for name in _ENGINE_FIELDS if recorded.get(name) != again.get(name)]
            lines.append(
                {
                    "index": recorded["index"],
                    "code": recorded["code"],
                    "recorded": {"outcome": recorded["outcome"], "reason": recorded["reason"]},
                    "replayed": {"outcome": again["outcome"], "reason": again["reason"]},
                    "differences": differences,
                }
            )
        reproduced = all(not line["differences"] for line in lines) and all(v["unchanged"] for v in versions)
        return {
            "decision_id": first.decision_id,
            "reproduced": reproduced,
            "recorded_engine_version": first.engine_version,
            "engine_version": ENGINE_VERSION,
            "policies": versions,
            "lines": lines,
        }
