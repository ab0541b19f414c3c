"""Every documented operation answers generated requests, valid and invalid, as documented.

A bounded run (``EXAMPLES`` requests per operation and generation mode, the same ones
every run); ``scripts/fuzz_api.py`` runs longer, randomized ones.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis import GenerationMode

from .fuzzing import Target, fuzz, issue_tokens, operations, seed

EXAMPLES = 25

# Every operation of /api/v1/openapi.json; none is left out.
OPERATIONS = (
    "GET /healthz",
    "POST /api/v1/authorizations",
    "GET /api/v1/authorizations",
    "GET /api/v1/authorizations/{decision_id}",
    "POST /api/v1/authorizations/{decision_id}/claim",
    "DELETE /api/v1/authorizations/{decision_id}/claim",
    "POST /api/v1/authorizations/{decision_id}/determinations",
    "POST /api/v1/authorizations/{decision_id}/information",
    "POST /api/v1/authorizations/{decision_id}/extension",
    "POST /api/v1/authorizations/{decision_id}/appeals",
    "GET /api/v1/policies",
    "POST /api/v1/policies",
    "GET /api/v1/policies/{policy_id}",
    "GET /api/v1/policies/{policy_id}/versions/{version}",
    "POST /api/v1/policies/{policy_id}/versions/{version}/approve",
    "POST /api/v1/policies/{policy_id}/versions/{version}/reject",
    "POST /api/v1/policies/{policy_id}/retire",
    "GET /api/v1/policies/{policy_id}/diff",
    "POST /api/v1/policies/{policy_id}/versions/{version}/impact",
    "GET /api/v1/audit/verify",
    "POST /api/v1/decisions/{decision_id}/replay",
    "GET /api/v1/decisions",
    "GET /api/v1/decisions/export",
    "GET /api/v1/audit/access",
    "GET /api/v1/metrics",
)


@pytest.fixture(scope="session")
def api_schema(app):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def target(api_schema, backend, client) -> Target:  # type: ignore[no-untyped-def]
    """Tokens for every role and three decisions, in the tables this test starts with empty."""

    def send(method: str, path: str, body: dict[str, Any] | None, token: str) -> tuple[int, Any]:
        answer = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
        return answer.status_code, answer.get_json()

    tokens = issue_tokens(backend.tokens.create)
    return Target(api_schema, tokens, seed(send, tokens))


def test_every_documented_operation_is_fuzzed(api_schema) -> None:  # type: ignore[no-untyped-def]
    assert sorted(operations(api_schema)) == sorted(OPERATIONS)


def test_operations_declare_their_error_statuses(api_schema) -> None:  # type: ignore[no-untyped-def]
    for label, operation in operations(api_schema).items():
        declared = set(operation.definition.raw["responses"])
        assert "default" not in declared, label
        if label != "GET /healthz":
            assert {"401", "403", "503"} <= declared, label
        if operation.body:
            assert {"400", "413", "415", "422"} <= declared, label


@pytest.mark.parametrize("label", OPERATIONS)
def test_answers_conform_to_the_document(target: Target, label: str) -> None:
    operation = operations(target.schema)[label]
    for mode in GenerationMode:
        fuzz(target, operation, mode, EXAMPLES, derandomize=True)
