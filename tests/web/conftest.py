"""Page tests: the same service and database fixtures as the API tests, plus signing in."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from api import conftest as shared

# The API tests' database and fixtures, shared (this folder is not below theirs).
database_url = shared.database_url
app = shared.app
backend = shared.backend
client = shared.client
token = shared.token
frozen = shared.frozen
_empty_tables = shared._empty_tables

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _signing_key(app):  # type: ignore[no-untyped-def]
    app.config["SECRET_KEY"] = "test-signing-key"


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.fixture
def sign_in(app, backend):  # type: ignore[no-untyped-def]
    """A factory: ``sign_in("reviewer", physician=True)`` → a test client with a signed-in session."""

    def make(
        role: str, name: str | None = None, organization: str | None = None, physician: bool = False
    ) -> Any:
        if role == "submitter" and organization is None:
            organization = "clinic-a"
        value = backend.tokens.create(role, name or f"{role}-{uuid.uuid4().hex[:6]}", organization, physician)
        browser = app.test_client()
        page = browser.get("/sign-in")
        answer = browser.post("/sign-in", data={"token": value, "csrf_token": csrf_of(page.text)})
        assert answer.status_code == 302, answer.text
        return browser

    return make


def post_form(browser: Any, page_url: str, action: str, data: dict[str, Any]) -> Any:
    """Open the page (for its CSRF token), then post the form as a browser would."""
    page = browser.get(page_url)
    assert page.status_code == 200, page.text
    return browser.post(action, data={**data, "csrf_token": csrf_of(page.text)})
