"""A long schema-driven fuzz run of the HTTP API; prints each operation's answers and failures.

    .venv/bin/python scripts/fuzz_api.py 500                       # in-process, throwaway SQLite
    .venv/bin/python scripts/fuzz_api.py 500 --postgres postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python scripts/fuzz_api.py 500 --url http://127.0.0.1:8000 --tokens instance/demo-tokens.txt

EXAMPLES requests per operation and generation mode (valid and invalid requests), random
each run. ``--postgres`` serves a throwaway database of that server with gunicorn and
fuzzes it over HTTP; ``--url`` fuzzes a running service with ``role=token`` lines (as
``scripts/start`` writes them). Fuzzing writes decisions, drafts and claims: never point
it at a service whose data matters. Exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import requests  # noqa: E402
import schemathesis  # noqa: E402
from api.fuzzing import UNKNOWN_TOKEN, Target, fuzz, issue_tokens, operations, seed  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402

from policy_engine.app import create_app  # noqa: E402
from policy_engine.storage import migrate  # noqa: E402


def in_process(folder: str) -> Target:
    """The app itself on a fresh SQLite file, the bundled policies loaded."""
    app = create_app({"DATABASE_URL": f"sqlite:///{folder}/fuzz.sqlite3", "TESTING": True})
    backend = app.extensions["policy_engine"]
    migrate.upgrade(backend.database)
    backend.policies.load_directory(ROOT / "policies")
    backend.catalog.reload()
    client = app.test_client()

    def send(method: str, path: str, body: dict[str, Any] | None, token: str) -> tuple[int, Any]:
        answer = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {token}"})
        return answer.status_code, answer.get_json()

    tokens = issue_tokens(backend.tokens.create)
    return Target(schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app), tokens, seed(send, tokens))


def over_http(url: str, tokens: dict[str, str]) -> Target:
    """A running service at ``url``."""
    session = requests.Session()

    def send(method: str, path: str, body: dict[str, Any] | None, token: str) -> tuple[int, Any]:
        answer = session.request(method, url + path, json=body, headers={"Authorization": f"Bearer {token}"})
        return answer.status_code, answer.json()

    tokens = {**tokens, UNKNOWN_TOKEN: "pe_not-a-token-this-service-issued"}
    schema = schemathesis.openapi.from_url(url + "/api/v1/openapi.json")
    return Target(schema, tokens, seed(send, tokens), base_url=url)


def read_tokens(path: str) -> dict[str, str]:
    """``role=token`` lines; a ``physician`` line stands for the reviewer (it may deny)."""
    pairs = dict(line.strip().split("=", 1) for line in Path(path).read_text().splitlines() if "=" in line)
    if "physician" in pairs:
        pairs["reviewer"] = pairs.pop("physician")
    return pairs


def run(target: Target, examples: int) -> int:
    """Fuzz every operation in both modes; print a line each and a summary; the failure count."""
    failed, started = 0, time.monotonic()
    for label, operation in operations(target.schema).items():
        for mode in GenerationMode:
            began = time.monotonic()
            try:
                fuzz(target, operation, mode, examples)
                verdict = "ok  "
            except (Exception, BaseExceptionGroup) as error:  # every failed check, then the next
                failed += 1
                verdict = "FAIL"
                print(error, flush=True)
            answers = {s: n for (op, s), n in sorted(target.statuses.items()) if op == label}
            print(f"{verdict} {label} [{mode.value}] {time.monotonic() - began:.1f}s {answers}", flush=True)
            target.statuses = Counter({k: v for k, v in target.statuses.items() if k[0] != label})
    elapsed = time.monotonic() - started
    print(f"{failed} failed; {elapsed:.0f}s for {examples} examples per operation and mode")
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("examples", type=int, help="requests per operation and generation mode")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", help="a running service's base URL (needs --tokens)")
    where.add_argument("--postgres", help="a PostgreSQL server: a throwaway database, served by gunicorn")
    parser.add_argument("--tokens", help="role=token lines for --url")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for --postgres")
    args = parser.parse_args()
    if args.url:
        if not args.tokens:
            parser.error("--url needs --tokens")
        sys.exit(1 if run(over_http(args.url.rstrip("/"), read_tokens(args.tokens)), args.examples) else 0)
    if args.postgres:
        from scripts.throwaway_service import Service

        with Service(args.postgres, args.workers) as service:
            tokens = issue_tokens(
                lambda role, name, org, physician: _cli_token(service, role, name, org, physician)
            )
            sys.exit(1 if run(over_http(service.url, tokens), args.examples) else 0)
    with tempfile.TemporaryDirectory() as folder:
        sys.exit(1 if run(in_process(folder), args.examples) else 0)


def _cli_token(service: Any, role: str, name: str, organization: str | None, physician: bool) -> str:
    """A token issued by ``policy-engine tokens create`` against the throwaway database."""
    extra = ["--organization", organization] if organization else []
    return service.cli(
        "tokens", "create", "--role", role, "--name", name, *extra, *(["--physician"] if physician else [])
    ).strip()


if __name__ == "__main__":
    main()
