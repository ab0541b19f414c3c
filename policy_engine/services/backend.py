"""Everything one process needs to serve, built from settings in one place."""

from __future__ import annotations

from typing import Any

from ..storage import migrate
from ..storage.access_trail import AccessTrail
from ..storage.database import Database
from ..storage.decision_log import DecisionLog
from ..storage.decision_query import DecisionIndex
from ..storage.policy_store import PolicyStore
from ..storage.review_store import ReviewStore
from ..storage.tokens import TokenStore
from .audit import Audit
from .authorizations import Authorizations
from .catalog import PolicyCatalog
from .decision_search import DecisionSearch
from .metrics import Metrics
from .policy_review import PolicyReview
from .policy_text import PolicyText
from .review import ClinicalReview
from .review_queue import ReviewQueue


class Backend:
    """The database, the stores over it, the compiled policies and the use cases."""

    def __init__(self, config: dict[str, Any], url: str) -> None:
        self.config = config
        self.database = Database(
            url,
            pool_size=config["DATABASE_POOL_SIZE"],
            pre_ping=config["DATABASE_PRE_PING"],
            connect_timeout=config["DATABASE_CONNECT_TIMEOUT"],
            idle_ping_seconds=config["DATABASE_IDLE_PING_SECONDS"],
            lock_timeout=config["DATABASE_LOCK_TIMEOUT"],
            statement_timeout=config["DATABASE_STATEMENT_TIMEOUT"],
        )
        self.log = DecisionLog(self.database)
        self.tokens = TokenStore(self.database, cache_seconds=config["TOKEN_CACHE_SECONDS"])
        self.policies = PolicyStore(self.database)
        self.trail = AccessTrail(self.database)
        self.catalog = PolicyCatalog(self.policies, refresh_seconds=config["POLICY_REFRESH_SECONDS"])
        self.authorizations = Authorizations(
            self.catalog,
            self.log,
            self.trail,
            timezone=config["TIMEZONE"],
            valid_days=config["AUTHORIZATION_VALID_DAYS"],
        )
        self.audit = Audit(self.log, self.catalog, self.authorizations)
        self.search = DecisionSearch(DecisionIndex(self.database), self.trail)
        self.review = PolicyReview(self.policies, self.catalog, self.log, impact_days=config["IMPACT_DAYS"])
        self.review_store = ReviewStore(self.database)
        self.review_queue = ReviewQueue(self.authorizations, self.review_store)
        self.clinical_review = ClinicalReview(
            self.authorizations,
            self.catalog,
            self.log,
            self.review_store,
            extension_days=config["EXTENSION_DAYS"],
            appeal_days=config["APPEAL_DAYS"],
        )
        self.metrics = Metrics(self.review_store)
        self.policy_text = PolicyText(self.policies)

    def prepare(self) -> list[str]:
        """Migrate, and on the embedded default load the bundled policies into an empty store.

        Returns what was done, for the log of the first start.
        """
        done = []
        if not migrate.is_current(self.database):
            migrate.upgrade(self.database)
            done.append("database schema upgraded")
        load = self.config["LOAD_BUNDLED_POLICIES"]
        if load is None:
            load = self.database.is_sqlite and not self.config.get("DATABASE_URL")
        if load and self.policies.count() == 0:
            report = self.policies.load_directory(self.config["POLICIES_DIR"])
            done.append(f"loaded {len(report.added)} bundled policy versions")
        return done
