"""Shared set-up for the review and metrics tests: requests the engine pends, and calls."""

from __future__ import annotations

from typing import Any

from .conftest import cpap_request

URL = "/api/v1/authorizations"
MILD = {"ahi": 3, "conditions": [], "evaluation_date": "2025-01-15", "sleep_test_date": "2025-02-01"}


def clinical_review(request_id: str = "mild", **changes: Any) -> dict[str, Any]:
    """A request the engine pends for clinical review: the AHI is too low."""
    return cpap_request(request_id, clinical=MILD, **changes)


def missing_information(request_id: str = "no-f2f", **changes: Any) -> dict[str, Any]:
    """A request the engine pends for the face-to-face note it lacks."""
    return cpap_request(request_id, documentation=["psg-report"], **changes)


def submit(client: Any, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def determine(client: Any, headers: dict[str, str], decision_id: str, **body: Any) -> Any:
    body = {"line": 0, "rationale": "reviewed the record", **body}
    return client.post(f"{URL}/{decision_id}/determinations", json=body, headers=headers)
