"""Logged decisions per second through the running HTTP service, with p50/p99 latency.

Usage:
  .venv/bin/python scripts/bench_http.py [--seconds 20] [--clients 8] [--workers 3]
      [--open-loop 0.5] [--database postgresql://postgres@127.0.0.1:5432/test]
  .venv/bin/python scripts/bench_http.py --url http://host:8000 --token TOKEN

Without --url it creates a database of its own on the given PostgreSQL server, loads the
bundled policies, starts ``policy-engine serve`` (gunicorn) on it, drives it, checks that
every acknowledged decision is in the log and the chain verifies, then stops the service
and drops the database. The requests are the bundled policies' tests.yaml cases, made
valid API requests (member, request_id), so every policy and outcome is exercised.
The clients first send as fast as the service answers (its throughput, and latency at
saturation, which is mostly queueing); then, with ``--open-loop``, they offer that share
of the measured rate at a steady pace, which gives the latency below saturation.
The load generator runs on the same machine as the service and competes for its cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import sys
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_engine.api.schemas import AuthorizationRequestSchema  # noqa: E402
from policy_engine.testing import find_test_files, load_cases  # noqa: E402
from policy_engine.values import to_json  # noqa: E402
from scripts.figures import percentile, record  # noqa: E402
from scripts.process_cpu import CpuMeter, children, named, report_cost  # noqa: E402
from scripts.throwaway_service import Service  # noqa: E402


def realistic_requests() -> list[dict]:
    """The bundled test cases that are valid API requests once given an id and a member."""
    schema, found = AuthorizationRequestSchema(), []
    for tests in find_test_files([ROOT / "policies"]):
        for case, _ in load_cases(tests):
            request = to_json(case["request"])
            member = {"id": "M-BENCH", "birth_date": "1960-01-01", **request.get("member", {})}
            request.update(request_id="x", member=member)
            if not schema.validate(request):
                found.append(request)
    return found


def client_loop(url: str, token: str, requests: list[dict], seconds: float, queue, pace=None) -> None:  # type: ignore[no-untyped-def]
    """One client on one kept-alive connection, as a portal's HTTP client pool would use it.

    Bodies are encoded before the clock starts, so the generator spends as little as it can
    of the CPU the service needs. Without ``pace`` each request is sent when the last is
    answered; with ``pace = (interval, offset)`` the k-th is due at ``offset + k * interval``
    seconds and its latency counts from then, so a late answer also delays the ones due
    behind it (no coordinated omission).
    """
    target = urllib.parse.urlsplit(url)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies, statuses, ids = [], {}, []
    cpu_at_start = time.process_time()
    bodies = [json.dumps(r).split('"request_id": "x"') for r in requests]
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    began = time.perf_counter()
    deadline = began + seconds
    n, sent = os.getpid(), 0
    while time.perf_counter() < deadline:
        head, tail = bodies[n % len(bodies)]
        payload = f'{head}"request_id": "{uuid.uuid4().hex}"{tail}'
        n += 1
        if pace:
            start = began + pace[1] + sent * pace[0]
            time.sleep(max(0.0, start - time.perf_counter()))
            sent += 1
        else:
            start = time.perf_counter()
        try:
            connection.request("POST", "/api/v1/authorizations", payload, headers)
            response = connection.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            connection.close()
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            statuses["connection error"] = statuses.get("connection error", 0) + 1
            continue
        latencies.append(time.perf_counter() - start)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        if response.status == 201:
            ids.append(data[data.index(b'"decision_id"') :].split(b'"')[3].decode())
    connection.close()
    queue.put((latencies, statuses, ids, time.process_time() - cpu_at_start))


class Run(NamedTuple):
    latencies: list[float]
    statuses: dict
    ids: list[str]
    elapsed: float
    client_cpu: float  # seconds of CPU the load generator spent


def drive(url: str, token: str, clients: int, seconds: float, rate: float | None = None) -> Run:
    """``clients`` clients for ``seconds``: as fast as answered, or together offering ``rate``/s."""
    requests = realistic_requests()
    queue: multiprocessing.Queue = multiprocessing.Queue()
    interval = clients / rate if rate else None
    processes = [
        multiprocessing.Process(
            target=client_loop,
            args=(
                url,
                token,
                requests,
                seconds,
                queue,
                (interval, i * interval / clients) if interval else None,
            ),
        )
        for i in range(clients)
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    latencies = sorted(x for r in results for x in r[0])
    statuses: dict[int, int] = {}
    for _, counts, _, _ in results:
        for status, count in counts.items():
            statuses[status] = statuses.get(status, 0) + count
    ids = [i for r in results for i in r[2]]
    return Run(latencies, statuses, ids, elapsed, sum(r[3] for r in results))


def report(run: Run, clients: int, figures: str = "http") -> None:
    created = run.statuses.get(201, 0)
    print(f"clients {clients}, {run.elapsed:.1f} s, responses {dict(sorted(run.statuses.items(), key=str))}")
    print(f"logged decisions/s {created / run.elapsed:8.0f}")
    p50, p99 = statistics.median(run.latencies), percentile(run.latencies, 0.99)
    print(f"latency p50 {p50 * 1e3:6.1f} ms   p99 {p99 * 1e3:6.1f} ms")
    record(f"{figures}.decisions_per_s", created / run.elapsed)
    record(f"{figures}.p50_ms", p50 * 1e3)
    record(f"{figures}.p99_ms", p99 * 1e3)


def report_cpu(spent: dict[str, float], decisions: int) -> None:
    """CPU per logged decision by part, and the rate the machine's cores allow at that cost."""
    per, ceiling = report_cost(spent, decisions, "logged decision", 1e3, "ms")
    for part, ms in per.items():
        record(f"http.cpu_ms.{part.replace(' ', '_')}", ms)
    record("http.cpu_ceiling_per_s", ceiling)


def open_loop(args: argparse.Namespace, url: str, token: str, saturated: Run) -> Run:
    """Offer a share of the rate ``saturated`` reached, at a steady pace, and report latency."""
    rate = args.open_loop * saturated.statuses.get(201, 0) / saturated.elapsed
    print(f"open loop: {rate:.0f} decisions/s offered ({args.open_loop:.0%} of the rate above)")
    paced = drive(url, token, args.clients, args.seconds, rate)
    report(paced, args.clients, "http.open_loop")
    return paced


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers of the service started here")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--open-loop",
        type=float,
        default=0.5,
        help="then offer this share of the measured rate at a steady pace, for latency below saturation",
    )
    parser.add_argument("--url")
    parser.add_argument("--token")
    args = parser.parse_args()
    if args.url:
        run = drive(args.url, args.token, args.clients, args.seconds)
        report(run, args.clients)
        if args.open_loop:
            open_loop(args, args.url, args.token, run)
        return
    with Service(args.database, args.workers) as service:
        print(f"service: gunicorn, {args.workers} workers, {service.where}; {os.cpu_count()} cores")
        drive(service.url, service.submitter, args.clients, 2)  # warm-up, not counted
        meter = CpuMeter(service=lambda: children(service.process.pid), database=lambda: named("postgres"))
        meter.start()
        run = drive(service.url, service.submitter, args.clients, args.seconds)
        spent = meter.stop()
        report(run, args.clients)
        report_cpu({**spent, "load generator": run.client_cpu}, run.statuses.get(201, 0))
        paced = open_loop(args, service.url, service.submitter, run) if args.open_loop else None
        service.check(set(run.ids) | set(paced.ids if paced else ()))


if __name__ == "__main__":
    main()
