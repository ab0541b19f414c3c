"""Batches of an export sent only once their reads are recorded, the next recorded meanwhile.

Recording a million reads takes about as long as formatting them, so the two overlap:
while one batch is sent, a thread records (and commits) the reads of the next on a
connection of its own. A batch leaves only after its own reads are committed; if the
export stops early, at most one batch is recorded and not sent, and if recording fails,
the export fails before the batch it concerned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Body = TypeVar("Body")
Reads = TypeVar("Reads")


def sent_once_recorded(
    batches: Iterable[tuple[Body, Reads]], record: Callable[[Reads], None]
) -> Iterator[Body]:
    """Each batch's body, handed out once ``record(its reads)`` has returned."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-reads") as recorder:
        waiting: tuple[Body, Future[None]] | None = None
        for body, reads in batches:
            recording = recorder.submit(record, reads)
            if waiting is not None:
                yield _once_recorded(*waiting)
            waiting = (body, recording)
        if waiting is not None:
            yield _once_recorded(*waiting)


def _once_recorded(body: Body, recording: Future[None]) -> Body:
    recording.result()  # raises what recording raised
    return body
