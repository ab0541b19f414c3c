"""Exports round-trip (CSV and NDJSON), are recorded in the access trail, and the trail is searchable."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from policy_engine.cli import main
from policy_engine.services.decision_export import CSV_COLUMNS
from policy_engine.storage.decision_index import rebuild
from policy_engine.storage.models import DecisionLine, DecisionLinePolicy

from .conftest import cpap_request, tampering

EXPORT = "/api/v1/decisions/export"
ACCESS = "/api/v1/audit/access"
AWKWARD = 'M "quoted", with; comma\nand newline ☃'


@pytest.fixture
def auditor(token):  # type: ignore[no-untyped-def]
    return token("auditor", name="auditor-1")


@pytest.fixture
def decisions(client, submitter):  # type: ignore[no-untyped-def]
    bodies = [
        cpap_request("plain"),
        cpap_request("awkward", member={"id": AWKWARD, "birth_date": "1961-04-02"}, documentation=[]),
        cpap_request("child", member={"id": "M-CHILD", "birth_date": "2015-05-01"}),
        cpap_request(
            "two-lines",
            services=[
                {"code": "E0601", "date_of_service": "2025-03-10"},
                {"code": "99213", "date_of_service": "2025-03-10"},
            ],
        ),
    ]
    for body in bodies:
        assert client.post("/api/v1/authorizations", json=body, headers=submitter).status_code == 201


def _search_rows(client, auditor, **query):  # type: ignore[no-untyped-def]
    page = client.get("/api/v1/decisions", query_string={**query, "limit": 500}, headers=auditor).get_json()
    for row in page["decisions"]:
        row.pop("later_entries")
    return page["decisions"]


def parse_csv(body: str) -> tuple[list[str], list[dict[str, str]], str]:
    """The comment lines before the header, the rows, and the closing comment."""
    comments = []
    while body.startswith("#"):
        line, body = body.split("\r\n", 1)
        comments.append(line)
    body, _, end = body.rstrip("\r\n").rpartition("\r\n")
    return comments, list(csv.DictReader(io.StringIO(body, newline=""))), end


def test_csv_round_trips_every_field_of_every_line(client, auditor, decisions):
    response = client.get(EXPORT, query_string={"format": "csv"}, headers=auditor)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    comments, rows, end = parse_csv(response.get_data(as_text=True))
    assert comments[0] == "# policy-engine decision export" and comments[2] == '# exported_by: "auditor-1"'
    assert end == "# end: 4 decisions, 5 lines"
    assert list(rows[0]) == list(CSV_COLUMNS)
    expected = []
    for decision in _search_rows(client, auditor):
        lines = decision.pop("lines")
        for line in lines:
            expected.append((decision, line))
    assert len(rows) == len(expected) == 5
    for row, (decision, line) in zip(rows, expected, strict=True):
        for name in ("decision_id", "request_id", "recorded_at", "received_at", "member_id", "organization"):
            assert row[name] == (decision[name] or "")
        assert (row["seq"], row["submitted_by"], row["entry_hash"]) == (
            str(decision["seq"]),
            decision["submitted_by"],
            decision["entry_hash"],
        )
        assert (row["line"], row["code"], row["outcome"], row["reason"], row["x12_action"]) == (
            str(line["index"]),
            line["code"],
            line["outcome"],
            line["reason"] or "",
            line["x12_action"],
        )
        assert row["policies"] == " ".join(f"{p['policy']}@{p['version']}" for p in line["policies"])
        assert json.loads(row["decided_by"]) == line["decided_by"]
        assert row["authorization_number"] == (line["authorization_number"] or "")
        assert row["due_by"] == (line["due_by"] or "")
    assert AWKWARD in {row["member_id"] for row in rows}


def test_ndjson_round_trips_and_names_its_filters(client, auditor, decisions):
    query = {"format": "ndjson", "policy": "cpap-osa", "from": "2020-01-01"}
    response = client.get(EXPORT, query_string=query, headers=auditor)
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    objects = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    header, *rows, end = objects
    assert header["export"]["filters"] == {"from": "2020-01-01T00:00:00Z", "policy": "cpap-osa"}
    assert header["export"]["exported_at"].endswith("Z") and header["export"]["exported_by"] == "auditor-1"
    assert rows == _search_rows(client, auditor, policy="cpap-osa", **{"from": "2020-01-01"})
    assert end == {"end": {"decisions": 4, "lines": 5}}
    assert AWKWARD in {row["member_id"] for row in rows}


@pytest.mark.parametrize(
    ("query", "field"),
    [({"format": "xlsx"}, "format"), ({"outcome": "maybe"}, "outcome"), ({"cursor": "x"}, "cursor")],
)
def test_a_bad_export_query_is_a_field_error(client, auditor, query, field):
    response = client.get(EXPORT, query_string=query, headers=auditor)
    assert response.status_code == 422 and field in response.get_json()["errors"]


def test_reads_are_recorded_and_listed_by_user_and_member(client, token, auditor, submitter, decisions):
    other = token("auditor", name="auditor-2")
    client.get(EXPORT, query_string={"member_id": "M-CHILD", "format": "ndjson"}, headers=auditor).get_data()
    client.get("/api/v1/decisions", query_string={"outcome": "approved"}, headers=other)
    child = _search_rows(client, other, member_id="M-CHILD")[0]
    client.get(f"/api/v1/authorizations/{child['decision_id']}", headers=submitter)

    reads = client.get(ACCESS, query_string={"member_id": "M-CHILD"}, headers=auditor).get_json()["reads"]
    assert [(r["actor"], r["action"]) for r in reads] == [
        ("auditor-1", "export"),
        ("auditor-2", "search"),
        ("nurse-a", "read"),
    ]
    assert {r["decision_id"] for r in reads} == {child["decision_id"]}
    mine = client.get(ACCESS, query_string={"user": "auditor-1"}, headers=auditor).get_json()["reads"]
    assert [(r["action"], r["member_id"]) for r in mine] == [("export", "M-CHILD")]
    exported_all = client.get(EXPORT, headers=auditor).get_data(as_text=True)
    assert exported_all.endswith("# end: 4 decisions, 5 lines\r\n")
    everything = client.get(
        ACCESS, query_string={"user": "auditor-1", "limit": 500}, headers=auditor
    ).get_json()
    assert len(everything["reads"]) == 1 + 4


def test_the_access_trail_pages_and_refuses_bad_filters(client, auditor, decisions):
    client.get("/api/v1/decisions", headers=auditor)
    seen, cursor = [], None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(ACCESS, query_string=query, headers=auditor).get_json()
        seen += [r["id"] for r in page["reads"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 4 and seen == sorted(seen)
    for bad, field in [({"limit": "-1"}, "limit"), ({"from": "soon"}, "from"), ({"who": "x"}, "who")]:
        response = client.get(ACCESS, query_string=bad, headers=auditor)
        assert response.status_code == 422 and field in response.get_json()["errors"]


def test_the_index_rebuilt_from_the_log_matches_the_one_written_with_it(backend, decisions):
    def snapshot():  # type: ignore[no-untyped-def]
        with backend.database.engine.connect() as connection:
            lines = connection.execute(select(DecisionLine).order_by("seq", "line")).all()
            policies = connection.execute(select(DecisionLinePolicy).order_by("seq", "line")).all()
        return lines, policies

    written = snapshot()
    with backend.database.engine.begin() as connection:
        assert rebuild(connection, batch=2) == 4
    assert snapshot() == written and len(written[0]) == 5


def test_cli_export_writes_the_same_file_and_records_the_reads(
    backend, client, decisions, tmp_path, monkeypatch
):
    monkeypatch.setenv("DATABASE_URL", backend.database.url)
    out = tmp_path / "pended.csv"
    result = CliRunner().invoke(
        main,
        ["audit", "export", "-o", str(out), "-f", "outcome=pended", "--as", "auditor-cli", "--progress"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as written:
        comments, rows, end = parse_csv(written.read())
    assert '# filters: {"outcome": "pended"}' in comments and end.startswith("# end: 2 decisions")
    assert AWKWARD in {row["member_id"] for row in rows}
    with backend.database.engine.connect() as connection:
        actions = connection.execute(text("SELECT action FROM access_log WHERE actor = 'auditor-cli'")).all()
    assert len(actions) == 2
    refused = CliRunner().invoke(main, ["audit", "export", "-f", "outcome=maybe"])
    assert refused.exit_code == 2 and "outcome" in refused.output


def test_cli_verify_reports_progress_and_accepts_equivalent_json(backend, decisions, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", backend.database.url)
    ok = CliRunner().invoke(main, ["audit", "verify", "--progress"], catch_exceptions=False)
    assert ok.exit_code == 0 and "intact: 4 entries" in ok.output and "verifying" in ok.output
    with backend.database.engine.begin() as connection, tampering(connection):
        stored = connection.execute(
            text("SELECT CAST(result AS TEXT) FROM decision_log WHERE seq = 2")
        ).scalar_one()
        spaced = json.dumps(json.loads(stored), indent=1)
        connection.execute(text("UPDATE decision_log SET result = :r WHERE seq = 2"), {"r": spaced})
    again = CliRunner().invoke(main, ["audit", "verify"], catch_exceptions=False)
    assert again.exit_code == 0 and "intact: 4 entries" in again.output
    with backend.database.engine.begin() as connection, tampering(connection):
        connection.execute(
            text("UPDATE decision_log SET result = :r WHERE seq = 3"), {"r": stored.replace("E0601", "E0470")}
        )
    broken = CliRunner().invoke(main, ["audit", "verify"])
    assert broken.exit_code == 1 and "BROKEN at entry 3" in broken.output and "altered" in broken.output


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_the_database_formats_an_export_exactly_as_the_portable_path(
    client, backend, auditor, decisions, monkeypatch, fmt
):
    index = backend.search.index
    if not index.formats_in_database:
        pytest.skip("only PostgreSQL formats exports itself")
    query = {"format": fmt, "from": "2020-01-01"}
    formatted = client.get(EXPORT, query_string=query, headers=auditor).get_data(as_text=True)
    monkeypatch.setattr(type(index), "formats_in_database", property(lambda _: False))
    portable = client.get(EXPORT, query_string=query, headers=auditor).get_data(as_text=True)
    strip = (lambda body: body.split("\r\n", 2)[2]) if fmt == "csv" else (lambda body: body.split("\n", 1)[1])
    assert strip(formatted) == strip(portable) and "with; comma" in formatted


def test_an_export_records_each_exported_decision_once(client, backend, auditor, decisions):
    client.get(EXPORT, query_string={"format": "ndjson", "outcome": "pended"}, headers=auditor).get_data()
    with backend.database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT decision_id, member_id FROM access_log WHERE action = 'export'")
        ).all()
    pended = _search_rows(client, auditor, outcome="pended")
    assert sorted(rows) == sorted((d["decision_id"], d["member_id"]) for d in pended) and len(rows) == 2


def test_reads_recorded_batch_by_batch_match_the_export_sent(
    client, backend, auditor, decisions, monkeypatch
):
    """On PostgreSQL each batch's reads are recorded while the batch before it is sent: with
    batches of one line, the file and the trail are the same as in one piece."""
    if not backend.search.index.formats_in_database:
        pytest.skip("only PostgreSQL records an export's reads batch by batch")
    from policy_engine.storage import export_sql

    query = {"format": "ndjson", "from": "2020-01-01"}
    whole = client.get(EXPORT, query_string=query, headers=auditor).get_data(as_text=True)
    monkeypatch.setattr(export_sql, "BATCH", 1)
    pieces = client.get(EXPORT, query_string=query, headers=auditor).get_data(as_text=True)
    assert pieces.split("\n", 1)[1] == whole.split("\n", 1)[1]
    with backend.database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT seq, decision_id, member_id FROM access_log WHERE action = 'export'")
        ).all()
    exported = [(d["seq"], d["decision_id"], d["member_id"]) for d in _search_rows(client, auditor)]
    assert sorted(rows) == sorted(exported * 2)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ("", []),
        ("cpap-osa@2", [{"policy": "cpap-osa", "version": 2}]),
        ("a-b@2 c9@10", [{"policy": "a-b", "version": 2}, {"policy": "c9", "version": 10}]),
    ],
)
def test_the_database_writes_a_lines_policies_as_json(backend, labels, expected):
    if not backend.search.index.formats_in_database:
        pytest.skip("only PostgreSQL formats exports itself")
    from policy_engine.storage.export_sql import _POLICIES

    query = f"SELECT '[' || {_POLICIES} || ']' FROM (VALUES (:labels)) AS decision_lines(policies)"
    with backend.database.engine.connect() as connection:
        written = connection.execute(text(query), {"labels": labels}).scalar_one()
    assert json.loads(written) == expected


@pytest.mark.parametrize("micro", [0, 120, 999999])
def test_the_database_writes_instants_as_iso_does(backend, micro):
    if not backend.search.index.formats_in_database:
        pytest.skip("only PostgreSQL formats exports itself")
    from policy_engine.services.authorizations import iso
    from policy_engine.storage.export_sql import _instant

    moment = dt.datetime(2026, 1, 2, 3, 4, 5, micro, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    with backend.database.engine.connect() as connection:
        written = connection.execute(text(f"SELECT {_instant('CAST(:at AS timestamptz)')}"), {"at": moment})
        assert written.scalar_one() == iso(moment)
