"""scripts/seed_decisions.py: seeded decisions read like the service's own, and verify."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import text

from scripts.seed_decisions import seed

AUTHORIZATION_NUMBER = re.compile(r"PA\d{6}-[0-9A-F]{8}-\d+")


def test_seeded_decisions_carry_their_numbers_and_deadlines_and_verify(client, backend, token):
    assert seed(backend.database, 60) == 60
    with backend.database.engine.connect() as connection:
        indexed = {
            (row.decision_id, row.line): row
            for row in connection.execute(
                text(
                    "SELECT decision_id, line, outcome, authorization_number, due_by"
                    " FROM decision_lines JOIN decision_log USING (seq)"
                )
            )
        }
    outcomes = set()
    for decision_id in {key[0] for key in indexed}:
        (entry,) = backend.log.case(decision_id)
        for line in entry.result["lines"]:
            row = indexed[(decision_id, line["index"])]
            outcomes.add(line["outcome"])
            if line["outcome"] == "approved":
                assert AUTHORIZATION_NUMBER.fullmatch(line["authorization_number"])
                assert line["authorization_number"] == row.authorization_number
                assert line["authorization_number"].split("-")[1] == decision_id[:8].upper()
            if line["outcome"] == "pended":
                due = dt.datetime.fromisoformat(line["due_by"].replace("Z", "+00:00"))
                assert due > entry.received_at.replace(tzinfo=dt.UTC)
                stored = (
                    row.due_by
                    if isinstance(row.due_by, dt.datetime)
                    else dt.datetime.fromisoformat(row.due_by)
                )
                assert due == stored.replace(tzinfo=stored.tzinfo or dt.UTC)
    assert {"approved", "pended"} <= outcomes

    report = client.get("/api/v1/audit/verify", headers=token("auditor")).get_json()
    assert report["intact"] is True and report["entries"] == 60
