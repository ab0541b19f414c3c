"""Mutated PAS bundles and hook calls: never a 500, and a refused request records nothing."""

from __future__ import annotations

import copy
import random

import pytest
from api.conftest import row_count
from pas_bundles import INQUIRE, SUBMIT, cpap_bundle
from test_fhir_crd import device_order, full_prefetch, hook_call, service_order

ODD_VALUES = [None, 0, -1, 1.5, "", "x", True, [], {}, [None], {"a": 1}, "2025-13-45", "urn:uuid:pat-1"]


def paths(node, prefix=()):
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def mutated(base, rnd):
    """The body with one element removed or replaced by an odd value."""
    body = copy.deepcopy(base)
    path = rnd.choice(list(paths(body)))
    parent = body
    for part in path[:-1]:
        parent = parent[part]
    if rnd.random() < 0.3:
        parent.pop(path[-1])
    else:
        parent[path[-1]] = rnd.choice(ODD_VALUES)
    return body


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_pas_bundles_get_an_answer_or_a_4xx_outcome(client, backend, submitter, seed):
    rnd = random.Random(seed)
    for number in range(120):
        before = row_count(backend, "decision_log")
        response = client.post(
            SUBMIT if number % 2 else INQUIRE, json=mutated(cpap_bundle(), rnd), headers=submitter
        )
        assert response.status_code < 500, response.get_json()
        body = response.get_json()
        assert body["resourceType"] in ("Bundle", "OperationOutcome")
        if response.status_code >= 400:
            assert row_count(backend, "decision_log") == before


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_hook_calls_get_an_answer_or_a_4xx(client, backend, submitter, seed):
    rnd = random.Random(seed)
    base = hook_call(
        "order-sign", device_order("dr-1"), service_order("sr-1", "27447"), prefetch=full_prefetch()
    )
    for _ in range(120):
        response = client.post(
            "/cds-services/coverage-order-sign", json=mutated(base, rnd), headers=submitter
        )
        assert response.status_code < 500, response.get_json()
    assert row_count(backend, "decision_log") == 0
