"""Every body the service reads is bounded: past MAX_CONTENT_LENGTH it is a 413 in the
surface's error shape, whether the client declared the length or streamed it in chunks,
and nothing is recorded."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from api.conftest import cpap_request, row_count

from .conftest import csrf_of

JSON, YAML, FHIR, FORM = (
    "application/json",
    "application/yaml",
    "application/fhir+json",
    ("application/x-www-form-urlencoded"),
)
# (path, content type, role of the token sent, how the error reads)
SURFACES = [
    ("/api/v1/authorizations", JSON, "submitter", "api"),
    ("/api/v1/authorizations/any-id/determinations", JSON, "reviewer", "api"),
    ("/api/v1/policies", YAML, "author", "api"),
    ("/fhir/Claim/$submit", FHIR, "submitter", "fhir"),
    ("/fhir/Claim/$inquire", FHIR, "submitter", "fhir"),
    ("/cds-services/coverage-order-sign", JSON, "submitter", "api"),
    ("/sign-in", FORM, None, "page"),
    ("/requests/new", FORM, None, "page"),
    ("/policies/new", "multipart/form-data; boundary=x", None, "page"),
]


def oversized(app: Any, content_type: str) -> bytes:
    """A body of the surface's own kind, one kilobyte past the limit."""
    filler = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1024)
    if content_type == FORM:
        return f"token={filler}".encode()
    if content_type.startswith("multipart"):
        return f'--x\r\nContent-Disposition: form-data; name="yaml"\r\n\r\n{filler}\r\n--x--\r\n'.encode()
    if content_type == YAML:
        return f"id: cpap-osa\ntitle: {filler}\n".encode()
    return json.dumps({**cpap_request(), "padding": filler}).encode()


def post(client: Any, path: str, body: bytes, content_type: str, token: dict, chunked: bool) -> Any:
    headers = {"Content-Type": content_type, **token}
    if not chunked:
        return client.post(path, data=body, headers=headers)
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn serves a chunked body
    )


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(("path", "content_type", "role", "shape"), SURFACES)
def test_an_oversized_body_is_a_413(app, client, token, path, content_type, role, shape, chunked) -> None:  # type: ignore[no-untyped-def]
    headers = token(role, physician=role == "reviewer") if role else {}
    answer = post(client, path, oversized(app, content_type), content_type, headers, chunked)
    assert answer.status_code == 413, answer.text
    if shape == "api":
        assert answer.json["code"] == "payload_too_large"
        assert set(answer.json) == {"code", "message", "errors"}
    elif shape == "fhir":
        assert answer.json["resourceType"] == "OperationOutcome"
        assert answer.json["issue"][0]["code"] == "too-costly"
    else:
        assert "<html" in answer.text
    assert row_count(app.extensions["policy_engine"], "decision_log") == 0


def test_a_chunked_body_within_the_limit_is_read_whole(client, token) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(cpap_request("chunked-1")).encode()
    answer = post(client, "/api/v1/authorizations", body, JSON, token("submitter"), chunked=True)
    assert answer.status_code == 201, answer.text
    assert answer.json["request_id"] == "chunked-1"


def test_a_truncated_policy_never_passes_as_sent(app, client, token) -> None:  # type: ignore[no-untyped-def]
    """A valid policy padded past the limit must not be cut back to its valid head and stored."""
    text = (Path(app.config["POLICIES_DIR"]) / "cpap-osa" / "v2.yaml").read_text()
    text = text.replace("version: 2", "version: 3")
    padded = (text + "\n#" + "x" * app.config["MAX_CONTENT_LENGTH"]).encode()
    answer = post(client, "/api/v1/policies", padded, YAML, token("author"), chunked=True)
    assert answer.status_code == 413, answer.text
    page = client.get("/api/v1/policies/cpap-osa", headers=token("author"))
    assert [v["version"] for v in page.json["versions"]] == [1, 2]


def test_a_page_form_within_the_limit_still_signs_in(app, backend) -> None:  # type: ignore[no-untyped-def]
    browser = app.test_client()
    value = backend.tokens.create("auditor", "limits-auditor")
    page = browser.get("/sign-in")
    answer = browser.post("/sign-in", data={"token": value, "csrf_token": csrf_of(page.text)})
    assert answer.status_code == 302
