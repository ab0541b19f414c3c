"""Evaluations per second for each bundled policy: durable-rules path vs the reference evaluator.

Usage: .venv/bin/python scripts/bench_engine.py [--seconds 2] [--soak 100000]
Prints evaluations/s (one core), p50 and p99 latency, the ratio to the plain reference
evaluator in the same process, and resident memory before and after the soak run.
"""

from __future__ import annotations

import argparse
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


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
    return rate, statistics.median(latencies) * 1e6, latencies[int(len(latencies) * 0.99)] * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--soak", type=int, default=100_000, help="evaluations for the memory check")
    args = parser.parse_args()
    policies = load_policies([ROOT / "policies"])
    engine = Evaluator(policies)
    reference = ReferenceEvaluator(policies)
    print(f"{'policy':28} {'eval/s':>9} {'p50 µs':>8} {'p99 µs':>8} {'ref eval/s':>11} {'ratio':>6}")
    all_requests = []
    for tests in find_test_files([ROOT / "policies"]):
        requests = [to_json(case["request"]) for case, _ in load_cases(tests)]
        all_requests += requests
        rate, p50, p99 = timed(engine.evaluate, requests, args.seconds)

        def ref_run(request: dict) -> None:
            for index in range(len(request.get("services") or [])):
                reference.line_statuses(request, index)

        ref_rate, _, _ = timed(ref_run, requests, args.seconds)
        ratio = ref_rate / rate
        print(f"{tests.parent.name:28} {rate:9.0f} {p50:8.1f} {p99:8.1f} {ref_rate:11.0f} {ratio:5.1f}x")
    before = rss_mib()
    for i in range(args.soak):
        engine.evaluate(all_requests[i % len(all_requests)])
    after = rss_mib()
    print(f"RSS before {args.soak:,} evaluations: {before:.1f} MiB, after: {after:.1f} MiB")


if __name__ == "__main__":
    main()
