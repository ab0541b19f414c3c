"""Evaluations per second for each bundled policy: durable-rules path vs the reference evaluator.

Usage: .venv/bin/python scripts/bench_engine.py [--seconds 2] [--soak 100000] [--requests both]
Prints evaluations/s (one core), p50 and p99 latency, the ratio to the plain reference
evaluator in the same process, and resident memory before and after the soak run.

Each policy is measured twice: with the requests of its tests.yaml as written
("cases"), and with requests varied from them ("varied": numbers, dates, birth dates
and documents changed, deterministically from a seed), so that nothing remembered
from one request can make the next one cheaper than a real stream of requests would.
The soak run uses the varied requests when they are measured.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import random
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_engine.engine.evaluator import Evaluator  # noqa: E402
from policy_engine.engine.reference import ReferenceEvaluator  # noqa: E402
from policy_engine.loader import load_policies  # noqa: E402
from policy_engine.testing import find_test_files, load_cases  # noqa: E402
from policy_engine.values import to_json  # noqa: E402
from scripts.figures import percentile, record  # noqa: E402


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def varied_requests(cases: list[dict], count: int, seed: int) -> list[dict]:
    """``count`` requests made from the cases, each changed in its values (seeded)."""
    rnd = random.Random(seed)
    documents = sorted({d for case in cases for d in case.get("documentation") or [] if isinstance(d, str)})
    out = []
    for _ in range(count):
        request = copy.deepcopy(rnd.choice(cases))
        for key in ("clinical", "member"):
            if isinstance(request.get(key), dict):
                request[key] = {k: _vary(v, rnd) for k, v in request[key].items()}
        for line in request.get("services") or []:
            if isinstance(line, dict) and "date_of_service" in line:
                line["date_of_service"] = _vary(line["date_of_service"], rnd)
        for entry in request.get("history") or []:
            if isinstance(entry, dict) and "date" in entry:
                entry["date"] = _vary(entry["date"], rnd)
        sent = request.get("documentation")
        if isinstance(sent, list) and documents:
            if sent and rnd.random() < 0.3:
                sent.pop(rnd.randrange(len(sent)))
            if rnd.random() < 0.3:
                sent.append(rnd.choice(documents))
        out.append(request)
    return out


def _vary(value: object, rnd: random.Random) -> object:
    """A number moved around its value (kept int or float), an ISO date moved by up to 200 days."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return rnd.randint(0, 2 * abs(value) + 10)
    if isinstance(value, float):
        return round(rnd.uniform(0, 2 * abs(value) + 10), rnd.choice((1, 2)))
    if isinstance(value, str) and len(value) == 10:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return value
        return (day + dt.timedelta(days=rnd.randint(-200, 200))).isoformat()
    return value


def timed(run, requests: list[dict], seconds: float) -> tuple[float, float, float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        request = requests[i % len(requests)]
        start = time.perf_counter()
        run(request)
        latencies.append(time.perf_counter() - start)
        i += 1
    latencies.sort()
    rate = len(latencies) / sum(latencies)
    return rate, statistics.median(latencies) * 1e6, percentile(latencies, 0.99) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--soak", type=int, default=100_000, help="evaluations for the memory check")
    parser.add_argument(
        "--requests", choices=("both", "varied", "cases"), default="both", help="which requests to time"
    )
    parser.add_argument("--varied", type=int, default=3000, help="varied requests per policy")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    policies = load_policies([ROOT / "policies"])
    engine = Evaluator(policies)
    reference = ReferenceEvaluator(policies)

    def ref_run(request: dict) -> None:
        for index in range(len(request.get("services") or [])):
            reference.line_statuses(request, index)

    print(f"{'policy':36} {'eval/s':>9} {'p50 µs':>8} {'p99 µs':>8} {'ref eval/s':>11} {'ratio':>6}")
    soak_requests = []
    for tests in find_test_files([ROOT / "policies"]):
        cases = [to_json(case["request"]) for case, _ in load_cases(tests)]
        runs = []
        if args.requests in ("both", "cases"):
            runs.append((tests.parent.name, cases))
        if args.requests in ("both", "varied"):
            runs.append((f"{tests.parent.name} (varied)", varied_requests(cases, args.varied, args.seed)))
        soak_requests += runs[-1][1]
        for name, requests in runs:
            rate, p50, p99 = timed(engine.evaluate, requests, args.seconds)
            ref_rate, _, _ = timed(ref_run, requests, args.seconds)
            ratio = ref_rate / rate
            print(f"{name:36} {rate:9.0f} {p50:8.1f} {p99:8.1f} {ref_rate:11.0f} {ratio:5.1f}x")
            key = f"engine.{tests.parent.name}.{'varied' if name.endswith('(varied)') else 'cases'}"
            record(f"{key}.eval_per_s", rate)
            record(f"{key}.reference_eval_per_s", ref_rate)
            record(f"{key}.p99_us", p99)
    before = rss_mib()
    for i in range(args.soak):
        engine.evaluate(soak_requests[i % len(soak_requests)])
    after = rss_mib()
    print(f"RSS before {args.soak:,} evaluations: {before:.1f} MiB, after: {after:.1f} MiB")
    record("engine.soak_rss_growth_mib", after - before)


if __name__ == "__main__":
    main()
