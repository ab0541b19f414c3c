"""Seed N realistic recorded decisions into the database DATABASE_URL names, for audit benchmarks.

Usage:
  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/mydb .venv/bin/python scripts/seed_decisions.py 100000

The bundled policies' tests.yaml cases, made valid API requests, are evaluated once by
the real evaluator; each seeded decision is one of them with its own decision id,
request id, member, organization, submitter, urgency and receipt time (spread over the
last year), with the authorization number and due date the service would give it.
Entries continue the existing hash chain and are written with their index rows in one
transaction (COPY on PostgreSQL), bypassing the service's one-at-a-time append path.
The schema is migrated and the bundled policies stored first if need be.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import column, insert, select, table, text, update  # noqa: E402

from policy_engine.config import DEFAULTS, database_url, from_environment  # noqa: E402
from policy_engine.engine.evaluator import Evaluator  # noqa: E402
from policy_engine.engine.trace import decision_dict  # noqa: E402
from policy_engine.loader import load_policies  # noqa: E402
from policy_engine.services.authorizations import authorization_number, due_by, iso, policies_used  # noqa: E402
from policy_engine.storage import migrate  # noqa: E402
from policy_engine.storage.canonical import canonical_json, sha256_of  # noqa: E402
from policy_engine.storage.chain_hash import CHAINED, CONTENT, link_hash  # noqa: E402
from policy_engine.storage.database import Database  # noqa: E402
from policy_engine.storage.decision_index import index_rows  # noqa: E402
from policy_engine.storage.models import ChainHead  # noqa: E402
from policy_engine.storage.policy_store import PolicyStore  # noqa: E402
from scripts.bench_http import realistic_requests  # noqa: E402

COLUMNS = ("seq", *CONTENT, "prev_hash", "entry_hash", "content_hash")
LINE_COLUMNS = (
    *("seq", "line", "code", "date_of_service", "outcome", "reason", "x12_action", "policies"),
    *("decided_by", "authorization_number", "due_by"),
)
POLICY_COLUMNS = ("seq", "line", "policy_id", "policy_version")
ORGANIZATIONS = [f"provider-group-{n}" for n in range(1, 9)]
AUTH, DUE = "\x00AUTH{}\x00", "\x00DUE\x00"  # in a result's values, where no real text has NUL


def _as_text(placeholder: str) -> str:
    """A placeholder as it appears in canonical JSON text (NUL escaped as \\u0000)."""
    return canonical_json(placeholder)[1:-1]


class Template:
    """One evaluated request, with its result as canonical text to fill in per decision."""

    def __init__(self, request: dict[str, Any], decision: dict[str, Any], valid_days: int = 90) -> None:
        self.request = request
        self.status = decision["status"]
        self.engine_version = decision["engine_version"]
        self.policies_text = canonical_json(policies_used(decision))
        for line in decision["lines"]:
            if line["outcome"] == "approved":
                start = dt.date.fromisoformat(line["date_of_service"])
                line["authorization_number"] = AUTH.format(line["index"])
                line["valid_from"] = start.isoformat()
                line["valid_to"] = (start + dt.timedelta(days=valid_days - 1)).isoformat()
            elif line["outcome"] == "pended":
                line["due_by"] = DUE
        result = {"status": decision["status"], "lines": decision["lines"]}
        self.result_text = canonical_json(result)
        self.lines, self.line_policies = index_rows(
            0, {"lines": [{**x, "due_by": None} for x in decision["lines"]]}
        )
        self.request_head = canonical_json(
            {k: v for k, v in request.items() if k not in ("request_id", "member")}
        )

    def fill(self, decision_id: str, received: dt.datetime, urgency: str) -> tuple[str, list[dict]]:
        text, lines = self.result_text, []
        due = iso(due_by(received, urgency, ZoneInfo("UTC")))
        for line in self.lines:
            line = dict(line)
            if line["outcome"] == "approved":
                number = authorization_number(decision_id, line["line"], received)
                text = text.replace(_as_text(AUTH.format(line["line"])), number)
                line["authorization_number"] = number
            elif line["outcome"] == "pended":
                line["due_by"] = dt.datetime.fromisoformat(due.replace("Z", "+00:00"))
            lines.append(line)
        return text.replace(_as_text(DUE), due), lines


def templates() -> list[Template]:
    evaluator = Evaluator(load_policies([ROOT / "policies"]))
    return [Template(request, decision_dict(evaluator.evaluate(request))) for request in realistic_requests()]


def entries(count: int, head: tuple[int, str], seed: int = 6):  # type: ignore[no-untyped-def]
    """(log row, line rows, line-policy rows) for ``count`` decisions continuing the chain at ``head``."""
    rng = random.Random(seed)
    made = templates()
    seq, previous = head
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=365)
    step = dt.timedelta(days=365) / max(count, 1)
    for n in range(count):
        seq += 1
        template = made[rng.randrange(len(made))]
        decision_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        received = start + step * n
        urgency = "expedited" if rng.random() < 0.15 else "standard"
        member = {**template.request["member"], "id": f"M{rng.randrange(200_000):07d}"}
        organization = ORGANIZATIONS[rng.randrange(len(ORGANIZATIONS))]
        request = {
            **template.request,
            "request_id": f"seed-{decision_id[:18]}",
            "member": member,
            "urgency": urgency,
        }
        result_text, lines = template.fill(decision_id, received, urgency)
        row = {
            "seq": seq,
            "entry_id": decision_id,
            "decision_id": decision_id,
            "kind": "decision",
            "organization": organization,
            "request_id": request["request_id"],
            "request_sha256": sha256_of(request),
            "member_id": member["id"],
            "urgency": urgency,
            "status": template.status,
            "received_at": received,
            "recorded_at": received + dt.timedelta(milliseconds=40 + rng.randrange(200)),
            "actor": f"nurse-{organization[-1]}-{rng.randrange(4)}",
            "actor_role": "submitter",
            "engine_version": template.engine_version,
            "policies": template.policies_text,
            "request": canonical_json(request),
            "result": result_text,
            "prev_hash": previous,
        }
        row["content_hash"] = CHAINED.hash_of(row)
        row["entry_hash"] = previous = link_hash(previous, row["content_hash"])
        for line in lines:
            line["seq"] = seq
        policies = [{**p, "seq": seq} for p in template.line_policies]
        yield row, lines, policies


def seed(database: Database, count: int) -> int:
    """Append ``count`` decisions under the chain lock; returns the new head's seq."""
    with database.appending() as connection:
        head = connection.execute(select(ChainHead.seq, ChainHead.entry_hash).where(ChainHead.id == 1)).one()
        generated = entries(count, (head.seq, head.entry_hash), seed=6 + head.seq)
        if database.is_sqlite:
            last = _insert_sqlite(connection, generated)
        else:
            last = _copy_postgres(connection, generated)
        if last:
            connection.execute(update(ChainHead).where(ChainHead.id == 1).values(**last))
        return head.seq + count


