"""Pooled PostgreSQL connections that may have died unseen are checked before they are used.

A database restart kills every server connection, but a worker that sent nothing
meanwhile still holds them in its pool; without a check its next request would fail.
Pinging on every checkout costs a round trip per unit of work, so only a connection that
sat idle longer than ``idle_seconds`` is pinged: under load none is, and after a quiet
spell the first request pays one round trip instead of a 503. A connection found dead
is replaced transparently, and a disconnect met mid-request still invalidates the whole
pool (SQLAlchemy's default), so its other connections are replaced too.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

_RETURNED = "returned_at"


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection on checkout if it has been idle for more than ``idle_seconds``."""

    @event.listens_for(engine, "checkin")
    def checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is None or time.monotonic() - returned <= idle_seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise DisconnectionError("the server closed this pooled connection")  # the pool reconnects
