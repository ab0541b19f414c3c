"""Crash safety: kill -9 the service under load, restart it, and prove no acknowledged decision is lost.

Usage:
  .venv/bin/python scripts/crash_safety.py [--rounds 4] [--seconds 3] [--clients 3] [--workers 2]
      [--database postgresql://postgres@127.0.0.1:5432/test] [--only postgresql|sqlite] [--seed N]

For each database (a fresh PostgreSQL database on the given server, then an SQLite file)
it starts ``policy-engine serve`` (gunicorn), drives it from several client processes
with the bundled policies' tests.yaml requests (each with a request_id of its own), and
in every round kills one worker and then the master (alone, or with its whole process
group) with SIGKILL at random moments, restarting the service each time. Then:

* every answer a client got with a 2xx is in the log as answered (decision id,
  determination, entry hash, recording time);
* no entry is half-written: each has its index rows, no index row lacks its entry,
  the chain head is the newest entry; ``policy-engine audit verify`` passes;
* each request whose answer was lost in flight, and a sample of acknowledged ones, is
  retried with the same request_id and body: it gets the recorded decision back (200,
  same decision id) or, if it was never recorded, a new one (201); never a 409, never
  a second decision for one key.

Prints a table and exits 1 on any violation. The database is dropped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_http import realistic_requests  # noqa: E402
from scripts.killable_service import CLI, KillableService, fresh_database  # noqa: E402
from scripts.log_checks import LogFindings, answered_fields, check_log  # noqa: E402

POST = "/api/v1/authorizations"


def payload(templates: list[dict[str, Any]], index: int, key: str) -> str:
    """The exact body sent for a request key; a retry rebuilds it from the same two values."""
    return json.dumps({**templates[index], "request_id": key})


def post(connection: http.client.HTTPConnection, token: str, body: str) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request("POST", POST, body, headers)
    response = connection.getresponse()
    return response.status, response.read()


def client_loop(port: int, token: str, templates: list[dict], stop: Any, out_path: str, seed: int) -> None:
    """Send requests until told to stop; write one line per request: what became of it.

    ``refused``: no connection, nothing sent. ``lost``: sent (or maybe sent) and no answer,
    the connection reset or closed. Otherwise the status, and for a 2xx what it said.
    """
    rng = random.Random(seed)
    connection: http.client.HTTPConnection | None = None
    with open(out_path, "w", encoding="utf-8") as out:
        while not stop.is_set():
            index, key = rng.randrange(len(templates)), uuid.uuid4().hex
            record: dict[str, Any] = {"k": key, "b": index}
            if connection is None:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                    connection.connect()
                except OSError:
                    connection = None
                    out.write(json.dumps({**record, "r": "refused"}) + "\n")
                    time.sleep(0.05)
                    continue
            try:
                status, data = post(connection, token, payload(templates, index, key))
            except (http.client.HTTPException, OSError):
                connection.close()
                connection = None
                out.write(json.dumps({**record, "r": "lost"}) + "\n")
                continue
            record.update(r="ack" if 200 <= status < 300 else "answered", s=status)
            if 200 <= status < 300:
                record["d"] = answered_fields(json.loads(data))
            else:
                record["e"] = json.loads(data).get("code") if data.startswith(b"{") else data[:200].decode()
            out.write(json.dumps(record) + "\n")
            out.flush()
    if connection is not None:
        connection.close()


@dataclass
class Run:
    database: str
    rounds: int = 0
    worker_kills: int = 0
    master_kills: int = 0
    group_kills: int = 0
    restart_seconds: list[float] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    retried: int = 0
    retry_results: Counter = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    verify: str = ""
    templates: list[dict[str, Any]] = field(default_factory=list)
    findings: LogFindings = field(default_factory=LogFindings)
    seconds: float = 0.0


def drive(service: KillableService, token: str, args: argparse.Namespace, run: Run) -> None:
    """Clients run through every round; each round kills a worker, then the master, and restarts."""
    rng = random.Random(args.seed)
    templates = run.templates = realistic_requests()
    folder = Path(tempfile.mkdtemp(prefix="policy-engine-clients-"))
    stop = multiprocessing.Event()
    clients = [
        multiprocessing.Process(
            target=client_loop,
            args=(service.port, token, templates, stop, str(folder / f"{n}.jsonl"), args.seed * 100 + n),
        )
        for n in range(args.clients)
    ]
    for process in clients:
        process.start()
    try:
        for round_number in range(args.rounds):
            time.sleep(rng.uniform(0.3, args.seconds))
            run.worker_kills += service.kill_worker(rng) is not None
            time.sleep(rng.uniform(0.3, args.seconds))
            if run.database == "postgresql" and round_number % 2 == 0:
                service.kill_master()
                run.master_kills += 1
            else:
                service.kill_all()
                run.group_kills += 1
            run.restart_seconds.append(service.start())
            run.rounds += 1
        time.sleep(args.seconds)
    finally:
        stop.set()
        for process in clients:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    for path in sorted(folder.glob("*.jsonl")):
        run.records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        path.unlink()
    folder.rmdir()
    run.records.sort(key=lambda r: r["k"])


def retry(service: KillableService, token: str, run: Run, sample: int, seed: int) -> dict[str, dict]:
    """Retry the lost, the failed, and a sample of the acknowledged; returns every 2xx answer by decision."""
    templates = run.templates
    answers: dict[str, dict] = {}
    for record in run.records:
        if record["r"] == "ack":
            _keep(answers, record["d"], run, "acknowledged twice, differently")
            if record["s"] not in (200, 201):
                run.violations.append(f"{record['k']}: answered {record['s']}")
        elif record["r"] == "answered" and record["s"] >= 500 and record["s"] != 503:
            run.violations.append(f"{record['k']}: answered {record['s']} {record.get('e')}")
    acknowledged = [r for r in run.records if r["r"] == "ack"]
    again = [r for r in run.records if r["r"] == "lost" or (r["r"] == "answered" and r["s"] >= 500)]
    again += random.Random(seed).sample(acknowledged, min(sample, len(acknowledged)))
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=20)
    for record in again:
        status, data = post(connection, token, payload(templates, record["b"], record["k"]))
        run.retried += 1
        known = record["r"] == "ack"
        outcome = "acknowledged" if known else "lost or failed"
        if status in (200, 201):
            answer = answered_fields(json.loads(data))
            kind = "original (200)" if status == 200 else "new (201)"
            run.retry_results[f"{outcome} -> {kind}"] += 1
            _keep(answers, answer, run, "a retry answered differently")
            if known and (status != 200 or answer != record["d"]):
                run.violations.append(
                    f"{record['k']}: retry of an acknowledged request got {status}, not its decision"
                )
        else:
            run.retry_results[f"{outcome} -> {status}"] += 1
            run.violations.append(f"{record['k']}: retry answered {status} {data[:200]!r}")
    connection.close()
    return answers


def _keep(answers: dict[str, dict], answer: dict, run: Run, problem: str) -> None:
    earlier = answers.setdefault(answer["decision_id"], answer)
    if earlier != answer:
        run.violations.append(f"{answer['decision_id']}: {problem}")


def one_database(kind: str, args: argparse.Namespace) -> Run:
    run = Run(kind)
    started = time.monotonic()
    with fresh_database(kind, args.database) as url:
        service = KillableService(url, args.workers)
        try:
            token = service.prepare()
            service.start()
            drive(service, token, args, run)
            answers = retry(service, token, run, args.sample, args.seed)
            service.stop()
            run.violations += [f"service log: {line}" for line in service.errors_logged()]
            findings = run.findings = check_log(url, answers)
            for name in ("missing", "different", "duplicate_keys", "partial"):
                for item in getattr(findings, name)[:5]:
                    run.violations.append(f"log: {name} {item}")
            if findings.orphans:
                run.violations.append(f"log: {findings.orphans} index rows without their entry")
            if findings.head_problem:
                run.violations.append(f"log: {findings.head_problem}")
            verify = service.cli("audit", "verify")
            run.verify = (verify.stdout or verify.stderr).strip().split(";")[0]
            if verify.returncode != 0:
                run.violations.append(f"audit verify: {verify.stdout or verify.stderr}")
        finally:
            service.close()
    run.seconds = time.monotonic() - started
    return run


def summary(runs: list[Run]) -> None:
    rows = [
        ("rounds (worker kill + master kill + restart)", lambda r: r.rounds),
        (
            "kills: worker / master alone / whole group",
            lambda r: f"{r.worker_kills}/{r.master_kills}/{r.group_kills}",
        ),
        ("restart to healthy, s (max)", lambda r: f"{max(r.restart_seconds, default=0):.1f}"),
        ("requests sent", lambda r: sum(x["r"] != "refused" for x in r.records)),
        ("acknowledged (2xx)", lambda r: sum(x["r"] == "ack" for x in r.records)),
        ("lost in flight (reset, no answer)", lambda r: sum(x["r"] == "lost" for x in r.records)),
        ("answered non-2xx", lambda r: dict(Counter(x["s"] for x in r.records if x["r"] == "answered"))),
        ("refused while down (not sent)", lambda r: sum(x["r"] == "refused" for x in r.records)),
        ("retried", lambda r: r.retried),
        ("log entries", lambda r: r.findings.entries),
        ("acknowledged but missing (must be 0)", lambda r: len(r.findings.missing)),
        ("answered differently from the log", lambda r: len(r.findings.different)),
        ("keys with two decisions", lambda r: len(r.findings.duplicate_keys)),
        ("partial entries / orphan index rows", lambda r: f"{len(r.findings.partial)}/{r.findings.orphans}"),
        ("audit verify", lambda r: r.verify),
        ("violations", lambda r: len(r.violations)),
        ("wall time, s", lambda r: f"{r.seconds:.0f}"),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'':{width}}  " + "  ".join(f"{r.database:>24}" for r in runs))
    for label, value in rows:
        print(f"{label:{width}}  " + "  ".join(f"{value(r)!s:>24}" for r in runs))
    for run in runs:
        for outcome, count in sorted(run.retry_results.items()):
            print(f"{run.database}: retried {outcome}: {count}")
        for violation in run.violations[:20]:
            print(f"{run.database}: VIOLATION {violation}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3, help="longest wait before each kill")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample", type=int, default=200, help="acknowledged requests retried")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=("postgresql", "sqlite"))
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    print(f"seed {args.seed}; service: {CLI} serve, {args.workers} workers; {args.clients} clients")
    runs = [one_database(kind, args) for kind in ("postgresql", "sqlite") if args.only in (None, kind)]
    summary(runs)
    sys.exit(1 if any(run.violations for run in runs) else 0)


if __name__ == "__main__":
    main()
