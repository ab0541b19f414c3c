"""Approve many successive policy versions under load; nothing may fail, every decision must
cite the version in effect on its date, and worker memory must stay flat.

Usage: .venv/bin/python scripts/bench_reload.py [--versions 150] [--clients 2] [--workers 3]
       [--database postgresql://postgres@127.0.0.1:5432/test]

It starts the service (gunicorn) on a database of its own, drives CPAP requests whose dates
of service span the new versions' effective dates from other processes, and meanwhile
submits and approves cpap-osa versions 3, 4, … one after another (version k effective k
days after 2025-06-01). A request received less than the reload interval after an
approval may still be judged by the version before it: the documented propagation delay.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.figures import record  # noqa: E402
from scripts.throwaway_service import PORT, Service  # noqa: E402

START = dt.date(2025, 6, 1)
REFRESH_SECONDS = 1.0


def call(method: str, path: str, token: str, body: str | None = None, kind: str = "application/json"):  # type: ignore[no-untyped-def]
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": kind}
    connection.request(method, path, body, headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def load(token: str, days: int, stop, results) -> None:  # type: ignore[no-untyped-def]
    """Submit approvable CPAP requests with dates of service across the new versions' dates."""
    sent = 0
    statuses: dict[int, int] = {}
    while not stop.is_set():
        day = START + dt.timedelta(days=sent % days)
        body = {
            "request_id": uuid.uuid4().hex,
            "member": {"id": "M-RELOAD", "birth_date": "1960-01-01"},
            "diagnoses": ["G47.33"],
            "services": [{"code": "E0601", "date_of_service": day.isoformat()}],
            "clinical": {"ahi": 31, "evaluation_date": "2025-01-15", "sleep_test_date": "2025-02-01"},
            "documentation": ["psg-report", "f2f-note"],
        }
        status, _ = call("POST", "/api/v1/authorizations", token, json.dumps(body))
        statuses[status] = statuses.get(status, 0) + 1
        sent += 1
    results.put(statuses)


def version_text(version: int) -> str:
    text = (ROOT / "policies" / "cpap-osa" / "v2.yaml").read_text()
    effective = START + dt.timedelta(days=version)
    return text.replace("version: 2", f"version: {version}", 1).replace(
        "effective: 2025-01-01", f"effective: {effective.isoformat()}", 1
    )


def expected_version(day: dt.date, approved: list[tuple[float, int]], moment: float) -> int:
    """The newest version approved before ``moment`` whose effective date is on or before ``day``."""
    found = 2
    for at, version in approved:
        if at <= moment and START + dt.timedelta(days=version) <= day:
            found = max(found, version)
    return found


def _recently_expected(day: dt.date, approved: list[tuple[float, int]], moment: float) -> set[int]:
    """The versions in effect for ``day`` at some time within the reload delay before ``moment``."""
    since = moment - REFRESH_SECONDS - 1.5
    moments = [since, *(at for at, _ in approved if since <= at <= moment)]
    return {expected_version(day, approved, at) for at in moments}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--versions", type=int, default=150)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    settings = {"POLICY_ENGINE_POLICY_REFRESH_SECONDS": str(REFRESH_SECONDS)}
    with Service(args.database, args.workers, settings) as service:
        author, cmo = service.token("author", "author"), service.token("cmo", "cmo")
        stop, results = multiprocessing.Event(), multiprocessing.Queue()
        days = args.versions + 10
        clients = [
            multiprocessing.Process(target=load, args=(service.submitter, days, stop, results))
            for _ in range(args.clients)
        ]
        for client in clients:
            client.start()
        time.sleep(3)
        rss_before = service.worker_rss_mib()
        approved: list[tuple[float, int]] = []
        marks = [(0, max(rss_before))]  # (approvals so far, largest worker RSS)
        started = time.perf_counter()
        for version in range(3, 3 + args.versions):
            status, data = call("POST", "/api/v1/policies", author, version_text(version), "application/yaml")
            assert status == 201, data
            path = f"/api/v1/policies/cpap-osa/versions/{version}/approve"
            status, data = call("POST", path, cmo, json.dumps({"comment": "bench"}))
            assert status == 200, data
            decided = dt.datetime.fromisoformat(json.loads(data)["decided_at"].replace("Z", "+00:00"))
            approved.append((decided.timestamp(), version))
            if len(approved) % 10 == 0:
                marks.append((len(approved), max(service.worker_rss_mib())))
        elapsed = time.perf_counter() - started
        time.sleep(REFRESH_SECONDS + 2)
        rss_after = service.worker_rss_mib()
        stop.set()
        statuses: dict[int, int] = {}
        for _ in clients:
            for status, count in results.get().items():
                statuses[status] = statuses.get(status, 0) + count
        for client in clients:
            client.join()
        rows = service.logged(
            "SELECT extract(epoch from received_at), result FROM decision_log WHERE kind = 'decision'"
        )
        wrong = stale = 0
        for received, result in rows:
            line = result["lines"][0]
            day = dt.date.fromisoformat(line["date_of_service"])
            cited = line["policies"][0]["version"]
            if cited == expected_version(day, approved, float(received)):
                continue
            if cited in _recently_expected(day, approved, float(received)):
                stale += 1
            else:
                wrong += 1
                if wrong <= 5:
                    print(f"  {day}: cited v{cited}, expected v{expected_version(day, approved, received)}")
        print(f"{args.versions} versions submitted and approved in {elapsed:.1f} s under load")
        failed = sum(count for status, count in statuses.items() if status != 201)
        print(f"requests: {dict(sorted(statuses.items()))}; failed (non-201): {failed}")
        print(
            f"decisions: {len(rows)}; citing the version in effect: {len(rows) - wrong - stale}; "
            f"within the {REFRESH_SECONDS:.0f} s reload delay: {stale}; wrong: {wrong}"
        )
        print("worker RSS MiB before: " + ", ".join(f"{x:.1f}" for x in rss_before))
        print("worker RSS MiB after:  " + ", ".join(f"{x:.1f}" for x in rss_after))
        print("largest worker RSS MiB by approvals: " + ", ".join(f"{n}: {mib:.1f}" for n, mib in marks))
        # The slope once the bounded caches of ended versions have filled (after 50
        # approvals when there are enough of them, else after the workers' warm-up).
        start = next((i for i, (n, _) in enumerate(marks) if n >= 50 and i < len(marks) - 2), 1)
        if len(marks) > start + 1:
            (first, low), (last, high) = marks[start], marks[-1]
            slope = (high - low) / (last - first) * 100
            print(f"  growth after the first {first} approvals: {slope:.1f} MiB per 100 approvals")
            record("reload.worker_rss_mib_per_100_approvals", slope)
        record("reload.versions", args.versions)
        record("reload.failed_requests", failed)
        record("reload.wrong_version", wrong)
        growth = max(after - before for after, before in zip(rss_after, rss_before, strict=False))
        record("reload.worker_rss_growth_mib", growth)


if __name__ == "__main__":
    main()
