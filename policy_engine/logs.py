"""Logs without PHI or secrets: what the service writes about a failure or a request.

Messages of unexpected exceptions may quote a request (a member id in a ``KeyError``, a
value in a driver error), so they are logged by type and stack frames only. The
development server's access lines lose their query strings, which may carry a member id
(``/api/v1/decisions?member_id=…``); tokens travel only in headers and form bodies,
which are never logged. SQL parameters are hidden by the engine (``storage/database.py``).
"""

from __future__ import annotations

import logging
import re
import traceback

_QUERY = re.compile(r"\?[^\s\"]*")


def log_unexpected(log: logging.Logger, error: BaseException, where: str = "") -> None:
    """The error's type and where it was raised, every chained cause too, but no message."""
    frames: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        frames.append(f"{type(seen).__module__}.{type(seen).__qualname__}")
        frames.extend(line.rstrip() for line in traceback.format_tb(seen.__traceback__))
        seen = seen.__cause__ or seen.__context__
    log.error("unexpected error%s: %s", f" on {where}" if where else "", "\n".join(frames))


class WithoutQueryStrings(logging.Filter):
    """Drops the query string from the request line of an access-log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(_QUERY.sub("?…", a) if isinstance(a, str) else a for a in args)
        elif isinstance(record.msg, str):
            record.msg = _QUERY.sub("?…", record.msg)
        return True


def install() -> None:
    """The service's own messages at INFO; the development server's access log filtered
    (gunicorn's is not enabled by ``serve``)."""
    logging.getLogger("policy_engine").setLevel(logging.INFO)
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, WithoutQueryStrings) for f in werkzeug.filters):
        werkzeug.addFilter(WithoutQueryStrings())
