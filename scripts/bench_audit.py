"""Auditors at scale: filtered search pages (p50/p99), export rows/s and peak memory, verify rows/s.

Usage:
  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python scripts/seed_decisions.py 100000
  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python scripts/bench_audit.py

Search pages go through the whole Flask application in this process (test client: no
network, no gunicorn), each with a fresh auditor token check and its access-trail write.
Export and verify run as the operator would, ``policy-engine audit export|verify``, in
a child process whose peak resident memory is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_engine.app import create_app  # noqa: E402
from scripts.figures import percentile, record  # noqa: E402
from scripts.process_cpu import CpuMeter, finished_children_seconds, named, report_cost  # noqa: E402

CLI = str(ROOT / ".venv" / "bin" / "policy-engine")
# A child that runs a command and prints its peak resident memory (KiB) last.
MEASURED = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)


def search_filters(client, headers) -> list[dict]:  # type: ignore[no-untyped-def]
    sample = client.get("/api/v1/decisions", query_string={"limit": 1, "order": "desc"}, headers=headers)
    row = sample.get_json()["decisions"][0]
    recorded = row["recorded_at"][:10]
    return [
        {},
        {"outcome": "pended", "reason": "clinical_review"},
        {"policy": "cpap-osa", "version": 2},
        {"policy": "lumbar-mri", "outcome": "approved", "urgency": "expedited"},
        {"x12_action": "A3"},
        {"member_id": row["member_id"]},
        {"submitter": row["submitted_by"], "outcome": "pended"},
        {"organization": row["organization"], "from": recorded},
        {"overdue": "true"},
        {"from": "2000-01-01", "to": recorded, "reason": "no_policy"},
    ]


def bench_search(repeat: int) -> None:
    app = create_app({"TOKEN_CACHE_SECONDS": 0})
    backend = app.extensions["policy_engine"]
    headers = {"Authorization": "Bearer " + backend.tokens.create("auditor", "bench-auditor", None)}
    client = app.test_client()
    print("search, 50 rows a page (first page; then pages 2-6 by cursor):")
    slowest = 0.0
    for filters in search_filters(client, headers):
        first, later, found = [], [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            page = client.get("/api/v1/decisions", query_string=filters, headers=headers).get_json()
            first.append(time.perf_counter() - started)
            found = len(page["decisions"])
            cursor = page["next_cursor"]
            for _ in range(5):
                if not cursor:
                    break
                started = time.perf_counter()
                page = client.get(
                    "/api/v1/decisions", query_string={**filters, "cursor": cursor}, headers=headers
                ).get_json()
                later.append(time.perf_counter() - started)
                cursor = page["next_cursor"]
        following = _percentiles(later) if later else "-"
        print(f"  {_percentiles(first)}  next {following:>30}  rows {found:3}  {filters}")
        if filters:
            slowest = max(slowest, percentile(first, 0.99))
    record("audit.search_filtered_p99_ms", slowest * 1e3)
    backend.database.dispose()


def _percentiles(times: list[float]) -> str:
    return f"p50 {statistics.median(times) * 1e3:6.1f} ms  p99 {percentile(times, 0.99) * 1e3:6.1f} ms"


def measured(*args: str) -> tuple[float, float, str]:
    """Seconds, peak RSS (MiB) and stdout of ``policy-engine ARGS`` run in a child."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, CLI, *args], capture_output=True, text=True, env=os.environ
    )
    elapsed = time.perf_counter() - started
    *output, last = done.stdout.strip().splitlines()
    rss, code = last.split()
    if code != "0":
        raise SystemExit(f"policy-engine {' '.join(args)} failed:\n{done.stderr}")
    return elapsed, int(rss) / 1024, "\n".join(output)


def bench_export(fmt: str, *filters: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"export.{fmt}"
        extra = [arg for item in filters for arg in ("-f", item)]
        elapsed, rss, _ = measured(
            "audit", "export", "--format", fmt, "-o", str(path), "--no-progress", *extra
        )
        with path.open("rb") as written:
            written.seek(max(0, path.stat().st_size - 200))
            tail = written.read().decode().strip().splitlines()[-1]
        size = path.stat().st_size / 2**20
    lines = int(tail.split()[-2]) if fmt == "csv" else json.loads(tail)["end"]["lines"]
    label = f"{fmt} {' '.join(filters) or '(everything)'}"
    if not filters:
        record(f"audit.export_{fmt}_rows_per_s", lines / elapsed)
        record(f"audit.export_{fmt}_peak_mib", rss)
    print(
        f"  {label:40} {lines:>9} lines in {elapsed:6.1f} s = {lines / elapsed:8,.0f} rows/s, "
        f"{size:7.1f} MiB written, peak RSS {rss:6.1f} MiB"
    )


def bench_verify() -> None:
    meter = CpuMeter(database=lambda: named("postgres"))
    meter.start()
    command_cpu = finished_children_seconds()
    elapsed, rss, output = measured("audit", "verify", "--no-progress")
    spent = {**meter.stop(), "command": finished_children_seconds() - command_cpu}
    entries = int(output.split()[1])
    rate = entries / elapsed
    print(f"verify: {output[:40]}...")
    print(f"  {entries} entries in {elapsed:.1f} s = {rate:,.0f} rows/s, peak RSS {rss:.1f} MiB")
    per, ceiling = report_cost(spent, entries, "verified entry", 1e6, "us")
    record("audit.verify_rows_per_s", rate)
    record("audit.verify_peak_mib", rss)
    record("audit.verify_cpu_us_per_entry", sum(per.values()))
    record("audit.verify_cpu_ceiling_rows_per_s", ceiling)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeat", type=int, default=100, help="first pages timed per filter (p99 needs 100)"
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=["search", "export", "verify"])
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL to a seeded database (scripts/seed_decisions.py)")
    print(f"{os.cpu_count()} cores; database {os.environ['DATABASE_URL'].rsplit('/', 1)[-1]}")
    if "search" not in args.skip:
        bench_search(args.repeat)
    if "export" not in args.skip:
        print("export (policy-engine audit export, child process; times include start-up):")
        bench_export("csv")
        bench_export("ndjson")
        bench_export("csv", "outcome=pended", "policy=cpap-osa")
    if "verify" not in args.skip:
        bench_verify()


if __name__ == "__main__":
    main()
