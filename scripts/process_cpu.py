"""CPU time used by processes, read from /proc: where a benchmark's cores went.

Throughput on a shared machine says little by itself; the CPU each part spent per unit
of work (service, database, load generator) says what the work costs and how many cores
a given rate needs.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: Iterable[int | str]) -> float:
    """User plus system CPU of these processes so far, with that of their children that
    have ended (a database server's finished backends); processes gone count as 0."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += sum(int(field) for field in fields[11:15])
    return total / _TICKS


def children(pid: int) -> list[str]:
    """The direct children of a process (a gunicorn master's workers)."""
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def named(name: str) -> list[str]:
    """Every process whose command name is ``name`` (the database server's processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(entry.name)
            except OSError:
                continue
    return found


class CpuMeter:
    """CPU spent by named groups of processes between ``start()`` and ``stop()``.

    The groups are given as functions returning pids, asked again at ``stop()`` so that
    processes started in between (database backends, say) are counted from zero.
    """

    def __init__(self, **groups) -> None:  # type: ignore[no-untyped-def]
        self.groups = groups
        self.before: dict[str, dict[str, float]] = {}

    def start(self) -> None:
        self.before = {
            name: {pid: cpu_seconds([pid]) for pid in pids()} for name, pids in self.groups.items()
        }

    def stop(self) -> dict[str, float]:
        """Seconds of CPU per group since ``start()``."""
        spent = {}
        for name, pids in self.groups.items():
            known = self.before.get(name, {})
            spent[name] = sum(cpu_seconds([pid]) - known.get(pid, 0.0) for pid in pids())
        return spent


def finished_children_seconds() -> float:
    """CPU of this process's children that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def report_cost(
    spent: dict[str, float], units: int, unit: str, scale: float, label: str
) -> tuple[dict, float]:
    """Print the CPU per ``unit`` of work by part (seconds times ``scale``, shown in ``label``)
    and the units per second all cores allow at that cost; return the parts and that rate."""
    per = {part: seconds / max(units, 1) * scale for part, seconds in spent.items()}
    total = sum(per.values())
    ceiling = (os.cpu_count() or 1) * scale / total
    parts = ", ".join(f"{part} {value:.2f} {label}" for part, value in per.items())
    print(f"CPU per {unit}: {parts}; total {total:.2f} {label}")
    print(f"at that cost, {os.cpu_count()} cores allow at most {ceiling:,.0f} per second")
    return per, ceiling
