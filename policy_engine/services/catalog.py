"""The policy versions in force, compiled once per process and kept current.

Every process (each gunicorn worker) checks the store's policy generation at most every
``refresh_seconds``; when a version was approved or retired elsewhere it builds a new
evaluator and swaps it in. A request takes the evaluator once, at its start, so a
decision is judged wholly by the versions in force when it began.
"""

from __future__ import annotations

import logging
import threading
import time

from .. import clock
from ..engine.evaluator import Evaluator
from ..engine.memory import return_free_memory
from ..engine.rules import RulesHost
from ..model import Policy
from ..storage.policy_store import PolicyStore

log = logging.getLogger(__name__)


class PolicyCatalog:
    """Holds the evaluator over the stored versions in force; rebuilds it when they change."""

    def __init__(self, store: PolicyStore, refresh_seconds: float = 2.0) -> None:
        self.store = store
        self.host = RulesHost()
        self.refresh_seconds = refresh_seconds
        self._evaluator: Evaluator | None = None
        self._generation = -1
        self._checked = 0.0
        self._lock = threading.Lock()

    @property
    def evaluator(self) -> Evaluator:
        """The current evaluator, reloaded first if the store changed since the last look."""
        if self._evaluator is None or time.monotonic() - self._checked >= self.refresh_seconds:
            self._refresh()
        assert self._evaluator is not None
        return self._evaluator

    def reload(self) -> None:
        """Rebuild from the store now (after a change made by this process)."""
        with self._lock:
            self._load(self.store.generation())

    def evaluator_for(self, policies: list[Policy]) -> Evaluator:
        """An evaluator over exactly these versions, sharing compiled rulesets."""
        return Evaluator(policies, host=self.host)

    def _refresh(self) -> None:
        with self._lock:
            self._checked = time.monotonic()
            generation = self.store.generation()
            if generation != self._generation or self._evaluator is None:
                self._load(generation)

    def _load(self, generation: int) -> None:
        # Versions whose period has ended are kept light and planned on demand (a few at
        # a time); superseded ones keep their layout but give back their native rulesets
        # (made again if a request for an earlier date of service reaches one). So a
        # worker's memory does not grow with the versions approved.
        today = clock.now().date()
        self._evaluator = Evaluator(self.store.in_force(today), host=self.host, past_before=today)
        self.host.trim(policy for policy in self._evaluator.library if policy.governs(today))
        return_free_memory()
        if self._generation >= 0:
            log.info("policies reloaded at generation %s", generation)
        self._generation = generation
        self._checked = time.monotonic()
