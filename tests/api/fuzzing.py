"""Schema-driven fuzzing of the HTTP API, shared by the test suite and ``scripts/fuzz_api.py``.

Every operation of ``/api/v1/openapi.json`` is called with requests generated from its
own schemas, valid ones and invalid ones, carrying the token of a role it admits, of a
role it refuses (a declared 403), a token it does not know or none (a declared 401).
Path parameters are sometimes ids that exist (decisions seeded through the API, the
stored policies), so the checks reach past the 404 into the service. Every answer must
be a declared status with a declared content type and a body matching its schema, never
a 5xx, and an invalid request must not succeed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

ROLES = ("submitter", "reviewer", "author", "cmo", "auditor", "admin")
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
CHECKS = {
    GenerationMode.POSITIVE: CONFORMANCE,
    GenerationMode.NEGATIVE: [*CONFORMANCE, negative_data_rejection],
}
NO_TOKEN, UNKNOWN_TOKEN = "none", "unknown"

# Requests that leave one case approved, one pended for clinical review and one pended
# for missing information, so determinations, claims and information reach real cases.
_MEMBER = {"id": "FZ-1", "birth_date": "1960-05-01", "sex": "F"}
_CPAP = {
    "urgency": "standard",
    "member": _MEMBER,
    "diagnoses": ["G47.33"],
    "services": [{"code": "E0601", "quantity": 1, "date_of_service": "2025-03-10"}],
    "documentation": ["psg-report", "f2f-note"],
}
SEEDS = (
    {
        **_CPAP,
        "request_id": "fz-approved",
        "clinical": {"ahi": 31, "evaluation_date": "2025-01-15", "sleep_test_date": "2025-02-01"},
    },
    {
        **_CPAP,
        "request_id": "fz-review",
        "clinical": {"ahi": 2, "evaluation_date": "2025-01-15", "sleep_test_date": "2025-02-01"},
    },
    {**_CPAP, "request_id": "fz-missing", "clinical": {}, "documentation": []},
)


@dataclass
class Target:
    """The API under test: its schema, a token per role, and ids that exist."""

    schema: schemathesis.BaseSchema
    tokens: dict[str, str]
    known: dict[str, list[Any]] = field(default_factory=dict)
    base_url: str | None = None
    statuses: Counter = field(default_factory=Counter)  # (operation, status) -> calls


def issue_tokens(create: Callable[..., str]) -> dict[str, str]:
    """One token per role through the service's token store (``TokenStore.create``)."""
    tokens = {
        role: create(role, f"fuzz-{role}", "fuzz-clinic" if role == "submitter" else None, role == "reviewer")
        for role in ROLES
    }
    tokens[UNKNOWN_TOKEN] = "pe_not-a-token-this-service-issued"
    return tokens


def seed(
    send: Callable[[str, str, dict[str, Any] | None, str], tuple[int, Any]], tokens: dict[str, str]
) -> dict:
    """Decisions submitted and policies listed through the API: the ids path parameters may take.

    ``send(method, path, json_body, token)`` answers ``(status, json)``.
    """
    decisions = []
    for body in SEEDS:
        status, answer = send("POST", "/api/v1/authorizations", body, tokens["submitter"])
        if status not in (200, 201):
            raise RuntimeError(f"seeding {body['request_id']} answered {status}: {answer}")
        decisions.append(answer["decision_id"])
    status, policies = send("GET", "/api/v1/policies", None, tokens["auditor"])
    if status != 200:
        raise RuntimeError(f"listing policies answered {status}: {policies}")
    versions = sorted({v for p in policies for v in _versions(p)}) or [1]
    return {"decision_id": decisions, "policy_id": [p["policy"] for p in policies], "version": versions}


def _versions(policy: dict[str, Any]) -> Iterator[int]:
    if policy.get("current"):
        yield from range(1, policy["current"]["version"] + 1)
    yield from policy.get("drafts") or []


def operations(schema: schemathesis.BaseSchema) -> dict[str, Any]:
    """Every documented operation by its label, ``METHOD /path``."""
    return {op.label: op for op in (result.ok() for result in schema.get_all_operations())}


def roles_for(operation: Any) -> st.SearchStrategy[str]:
    """Whose token to send: four times in five a role the operation admits (its ``x-roles``),
    else a role it refuses, an unknown token or none."""
    admitted = operation.definition.raw.get("x-roles")
    if admitted is None:
        return st.just(NO_TOKEN)
    refused = [role for role in (*ROLES, NO_TOKEN, UNKNOWN_TOKEN) if role not in admitted]
    return st.sampled_from([*(admitted * 4 * len(refused)), *refused])


def has_inputs(operation: Any) -> bool:
    """Whether any part of a request to ``operation`` can be invalid (``/healthz`` has none)."""
    parts = (operation.path_parameters, operation.query, operation.headers, operation.cookies, operation.body)
    return any(len(part) for part in parts)


def fuzz(
    target: Target, operation: Any, mode: GenerationMode, examples: int, derandomize: bool = False
) -> None:
    """Call ``operation`` with ``examples`` generated requests; raise on the first failed check."""
    if mode == GenerationMode.NEGATIVE and not has_inputs(operation):
        return
    roles = roles_for(operation)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), role=roles, data=st.data())
    def call(case: Any, role: str, data: st.DataObject) -> None:
        negated = {where for where, part in case.meta.components.items() if part.mode.is_negative}
        if ParameterLocation.PATH not in negated:
            for name, values in target.known.items():
                if name in (case.path_parameters or {}) and data.draw(st.booleans()):
                    case.path_parameters[name] = data.draw(st.sampled_from(values))
        headers = {}
        if negated == {ParameterLocation.HEADER}:
            pass  # the generated (invalid) Authorization header is the point of this case
        elif role == NO_TOKEN:
            (case.headers or {}).pop("Authorization", None)
        else:
            headers["Authorization"] = f"Bearer {target.tokens[role]}"
        response = case.call(base_url=target.base_url, headers=headers)
        target.statuses[operation.label, response.status_code] += 1
        case.validate_response(response, checks=CHECKS[mode], headers=headers)

    call()
