"""Database outage: PostgreSQL stops under load; requests must fail fast with a 503 and recover alone.

Usage:
  .venv/bin/python scripts/db_outage.py [--before 3] [--outage 5] [--after 5] [--clients 3]
      [--workers 2] [--port 5499]

Runs a private PostgreSQL cluster (initdb under /tmp, on --port; never the shared
server), starts ``policy-engine serve`` (gunicorn) on a database in it, drives it with
the bundled policies' tests.yaml requests, stops the cluster with ``pg_ctl -m immediate``
(every server connection dies, as in a crash), starts it again and watches the service
come back without a restart. Then a quiet restart: the database restarts while no
request is served, and the next requests must all succeed. Prints the time to a 503,
answers by status before, during and after the outage, what /healthz said, the time to
recover, and checks that every acknowledged decision is in the log. Exits 1 on a 500,
an answer without the ``{code, message, errors}`` shape, a hang, a failure after
recovery, or a lost decision. The cluster is removed at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_http import realistic_requests  # noqa: E402
from scripts.crash_safety import payload, post  # noqa: E402
from scripts.figures import percentile  # noqa: E402
from scripts.killable_service import KillableService, fresh_database  # noqa: E402
from scripts.log_checks import answered_fields, check_log  # noqa: E402
from scripts.private_postgres import PrivateCluster  # noqa: E402

HANG = 10.0  # seconds: twice the connect timeout; an answer slower than this during the outage is a hang


def client_loop(port: int, token: str, templates: list[dict], stop: Any, out_path: str, seed: int) -> None:
    """Send requests until told to stop; one line per request: when, how long, and what came back."""
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    with open(out_path, "w", encoding="utf-8") as out:
        while not stop.is_set():
            key = uuid.uuid4().hex
            sent = time.time()
            record: dict[str, Any] = {"t": sent}
            try:
                status, data = post(connection, token, payload(templates, rng.randrange(len(templates)), key))
            except (http.client.HTTPException, OSError):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                record.update(s="lost", took=time.time() - sent)
                out.write(json.dumps(record) + "\n")
                time.sleep(0.05)
                continue
            record.update(s=status, took=time.time() - sent)
            body = json.loads(data) if data.startswith(b"{") else None
            if 200 <= status < 300:
                record["d"] = answered_fields(body)
            else:
                record["shape"] = isinstance(body, dict) and set(body) == {"code", "message", "errors"}
                record["code"] = body.get("code") if isinstance(body, dict) else None
            out.write(json.dumps(record) + "\n")
            if status == 503:
                time.sleep(0.02)  # as a client told to retry shortly would
    connection.close()


def watch_health(
    service: KillableService, stop: threading.Event, seen: list[tuple[float, int | None]]
) -> None:
    while not stop.is_set():
        seen.append((time.time(), service.health()))
        time.sleep(0.1)


def quiet_restart(cluster: PrivateCluster, service: KillableService, token: str, templates: list) -> Counter:
    """The database restarts while nothing is served; the next requests must all be answered."""
    time.sleep(1.5)
    cluster.stop()
    cluster.start()
    time.sleep(1.5)
    statuses: Counter = Counter()
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=60)
    for n in range(4 * service.workers):
        connection.close()  # a new connection each time, so every worker is likely to take one
        status, _ = post(connection, token, payload(templates, n % len(templates), uuid.uuid4().hex))
        statuses[status] += 1
    connection.close()
    return statuses


def report(records: list[dict], health: list, down: float, up: float, quiet: Counter) -> list[str]:
    """Print the figures; return the violations."""
    phases = {"before": [], "during": [], "after": []}
    for record in records:
        phase = "before" if record["t"] < down else "during" if record["t"] < up else "after"
        phases[phase].append(record)
    for name, items in phases.items():
        print(f"answers {name:6}: {dict(sorted(Counter(str(r['s']) for r in items).items()))}")
    unavailable = [r["took"] for r in records if r["s"] == 503]
    print(
        f"time to 503: p50 {statistics.median(unavailable) * 1e3:.1f} ms, p99 "
        f"{percentile(unavailable, 0.99) * 1e3:.1f} ms, max {max(unavailable) * 1e3:.1f} ms "
        f"({len(unavailable)} answers)"
        if unavailable
        else "time to 503: no 503 answered"
    )
    first_bad = next((t - down for t, status in health if t >= down and status == 503), None)
    first_good = next((t - up for t, status in health if t >= up and status == 200), None)
    print(
        f"/healthz: 503 (database unreachable) {first_bad:.2f} s after the stop"
        if first_bad is not None
        else "/healthz: never 503"
    )
    print(
        f"/healthz: 200 again {first_good:.2f} s after the start"
        if first_good is not None
        else "/healthz: never 200 again"
    )
    recovered = min((r["t"] + r["took"] for r in phases["after"] if r["s"] in (200, 201)), default=None)
    print(
        f"recovered: first decision recorded {recovered - up:.2f} s after the database started"
        if recovered
        else "never recovered"
    )
    late_failures = [
        r for r in phases["after"] if recovered and r["t"] > recovered and r["s"] not in (200, 201)
    ]
    print(f"failed requests after recovery: {len(late_failures)}")
    print(f"quiet restart (no request during it), the next requests: {dict(quiet)}")
    problems = []
    problems += [f"answered 500: {r}" for r in records if r["s"] == 500][:5]
    problems += [
        f"an error without the {{code, message, errors}} shape: {r}"
        for r in records
        if r.get("shape") is False
    ][:5]
    problems += [f"answered only after {r['took']:.1f} s" for r in phases["during"] if r["took"] > HANG][:5]
    problems += [f"failed after recovery: {r}" for r in late_failures][:5]
    if first_bad is None:
        problems.append("/healthz never reported the database unreachable")
    if recovered is None:
        problems.append("the service did not recover")
    if set(quiet) - {200, 201}:
        problems.append(f"after a quiet restart: {dict(quiet)}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--before", type=float, default=3, help="seconds of load before the stop")
    parser.add_argument("--outage", type=float, default=5, help="seconds the database is down")
    parser.add_argument("--after", type=float, default=5, help="seconds of load after it is back")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=5499, help="the private cluster's port")
    args = parser.parse_args()
    templates = realistic_requests()
    with PrivateCluster(args.port) as cluster, fresh_database("postgresql", cluster.url) as url:
        service = KillableService(url, args.workers)
        folder = Path(tempfile.mkdtemp(prefix="policy-engine-outage-"))
        try:
            token = service.prepare()
            service.start()
            print(
                f"service: gunicorn, {args.workers} workers, {args.clients} clients; "
                f"private PostgreSQL on port {args.port}"
            )
            stop, health_stop, health = multiprocessing.Event(), threading.Event(), []
            clients = [
                multiprocessing.Process(
                    target=client_loop,
                    args=(service.port, token, templates, stop, str(folder / f"{n}.jsonl"), n),
                )
                for n in range(args.clients)
            ]
            watcher = threading.Thread(target=watch_health, args=(service, health_stop, health))
            for process in clients:
                process.start()
            watcher.start()
            try:
                time.sleep(args.before)
                down = time.time()
                cluster.stop("immediate")
                time.sleep(args.outage)
                up = time.time()
                cluster.start()
                time.sleep(args.after)
            finally:
                stop.set()
                health_stop.set()
                for process in clients:
                    process.join(timeout=90)
                watcher.join()
            records = [
                json.loads(line) for path in folder.glob("*.jsonl") for line in path.read_text().splitlines()
            ]
            quiet = quiet_restart(cluster, service, token, templates)
            problems = report(records, health, down, up, quiet)
            service.stop()
            problems += [f"service log: {line}" for line in service.errors_logged()]
            answers = {r["d"]["decision_id"]: r["d"] for r in records if "d" in r}
            findings = check_log(url, answers)
            verify = service.cli("audit", "verify")
            print(
                f"acknowledged {len(answers)}, missing from the log {len(findings.missing)}; "
                f"log violations {findings.violations}"
            )
            print(f"audit verify: {(verify.stdout or verify.stderr).strip()}")
            if findings.violations or verify.returncode:
                problems.append("the log lost or half-wrote a decision, or does not verify")
        finally:
            service.close()
            for path in folder.glob("*"):
                path.unlink()
            folder.rmdir()
    for problem in problems:
        print(f"VIOLATION {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
