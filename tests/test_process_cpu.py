"""scripts/process_cpu.py: the CPU a group of processes spent, ended children included."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

from scripts.process_cpu import CpuMeter, children, cpu_seconds

WORK = "sum(i * i for i in range(4_000_000))"


def test_a_child_that_ended_is_counted_through_its_parent():
    meter = CpuMeter(me=lambda: [os.getpid()])
    meter.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", WORK], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = meter.stop()["me"]
    child = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
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
