"""The benchmarks' figures, kept for the performance report.

A benchmark prints its figures for people. When ``PERF_FIGURES`` names a file, it also
appends each figure there as one JSON line, which ``scripts/perf_report.py`` reads: the
report never parses printed text.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence


def record(name: str, value: float) -> None:
    """Keep one figure (``engine.cpap-osa.eval_per_s``, ``http.p99_ms``, ...) if asked to."""
    path = os.environ.get("PERF_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as figures:
            figures.write(json.dumps({"name": name, "value": value}) + "\n")


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.99 for p99): the smallest value that at least
    that share of the values do not exceed. Of 100 values, p99 is the second largest."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]
