"""The chain walk's hash, assembled from stored text, is the hash the log writes."""

from __future__ import annotations

import datetime as dt

import pytest

from policy_engine.storage.canonical import canonical_json, sha256_of
from policy_engine.storage.chain_hash import HASHED, stored_hash

ENTRY = {
    "seq": 7,
    "entry_id": "e-1",
    "decision_id": "e-1",
    "kind": "decision",
    "organization": "group-1",
    "request_id": "r-1",
    "request_sha256": "a" * 64,
    "member_id": "M1",
    "urgency": "standard",
    "status": "approved",
    "received_at": dt.datetime(2025, 3, 1, 12, 0, 0, 5, tzinfo=dt.UTC),
    "recorded_at": dt.datetime(2025, 3, 1, 12, 0, 1, tzinfo=dt.UTC),
    "actor": "nurse-a",
    "actor_role": "submitter",
    "engine_version": "policy-engine 0.1.0",
    "policies": [{"policy": "cpap-osa", "version": 1}],
    "request": {"member": {"id": "M1"}, "note": "fine"},
    "result": {"lines": [], "status": "approved"},
    "prev_hash": "0" * 64,
}
AWKWARD = 'quote " backslash \\ tab \t newline \n nul \x00 bell \x07 snowman ☃ sep \u2028 astral 😀'
EAST = dt.timezone(dt.timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"organization": None, "request_id": None, "member_id": None},
        {"member_id": AWKWARD, "actor": AWKWARD, "request": {"note": AWKWARD, "n": [1, 2.5, None, True]}},
        {
            "received_at": dt.datetime(2025, 3, 1, 12, 0),
            "recorded_at": dt.datetime(2025, 3, 1, 17, 30, tzinfo=EAST),
        },
        {"seq": 10**15, "result": {"z": 1, "a": {"y": [], "b": {}}}},
    ],
)
def test_the_hash_of_stored_canonical_text_is_the_entry_hash(changes):
    entry = {**ENTRY, **changes}
    stored = {n: canonical_json(v) if n in ("policies", "request", "result") else v for n, v in entry.items()}
    expected = sha256_of({n: entry[n] for n in HASHED})
    assert stored_hash(stored) == expected
