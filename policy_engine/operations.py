"""``policy-engine db | policies | tokens | audit | serve``: running the service."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask, current_app, has_app_context

from .errors import PolicyConflict, PolicyInvalid
from .services.decision_search import decision_filter as search_filter
from .storage import migrate
from .storage.tokens import ROLES


def _app() -> Flask:
    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    from .app import create_app

    return create_app()


def _services() -> Any:
    """The backend built from the same settings and instance folder as ``create_app``'s,
    without the web application: a command needs none of its pages, API or FHIR models,
    which take about a second to load."""
    from . import logs
    from .config import DEFAULTS, database_url, from_environment
    from .services.backend import Backend

    settings = {**DEFAULTS, **from_environment()}
    folder = Flask("policy_engine.app").instance_path
    logs.install()
    return Backend(settings, database_url(settings, folder))


@contextmanager
def _backend(needs_schema: bool = True) -> Iterator[Any]:
    """The backend for one command; its connections are closed when the command ends.

    A command on a database whose schema is not current says so, rather than failing on
    a missing table.
    """
    if has_app_context():
        yield current_app.extensions["policy_engine"]
        return
    backend = _services()
    try:
        if needs_schema and not migrate.is_current(backend.database):
            raise click.ClickException("the database schema is not current: run `policy-engine db upgrade`")
        yield backend
    finally:
        backend.database.dispose()


@click.group()
def db() -> None:
    """The database schema."""


@db.command()
def upgrade() -> None:
    """Apply every pending migration (safe to run at every start)."""
    with _backend(needs_schema=False) as backend:
        migrate.upgrade(backend.database)
        click.echo(f"database at the latest schema ({backend.database.engine.url})")


@click.group()
def policies() -> None:
    """Stored policy versions."""


@policies.command("load")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def load(directory: str) -> None:
    """Store every policy version under DIRECTORY (all or nothing; unchanged ones are skipped)."""
    try:
        with _backend() as backend:
            report = backend.policies.load_directory(directory)
    except PolicyInvalid as invalid:
        for problem in invalid.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    except PolicyConflict as conflict:
        click.echo(str(conflict), err=True)
        sys.exit(1)
    for key in report.added:
        click.echo(f"stored     {key}")
    for key in report.unchanged:
        click.echo(f"unchanged  {key}")
    click.echo(f"{len(report.added)} stored, {len(report.unchanged)} already there.")


@click.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", required=True, help="Who holds the token (a person or a system).")
@click.option("--organization", help="The submitter's organization; it sees only its own requests.")
@click.option(
    "--physician", is_flag=True, help="A reviewer who is a physician (may make adverse determinations)."
)
def create_token(role: str, name: str, organization: str | None, physician: bool) -> None:
    """Print a new token once; only its hash is stored."""
    try:
        with _backend() as backend:
            token = backend.tokens.create(role, name, organization, physician)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    click.echo(token)


@click.group()
def audit() -> None:
    """The decision log."""


@audit.command()
@click.option("--anchor", help="A head kept from an earlier run, as SEQ:ENTRY_HASH.")
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--progress/--no-progress", default=None, help="A progress bar on stderr (default: on a terminal)."
)
def verify(anchor: str | None, as_json: bool, progress: bool | None) -> None:
    """Check the hash chain; exit 1 naming the first entry missing, altered or out of place."""
    parsed = None
    if anchor:
        seq, _, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise click.UsageError("--anchor is SEQ:ENTRY_HASH")
        parsed = (int(seq), digest)
    with _backend() as backend, _progressbar(backend.log.length(), "verifying", progress) as bar:
        report = backend.audit.verify(parsed, bar.update)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    elif report["intact"]:
        head = report["head"]
        click.echo(f"intact: {report['entries']} entries; head {head['seq']}:{head['entry_hash']}")
    else:
        problem = report["problem"]
        entry = f" ({problem['entry_id']})" if problem["entry_id"] else ""
        click.echo(f"BROKEN at entry {problem['seq']}{entry}: {problem['message']}", err=True)
    sys.exit(0 if report["intact"] else 1)


@audit.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "ndjson"]), default="csv", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File to write (default: stdout)."
)
@click.option("--as", "auditor", default="cli", show_default=True, help="Who exports, for the access trail.")
@click.option(
    "--progress/--no-progress", default=None, help="A progress bar on stderr (default: on a terminal)."
)
@click.option(
    "--filter",
    "-f",
    "filters",
    multiple=True,
    metavar="NAME=VALUE",
    help="A filter of GET /api/v1/decisions, e.g. -f outcome=pended -f from=2025-01-01 (repeatable).",
)
def export(
    fmt: str, output: str | None, auditor: str, progress: bool | None, filters: tuple[str, ...]
) -> None:
    """Export the decisions matching the filters (all by default), streamed; recorded in the access trail."""
    from .api.audit_schemas import DecisionFilterSchema
    from .storage.tokens import Actor

    raw = {}
    for item in filters:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--filter {item!r}: expected NAME=VALUE")
        raw[name] = value
    problems = DecisionFilterSchema().validate(raw)
    if problems:
        raise click.UsageError(
            "; ".join(f"{name}: {' '.join(map(str, why))}" for name, why in problems.items())
        )
    query = DecisionFilterSchema().load(raw)
    actor = Actor(name=auditor, role="auditor", organization=None, physician=False)
    with _backend() as backend, _output(output) as out:
        search = backend.search
        shown = sys.stderr.isatty() if progress is None else progress
        total = search.index.count(search_filter(query)) if shown else 0  # a second pass over the index
        with _progressbar(total, "exporting lines", shown) as bar:
            for chunk in search.export(query, fmt, actor):
                out.write(chunk)
                bar.update(chunk.count("\n") if fmt == "ndjson" else chunk.count("\r\n"))


@contextmanager
def _output(path: str | None) -> Iterator[Any]:
    if path is None:
        yield click.get_text_stream("stdout")
        return
    with open(path, "w", encoding="utf-8", newline="") as out:
        yield out


@contextmanager
def _progressbar(length: int, label: str, shown: bool | None) -> Iterator[Any]:
    """click's progress bar on stderr; a silent stand-in when it is not wanted."""
    if shown is None:
        shown = sys.stderr.isatty()
    if not shown:
        yield _Silent()
        return
    with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar


class _Silent:
    def update(self, _n: int) -> None:
        pass


@click.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", type=int, default=lambda: (os.cpu_count() or 1) + 1, show_default="cores + 1")
@click.option("--dev", is_flag=True, help="Flask's development server, one process, reloads nothing.")
def serve(bind: str, workers: int, dev: bool) -> None:
    """Prepare the database (migrations; bundled policies on the embedded default) and serve."""
    app = _app()
    backend = app.extensions["policy_engine"]
    for step in backend.prepare():
        click.echo(step)
    backend.catalog.reload()
    backend.catalog.evaluator.prepare()  # native rulesets made before forking, shared by every worker
    if dev:
        host, _, port = bind.rpartition(":")
        app.run(host=host or "127.0.0.1", port=int(port), debug=False, use_reloader=False)
        return
    from .server import run_gunicorn

    run_gunicorn(app, bind=bind, workers=workers)


COMMANDS = (db, policies, tokens, audit, serve)
