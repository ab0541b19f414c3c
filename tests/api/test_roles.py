"""Tokens and roles: 401 without a valid token, 403 with the wrong role, per DESIGN.md's table."""

from __future__ import annotations

import pytest

from .conftest import cpap_request

ROLES = ("submitter", "reviewer", "author", "cmo", "auditor", "admin")
ANY_ID = "00000000-0000-0000-0000-000000000000"
# endpoint -> roles admitted; an admitted role may still get 404 for an unknown id
MATRIX = [
    ("post", "/api/v1/authorizations", {"submitter"}),
    ("get", f"/api/v1/authorizations/{ANY_ID}", {"submitter", "reviewer", "auditor", "cmo"}),
    ("get", "/api/v1/audit/verify", {"auditor"}),
    ("post", f"/api/v1/decisions/{ANY_ID}/replay", {"auditor"}),
    ("get", "/api/v1/decisions", {"auditor"}),
    ("get", "/api/v1/decisions/export", {"auditor"}),
    ("get", "/api/v1/audit/access", {"auditor"}),
]


@pytest.mark.parametrize(("method", "path", "admitted"), MATRIX)
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(client, token, method, path, admitted, role):
    body = cpap_request(f"roles-{role}") if method == "post" and path.endswith("authorizations") else None
    response = getattr(client, method)(path, json=body, headers=token(role))
    if role in admitted:
        assert response.status_code in (200, 201, 404)
    else:
        assert response.status_code == 403
        assert response.get_json()["code"] == "forbidden"


@pytest.mark.parametrize(("method", "path", "_"), MATRIX)
@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer pe_not-a-real-token", "Basic dXNlcjpwYXNz", "pe_no-scheme"],
)
def test_without_a_valid_token(client, method, path, _, header):
    headers = {"Authorization": header} if header else {}
    response = getattr(client, method)(path, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_healthz_needs_no_token(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok", "database": "ok"}


def test_only_the_hash_of_a_token_is_stored(backend, token):
    header = token("auditor")
    plain = header["Authorization"].split()[1]
    with backend.database.engine.connect() as connection:
        from sqlalchemy import text

        stored = [row[0] for row in connection.execute(text("SELECT token_sha256 FROM api_tokens"))]
    assert plain not in stored and all(len(value) == 64 for value in stored)


def test_a_submitter_token_needs_an_organization(backend):
    with pytest.raises(ValueError, match="organization"):
        backend.tokens.create("submitter", "nobody")


def test_openapi_document_describes_the_api(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/authorizations", "/api/v1/audit/verify", "/healthz"} <= set(spec["paths"])
    assert "AuthorizationRequest" in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


# FHIR and CDS Hooks endpoints: /fhir answers OperationOutcomes, /cds-services the usual errors
FHIR_MATRIX = [
    ("/fhir/Claim/$submit", {"submitter"}),
    ("/fhir/Claim/$inquire", {"submitter"}),
    ("/cds-services/coverage-order-sign", {"submitter"}),
    ("/cds-services/coverage-order-select", {"submitter"}),
]


def _denial_code(response):
    body = response.get_json()
    return body["issue"][0]["code"] if body.get("resourceType") == "OperationOutcome" else body["code"]


@pytest.mark.parametrize(("path", "admitted"), FHIR_MATRIX)
@pytest.mark.parametrize("role", ROLES)
def test_fhir_role_matrix(client, token, path, admitted, role):
    response = client.post(path, json={}, headers=token(role))
    if role in admitted:
        assert response.status_code not in (401, 403)
    else:
        assert response.status_code == 403
        assert _denial_code(response) == "forbidden"


@pytest.mark.parametrize(("path", "_"), FHIR_MATRIX)
def test_fhir_endpoints_need_a_token(client, path, _):
    response = client.post(path, json={})
    assert response.status_code == 401
    assert _denial_code(response) in ("login", "unauthorized")


@pytest.mark.parametrize("path", ["/fhir/metadata", "/cds-services"])
def test_fhir_discovery_needs_no_token(client, path):
    assert client.get(path).status_code == 200
