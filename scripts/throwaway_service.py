"""A service of its own for a benchmark: a fresh PostgreSQL database, gunicorn, then cleanup."""

from __future__ import annotations

import http.client
import os
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from scripts.scratch_database import scratch_postgres

ROOT = Path(__file__).resolve().parent.parent
CLI = str(ROOT / ".venv" / "bin" / "policy-engine")
PORT = 8931


class Service:
    """``with Service(url, workers) as service``: migrated, policies loaded, serving on PORT."""

    def __init__(self, server_url: str, workers: int, settings: dict[str, str] | None = None) -> None:
        self.server_url = server_url
        self.settings = settings or {}
        self.url = f"http://127.0.0.1:{PORT}"
        self.workers = workers
        self.cleanup = ExitStack()

    def cli(self, *args: str) -> str:
        return subprocess.run([CLI, *args], env=self.env, check=True, capture_output=True, text=True).stdout

    def token(self, role: str, name: str, organization: str | None = None) -> str:
        extra = ["--organization", organization] if organization else []
        return self.cli("tokens", "create", "--role", role, "--name", name, *extra).strip()

    def __enter__(self) -> Service:
        database = scratch_postgres(self.server_url, "policy_engine_bench")
        self.database_url = self.cleanup.enter_context(database)
        self.where = f"PostgreSQL database {make_url(self.database_url).database}"
        self.env = {**os.environ, **self.settings, "DATABASE_URL": self.database_url}
        try:
            return self._start()
        except BaseException:
            self.cleanup.close()
            raise

    def _start(self) -> Service:
        self.cli("db", "upgrade")
        self.cli("policies", "load", str(ROOT / "policies"))
        self.submitter = self.token("submitter", "bench", "bench")
        self.process = subprocess.Popen(
            [CLI, "serve", "--bind", f"127.0.0.1:{PORT}", "--workers", str(self.workers)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(300):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the service did not start")

    def worker_rss_mib(self) -> list[float]:
        """Resident memory of each gunicorn worker."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        found = []
        for pid in children:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    found.append(int(line.split()[1]) / 1024)
        return found

    def logged(self, query: str) -> list[tuple]:
        engine = create_engine(self.database_url)
        with engine.connect() as connection:
            rows = [tuple(row) for row in connection.execute(text(query))]
        engine.dispose()
        return rows

    def check(self, acknowledged: set[str]) -> None:
        """Every acknowledged decision is in the log, and the chain verifies."""
        logged = {row[0] for row in self.logged("SELECT decision_id FROM decision_log")}
        verify = subprocess.run([CLI, "audit", "verify"], env=self.env, capture_output=True, text=True)
        print(f"acknowledged decisions missing from the log: {len(acknowledged - logged)}")
        print(f"audit verify: {(verify.stdout or verify.stderr).strip()}")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.cleanup.close()
