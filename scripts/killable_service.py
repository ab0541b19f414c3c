"""A real service (``policy-engine serve``, gunicorn) that a script may kill -9 and start again.

The database is created for the run and removed after it: a PostgreSQL database on a
given server, or an SQLite file in a temporary folder. The service runs in a process
group of its own, so its master and workers can be killed together, as a machine or
container losing the process would.
"""

from __future__ import annotations

import http.client
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from scripts.scratch_database import scratch_postgres

ROOT = Path(__file__).resolve().parent.parent
CLI = str(ROOT / ".venv" / "bin" / "policy-engine")


@contextmanager
def fresh_database(kind: str, server_url: str) -> Iterator[str]:
    """The URL of an empty database of ``kind`` (postgresql or sqlite), dropped afterwards."""
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="policy-engine-crash-")
        try:
            yield f"sqlite:///{folder}/log.sqlite3"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    with scratch_postgres(server_url, "policy_engine_crash") as url:
        yield url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class KillableService:
    """``policy-engine serve`` on one database and port; started, killed and started again."""

    def __init__(self, database_url: str, workers: int, settings: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(settings or {}), "DATABASE_URL": database_url}
        self.process: subprocess.Popen[bytes] | None = None
        descriptor, path = tempfile.mkstemp(prefix="policy-engine-serve-", suffix=".log")
        os.close(descriptor)
        self.log_path = Path(path)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CLI, *args], env=self.env, capture_output=True, text=True, check=False)

    def prepare(self) -> str:
        """Migrate, store the bundled policies; returns a submitter token."""
        for args in (("db", "upgrade"), ("policies", "load", str(ROOT / "policies"))):
            self.cli(*args).check_returncode()
        created = self.cli(
            "tokens", "create", "--role", "submitter", "--name", "load", "--organization", "crash"
        )
        created.check_returncode()
        return created.stdout.strip()

    def start(self, timeout: float = 90) -> float:
        """Start serving and wait until /healthz answers 200; returns the seconds it took."""
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [CLI, "serve", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)],
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: the master and its workers
            )
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited with {self.process.returncode}; see {self.log_path}")
            if self.health() == 200:
                return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"the service did not become healthy; see {self.log_path}")

    def health(self) -> int | None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            connection.request("GET", "/healthz")
            return connection.getresponse().status
        except OSError:
            return None

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except FileNotFoundError:
            return []

    def kill_worker(self, rng: random.Random) -> int | None:
        """SIGKILL one worker; the master forks a new one."""
        workers = self.worker_pids()
        if not workers:
            return None
        victim = rng.choice(workers)
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return victim

    def kill_master(self) -> None:
        """SIGKILL the master alone: its workers finish what they hold, notice, and exit."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self._wait_for_group(10)

    def kill_all(self) -> None:
        """SIGKILL the master and every worker at once."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._wait_for_group(10)

    def stop(self) -> None:
        """A clean stop, then SIGKILL for whatever is left; safe to call at any time."""
        if self.process is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        self._wait_for_group(5)
        self.process = None

    def _wait_for_group(self, seconds: float) -> None:
        """Wait for the old group to be gone (orphaned workers still hold the port); then kill it."""
        if self.process is None:
            return
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        time.sleep(0.2)

    def errors_logged(self) -> list[str]:
        """The last line of each traceback the service wrote (an error it did not expect)."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        found, inside = [], False
        for line in lines:
            if line.startswith("Traceback"):
                inside = True
            elif inside and line and not line.startswith(" "):
                found.append(line)
                inside = False
        return found

    def close(self) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)
