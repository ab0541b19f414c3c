"""An export's reads, recorded one window of the log ahead of what is sent.

Recording a million reads takes about as long as formatting them, so the two run side
by side, on two connections in one snapshot: a thread records the reads of the
exported decisions window by window (``seq`` ranges, each committed), and the export
sends a batch only once the window holding its last decision is committed. No decision
leaves before its read is recorded; if the export stops early, at most the windows in
flight are recorded and not sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

WINDOW = 100_000  # log positions one recording statement covers


class ReadsAhead:
    """Runs ``record(low, high)`` for successive ``seq`` windows up to ``last`` in a thread."""

    def __init__(
        self, record: Callable[[int, int], None], first: int, last: int, window: int | None = None
    ) -> None:
        self._record = record
        size = window or WINDOW
        self._windows = [(low, min(low + size - 1, last)) for low in range(first, last + 1, size)]
        self._recorded = first - 1  # every read up to this position is committed
        self._failure: BaseException | None = None
        self._stopping = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="export-reads", daemon=True)

    def __enter__(self) -> ReadsAhead:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with self._changed:
            self._stopping = True
        self._thread.join()

    def wait_for(self, seq: int) -> None:
        """Return once the reads up to position ``seq`` are committed; raise if recording failed."""
        with self._changed:
            while self._recorded < seq and self._failure is None:
                self._changed.wait()
            if self._recorded < seq:
                assert self._failure is not None
                raise self._failure

    def _run(self) -> None:
        for low, high in self._windows:
            with self._changed:
                if self._stopping:
                    return
            try:
                self._record(low, high)
            except BaseException as failure:  # handed to the export, which fails with it
                with self._changed:
                    self._failure = failure
                    self._changed.notify_all()
                return
            with self._changed:
                self._recorded = high
                self._changed.notify_all()
