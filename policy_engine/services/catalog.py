"""The policy versions in force, compiled once per process and shared by every request."""

from __future__ import annotations

from ..engine.evaluator import Evaluator
from ..engine.rules import RulesHost
from ..model import Policy
from ..storage.policy_store import PolicyStore


class PolicyCatalog:
    """Holds the evaluator over the stored versions in force; rebuilt when they change."""

    def __init__(self, store: PolicyStore) -> None:
        self.store = store
        self.host = RulesHost()
        self._evaluator: Evaluator | None = None

    @property
    def evaluator(self) -> Evaluator:
        if self._evaluator is None:
            self.reload()
        assert self._evaluator is not None
        return self._evaluator

    def reload(self) -> None:
        self._evaluator = Evaluator(self.store.in_force(), host=self.host)

    def evaluator_for(self, policies: list[Policy]) -> Evaluator:
        """An evaluator over exactly these versions, sharing compiled rulesets."""
        return Evaluator(policies, host=self.host)
