"""PAS bundles and hook calls with several elements removed or replaced by arbitrary JSON:
an answer or a 4xx in the surface's shape, never a 500, and a refusal records nothing."""

from __future__ import annotations

import copy
from typing import Any

from api.conftest import row_count
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pas_bundles import INQUIRE, SUBMIT, cpap_bundle
from test_fhir_crd import device_order, full_prefetch, hook_call, service_order
from test_fhir_mutations import paths

ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with one to three elements removed or replaced by any JSON value."""
    body = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        found = list(paths(body))
        if not found:
            break
        path = draw(st.sampled_from(found))
        parent = body
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()):
            parent.pop(path[-1])
        else:
            parent[path[-1]] = draw(ANY_JSON)
    return body


@FUZZ
@given(body=mutated(cpap_bundle()), inquire=st.booleans())
def test_fuzzed_pas_bundles_get_an_answer_or_a_4xx_outcome(client, backend, submitter, body, inquire):  # type: ignore[no-untyped-def]
    before = row_count(backend, "decision_log")
    response = client.post(INQUIRE if inquire else SUBMIT, json=body, headers=submitter)
    assert response.status_code < 500, response.get_json()
    assert response.get_json()["resourceType"] in ("Bundle", "OperationOutcome")
    if response.status_code >= 400:
        assert row_count(backend, "decision_log") == before


HOOK = hook_call("order-sign", device_order("dr-1"), service_order("sr-1", "27447"), prefetch=full_prefetch())


@FUZZ
@given(body=mutated(HOOK))
def test_fuzzed_hook_calls_get_an_answer_or_a_4xx(client, backend, submitter, body):  # type: ignore[no-untyped-def]
    response = client.post("/cds-services/coverage-order-sign", json=body, headers=submitter)
    assert response.status_code < 500, response.get_json()
    if response.status_code >= 400:
        assert set(response.get_json()) >= {"code", "message"}
    assert row_count(backend, "decision_log") == 0
