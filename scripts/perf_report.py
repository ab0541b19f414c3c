"""One table of every speed and memory target the product names: target, measured, ratio.

Usage:
  .venv/bin/python scripts/perf_report.py [--quick] [--audit-database URL]
      [--database postgresql://postgres@127.0.0.1:5432/test] [--output docs/performance.md]

Runs the benchmarks as child processes (engine, HTTP, live reload, queue page and, given a
database seeded by scripts/seed_decisions.py, audit search, export and verify), each with
``PERF_FIGURES`` set so that it hands its figures over as JSON lines (scripts/figures.py).
Prints their own output as they go, then the table, and writes the table with the machine
and its load to the output file. The load generators share the machine with the service.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import operator
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Target:
    what: str
    figure: str  # the name a benchmark records it under
    compare: str  # ">=", "<" or "=="
    goal: float
    unit: str
    reference: str | None = None  # the same work done by the in-process reference evaluator


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}
TARGETS = (
    Target("engine: CPAP evaluations/s, one core (test cases)", "engine.cpap-osa.cases.eval_per_s",
           ">=", 15_000, "/s", "engine.cpap-osa.cases.reference_eval_per_s"),
    Target("engine: CPAP evaluations/s, one core (varied requests)", "engine.cpap-osa.varied.eval_per_s",
           ">=", 15_000, "/s", "engine.cpap-osa.varied.reference_eval_per_s"),
    Target("engine: memory growth over the soak run", "engine.soak_rss_growth_mib", "<=", 1, "MiB"),
    Target("HTTP: logged decisions/s, PostgreSQL", "http.decisions_per_s", ">=", 1_000, "/s"),
    Target("HTTP: p99 latency", "http.p99_ms", "<", 25, "ms"),
    Target("HTTP: p99 latency at half that rate, offered at a steady pace", "http.open_loop.p99_ms",
           "<", 25, "ms"),
    Target("reload: failed requests during the approvals", "reload.failed_requests", "==", 0, ""),
    Target("reload: decisions citing a version not in effect", "reload.wrong_version", "==", 0, ""),
    Target("reload: worker memory growth over the approvals", "reload.worker_rss_growth_mib", "<=", 5, "MiB"),
    Target("reload: worker memory growth after 50 approvals, per 100 approvals",
           "reload.worker_rss_mib_per_100_approvals", "<=", 5, "MiB"),
    Target("pages: review queue of 50 rows, p99 server time", "pages.queue_p99_ms", "<", 200, "ms"),
    Target("audit: filtered search page, worst p99", "audit.search_filtered_p99_ms", "<", 100, "ms"),
    Target("audit: CSV export", "audit.export_csv_rows_per_s", ">=", 50_000, "rows/s"),
    Target("audit: CSV export peak memory", "audit.export_csv_peak_mib", "<", 200, "MiB"),
    Target("audit: NDJSON export", "audit.export_ndjson_rows_per_s", ">=", 50_000, "rows/s"),
    Target("audit: NDJSON export peak memory", "audit.export_ndjson_peak_mib", "<", 200, "MiB"),
    Target("audit: verify", "audit.verify_rows_per_s", ">=", 100_000, "rows/s"),
)  # fmt: skip
# What a unit of work costs in CPU, whatever else shares the machine, and the rate the
# machine's cores allow at that cost: a target above its ceiling needs more cores.
COSTS = (
    ("HTTP: service CPU per logged decision", "http.cpu_ms.service", "ms"),
    ("HTTP: PostgreSQL CPU per logged decision", "http.cpu_ms.database", "ms"),
    ("HTTP: load generator CPU per logged decision", "http.cpu_ms.load_generator", "ms"),
    ("HTTP: logged decisions/s all the cores allow at that cost", "http.cpu_ceiling_per_s", "/s"),
    ("audit: verify CPU per entry (PostgreSQL and the command)", "audit.verify_cpu_us_per_entry", "us"),
    (
        "audit: verify rows/s all the cores allow at that cost",
        "audit.verify_cpu_ceiling_rows_per_s",
        "rows/s",
    ),
)


def run_benchmarks(args: argparse.Namespace, figures_file: Path) -> list[str]:
    """Run each benchmark with its figures kept in ``figures_file``; the commands run."""
    short = args.quick
    runs = [
        ["bench_engine.py", "--seconds", "1" if short else "2", "--soak", "20000" if short else "100000"],
        ["bench_http.py", "--seconds", "8" if short else "20", "--database", args.database],
        ["bench_reload.py", "--versions", "10" if short else "150", "--database", args.database],
        ["bench_pages.py"],
    ]
    if args.audit_database:
        runs.append(["bench_audit.py", "--repeat", "10" if short else "100"])
    commands = []
    for script, *options in runs:
        env = {**os.environ, "PERF_FIGURES": str(figures_file)}
        if script == "bench_audit.py":
            env["DATABASE_URL"] = args.audit_database
        command = [sys.executable, str(ROOT / "scripts" / script), *options]
        given = f"DATABASE_URL={args.audit_database} " if script == "bench_audit.py" else ""
        commands.append(given + " ".join(["scripts/" + script, *options]))
        print(f"\n$ {commands[-1]}", flush=True)
        subprocess.run(command, env=env, cwd=ROOT, check=False)
    return commands


def read_figures(path: Path) -> dict[str, float]:
    found: dict[str, float] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            figure = json.loads(line)
            found[figure["name"]] = figure["value"]
    return found


def table(figures: dict[str, float]) -> list[str]:
    """Markdown rows: what, target, measured, met, ratio of the engine to the reference."""
    rows = ["| figure | target | measured | met | ratio to the reference |", "|---|---|---|---|---|"]
    for target in TARGETS:
        measured = figures.get(target.figure)
        goal = f"{target.compare} {target.goal:,.0f} {target.unit}".strip()
        if measured is None:
            rows.append(f"| {target.what} | {goal} | not measured | - | - |")
            continue
        met = "yes" if _COMPARE[target.compare](measured, target.goal) else "**no**"
        reference = figures.get(target.reference) if target.reference else None
        ratio = f"{reference / measured:.1f}x (reference {reference:,.0f}/s)" if reference else "-"
        shown = f"{_number(measured)} {target.unit}".strip()
        rows.append(f"| {target.what} | {goal} | {shown} | {met} | {ratio} |")
    return rows


def costs(figures: dict[str, float]) -> list[str]:
    """Markdown rows: what one unit of work costs, and the ceiling that puts on a rate."""
    rows = ["| cost | measured |", "|---|---|"]
    for what, figure, unit in COSTS:
        measured = figures.get(figure)
        rows.append(f"| {what} | {'not measured' if measured is None else f'{_number(measured)} {unit}'} |")
    return rows


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.1f}"


def machine(load_before: tuple[float, ...], load_after: tuple[float, ...]) -> list[str]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    memory = next((line.split()[1] for line in _lines("/proc/meminfo") if line.startswith("MemTotal")), "0")
    return [
        f"- when: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} cores ({cpu}), {int(memory) / 2**20:.0f} GiB",
        f"- Python {platform.python_version()}",
        f"- load average (1, 5, 15 min) before: {_load(load_before)}; after: {_load(load_after)}",
        "- conditions: service, database and load generators on the same machine, competing for its cores",
    ]


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []


def _load(values: tuple[float, ...]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs, for a first look")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--audit-database", help="a database seeded by scripts/seed_decisions.py")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "performance.md")
    args = parser.parse_args()
    load_before, started = os.getloadavg(), time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        figures_file = Path(folder) / "figures.jsonl"
        commands = run_benchmarks(args, figures_file)
        figures = read_figures(figures_file)
    rows, spent = table(figures), costs(figures)
    print("\n" + "\n".join([*rows, "", *spent]))
    report = [
        "# Performance",
        "",
        "Written by `scripts/perf_report.py`; every figure comes from the benchmark named below.",
        "",
        *machine(load_before, os.getloadavg()),
        f"- duration: {(time.monotonic() - started) / 60:.1f} min" + (" (quick runs)" if args.quick else ""),
        "",
        *rows,
        "",
        "Where the CPU goes: what one unit of work costs, summed over the processes that do it",
        "(read from /proc), and the rate all of this machine's cores would allow at that cost.",
        "Neighbours that slow the cores down raise the CPU per unit too, so the ceiling is lowest",
        "in a slow phase; a target well above the ceiling of a quiet run needs more cores.",
        "",
        *spent,
        "",
        "Commands (from the repository root, `.venv/bin/python`):",
        "",
        *[f"- `{command}`" for command in commands],
        "",
    ]
    args.output.write_text("\n".join(report), encoding="utf-8")
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
