"""Service settings: defaults in code, overridden by the environment, then by a test mapping."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PREFIX = "POLICY_ENGINE_"

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: an SQLite file in the instance folder
    "POLICIES_DIR": str(Path(__file__).resolve().parent.parent / "policies"),
    "LOAD_BUNDLED_POLICIES": None,  # None: only on the embedded SQLite default
    "TIMEZONE": "UTC",  # the plan's time zone, for standard due dates (edge rule 14)
    "AUTHORIZATION_VALID_DAYS": 90,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "DATABASE_POOL_SIZE": 5,
    "DATABASE_PRE_PING": False,  # test each pooled connection before use (a round trip each time)
    "DATABASE_IDLE_PING_SECONDS": 1.0,  # without pre-ping: test a pooled connection idle this long
    "DATABASE_CONNECT_TIMEOUT": 5,  # seconds to reach PostgreSQL before a request answers 503
    "DATABASE_LOCK_TIMEOUT": 10.0,  # seconds a statement waits for a lock before a 503 (0: no limit)
    "DATABASE_STATEMENT_TIMEOUT": 0.0,  # seconds any statement may run (0: no limit; exports are long)
    "TOKEN_CACHE_SECONDS": 30,  # how long a checked token is trusted without a query
    "POLICY_REFRESH_SECONDS": 2,  # how often a worker looks for approved or retired versions
    "IMPACT_DAYS": 90,  # the default period an impact analysis replays
    "EXTENSION_DAYS": 14,  # how far the one extension of a review deadline moves it (42 CFR 422.568(b))
    "APPEAL_DAYS": 30,  # standard reconsideration deadline in days; expedited is 72 hours
    "SECRET_KEY": None,  # signs the pages' session cookie; None: a key kept in the instance folder
    "SESSION_COOKIE_SECURE": False,  # True behind HTTPS: the browser sends the cookie only over TLS
    "SESSION_HOURS": 8,  # a signed-in page session ends this long after sign-in
    "FHIR_MAPPING": None,  # the FHIR fact mapping file; None: policy_engine/fhir/mapping.yaml
}

_INTEGERS = {
    "AUTHORIZATION_VALID_DAYS",
    "MAX_CONTENT_LENGTH",
    "DATABASE_POOL_SIZE",
    "DATABASE_CONNECT_TIMEOUT",
    "TOKEN_CACHE_SECONDS",
    "IMPACT_DAYS",
    "EXTENSION_DAYS",
    "APPEAL_DAYS",
    "SESSION_HOURS",
}
_NUMBERS = {
    "POLICY_REFRESH_SECONDS",
    "DATABASE_IDLE_PING_SECONDS",
    "DATABASE_LOCK_TIMEOUT",
    "DATABASE_STATEMENT_TIMEOUT",
}
_FLAGS = {"LOAD_BUNDLED_POLICIES", "SESSION_COOKIE_SECURE", "DATABASE_PRE_PING"}


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings named ``POLICY_ENGINE_<NAME>`` (and plain ``DATABASE_URL``) in the environment."""
    environ = dict(os.environ if environ is None else environ)
    found: dict[str, Any] = {}
    if environ.get("DATABASE_URL"):
        found["DATABASE_URL"] = environ["DATABASE_URL"]
    for name in DEFAULTS:
        raw = environ.get(PREFIX + name)
        if raw is None or raw == "":
            continue
        if name in _INTEGERS:
            found[name] = int(raw)
        elif name in _NUMBERS:
            found[name] = float(raw)
        elif name in _FLAGS:
            found[name] = raw.strip().lower() in ("1", "true", "yes", "on")
        else:
            found[name] = raw
    return found


def database_url(config: dict[str, Any], instance_path: str) -> str:
    """The configured database, or the embedded SQLite file in the instance folder."""
    if config.get("DATABASE_URL"):
        return normalize_url(config["DATABASE_URL"])
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(instance_path) / 'policy-engine.sqlite3'}"


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean the psycopg 3 driver, the one we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
