"""An export's reads are recorded ahead of it: a batch waits for its window, a failure stops it."""

from __future__ import annotations

import threading

import pytest

from policy_engine.storage.reads_ahead import ReadsAhead


def test_a_batch_waits_until_the_reads_up_to_its_last_decision_are_recorded():
    recorded: list[tuple[int, int]] = []
    gate = threading.Event()

    def record(low: int, high: int) -> None:
        if low > 1:
            gate.wait()
        recorded.append((low, high))

    with ReadsAhead(record, first=1, last=25, window=10) as reads:
        reads.wait_for(10)
        assert recorded == [(1, 10)]
        waiting = threading.Thread(target=reads.wait_for, args=(11,))
        waiting.start()
        waiting.join(0.05)
        assert waiting.is_alive()  # window 11-20 is held back
        gate.set()
        waiting.join()
        reads.wait_for(25)
    assert recorded == [(1, 10), (11, 20), (21, 25)]


def test_a_failed_recording_fails_the_export_that_waits_for_it():
    def record(low: int, high: int) -> None:
        if low > 1:
            raise RuntimeError("the database went away")

    with ReadsAhead(record, first=1, last=20, window=10) as reads:
        reads.wait_for(10)
        with pytest.raises(RuntimeError, match="went away"):
            reads.wait_for(11)


def test_an_export_stopped_early_stops_recording():
    recorded: list[int] = []
    first_done = threading.Event()
    release = threading.Event()

    def record(low: int, high: int) -> None:
        recorded.append(low)
        first_done.set()
        release.wait()

    with ReadsAhead(record, first=1, last=1_000, window=10):
        first_done.wait()
        stopper = threading.Timer(0.05, release.set)
        stopper.start()
    stopper.join()
    assert recorded == [1]  # the window in flight finished; no other began
