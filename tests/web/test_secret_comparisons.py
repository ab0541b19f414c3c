"""Secrets are compared in constant time, and only as digests: a token's SHA-256 against the
stored one, the form's CSRF token against the session's."""

from __future__ import annotations

import hmac
from typing import Any

from policy_engine.storage import tokens as token_module
from policy_engine.storage.tokens import digest
from policy_engine.web import access

from .conftest import csrf_of


class Spy:
    """``hmac`` with ``compare_digest`` recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []

    def compare_digest(self, a: Any, b: Any) -> bool:
        self.calls.append((a, b))
        return hmac.compare_digest(a, b)


def test_a_token_is_checked_by_its_digest_in_constant_time(backend, client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    spy = Spy()
    monkeypatch.setattr(token_module, "hmac", spy)
    value = backend.tokens.create("auditor", "ct-auditor")
    answer = client.get("/api/v1/policies", headers={"Authorization": f"Bearer {value}"})
    assert answer.status_code == 200
    assert spy.calls == [(digest(value), digest(value))]
    assert value not in backend.tokens._cache, "the plain token must not be kept, even in memory"


def test_a_wrong_token_of_the_right_shape_is_refused(backend, client) -> None:  # type: ignore[no-untyped-def]
    value = backend.tokens.create("auditor", "ct-auditor")
    forged = value[:-1] + ("A" if value[-1] != "A" else "B")
    answer = client.get("/api/v1/policies", headers={"Authorization": f"Bearer {forged}"})
    assert answer.status_code == 401


def test_the_csrf_token_is_compared_in_constant_time(app, backend, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    spy = Spy()
    monkeypatch.setattr(access, "hmac", spy)
    browser = app.test_client()
    page = browser.get("/sign-in")
    kept = csrf_of(page.text)
    value = backend.tokens.create("auditor", "ct-auditor")
    refused = browser.post("/sign-in", data={"token": value, "csrf_token": kept[:-1] + "x"})
    assert refused.status_code == 400
    assert spy.calls[-1] == ((kept[:-1] + "x").encode(), kept.encode())
    accepted = browser.post("/sign-in", data={"token": value, "csrf_token": kept})
    assert accepted.status_code == 302
    assert spy.calls[-1] == (kept.encode(), kept.encode())
