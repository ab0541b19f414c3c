"""No PHI and no token reaches a log: a working session over real HTTP, every log captured.

The service runs behind the development server (its access log included); the app's
loggers are captured at DEBUG and SQLAlchemy's statements at INFO, then the text is
searched for the member, the clinical facts, the rationale and every token.
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from policy_engine.logs import WithoutQueryStrings
from policy_engine.storage.tokens import digest

MEMBER_ID, BIRTH_DATE, NAME = "PHI-M-7731", "1957-11-23", "Roberta Quill"
DIAGNOSES = ["G47.33", "I10.0"]
RATIONALE = "Home sleep test shows AHI 2 for Roberta Quill; does not meet criteria"


def request_body(request_id: str, ahi: int) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "urgency": "standard",
        "member": {"id": MEMBER_ID, "birth_date": BIRTH_DATE, "sex": "F"},
        "provider": {"npi": "1234567893", "name": NAME},
        "diagnoses": DIAGNOSES,
        "services": [{"code": "E0601", "quantity": 1, "date_of_service": "2025-03-10"}],
        "clinical": {"ahi": ahi, "evaluation_date": "2025-01-15", "sleep_test_date": "2025-02-01"},
        "documentation": ["psg-report", "f2f-note"],
    }


class Browser:
    """HTTP to the served app, with cookies; answers (status, text) for every status."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def send(
        self, method: str, path: str, body: Any = None, token: str | None = None, form: bool = False
    ) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if isinstance(body, bytes):
            data, headers["Content-Type"] = body, "application/json"
        elif body is not None and form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        call = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(call) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


@pytest.fixture
def served(app) -> Iterator[Browser]:  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Browser(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="policy_engine")
    caplog.set_level(logging.INFO, logger="werkzeug")
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    return caplog


def test_a_working_session_logs_no_phi_and_no_token(served, logs, backend, app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tokens = {
        "submitter": backend.tokens.create("submitter", "nurse-phi", "clinic-a"),
        "reviewer": backend.tokens.create("reviewer", "dr-phi", None, True),
        "auditor": backend.tokens.create("auditor", "auditor-phi"),
    }
    api = served.send
    status, text = api("POST", "/api/v1/authorizations", request_body("phi-1", 31), tokens["submitter"])
    assert status == 201, text
    status, text = api("POST", "/api/v1/authorizations", request_body("phi-2", 2), tokens["submitter"])
    assert status == 201, text
    pended = json.loads(text)["decision_id"]
    assert api("GET", f"/api/v1/authorizations/{pended}", token=tokens["reviewer"])[0] == 200
    assert api("POST", f"/api/v1/authorizations/{pended}/claim", token=tokens["reviewer"])[0] == 200
    determination = {"line": 0, "outcome": "denied", "rationale": RATIONALE, "criteria": ["osa-dx"]}
    status, text = api(
        "POST", f"/api/v1/authorizations/{pended}/determinations", determination, tokens["reviewer"]
    )
    assert status in (201, 422), text
    # bad inputs: malformed JSON, a wrong type, an unknown field, a retry with other content, bad tokens
    malformed = json.dumps(request_body("phi-3", 31)).encode()[:-5]
    assert api("POST", "/api/v1/authorizations", malformed, tokens["submitter"])[0] == 400
    assert api("POST", "/api/v1/authorizations", request_body("phi-4", "31"), tokens["submitter"])[0] == 422
    extra = {**request_body("phi-5", 31), "ssn": MEMBER_ID}
    assert api("POST", "/api/v1/authorizations", extra, tokens["submitter"])[0] == 422
    assert api("POST", "/api/v1/authorizations", request_body("phi-1", 40), tokens["submitter"])[0] == 409
    assert api("GET", f"/api/v1/authorizations/{pended}", token=tokens["submitter"] + "x")[0] == 401
    assert api("GET", f"/api/v1/authorizations/{pended}", token=tokens["auditor"])[0] == 200
    query = urllib.parse.urlencode({"member_id": MEMBER_ID, "from": BIRTH_DATE})
    assert api("GET", f"/api/v1/decisions?{query}", token=tokens["auditor"])[0] == 200
    assert api("GET", f"/api/v1/decisions/export?format=ndjson&{query}", token=tokens["auditor"])[0] == 200
    # an unexpected failure whose message quotes the member
    services = app.extensions["policy_engine"].authorizations

    def broken(*_: Any) -> None:
        raise KeyError(f"member {MEMBER_ID} born {BIRTH_DATE}")

    monkeypatch.setattr(services, "read", broken)
    assert api("GET", f"/api/v1/authorizations/{pended}", token=tokens["reviewer"])[0] == 500
    monkeypatch.undo()
    # FHIR with a bad bundle quoting the member
    fhir = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"id": MEMBER_ID}}]}
    assert api("POST", "/fhir/Claim/$submit", fhir, tokens["submitter"])[0] in (400, 422)
    # the pages: sign in with a token, search the log by member, open the case
    page = served.send("GET", "/sign-in")[1]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert (
        served.send("POST", "/sign-in", {"token": tokens["auditor"], "csrf_token": csrf}, form=True)[0] == 200
    )
    assert served.send("GET", f"/decisions?{query}")[0] == 200
    assert served.send("GET", f"/cases/{pended}")[0] in (200, 403)

    text = logs.text
    assert "POST /api/v1/authorizations" in text, "the access log was not captured"
    secrets = [MEMBER_ID, BIRTH_DATE, NAME, RATIONALE, "G47.33", "I10.0", *tokens.values()]
    secrets += [digest(value) for value in tokens.values()]
    leaked = [value for value in secrets if value in text]
    assert not leaked, f"logged: {leaked}"


def test_access_lines_lose_their_query_strings() -> None:
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - [%s] "%s" %s %s',
        ("127.0.0.1", "date", "GET /api/v1/decisions?member_id=M1001&from=2025-01-01 HTTP/1.1", "200", "-"),
        None,
    )
    WithoutQueryStrings().filter(record)
    assert "M1001" not in record.getMessage()
    assert '"GET /api/v1/decisions?… HTTP/1.1"' in record.getMessage()
