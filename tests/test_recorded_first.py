"""An export's batches leave only once their reads are recorded; the next is recorded meanwhile."""

from __future__ import annotations

import threading

import pytest

from policy_engine.storage.recorded_first import sent_once_recorded


def test_a_batch_leaves_after_its_reads_are_recorded_while_the_next_is_recorded():
    recorded: list[str] = []
    next_started = threading.Event()
    release_next = threading.Event()

    def record(reads: str) -> None:
        if reads == "reads-2":
            next_started.set()
            release_next.wait()
        recorded.append(reads)

    sent = sent_once_recorded(iter([("body-1", "reads-1"), ("body-2", "reads-2")]), record)
    assert next(sent) == "body-1" and recorded == ["reads-1"]
    assert next_started.wait(5)  # batch 2 is being recorded while batch 1 is out
    waiting = threading.Thread(target=lambda: recorded.append(next(sent)))
    waiting.start()
    waiting.join(0.05)
    assert waiting.is_alive()  # batch 2 waits for its reads
    release_next.set()
    waiting.join()
    assert recorded == ["reads-1", "reads-2", "body-2"]
    assert list(sent) == []


def test_a_failed_recording_stops_the_export_before_the_batch_it_concerned():
    def record(reads: str) -> None:
        if reads == "reads-2":
            raise RuntimeError("the database went away")

    sent = sent_once_recorded(
        iter([("body-1", "reads-1"), ("body-2", "reads-2"), ("body-3", "reads-3")]), record
    )
    assert next(sent) == "body-1"
    with pytest.raises(RuntimeError, match="went away"):
        next(sent)


def test_an_export_stopped_early_records_at_most_the_batch_after_the_last_sent():
    recorded: list[str] = []
    batches = iter([(f"body-{n}", f"reads-{n}") for n in range(1, 10)])
    sent = sent_once_recorded(batches, recorded.append)
    assert next(sent) == "body-1"
    sent.close()
    assert recorded == ["reads-1", "reads-2"]
