"""Bearer tokens and roles: every endpoint but ``/healthz`` names the roles it admits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, g, request

from ..storage.tokens import Actor
from .openapi import BODY, GUARDED, declare, reads_body


def requires(*roles: str) -> Callable:
    """Admit only a live token whose role is one of ``roles`` (401 without one, 403 otherwise).

    The view's OpenAPI entry names the roles (``x-roles``) and gains those statuses, 503,
    and the body errors if it reads a body.
    """

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            g.actor = authenticate()
            if g.actor.role not in roles:
                abort(
                    403,
                    description=f"this needs the role {' or '.join(roles)}; this token's is {g.actor.role}",
                )
            return view(*args, **kwargs)

        guarded.roles = roles  # type: ignore[attr-defined]
        declare(guarded, GUARDED + (BODY if reads_body(view) else ()), roles)
        return guarded

    return decorate


def authenticate() -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, description="an 'Authorization: Bearer <token>' header is required")
    actor = current_app.extensions["policy_engine"].tokens.authenticate(token.strip())
    if actor is None:
        abort(401, description="the token is not valid or has been revoked")
    return actor


def current_actor() -> Actor:
    return g.actor
