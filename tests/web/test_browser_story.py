"""One story through the pages in a real browser (Debian's Chromium driven by Playwright).

The app runs in a thread on 127.0.0.1 against the test database. Every page is saved as
a screenshot under ``tests/web/screenshots/`` and must log no console error.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
V2 = Path(__file__).resolve().parents[2] / "policies" / "cpap-osa" / "v2.yaml"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Chromium is not installed (apt-get install -y chromium); .ci/run installs it",
)


@pytest.fixture
def server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(5)


@pytest.fixture
def chromium() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Person:
    """One signed-in browser context: its own cookies, its console watched, its pages saved."""

    def __init__(self, browser: Any, base: str, name: str, errors: list[str]) -> None:
        self.context = browser.new_context(accept_downloads=True)
        self.page = self.context.new_page()
        self.base = base
        self.name = name
        self.errors = errors
        self.shots = 0
        self.page.on("console", lambda m: m.type == "error" and errors.append(f"{name}: {m.text}"))
        self.page.on("pageerror", lambda e: errors.append(f"{name}: {e}"))

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.shot(path)

    def shot(self, what: str) -> None:
        self.shots += 1
        label = "".join(c if c.isalnum() else "-" for c in what.strip("/"))[:50] or "home"
        self.page.screenshot(path=str(SHOTS / f"{self.name}-{self.shots:02d}-{label}.png"), full_page=True)

    def sign_in(self, token: str) -> None:
        self.go("/sign-in")
        self.page.fill("#token", token)
        self.page.click("button:has-text('Sign in')")
        self.shot("signed-in")

    def click(self, selector: str, what: str) -> None:
        self.page.click(selector)
        self.page.wait_for_load_state()
        self.shot(what)


def test_a_request_from_submission_to_a_denial_and_a_new_policy_version(server, chromium, backend):  # type: ignore[no-untyped-def]
    SHOTS.mkdir(exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    errors: list[str] = []
    tokens = {
        "nurse": backend.tokens.create("submitter", "nurse-kim", "clinic-a"),
        "rn": backend.tokens.create("reviewer", "rn-lee"),
        "md": backend.tokens.create("reviewer", "dr-ortiz", physician=True),
        "auditor": backend.tokens.create("auditor", "auditor-ng"),
        "author": backend.tokens.create("author", "author-po"),
        "cmo": backend.tokens.create("cmo", "dr-cmo"),
    }

    # A UM nurse submits a request the engine pends for clinical review (AHI 3).
    nurse = Person(chromium, server, "1-submitter", errors)
    nurse.sign_in(tokens["nurse"])
    assert nurse.page.url.endswith("/requests/new")
    fill_request(nurse.page, member="M2001", day="2025-03-10", ahi="3")
    nurse.click("button[value=submit]", "decision")
    body = nurse.page.inner_text("main")
    assert "Pended" in body and "clinical review" in body
    assert nurse.page.locator(".s-not_met").count() > 0 and nurse.page.locator(".s-met").count() > 0
    case_url = nurse.page.url.split("?")[0]
    decision_id = case_url.rsplit("/", 1)[1]

    # A nurse reviewer sees it in the queue but is offered no adverse determination...
    rn = Person(chromium, server, "2-nurse-reviewer", errors)
    rn.sign_in(tokens["rn"])
    assert "M2001" in rn.page.inner_text("table.queue")
    rn.click(f"a[href='/cases/{decision_id}']", "case")
    options = rn.page.locator("select[name=outcome] option").evaluate_all("els => els.map(e => e.value)")
    assert options == ["approved"]
    # ...and a forged denial is refused by the review service.
    csrf = rn.page.input_value("form[action$='/determinations'] input[name=csrf_token]")
    forged = rn.context.request.post(
        f"{server}/cases/{decision_id}/determinations",
        form={"csrf_token": csrf, "line": "0", "outcome": "denied", "rationale": "x", "criteria": "ahi-15"},
    )
    assert forged.status == 403
    assert backend.log.case(decision_id)[-1].kind == "decision"

    # A medical director denies it, citing the unmet criterion.
    md = Person(chromium, server, "3-physician", errors)
    md.sign_in(tokens["md"])
    md.click(f"a[href='/cases/{decision_id}']", "case")
    assert "Policy text behind the unmet and unknown criteria" in md.page.inner_text("main")
    md.click("button:has-text('Claim this case')", "claimed")
    md.page.select_option("select[name=outcome]", "denied")
    md.page.fill("textarea[name=rationale]", "AHI of 3 is below every qualifying threshold.")
    md.page.check("input[name=criteria][value=ahi-15]")
    md.click("button:has-text('Record determination')", "denied")
    assert "denied (A3)" in md.page.inner_text("main")

    # The auditor finds the decision in the log and exports it.
    auditor = Person(chromium, server, "4-auditor", errors)
    auditor.sign_in(tokens["auditor"])
    auditor.page.fill("#f-member_id", "M2001")
    auditor.click("button:has-text('Search')", "search")
    assert decision_id[:8] in auditor.page.inner_text("table.decisions")
    assert "determination by dr-ortiz" in auditor.page.inner_text("table.decisions")
    with auditor.page.expect_download() as download:
        auditor.page.click("a:has-text('CSV')")
    exported = Path(download.value.path()).read_text()
    assert decision_id in exported and "# end: 1 decisions" in exported
    auditor.go("/integrity?run=1")
    assert "Intact" in auditor.page.inner_text("main")
    auditor.go("/metrics")

    # An author submits version 3: the AHI threshold drops from 15 to 10 from June 2025.
    author = Person(chromium, server, "5-author", errors)
    author.sign_in(tokens["author"])
    author.go("/policies/new")
    author.page.fill("#f-yaml", version_3())
    author.click("button:has-text('Validate and submit')", "draft")
    assert "stored as a draft" in author.page.inner_text("main")

    # The CMO reads the diff and the impact, then approves.
    cmo = Person(chromium, server, "6-cmo", errors)
    cmo.sign_in(tokens["cmo"])
    cmo.click("a[href='/policies/cpap-osa']", "history")
    cmo.click("a:has-text('diff v2 → v3')", "diff")
    assert cmo.page.locator("table.changes .e-less_restrictive").count() >= 1
    assert cmo.page.locator("table.side-by-side tr.e-less_restrictive").count() >= 1
    cmo.go("/policies/cpap-osa/versions/3/impact")
    assert (
        "decisions from" in cmo.page.inner_text("main") and cmo.page.locator("figure.chart svg").count() == 1
    )
    cmo.go("/policies/cpap-osa/versions/3")
    cmo.page.fill("#approve-comment", "Threshold aligned with the committee's review.")
    cmo.click("button:has-text('Approve v3')", "approved")
    assert "is approved" in cmo.page.inner_text("main")

    # A new request in June is judged by version 3 and approved at AHI 12.
    nurse.go("/requests/new")
    fill_request(nurse.page, member="M2002", day="2025-06-10", ahi="12")
    nurse.click("button[value=submit]", "decision-v3")
    assert "Approved" in nurse.page.inner_text("h1") and "cpap-osa v3" in nurse.page.inner_text("main")

    assert errors == []
    assert len(list(SHOTS.glob("*.png"))) >= 20


def fill_request(page: Any, member: str, day: str, ahi: str) -> None:
    page.fill("#f-member-id", member)
    page.fill("#f-member-birth_date", "1961-04-02")
    page.fill("#f-diagnoses", "G47.33")
    page.fill("#f-services-0-code", "E0601")
    page.fill("#f-services-0-date_of_service", day)
    facts = [
        ("ahi", "number", ahi),
        ("evaluation_date", "date", "2025-01-15"),
        ("sleep_test_date", "date", "2025-02-01"),
    ]
    for i, (name, kind, value) in enumerate(facts):
        page.fill(f"#f-clinical-{i}-name", name)
        page.select_option(f"#f-clinical-{i}-type", kind)
        page.fill(f"#f-clinical-{i}-value", value)
    page.fill("#f-documentation", "psg-report, f2f-note")


def version_3() -> str:
    text = V2.read_text()
    text = text.replace("version: 2\n", "version: 3\n", 1).replace(
        "effective: 2025-01-01", "effective: 2025-06-01"
    )
    assert "          gte: 15\n" in text
    return text.replace("          gte: 15\n", "          gte: 10\n", 1) + f"# {uuid.uuid4()}\n"
