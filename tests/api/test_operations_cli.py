"""The operators' commands, run as an operator would: db upgrade, policies load, tokens, audit verify."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from policy_engine.cli import main

from .conftest import POLICIES, tampering


@pytest.fixture
def fresh(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """An empty SQLite database of its own, chosen the way an operator would: DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_upgrade_load_and_reload_are_idempotent(fresh):
    assert run("db", "upgrade").exit_code == 0
    assert run("db", "upgrade").exit_code == 0
    first = run("policies", "load", str(POLICIES))
    assert first.exit_code == 0 and "9 stored, 0 already there." in first.output
    again = run("policies", "load", str(POLICIES))
    assert again.exit_code == 0 and "0 stored, 9 already there." in again.output


def test_a_changed_version_is_refused_and_nothing_is_stored(fresh, tmp_path):
    run("db", "upgrade")
    run("policies", "load", str(POLICIES))
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    v1 = copy / "lumbar-mri" / "v1.yaml"
    v1.write_text(v1.read_text().replace("title:", "title: Changed", 1))
    (copy / "new-policy").mkdir()
    result = run("policies", "load", str(copy))
    assert result.exit_code == 1 and "lumbar-mri@1 is already stored with different content" in result.output


def test_an_invalid_policy_folder_names_file_and_line(fresh, tmp_path):
    run("db", "upgrade")
    broken = tmp_path / "broken" / "bad"
    broken.mkdir(parents=True)
    (broken / "v1.yaml").write_text("id: bad\nversion: one\n")
    result = run("policies", "load", str(broken.parent))
    assert result.exit_code == 1 and "v1.yaml:2: version" in result.output


def test_tokens_create_prints_a_token_once(fresh):
    run("db", "upgrade")
    result = run("tokens", "create", "--role", "reviewer", "--name", "dr-who", "--physician")
    assert result.exit_code == 0 and result.output.startswith("pe_")
    refused = CliRunner().invoke(main, ["tokens", "create", "--role", "submitter", "--name", "x"])
    assert refused.exit_code == 2 and "organization" in refused.output


def test_audit_verify_exits_1_naming_the_broken_entry(app, backend, client, submitter, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", backend.database.url)
    from .conftest import cpap_request

    for n in range(3):
        client.post("/api/v1/authorizations", json=cpap_request(f"cli-{n}"), headers=submitter)
    ok = run("audit", "verify")
    assert ok.exit_code == 0 and ok.output.startswith("intact: 3 entries; head 3:")
    with backend.database.engine.begin() as connection, tampering(connection):
        connection.execute(text("UPDATE decision_log SET urgency = 'expedited' WHERE seq = 2"))
    broken = CliRunner().invoke(main, ["audit", "verify"])
    assert broken.exit_code == 1 and "BROKEN at entry 2" in broken.output


def test_first_start_on_the_embedded_default_migrates_and_loads_the_bundled_policies(tmp_path, monkeypatch):
    from policy_engine.app import create_app

    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"POLICIES_DIR": str(POLICIES)}, instance_path=str(tmp_path))
    backend = app.extensions["policy_engine"]
    assert backend.database.url == f"sqlite:///{tmp_path / 'policy-engine.sqlite3'}"
    assert backend.prepare() == ["database schema upgraded", "loaded 9 bundled policy versions"]
    assert backend.prepare() == []
    backend.database.dispose()


def test_a_configured_database_is_not_seeded_with_the_bundled_policies(fresh, tmp_path):
    from policy_engine.app import create_app

    backend = create_app(instance_path=str(tmp_path)).extensions["policy_engine"]
    assert backend.prepare() == ["database schema upgraded"]
    assert backend.policies.count() == 0
    backend.database.dispose()


@pytest.mark.parametrize(
    "command",
    [
        ["audit", "verify"],
        ["audit", "export", "-o", "{out}"],
        ["tokens", "create", "--role", "auditor", "--name", "a"],
    ],
)
def test_a_command_on_a_database_without_its_schema_says_to_upgrade_it(fresh, tmp_path, command):
    command = [part.format(out=tmp_path / "export.csv") for part in command]
    refused = CliRunner().invoke(main, command)
    assert refused.exit_code == 1 and refused.exception is not None
    assert "the database schema is not current: run `policy-engine db upgrade`" in refused.output
    assert run("db", "upgrade").exit_code == 0
    assert CliRunner().invoke(main, command).exit_code == 0


def test_commands_use_the_same_embedded_database_as_the_service(tmp_path, monkeypatch):
    from flask import Flask

    from policy_engine.app import create_app

    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert Flask("policy_engine.app").instance_path == create_app().instance_path
