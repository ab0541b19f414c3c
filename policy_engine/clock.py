"""The service's one source of the current time, so deadlines and metrics can be tested."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """The current moment in UTC."""
    return dt.datetime.now(dt.UTC)
