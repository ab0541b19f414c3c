"""NUL and unpaired surrogates, which no database column stores, are a 422 naming the field
(a 404 in a path) on every surface, and nothing is recorded."""

from __future__ import annotations

import json

import pytest
from api.conftest import cpap_request, row_count

from .conftest import csrf_of

BAD = ["\x00", "\ud800", "M1001\x00", "x\udfff"]


def raw_json(body: object) -> bytes:
    """JSON with escapes kept as escapes, as a client could send them."""
    return json.dumps(body).encode()


@pytest.mark.parametrize("bad", BAD)
def test_a_request_with_unstorable_text_is_a_422_naming_each_field(client, token, backend, bad) -> None:  # type: ignore[no-untyped-def]
    body = cpap_request("nul-1")
    body["member"]["id"] = bad
    body["clinical"]["note" + bad] = 1
    body["services"][0]["details"] = {"rental": [bad]}
    answer = client.post(
        "/api/v1/authorizations",
        data=raw_json(body),
        headers={**token("submitter"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    errors = answer.json["errors"]
    assert "member.id" in errors and "services[0].details.rental[0]" in errors
    assert any(name.startswith("clinical.note") for name in errors)
    assert row_count(backend, "decision_log") == 0


@pytest.mark.parametrize("bad", ["\x00", "M1001\x00"])  # a URL cannot carry a lone surrogate
def test_a_filter_or_path_with_unstorable_text_is_refused(client, token, bad) -> None:  # type: ignore[no-untyped-def]
    auditor = token("auditor")
    search = client.get("/api/v1/decisions", query_string={"member_id": bad}, headers=auditor)
    assert search.status_code == 422 and "member_id" in search.json["errors"]
    assert client.get(f"/api/v1/policies/cpap{bad}", headers=auditor).status_code == 404
    assert client.get(f"/api/v1/authorizations/{bad}", headers=auditor).status_code == 404


def test_fhir_and_pages_refuse_it_in_their_own_shapes(app, client, token, backend) -> None:  # type: ignore[no-untyped-def]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"id": "p\x00"}}]}
    fhir = client.post(
        "/fhir/Claim/$submit",
        data=raw_json(bundle),
        headers={**token("submitter"), "Content-Type": "application/fhir+json"},
    )
    assert fhir.status_code == 422 and fhir.json["resourceType"] == "OperationOutcome"
    browser = app.test_client()
    page = browser.get("/sign-in")
    signed = browser.post("/sign-in", data={"token": "pe_\x00", "csrf_token": csrf_of(page.text)})
    assert signed.status_code == 422 and "<html" in signed.text
    assert row_count(backend, "decision_log") == 0


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-16-le"),  # escapes with NUL bytes between their characters
        lambda text: text.encode("utf-32"),
        lambda text: text.replace("\\ud800", "\ud800").encode("utf-8", "surrogatepass"),  # a raw surrogate
        lambda text: text.replace("M1", "Mé").encode("utf-8"),  # not ASCII
    ],
    ids=["utf-16", "utf-32", "raw-surrogate", "utf-8"],
)
def test_bodies_in_any_encoding_json_reads_are_looked_into(client, token, backend, encode) -> None:  # type: ignore[no-untyped-def]
    body = cpap_request("nul-2")
    body["member"]["id"] = "M1\ud800"
    answer = client.post(
        "/api/v1/authorizations",
        data=encode(json.dumps(body)),
        headers={**token("submitter"), "Content-Type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert "member.id" in answer.json["errors"]
    assert row_count(backend, "decision_log") == 0
