"""scripts/process_cpu.py: the CPU a group of processes spent, ended children included."""

from __future__ import annotations

import os
import subprocess
import sys

from scripts.process_cpu import CpuMeter, children, cpu_seconds, finished_children_seconds, report_cost

WORK = "sum(i * i for i in range(4_000_000))"


def test_a_child_that_ended_is_counted_through_its_parent():
    meter = CpuMeter(me=lambda: [os.getpid()])
    meter.start()
    before = finished_children_seconds()
    subprocess.run([sys.executable, "-c", WORK], check=True)
    child = finished_children_seconds() - before
    spent = meter.stop()["me"]
    assert child > 0.05
    assert spent >= child - 0.02  # /proc counts in clock ticks


def test_live_children_are_found_and_gone_processes_count_nothing():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        assert str(child.pid) in children(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert cpu_seconds([child.pid]) == 0.0


def test_the_cost_per_unit_and_the_rate_the_cores_allow(capsys):
    per, ceiling = report_cost({"service": 2.0, "database": 1.0}, 1000, "decision", 1e3, "ms")
    assert per == {"service": 2.0, "database": 1.0}
    assert ceiling == os.cpu_count() * 1e3 / 3.0
    assert "CPU per decision: service 2.00 ms, database 1.00 ms; total 3.00 ms" in capsys.readouterr().out
