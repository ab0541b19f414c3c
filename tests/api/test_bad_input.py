"""Every bad input is a 4xx with a field-level message, and nothing is written."""

from __future__ import annotations

import json

import pytest

from .conftest import cpap_request, row_count

URL = "/api/v1/authorizations"


def _without(field: str) -> dict:
    body = cpap_request()
    del body[field]
    return body


def _line(**changes) -> dict:  # type: ignore[no-untyped-def]
    return cpap_request(services=[{"code": "E0601", "date_of_service": "2025-03-10", **changes}])


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (_without("request_id"), "request_id", "Missing data for required field."),
        (_without("services"), "services", "Missing data for required field."),
        (_without("member"), "member", "Missing data for required field."),
        (cpap_request(surprise=1), "surprise", "Unknown field."),
        (cpap_request(request_id=7), "request_id", "Not a valid string."),
        (cpap_request(request_id="has space"), "request_id", "1 to 128 printable characters, without spaces"),
        (cpap_request(urgency="urgent"), "urgency", "Must be one of: standard, expedited."),
        (
            cpap_request(member={"id": "M1", "birth_date": "04/02/1961"}),
            "member.birth_date",
            "Not a valid date.",
        ),
        (
            cpap_request(member={"id": "M1", "birth_date": "2999-01-01"}),
            "member.birth_date",
            "a birth date cannot be in the future",
        ),
        (
            cpap_request(member={"id": "M1", "birth_date": "1961-04-02", "age": 63}),
            "member.age",
            "Unknown field.",
        ),
        (
            cpap_request(provider={"npi": "1234567890"}),
            "provider.npi",
            "not a valid NPI: its check digit does not match",
        ),
        (cpap_request(diagnoses=["G47.33", "OSA"]), "diagnoses[1]", "not a valid ICD-10-CM code: OSA"),
        (cpap_request(diagnoses="G47.33"), "diagnoses", "Not a valid list."),
        (cpap_request(services=[]), "services", "Length must be between 1 and 50."),
        (_line(code="E06"), "services[0].code", "not a valid CPT or HCPCS code: E06"),
        (_line(code=601), "services[0].code", "Not a valid string."),
        (_line(quantity="1"), "services[0].quantity", "Not a valid integer."),
        (_line(quantity=1.5), "services[0].quantity", "Not a valid integer."),
        (_line(quantity=True), "services[0].quantity", "Not a valid integer."),
        (
            _line(quantity=0),
            "services[0].quantity",
            "Must be greater than or equal to 1 and less than or equal to 100000.",
        ),
        (_line(date_of_service="2025-02-30"), "services[0].date_of_service", "Not a valid date."),
        (_line(place_of_service="home"), "services[0].place_of_service", "a place of service is two digits"),
        (_line(units=2), "services[0].units", "Unknown field."),
        (
            cpap_request(history=[{"code": "E0601", "date": "yesterday"}]),
            "history[0].date",
            "Not a valid date.",
        ),
        (cpap_request(documentation=[5]), "documentation[0]", "Not a valid string."),
        (cpap_request(clinical=[1]), "clinical", "Not a valid mapping type."),
    ],
)
def test_invalid_field_is_named(client, backend, submitter, body, field, message):
    response = client.post(URL, json=body, headers=submitter)
    assert response.status_code == 422
    error = response.get_json()
    assert error["code"] == "invalid_request"
    assert message in error["errors"][field]
    assert row_count(backend, "decision_log") == 0


@pytest.mark.parametrize(
    ("clinical", "field"),
    [
        ({"ahi": "31", "evaluation_date": "2025-01-15", "sleep_test_date": "2025-02-01"}, "clinical.ahi"),
        (
            {"ahi": 31, "evaluation_date": "2025-01-15", "sleep_test_date": 20250201},
            "clinical.sleep_test_date",
        ),
        ({"ahi": [31], "evaluation_date": "2025-01-15", "sleep_test_date": "2025-02-01"}, "clinical.ahi"),
    ],
)
def test_a_fact_of_the_wrong_type_for_its_policy_is_rejected(client, backend, submitter, clinical, field):
    response = client.post(URL, json=cpap_request(clinical=clinical), headers=submitter)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert row_count(backend, "decision_log") == 0


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "malformed_json"),
        ('{"request_id": "x",}', "application/json", 400, "malformed_json"),
        ("[1, 2]", "application/json", 422, "invalid_request"),
        ('"text"', "application/json", 422, "invalid_request"),
        ("request_id=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (json.dumps(cpap_request()), "text/plain", 415, "unsupported_media_type"),
        ("", None, 422, "invalid_request"),
    ],
)
def test_body_that_is_not_a_json_object(client, backend, submitter, data, content_type, status, code):
    headers = {**submitter, **({"Content-Type": content_type} if content_type else {})}
    response = client.post(URL, data=data, headers=headers)
    assert (response.status_code, response.get_json()["code"]) == (status, code)
    assert row_count(backend, "decision_log") == 0


def test_oversized_body_is_refused(client, backend, submitter, app):
    body = cpap_request(clinical={"note": "x" * app.config["MAX_CONTENT_LENGTH"]})
    response = client.post(URL, json=body, headers=submitter)
    assert response.status_code == 413
    assert response.get_json()["code"] == "payload_too_large"
    assert row_count(backend, "decision_log") == 0


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/nowhere", 404, "not_found"),
        ("delete", URL, 405, "method_not_allowed"),
        ("put", "/api/v1/authorizations/00000000-0000-0000-0000-000000000000", 405, "method_not_allowed"),
    ],
)
def test_unknown_routes_and_methods(client, submitter, method, path, status, code):
    response = getattr(client, method)(path, headers=submitter)
    assert (response.status_code, response.get_json()["code"]) == (status, code)
