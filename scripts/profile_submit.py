"""Where a submitted authorization's CPU goes, stage by stage, on PostgreSQL.

Usage:
  .venv/bin/python scripts/profile_submit.py [--requests 2000]
      [--database postgresql://postgres@127.0.0.1:5432/test]

Builds the application in this process on a throwaway database of the given server,
then calls it as a WSGI server would (no network, no gunicorn) with the bundled
policies' tests.yaml requests, and prints the CPU time of each stage per request,
exclusive of the stages inside it, with the total. Waiting for the database is not CPU
and is not counted. The stages are the service's own functions, timed by wrapping
them for this run; what is left over is Flask, routing and the token check.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask  # noqa: E402
import marshmallow  # noqa: E402
import webargs.core  # noqa: E402
from flask.json.provider import DefaultJSONProvider  # noqa: E402

from policy_engine.api import unstorable  # noqa: E402
from policy_engine.app import create_app  # noqa: E402
from policy_engine.engine.evaluator import Evaluator  # noqa: E402
from policy_engine.services import authorizations  # noqa: E402
from policy_engine.storage import decision_log, migrate  # noqa: E402
from scripts.bench_http import realistic_requests  # noqa: E402
from scripts.scratch_database import scratch_postgres  # noqa: E402

STAGES: list[tuple[str, Any, str]] = [
    ("HTTP: Flask, routing, token check", flask.Flask, "__call__"),
    ("request: parsed and validated", webargs.core.Parser, "parse"),
    ("engine: evaluated", Evaluator, "evaluate"),
    ("engine: trace as a document", authorizations, "decision_dict"),
    ("engine: facts of a wrong type", authorizations, "invalid_facts"),
    ("service: numbers, deadlines, entry", authorizations.Authorizations, "submit"),
    ("log: stamped and hashed", decision_log, "seal_content"),
    ("log: connection and retry check", decision_log.DecisionLog, "append_decision"),
    ("log: the append statement (client side)", decision_log.DecisionLog, "_chain_postgres"),
    ("response: the case view", authorizations, "case_view"),
    ("response: serialized by the schema", marshmallow.Schema, "dump"),
    ("response: JSON", DefaultJSONProvider, "response"),
]


class StageClock:
    """Wraps functions so that each call's CPU time, less its timed callees', goes to a stage."""

    def __init__(self) -> None:
        self.spent: Counter[str] = Counter()
        self._inner: list[float] = []
        self._undo = ExitStack()

    def wrap(self, stage: str, owner: Any, name: str) -> None:
        original = owner.__dict__[name]
        function = original.__func__ if isinstance(original, staticmethod) else original
        timed = self._timed(stage, function)
        setattr(owner, name, staticmethod(timed) if isinstance(original, staticmethod) else timed)
        self._undo.callback(setattr, owner, name, original)

    def wrap_hook(self, stage: str, app: flask.Flask, function: Callable) -> None:
        """A function the application runs before every request."""
        hooks = app.before_request_funcs[None]
        index = hooks.index(function)
        hooks[index] = self._timed(stage, function)
        self._undo.callback(hooks.__setitem__, index, function)

    def _timed(self, stage: str, function: Callable) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            self._inner.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                took = time.process_time() - started
                self.spent[stage] += took - self._inner.pop()
                if self._inner:
                    self._inner[-1] += took

        return timed

    def restore(self) -> None:
        self._undo.close()


def wsgi_call(app: flask.Flask, token: str, body: bytes) -> None:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v1/authorizations",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    statuses: list[str] = []
    b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    if not statuses[0].startswith("201"):
        raise SystemExit(f"a request was answered {statuses[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    bodies = [json.dumps(r).split('"request_id": "x"') for r in realistic_requests()]

    def body(n: int) -> bytes:
        head, tail = bodies[n % len(bodies)]
        return f'{head}"request_id": "{uuid.uuid4().hex}"{tail}'.encode()

    with scratch_postgres(args.database, "policy_engine_profile") as url:
        app = create_app({"DATABASE_URL": url})
        backend = app.extensions["policy_engine"]
        migrate.upgrade(backend.database)
        backend.policies.load_directory(ROOT / "policies")
        token = backend.tokens.create("submitter", "profile", "profile")
        for n in range(len(bodies) * 2):  # every policy version planned, connections open
            wsgi_call(app, token, body(n))
        clock = StageClock()
        for stage, owner, name in STAGES:
            clock.wrap(stage, owner, name)
        clock.wrap_hook("HTTP: refusing unstorable text", app, unstorable.refuse_unstorable_text)
        started = time.process_time()
        try:
            for n in range(args.requests):
                wsgi_call(app, token, body(n))
        finally:
            clock.restore()
            backend.database.dispose()
        total = time.process_time() - started
    print(f"{args.requests} requests on PostgreSQL, in process; CPU per request by stage:")
    for stage, seconds in clock.spent.most_common():
        print(f"  {stage:44} {seconds / args.requests * 1e3:6.3f} ms {seconds / total:6.1%}")
    print(f"  {'total (timing included)':44} {total / args.requests * 1e3:6.3f} ms")


if __name__ == "__main__":
    main()
