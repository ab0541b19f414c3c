"""Fuzz the policy loader and validator, and the engine behind them.

Usage: .venv/bin/python scripts/fuzz_policies.py [--examples 2000] [--engine 200] [--seed N]

Reading: hostile YAML (deep nesting, alias fan-out, huge numbers, tags, junk) and
mutated bundled policies go through ``parse_policy_text``; each must be accepted or
refused with file:line problems, never raise anything else. Prints how many were
accepted and refused, and the slowest file's time and the largest peak of memory
traced while reading one file.

Engine: valid policies at the engine's limits (256-value lists, code ranges, long
strings, extreme numbers, many leaves) are compiled and evaluate random requests. A
native crash ends the process: run it in a subprocess when that matters.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from policy_strategies import hostile_text, mutated_bundled, requests, valid_policies  # noqa: E402

from policy_engine.engine.evaluator import Evaluator  # noqa: E402
from policy_engine.engine.outcome import node_statuses  # noqa: E402
from policy_engine.engine.reference import ReferenceEvaluator  # noqa: E402
from policy_engine.errors import PolicyInvalid  # noqa: E402
from policy_engine.loader import parse_policy_text  # noqa: E402

FILE = "fuzz/v1.yaml"


class Tally:
    """Counts and the worst file seen."""

    def __init__(self) -> None:
        self.accepted = self.refused = 0
        self.slowest = (0.0, 0, "")  # seconds, peak bytes, first line of the text
        self.peak, self.peak_text = 0, ""

    def record(self, accepted: bool, seconds: float, peak: int, text: str) -> None:
        self.accepted += accepted
        self.refused += not accepted
        if peak > self.peak:
            self.peak, self.peak_text = peak, f"{len(text):,} characters: {text[:60]!r}"
        if seconds > self.slowest[0]:
            self.slowest = (seconds, peak, f"{len(text):,} characters: {text[:60]!r}")

    def report(self, what: str) -> None:
        seconds, peak, text = self.slowest
        print(f"{what}: {self.accepted} accepted, {self.refused} refused")
        memory = f", peak {peak / 2**20:.1f} MiB" if self.peak else ""
        print(f"  slowest: {seconds * 1000:.1f} ms{memory} ({text})")
        if self.peak:  # traced while reading only: tracing the engine would measure tracemalloc
            print(f"  largest peak of memory for one file: {self.peak / 2**20:.1f} MiB ({self.peak_text})")


def read_one(text: str, tally: Tally) -> None:
    """Parse one file, timed untraced, then again under tracemalloc for its peak of memory;
    every problem must name this file and a line inside it."""
    start = time.perf_counter()
    accepted = parse(text)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    parse(text)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    tally.record(accepted, seconds, peak, text)


def parse(text: str) -> bool:
    """Whether the text is accepted; a refusal must locate each problem in the file."""
    try:
        parse_policy_text(text, FILE)
    except PolicyInvalid as invalid:
        last = max(1, text.count("\n") + 1)
        for problem in invalid.problems:
            assert problem.file == FILE and 1 <= problem.line <= last, problem
            assert problem.message, problem
        return False
    return True


# Neither shrinking nor the "explain" phase: on a failure both replay and trace the huge
# generated files and cost gigabytes; the failing example itself is what is needed.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate)
QUIET = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}


def fuzz_reading(examples: int, repeat: int | None = None) -> Tally:
    tally = Tally()

    @settings(max_examples=examples, phases=PHASES, **QUIET)
    @given(st.one_of(hostile_text, mutated_bundled))
    def check(text: str) -> None:
        read_one(text, tally)

    (check if repeat is None else seed(repeat)(check))()
    return tally


def evaluate_one(text: str, request: dict, tally: Tally) -> None:
    """A policy the validator accepts compiles and evaluates without an engine error, and
    every criterion's status agrees with the independent reference evaluator."""
    start = time.perf_counter()
    try:
        policy = parse_policy_text(text, FILE)
    except PolicyInvalid:
        tally.record(False, time.perf_counter() - start, 0, text)
        return
    evaluator = Evaluator([policy])  # its native rulesets are deleted with it
    decision = evaluator.evaluate(request)
    assert decision.status in ("approved", "pended", "not_covered", "partial"), decision.status
    reference = ReferenceEvaluator([policy])
    for index, line in enumerate(decision.lines):
        if line.results and line.results[0].criteria is not None:
            expected = reference.line_statuses(request, index)[policy.key]
            actual = node_statuses(line.results[0].criteria)
            assert actual == {node: expected.get(node) for node in actual}, index
    tally.record(True, time.perf_counter() - start, 0, text)


def fuzz_engine(examples: int, repeat: int | None = None) -> Tally:
    tally = Tally()

    @settings(max_examples=examples, phases=PHASES, **QUIET)
    @given(valid_policies, requests)
    def check(text: str, request: dict) -> None:
        evaluate_one(text, request, tally)

    (check if repeat is None else seed(repeat)(check))()
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="files to read (0: skip)")
    parser.add_argument("--engine", type=int, default=200, help="valid policies to compile and evaluate")
    parser.add_argument("--seed", type=int, default=None, help="repeat a run")
    args = parser.parse_args()
    if args.examples:
        fuzz_reading(args.examples, args.seed).report("reading")
    if args.engine:
        tally = fuzz_engine(args.engine, args.seed)
        tally.report("engine")
        if tally.accepted == 0:
            sys.exit("no generated policy was accepted: the generator no longer fits the validator")


if __name__ == "__main__":
    main()
