"""API tokens: issued once, kept only as a SHA-256, looked up by that hash."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select

from .database import Database
from .models import ApiToken

ROLES = ("submitter", "reviewer", "author", "cmo", "auditor", "admin")
_PREFIX = "pe_"
_CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class Actor:
    """Who is calling: the token's holder, role and organization."""

    name: str
    role: str
    organization: str | None
    physician: bool = False


def digest(token: str) -> str:
    """What is stored of a token, and all a signed-in browser session keeps of it."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Issues and checks tokens; a checked token is remembered for ``cache_seconds``.

    The cache spares a query per request; revoking a token takes effect within that time.
    """

    def __init__(self, database: Database, cache_seconds: float = 30.0) -> None:
        self.database = database
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[Actor, float]] = {}

    def create(self, role: str, name: str, organization: str | None = None, physician: bool = False) -> str:
        """A new token for the holder; the plain token exists only in the return value."""
        if role not in ROLES:
            raise ValueError(f"unknown role '{role}'; one of {', '.join(ROLES)}")
        if role == "submitter" and not organization:
            raise ValueError("a submitter token needs an organization")
        token = _PREFIX + secrets.token_urlsafe(32)
        with self.database.session() as session:
            session.add(
                ApiToken(
                    name=name,
                    role=role,
                    organization=organization,
                    physician=physician,
                    token_sha256=digest(token),
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
            session.commit()
        return token

    def authenticate(self, token: str) -> Actor | None:
        """The holder of a live token, or None."""
        return self.holder(digest(token))

    def holder(self, sha256: str) -> Actor | None:
        """The holder of the live token with this SHA-256, or None."""
        cached = self._cache.get(sha256)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        with self.database.session() as session:
            row = session.scalars(select(ApiToken).where(ApiToken.token_sha256 == sha256)).first()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_sha256, sha256):
            self._cache.pop(sha256, None)
            return None
        actor = Actor(row.name, row.role, row.organization, row.physician)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[sha256] = (actor, time.monotonic() + self.cache_seconds)
        return actor

    def count(self) -> int:
        with self.database.session() as session:
            return len(session.scalars(select(ApiToken.id)).all())
