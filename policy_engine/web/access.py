"""Who is signed in to the pages: a session cookie holding a token's SHA-256, roles, CSRF.

The cookie is Flask's signed session. It keeps only the token's hash (what the database
stores), so a copied cookie is no bearer token for the API, and it expires with the
session. Every POST carries a per-session CSRF token compared in constant time.
"""

from __future__ import annotations

import functools
import hmac
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, abort, current_app, g, redirect, request, session, url_for

from ..storage.tokens import Actor, digest

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
KEY_FILE = "secret-key"


def install(app: Flask) -> None:
    """Cookie flags and the signing key: configured, or (embedded default) kept in the instance folder."""
    app.config.setdefault("SESSION_COOKIE_NAME", "policy_engine_session")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    if not app.config.get("SECRET_KEY") and not app.config.get("DATABASE_URL"):
        app.config["SECRET_KEY"] = instance_secret(Path(app.instance_path))


def instance_secret(folder: Path) -> str:
    """The key in ``instance/secret-key``, made once (readable by its owner only)."""
    path = folder / KEY_FILE
    folder.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(handle, "w") as file:
        file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def sign_in(token: str) -> Actor | None:
    """Start a fresh session for a live token's holder; None (and no session) for any other."""
    actor = current_app.extensions["policy_engine"].tokens.authenticate(token.strip())
    session.clear()
    if actor is not None:
        session["token"] = digest(token.strip())
        session["at"] = int(time.time())
        session["csrf"] = secrets.token_urlsafe(32)
    return actor


def sign_out() -> None:
    session.clear()


def signed_in() -> Actor | None:
    """The session's actor, while its token is live and the session younger than SESSION_HOURS."""
    sha256, started = session.get("token"), session.get("at")
    if not sha256 or not isinstance(started, int):
        return None
    if time.time() - started > current_app.config["SESSION_HOURS"] * 3600:
        session.clear()
        return None
    return current_app.extensions["policy_engine"].tokens.holder(sha256)


def page_for(*roles: str) -> Callable:
    """Admit a signed-in actor with one of ``roles``; others get the sign-in page or a 403 page."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            actor = signed_in()
            if actor is None:
                return redirect(url_for("web.signin.sign_in_page", next=_here()))
            if actor.role not in roles:
                abort(403, description=f"This page is for the {' or '.join(roles)} role.")
            g.actor = actor
            return view(*args, **kwargs)

        guarded.accepts = FORM_TYPES  # type: ignore[attr-defined]
        guarded.roles = roles  # type: ignore[attr-defined]
        return guarded

    return decorate


def actor() -> Actor:
    return g.actor


def csrf_token() -> str:
    """The session's CSRF token, made on first use (the sign-in form needs one too)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """Refuse a POST whose form does not carry the session's token."""
    if request.method != "POST":
        return
    sent, kept = request.form.get("csrf_token", ""), session.get("csrf", "")
    if not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
        abort(
            400, description="This form has expired or did not come from this site. Reload it and try again."
        )


def _here() -> str:
    return request.full_path.rstrip("?") if request.method == "GET" else request.path
