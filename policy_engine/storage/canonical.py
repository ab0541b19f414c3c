"""The one JSON serialization that is hashed, and stored: sorted keys, no spaces, UTF-8."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_timestamp)


def sha256_of(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def utc(moment: dt.datetime) -> dt.datetime:
    """Timestamps as stored: SQLite hands them back naive, in UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def timestamp_text(moment: dt.datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _timestamp(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return timestamp_text(value)
    raise TypeError(f"cannot hash {type(value).__name__}")
