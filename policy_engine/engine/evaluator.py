"""Evaluate an authorization request: every line, every governing policy version.

Prepared once (policies compiled into rulesets), evaluated many times; the evaluator
holds no per-request state, so one instance serves a whole process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..facts import LineFacts
from ..model import Policy
from .determination import LineDetermination, PolicyResult, determine_line, request_status
from .library import PolicyLibrary
from .outcome import settle
from .resolve import LineResolver, judged
from .rules import RulesHost

ENGINE_VERSION = f"policy-engine {__version__} (durable-rules 2.0.28)"


@dataclass
class Decision:
    status: str
    lines: list[LineDetermination]
    engine_version: str = ENGINE_VERSION


class Evaluator:
    """Compiles a library of policy versions and decides requests against it."""

    def __init__(self, policies: list[Policy], host: RulesHost | None = None) -> None:
        self.library = PolicyLibrary(policies)
        self.host = host or RulesHost()
        for policy in self.library:
            self.host.compile(policy)

    def evaluate(self, request: dict[str, Any]) -> Decision:
        lines = [self.evaluate_line(request, index) for index in range(len(request.get("services") or []))]
        return Decision(request_status([line.outcome for line in lines]), lines)

    def evaluate_line(self, request: dict[str, Any], index: int) -> LineDetermination:
        facts = LineFacts(request, index)
        day = facts.date_of_service
        resolver = LineResolver(facts, lambda policy_id: self.library.version_of(policy_id, day))
        results = []
        for policy in self.library.governing(facts.code, day):
            results.append(
                PolicyResult(
                    policy,
                    when=resolver.outcome(policy, policy.when) if policy.when else None,
                    coverage=[resolver.outcome(policy, node) for node in policy.coverage],
                    documentation=[resolver.outcome(policy, node) for node in policy.documentation],
                    criteria=resolver.outcome(policy, policy.criteria) if policy.criteria else None,
                )
            )
        self._judge(resolver)
        for result in results:
            for outcome in (result.when, *result.coverage, *result.documentation, result.criteria):
                if outcome is not None:
                    settle(outcome)
            result.decide()
        line = facts.line
        return determine_line(index, line.get("code"), line.get("date_of_service"), results)

    def _judge(self, resolver: LineResolver) -> None:
        for key, checks in resolver.checks.items():
            compiled = self.host.get(key)
            assert compiled is not None, f"{key} was not compiled"
            for check, met in zip(checks, self.host.judge(compiled, checks), strict=True):
                judged(check, met)
