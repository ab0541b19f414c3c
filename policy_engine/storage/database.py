"""Connections: one SQLAlchemy engine per process, sessions per unit of work.

SQLite (the embedded default) gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` for
transactions that append to the log, so concurrent writers queue instead of failing.
PostgreSQL serializes appends on the row lock of ``chain_head``, the log's newest entry,
held from the statement that advances it until commit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from .canonical import canonical_json
from .liveness import ping_idle_connections

# A database that cannot be reached or answered in time: the API answers 503.
UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, PoolTimeout)
# Any other driver error.
DATABASE_ERROR = DBAPIError

_LOCK_HEAD = text("SELECT seq FROM chain_head WHERE id = 1 FOR UPDATE")


class Database:
    """An engine and its session factory, safe to carry across a pre-fork."""

    def __init__(
        self,
        url: str,
        pool_size: int = 5,
        pre_ping: bool = False,
        connect_timeout: int = 5,
        idle_ping_seconds: float = 1.0,
        lock_timeout: float = 10.0,
        statement_timeout: float = 0.0,
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # JSON is stored in its canonical form, so an entry's hash can be checked from the text.
        # SQL parameters are requests and members: never in a log line or an error message.
        options: dict[str, Any] = {"json_serializer": canonical_json, "hide_parameters": True}
        if not self.is_sqlite:
            # No ping per checkout (a round trip per unit of work) unless asked: only connections
            # left idle are pinged (``liveness``). A database that does not answer a connection
            # attempt within ``connect_timeout`` seconds, or a pool with no free connection
            # within ``pool_timeout``, fails the request with a 503.
            options.update(pool_size=pool_size, max_overflow=pool_size, pool_timeout=5)
            options["pool_pre_ping"] = pre_ping
            options["connect_args"] = {
                "connect_timeout": connect_timeout,
                "options": _server_limits(url, lock_timeout, statement_timeout),
            }
        self.engine: Engine = create_engine(url, **options)
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        elif not pre_ping:
            ping_idle_connections(self.engine, idle_ping_seconds)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._pid = os.getpid()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that rolls back whatever was not committed."""
        self._after_fork()
        with self.sessions() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def appending(self) -> Iterator[Connection]:
        """A transaction holding the log's append lock until it commits or rolls back."""
        self._after_fork()
        options = {"immediate": True} if self.is_sqlite else {}
        with self.engine.connect().execution_options(**options) as connection, connection.begin():
            if not self.is_sqlite:
                connection.execute(_LOCK_HEAD)
            yield connection

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection on which each statement commits by itself: one round trip per write."""
        self._after_fork()
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection

    @contextmanager
    def reading(self, snapshot: str | None = None) -> Iterator[Connection]:
        """A connection for one long read (a streamed export, a chain walk), in one snapshot:
        on PostgreSQL, ``snapshot`` (``pg_export_snapshot()`` of another reader) makes it
        see exactly what that reader sees, so a read can be shared between connections."""
        self._after_fork()
        with self.engine.connect() as connection, connection.begin():
            if not self.is_sqlite:
                connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
                if snapshot is not None:
                    if not re.fullmatch(r"[0-9A-Fa-f-]+", snapshot):
                        raise ValueError(f"not a snapshot id: {snapshot!r}")
                    connection.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            yield connection

    def ping(self) -> None:
        self._after_fork()
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

    def _after_fork(self) -> None:
        """A worker forked from a preloaded master must not share its connections."""
        if os.getpid() != self._pid:
            self.engine.dispose(close=False)
            self._pid = os.getpid()


def _server_limits(url: str, lock_timeout: float, statement_timeout: float) -> str:
    """Session settings that end a wait the server can see with an error (a 503), not a hang.

    A request queued behind a lock someone holds (the log's head, by a stuck session)
    gives up after ``lock_timeout``; with ``statement_timeout`` any statement does. 0: no
    limit. Options given in the URL are kept, after these, so they win.
    """
    limits = {"lock_timeout": lock_timeout, "statement_timeout": statement_timeout}
    given = make_url(url).query.get("options", "")
    return " ".join([*(f"-c {name}={int(s * 1000)}" for name, s in limits.items()), *given.split()]).strip()


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(connection) -> None:  # type: ignore[no-untyped-def]
        immediate = connection.get_execution_options().get("immediate")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
