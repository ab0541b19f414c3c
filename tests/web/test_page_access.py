"""Who may open which page: sign-in, roles, sessions, CSRF, the cookie and its key."""

from __future__ import annotations

import os
import time

import pytest
from api.conftest import row_count
from api.review_helpers import clinical_review, submit

from policy_engine.app import create_app
from policy_engine.web.access import instance_secret

from .conftest import csrf_of, post_form

ROLES = ("submitter", "reviewer", "author", "cmo", "auditor", "admin")
PAGES = {
    "/requests/new": ("submitter",),
    "/queue": ("reviewer",),
    "/cases/{case}": ("submitter", "reviewer", "cmo", "auditor"),
    "/policies": ("author", "cmo"),
    "/policies/cpap-osa": ("author", "cmo"),
    "/policies/cpap-osa/versions/2": ("author", "cmo"),
    "/policies/cpap-osa/diff?from=1&to=2": ("author", "cmo"),
    "/policies/cpap-osa/versions/2/impact": ("author", "cmo"),
    "/policies/new": ("author",),
    "/decisions": ("auditor",),
    "/decisions/export?format=ndjson": ("auditor",),
    "/integrity?run=1": ("auditor",),
    "/metrics": ("cmo", "auditor"),
    "/metrics.csv": ("cmo", "auditor"),
}


@pytest.fixture
def case(client, token) -> str:  # type: ignore[no-untyped-def]
    return submit(client, token("submitter", organization="clinic-a"), clinical_review())["decision_id"]


