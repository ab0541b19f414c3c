"""gunicorn with the application built (and policies compiled) once, before forking workers."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def _post_fork(_server: Any, worker: Any) -> None:
    """A worker must open its own database connections, never the master's."""
    worker.app.application.extensions["policy_engine"].database.engine.dispose(close=False)


def run_gunicorn(app: Flask, bind: str, workers: int) -> None:
    """One request at a time per worker process: the rules engine holds the GIL, so processes,
    not threads, add speed. The threaded worker with a single thread is used for its
    keep-alive: clients that reuse a connection do not pay a TCP handshake per request.
    """
    _Server(
        app,
        {
            "bind": bind,
            "workers": workers,
            "worker_class": "gthread",
            "threads": 1,
            "keepalive": 30,
            "worker_connections": 100,
            "preload_app": True,
            "timeout": 30,
            "graceful_timeout": 10,
            "post_fork": _post_fork,
            "limit_request_line": 8190,
        },
    ).run()
