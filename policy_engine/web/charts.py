"""Geometry of the server-rendered SVG bar charts: no script, and the figures stay in tables too."""

from __future__ import annotations

from typing import NamedTuple

ROW = 26
LENGTH = 330  # the longest bar, in SVG units


class Bar(NamedTuple):
    label: str
    value: float | None
    y: int
    width: float


def chart_rows(pairs: list[tuple[str, float | None]], scale: float | None = None) -> list[Bar]:
    """One bar per (label, value), each as long as its share of ``scale`` (default: the largest)."""
    top = scale or max((value for _, value in pairs if value), default=0)
    return [
        Bar(label, value, index * ROW + 4, round((value or 0) / top * LENGTH, 1) if top else 0.0)
        for index, (label, value) in enumerate(pairs)
    ]


def impact_bars(report: dict) -> list[tuple[str, float | None]]:
    """An impact report's line totals as bars labelled ``recorded → replayed``."""
    return [(f"{t['from']} → {t['to']}", t["count"]) for t in report["lines"]]


def pend_bars(figures: dict, buckets: tuple) -> list[tuple[str, float | None]]:
    """Open pended lines by age bucket."""
    return [(name.replace("_", " "), figures["pend_aging"][name]) for name, _ in buckets]


def policy_bars(report: dict) -> list[tuple[str, float | None]]:
    """Percent approved per policy and urgency, for the blocks with lines in the period."""
    return [
        (f"{policy} ({urgency})", figures["percent_approved"])
        for policy, by in report["policies"].items()
        for urgency, figures in by.items()
        if figures["lines"]
    ]


def option_pairs(values: list[str]) -> list[tuple[str, str]]:
    """Select options whose label is the value in words."""
    return [(value, value.replace("_", " ")) for value in values]