@pytest.mark.parametrize("path", PAGES)
def test_without_a_session_every_page_sends_to_sign_in(client, case, path):  # type: ignore[no-untyped-def]
    answer = client.get(path.format(case=case))
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/sign-in?next=")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_its_pages_and_gets_a_friendly_403_elsewhere(sign_in, case, role):  # type: ignore[no-untyped-def]
    browser = sign_in(role, organization="clinic-a" if role == "submitter" else None)
    for path, roles in PAGES.items():
        answer = browser.get(path.format(case=case))
        if role in roles:
            assert answer.status_code == 200, (path, answer.text[:500])
        else:
            assert answer.status_code == 403, path
            assert "This page is not for your role" in answer.text and "<html" in answer.text


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("submitter", "/cases/{case}/claim"),
        ("auditor", "/cases/{case}/determinations"),
        ("author", "/policies/cpap-osa/versions/2/approve"),
        ("reviewer", "/requests/new"),
        ("cmo", "/policies/new"),
    ],
)
def test_a_post_from_the_wrong_role_is_refused(sign_in, case, role, path):  # type: ignore[no-untyped-def]
    browser = sign_in(role)
    page = browser.get("/sign-in")
    answer = browser.post(path.format(case=case), data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 403


def test_navigation_shows_only_the_roles_pages(sign_in):  # type: ignore[no-untyped-def]
    page = sign_in("cmo").get("/policies").text
    assert 'href="/metrics"' in page and 'href="/policies"' in page
    assert (
        'href="/queue"' not in page and 'href="/decisions"' not in page and 'href="/policies/new"' not in page
    )


def test_a_submitter_does_not_see_another_organizations_case(sign_in, case):  # type: ignore[no-untyped-def]
    answer = sign_in("submitter", organization="clinic-b").get(f"/cases/{case}")
    assert answer.status_code == 404 and "Not found" in answer.text


def test_sign_in_refuses_a_wrong_token_and_sign_out_ends_the_session(client, sign_in):  # type: ignore[no-untyped-def]
    page = client.get("/sign-in")
    answer = client.post("/sign-in", data={"token": "pe_wrong", "csrf_token": csrf_of(page.text)})
    assert answer.status_code == 401 and "not valid or has been revoked" in answer.text
    browser = sign_in("auditor")
    assert browser.get("/decisions").status_code == 200
    assert post_form(browser, "/decisions", "/sign-out", {}).status_code == 302
    assert browser.get("/decisions").status_code == 302


def test_sign_in_returns_to_the_page_asked_for_but_never_to_another_site(client, backend):  # type: ignore[no-untyped-def]
    value = backend.tokens.create("auditor", "auditor-x")
    for asked, landed in (("/metrics", "/metrics"), ("//evil.example/x", "/"), ("https://evil.example", "/")):
        client.post("/sign-out", data={"csrf_token": csrf_of(client.get("/sign-in").text)})
        page = client.get("/sign-in", query_string={"next": asked})
        answer = client.post(
            "/sign-in", data={"token": value, "next": asked, "csrf_token": csrf_of(page.text)}
        )
        assert answer.headers["Location"] == landed


def test_a_session_ends_after_session_hours(sign_in):  # type: ignore[no-untyped-def]
    browser = sign_in("auditor")
    with browser.session_transaction() as session:
        session["at"] = int(time.time()) - 9 * 3600
    assert browser.get("/decisions").status_code == 302


def test_the_cookie_keeps_no_token_and_is_http_only_and_same_site(app, backend):  # type: ignore[no-untyped-def]
    value = backend.tokens.create("auditor", "auditor-c")
    browser = app.test_client()
    page = browser.get("/sign-in")
    answer = browser.post("/sign-in", data={"token": value, "csrf_token": csrf_of(page.text)})
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert value not in cookie
    app.config["SESSION_COOKIE_SECURE"] = True
    try:
        secure = app.test_client()
        page = secure.get("/sign-in")
        assert (
            "Secure"
            in secure.post("/sign-in", data={"token": value, "csrf_token": csrf_of(page.text)}).headers[
                "Set-Cookie"
            ]
        )
    finally:
        app.config["SESSION_COOKIE_SECURE"] = False


@pytest.mark.parametrize("sent", [None, "forged-token"])
def test_a_form_without_the_sessions_csrf_token_is_refused_and_writes_nothing(sign_in, backend, sent):  # type: ignore[no-untyped-def]
    browser = sign_in("submitter")
    data = {
        "member.id": "M1",
        "member.birth_date": "1961-04-02",
        "services[0].code": "E0601",
        "services[0].date_of_service": "2025-03-10",
        "request_id": "csrf-1",
    }
    if sent:
        data["csrf_token"] = sent
    answer = browser.post("/requests/new", data=data)
    assert answer.status_code == 400 and "did not come from this site" in answer.text
    assert row_count(backend, "decision_log") == 0


def test_approving_without_the_csrf_token_leaves_the_draft(sign_in, backend):  # type: ignore[no-untyped-def]
    author = sign_in("author")
    text = (backend.policies.record("cpap-osa", 2).source).replace("version: 2\n", "version: 3\n", 1)
    text = text.replace("effective: 2025-01-01", "effective: 2025-07-01")
    assert post_form(author, "/policies/new", "/policies/new", {"yaml": text}).status_code == 303
    answer = sign_in("cmo").post("/policies/cpap-osa/versions/3/approve", data={"comment": "ok"})
    assert answer.status_code == 400
    assert backend.policies.record("cpap-osa", 3).state == "draft"


def test_the_embedded_default_keeps_a_generated_key_in_the_instance_folder(tmp_path):  # type: ignore[no-untyped-def]
    first = instance_secret(tmp_path)
    assert len(first) >= 40 and instance_secret(tmp_path) == first
    assert oct(os.stat(tmp_path / "secret-key").st_mode & 0o777) == "0o600"
    app = create_app({"POLICIES_DIR": "policies", "DATABASE_URL": None}, instance_path=str(tmp_path))
    assert app.secret_key == first
    app.extensions["policy_engine"].database.dispose()


def test_without_a_key_a_configured_deployment_says_what_to_set(tmp_path):  # type: ignore[no-untyped-def]
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}, instance_path=str(tmp_path))
    answer = app.test_client().get("/sign-in")
    assert answer.status_code == 503 and "POLICY_ENGINE_SECRET_KEY" in answer.text
    app.extensions["policy_engine"].database.dispose()