def _last(row: dict) -> dict:
    """The chain head after ``row``."""
    return {"seq": row["seq"], "prev_hash": row["prev_hash"], "entry_hash": row["entry_hash"]}


def _copy_postgres(connection, generated) -> dict:  # type: ignore[no-untyped-def]
    lines, policies, last = [], [], {}
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(f"COPY decision_log ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row, more_lines, more_policies in generated:
            copy.write_row([row[name] for name in COLUMNS])
            last = _last(row)
            lines += more_lines
            policies += more_policies
    for name, columns, rows in (
        ("decision_lines", LINE_COLUMNS, lines),
        ("decision_line_policies", POLICY_COLUMNS, policies),
    ):
        with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
            for item in rows:
                copy.write_row([item[c] for c in columns])
    return last


def _insert_sqlite(connection, generated) -> dict:  # type: ignore[no-untyped-def]
    tables = {
        name: table(name, *[column(c) for c in columns])
        for name, columns in (
            ("decision_log", COLUMNS),
            ("decision_lines", LINE_COLUMNS),
            ("decision_line_policies", POLICY_COLUMNS),
        )
    }
    batch: dict[str, list[dict]] = {name: [] for name in tables}

    def stamp(item: dict) -> dict:
        return {
            k: v.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, dt.datetime) else v
            for k, v in item.items()
        }

    last = {}
    for row, lines, policies in generated:
        last = _last(row)
        batch["decision_log"].append(stamp(row))
        batch["decision_lines"] += [stamp(line) for line in lines]
        batch["decision_line_policies"] += policies
        if len(batch["decision_log"]) >= 5000:
            for name, rows in batch.items():
                if rows:
                    connection.execute(insert(tables[name]), rows)
                rows.clear()
    for name, rows in batch.items():
        if rows:
            connection.execute(insert(tables[name]), rows)
    return last


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("count", type=int)
    args = parser.parse_args()
    settings = {**DEFAULTS, **from_environment()}
    database = Database(database_url(settings, str(ROOT / "instance")))
    migrate.upgrade(database)
    store = PolicyStore(database)
    if store.count() == 0:
        store.load_directory(ROOT / "policies")
    started = time.perf_counter()
    head = seed(database, args.count)
    elapsed = time.perf_counter() - started
    if not database.is_sqlite:
        with database.engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            connection.commit()
    rate = args.count / elapsed
    print(f"seeded {args.count} decisions in {elapsed:.1f} s ({rate:,.0f}/s); log head is now {head}")
    database.dispose()


if __name__ == "__main__":
    main()
