"""The benchmarks' figures, kept for the performance report.

A benchmark prints its figures for people. When ``PERF_FIGURES`` names a file, it also
appends each figure there as one JSON line, which ``scripts/perf_report.py`` reads: the
report never parses printed text.
"""

from __future__ import annotations

import json
import os


def record(name: str, value: float) -> None:
    """Keep one figure (``engine.cpap-osa.eval_per_s``, ``http.p99_ms``, ...) if asked to."""
    path = os.environ.get("PERF_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as figures:
            figures.write(json.dumps({"name": name, "value": value}) + "\n")
