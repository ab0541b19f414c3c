"""Server time to render the reviewer's queue page with 50 rows (target: p99 under 200 ms).

Usage:
  .venv/bin/python scripts/bench_pages.py [--cases 60] [--repeat 200]

Seeds pended cases through the real service into a throwaway SQLite database (or the
``DATABASE_URL`` one, which must be empty), signs a reviewer in, and times ``GET /queue``
through the whole Flask application in this process (test client: no network).
"""

from __future__ import annotations

import argparse
import copy
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_engine.app import create_app  # noqa: E402
from policy_engine.storage.tokens import Actor  # noqa: E402
from scripts.figures import percentile, record  # noqa: E402

PENDED = {
    "urgency": "standard",
    "member": {"id": "M1001", "birth_date": "1961-04-02", "sex": "F"},
    "diagnoses": ["G47.33"],
    "services": [{"code": "E0601", "quantity": 1, "date_of_service": "2025-03-10"}],
    "clinical": {
        "ahi": 3,
        "conditions": [],
        "evaluation_date": "2025-01-15",
        "sleep_test_date": "2025-02-01",
    },
    "documentation": ["psg-report", "f2f-note"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-pages-")
    config = {
        "SECRET_KEY": secrets.token_urlsafe(32),
        "LOAD_BUNDLED_POLICIES": True,
        "POLICIES_DIR": str(ROOT / "policies"),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{folder}/bench.sqlite3",
    }
    app = create_app(config, instance_path=folder)
    backend = app.extensions["policy_engine"]
    backend.prepare()
    backend.catalog.reload()
    nurse = Actor("bench-nurse", "submitter", "bench-clinic")
    for n in range(args.cases):
        request = copy.deepcopy(PENDED)
        request["request_id"] = f"bench-{n}-{secrets.token_hex(4)}"
        request["member"]["id"] = f"M{n:05d}"
        decision, _ = backend.authorizations.submit(request, nurse)
        assert decision["status"] == "pended", decision["status"]
    client = app.test_client()
    token = backend.tokens.create("reviewer", "bench-reviewer")
    page = client.get("/sign-in").text
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/sign-in", data={"token": token, "csrf_token": csrf}).status_code == 302
    first = client.get("/queue")
    rows = first.text.count("<tr class=")
    assert first.status_code == 200 and rows == 50, (first.status_code, rows)
    for _ in range(10):
        client.get("/queue")
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        answer = client.get("/queue")
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200
    times.sort()
    p99 = percentile(times, 0.99)
    print(f"queue page, {rows} rows of {args.cases} pended cases, {args.repeat} renders:")
    print(f"  p50 {statistics.median(times):.1f} ms   p99 {p99:.1f} ms   (target: under 200 ms)")
    record("pages.queue_p50_ms", statistics.median(times))
    record("pages.queue_p99_ms", p99)
    backend.database.dispose()


if __name__ == "__main__":
    main()
