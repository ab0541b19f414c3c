"""Evaluate an authorization request: every line, every governing policy version.

Prepared once (policies compiled into rulesets), evaluated many times; the evaluator
holds no per-request state, so one instance serves a whole process.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..facts import LineFacts
from ..model import Policy
from .determination import LineDetermination, PolicyResult, determine_line, request_status
from .library import PolicyLibrary, ServiceIndex
from .outcome import settle
from .plan import PolicyPlan
from .resolve import LineResolver, prepare
from .rules import RulesHost

ENGINE_VERSION = f"policy-engine {__version__} (durable-rules 2.0.28)"
PAST_PLANS = 8  # plans of versions whose period has ended, kept per evaluator


@dataclass
class Decision:
    status: str
    lines: list[LineDetermination]
    engine_version: str = ENGINE_VERSION


class Evaluator:
    """Compiles a library of policy versions and decides requests against it."""

    def __init__(
        self, policies: list[Policy], host: RulesHost | None = None, past_before: dt.date | None = None
    ) -> None:
        """``past_before``: versions whose period ended before this date (superseded ones,
        rarely asked for) keep at most ``PAST_PLANS`` plans, the most recently used, so
        memory does not grow with the number of versions ever approved."""
        self.library = PolicyLibrary(policies)
        self.host = host or RulesHost()
        self.past_before = past_before
        # Plans are made when a request first reaches a version, so superseded versions
        # nobody asks about cost no plan, however many there are.
        self._plans: dict[tuple[str, str], PolicyPlan] = {}
        self._past: OrderedDict[tuple[str, str], Policy] = OrderedDict()  # least recent first
        self._planning = threading.Lock()
        self._held: list[Policy] = []  # versions this evaluator keeps compiled in the host
        self._index = ServiceIndex(self.library, lambda policy: policy)
        # Once this evaluator is gone, the host may free what only it held.
        weakref.finalize(self, _release, self.host, self._held)

    def evaluate(self, request: dict[str, Any]) -> Decision:
        lines = []
        outcomes = []
        for index in range(len(request.get("services") or [])):
            line = self.evaluate_line(request, index)
            lines.append(line)
            outcomes.append(line.outcome)
        return Decision(request_status(outcomes), lines)

    def evaluate_line(self, request: dict[str, Any], index: int) -> LineDetermination:
        facts = LineFacts(request, index)
        day = facts.date_of_service
        resolver = LineResolver(facts, self.library.version_of, self._plan)
        results = []
        for policy in self._index.governing(facts.code, day):
            plan = self._plan(policy)
            when, coverage, documentation, criteria = resolver.roots(plan)
            results.append(PolicyResult(plan.policy, when, coverage, documentation, criteria))
        self._judge(resolver)
        for result in results:
            if result.when is not None:
                settle(result.when)
            for outcome in result.coverage:
                settle(outcome)
            for outcome in result.documentation:
                settle(outcome)
            if result.criteria is not None:
                settle(result.criteria)
            result.decide()
        line = facts.line
        return determine_line(index, line.get("code"), line.get("date_of_service"), results)

    def prepare(self) -> None:
        """Create the native rulesets of every version not past now (before forking workers
        that share them)."""
        for policy in self.library:
            if self._is_past(policy):
                continue
            self._plan(policy)
            self.host.compile(policy)

    def governing(self, code: str | None, day: dt.date | None) -> list[Policy]:
        """The library's versions governing a (normalized) code on a date."""
        return self._index.governing(code, day)

    def _plan(self, policy: Policy) -> PolicyPlan:
        """The version's plan (one of the library's, or a version a reference reaches)."""
        identity = (policy.key, policy.sha256)
        plan = self._plans.get(identity)
        if plan is not None and identity not in self._past:
            return plan
        with self._planning:
            plan = self._plans.get(identity)
            if plan is None:
                compiled = self.host.hold(policy)
                self._held.append(policy)
                plan = self._plans[identity] = prepare(policy, compiled.encoders, len(compiled.texts))
            if self._is_past(policy):
                self._past[identity] = plan.policy  # the very object held
                self._past.move_to_end(identity)
                if len(self._past) > PAST_PLANS:
                    self._forget_plan(*self._past.popitem(last=False))
        return plan

    def _is_past(self, policy: Policy) -> bool:
        return self.past_before is not None and policy.ended_before(self.past_before)

    def _forget_plan(self, identity: tuple[str, str], policy: Policy) -> None:
        """Drop a plan; a line being judged with it finishes, its rulesets made again if need be."""
        del self._plans[identity]
        self._held.remove(policy)
        self.host.release(policy)

    def _judge(self, resolver: LineResolver) -> None:
        for line in resolver.lines.values():
            if not line.judged:
                continue
            line.record(self.host.judge(line.plan.policy, line.batches))


def _release(host: RulesHost, held: list[Policy]) -> None:
    for policy in held:
        host.release(policy)
