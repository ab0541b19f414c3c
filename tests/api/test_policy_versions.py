"""Policy versions through HTTP: drafts, CMO decisions, history, immutability, effective dating."""

from __future__ import annotations

import threading

import pytest

from .conftest import POLICIES, cpap_request

BASE = "/api/v1/policies"
YAML = {"Content-Type": "application/yaml"}


def cpap_v3(threshold: int = 20, effective: str = "2026-01-01", version: int = 3) -> str:
    """cpap-osa v2 as a new version with a higher AHI threshold."""
    text = (POLICIES / "cpap-osa" / "v2.yaml").read_text()
    text = text.replace("version: 2", f"version: {version}", 1).replace(
        "effective: 2025-01-01", f"effective: {effective}", 1
    )
    return text.replace(
        "          fact: clinical.ahi\n          gte: 15",
        f"          fact: clinical.ahi\n          gte: {threshold}",
        1,
    )


@pytest.fixture
def author(token):  # type: ignore[no-untyped-def]
    return token("author", name="dr-author")


@pytest.fixture
def cmo(token):  # type: ignore[no-untyped-def]
    return token("cmo", name="dr-cmo")


def submit_draft(client, author, text):  # type: ignore[no-untyped-def]
    return client.post(BASE, data=text, headers={**author, **YAML})


def test_draft_approve_and_history(client, author, cmo):
    draft = submit_draft(client, author, cpap_v3())
    assert draft.status_code == 201
    body = draft.get_json()
    assert (body["state"], body["version"], body["author"]) == ("draft", 3, "dr-author")
    assert body["yaml"] == cpap_v3() and len(body["sha256"]) == 64
    approved = client.post(
        f"{BASE}/cpap-osa/versions/3/approve", json={"comment": "AHI 20 per committee"}, headers=cmo
    )
    assert approved.status_code == 200
    assert (approved.get_json()["state"], approved.get_json()["approver"]) == ("approved", "dr-cmo")
    history = client.get(f"{BASE}/cpap-osa", headers=author).get_json()
    states = {v["version"]: v["state"] for v in history["versions"]}
    assert states == {1: "superseded", 2: "superseded", 3: "approved"}
    actions = [(e["version"], e["action"], e["actor"]) for e in history["events"]]
    assert (3, "submitted", "dr-author") in actions and (3, "approved", "dr-cmo") in actions
    assert (2, "superseded", "dr-cmo") in actions
    assert history["events"][-2]["comment"] == "AHI 20 per committee"


def test_reject_needs_a_comment_and_is_recorded(client, author, cmo):
    submit_draft(client, author, cpap_v3())
    missing = client.post(f"{BASE}/cpap-osa/versions/3/reject", json={}, headers=cmo)
    assert missing.status_code == 422 and "comment" in missing.get_json()["errors"]
    rejected = client.post(
        f"{BASE}/cpap-osa/versions/3/reject", json={"comment": "needs evidence"}, headers=cmo
    )
    assert rejected.status_code == 200, rejected.get_json()
    assert rejected.get_json()["state"] == "rejected" and rejected.get_json()["comment"] == "needs evidence"
    assert submit_draft(client, author, cpap_v3()).status_code == 409  # version 3 is spent
    assert submit_draft(client, author, cpap_v3(version=4)).status_code == 201


def test_version_must_be_the_next_one(client, author):
    response = submit_draft(client, author, cpap_v3(version=5))
    assert response.status_code == 409 and "the next is 3" in response.get_json()["message"]
    assert submit_draft(client, author, cpap_v3(version=2)).status_code == 409


def test_two_racing_drafts_of_one_number_give_one_201_and_one_409(app, author):
    statuses: list[int] = []

    def race() -> None:
        statuses.append(app.test_client().post(BASE, data=cpap_v3(), headers={**author, **YAML}).status_code)

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409]


def test_invalid_yaml_gets_line_numbers_and_nothing_is_stored(client, author, backend):
    broken = cpap_v3().replace("gte: 20", "gte: twenty", 1)
    response = submit_draft(client, author, broken)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert any(key.startswith("policy.yaml:") and "gte" in key for key in errors), errors
    assert backend.policies.next_version("cpap-osa") == 3


@pytest.mark.parametrize(
    ("data", "headers", "status"),
    [
        ("id: x\nversion: [", YAML, 422),
        ("- just\n- a list\n", YAML, 422),
        (b"\xff\xfe", YAML, 400),
        (
            "a0: &a0 [x]\n"
            + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)),
            YAML,
            422,
        ),
        ("criteria: " + "{not: " * 500 + "x" + "}" * 500, YAML, 422),
        ("id: !!python/object/apply:os.system ['true']\n", YAML, 422),
        ("version: .nan\n", YAML, 422),
        ("{}", {"Content-Type": "application/json"}, 415),
    ],
)
def test_bad_policy_bodies(client, author, data, headers, status):
    response = client.post(BASE, data=data, headers={**author, **headers})
    assert response.status_code == status


def test_an_approved_version_is_immutable(client, author, cmo):
    submit_draft(client, author, cpap_v3())
    client.post(f"{BASE}/cpap-osa/versions/3/approve", json={}, headers=cmo)
    assert submit_draft(client, author, cpap_v3(threshold=30)).status_code == 409
    for action, body in (("approve", {}), ("reject", {"comment": "too late"})):
        response = client.post(f"{BASE}/cpap-osa/versions/3/{action}", json=body, headers=cmo)
        assert response.status_code == 409 and "it is approved" in response.get_json()["message"]
    assert client.get(f"{BASE}/cpap-osa/versions/3", headers=cmo).get_json()["yaml"] == cpap_v3()


def test_approval_refused_when_periods_would_conflict(client, author, cmo):
    # effective before version 2's: the versions would not be in order
    response = submit_draft(client, author, cpap_v3(effective="2024-06-01"))
    assert response.status_code == 422 and "effective" in str(response.get_json()["errors"])


def test_roles_for_policy_endpoints(client, token, author, cmo):
    assert submit_draft(client, token("cmo"), cpap_v3()).status_code == 403
    submit_draft(client, author, cpap_v3())
    assert client.post(f"{BASE}/cpap-osa/versions/3/approve", json={}, headers=author).status_code == 403
    assert client.get(f"{BASE}/cpap-osa/diff?from=2&to=3", headers=token("submitter")).status_code == 403
    assert client.get(BASE, headers=token("submitter")).status_code == 200


def test_unknown_policy_and_version_are_not_found(client, cmo):
    assert client.get(f"{BASE}/no-such-policy", headers=cmo).status_code == 404
    assert client.get(f"{BASE}/cpap-osa/versions/9", headers=cmo).status_code == 404
    assert client.post(f"{BASE}/cpap-osa/versions/9/approve", json={}, headers=cmo).status_code == 404


def test_list_shows_current_versions_and_drafts(client, author):
    submit_draft(client, author, cpap_v3())
    listed = {p["policy"]: p for p in client.get(BASE, headers=author).get_json()}
    assert listed["cpap-osa"]["current"]["version"] == 2 and listed["cpap-osa"]["drafts"] == [3]
    assert len(listed) == 6


def _line(client, submitter, day: str, ahi: int, request_id: str):  # type: ignore[no-untyped-def]
    clinical = {"ahi": ahi, "evaluation_date": "2025-01-15", "sleep_test_date": "2025-02-01"}
    body = cpap_request(
        request_id,
        clinical=clinical,
        diagnoses=["G47.33"],
        services=[{"code": "E0601", "date_of_service": day}],
    )
    return client.post("/api/v1/authorizations", json=body, headers=submitter).get_json()["lines"][0]


def test_each_line_is_judged_by_the_version_in_effect_on_its_date(client, author, cmo, submitter):
    submit_draft(client, author, cpap_v3(threshold=20, effective="2026-01-01"))
    client.post(f"{BASE}/cpap-osa/versions/3/approve", json={}, headers=cmo)
    before = _line(client, submitter, "2025-12-31", 17, "before")
    after = _line(client, submitter, "2026-01-01", 17, "after")
    assert (before["policies"][0]["version"], before["outcome"]) == (2, "approved")
    assert (after["policies"][0]["version"], after["outcome"]) == (3, "pended")
    assert after["policies"][0]["criteria"]["status"] != "met"


def test_retire_ends_the_policy_after_its_last_day(client, cmo, submitter):
    response = client.post(
        f"{BASE}/cpap-osa/retire",
        json={"comment": "replaced by national policy", "last_day": "2025-06-30"},
        headers=cmo,
    )
    assert response.status_code == 200
    assert [v["state"] for v in response.get_json()["versions"]] == ["superseded", "retired"]
    assert _line(client, submitter, "2025-06-30", 31, "last-day")["outcome"] == "approved"
    assert _line(client, submitter, "2025-07-01", 31, "after-retirement")["reason"] == "no_policy"
    again = client.post(f"{BASE}/cpap-osa/retire", json={"comment": "again"}, headers=cmo)
    assert again.status_code == 404


def _seed(client, submitter):  # type: ignore[no-untyped-def]
    """Three CPAP decisions (approved at AHI 31, approved at 17, clinical review at 3) and a knee one."""
    for request_id, ahi in (("severe", 31), ("moderate", 17), ("mild", 3)):
        _line(client, submitter, "2025-03-10", ahi, request_id)
    knee = cpap_request("knee", services=[{"code": "27447", "date_of_service": "2025-03-10"}])
    client.post("/api/v1/authorizations", json=knee, headers=submitter)


def test_impact_counts_what_a_draft_would_change_and_writes_nothing(client, backend, author, submitter):
    from .conftest import row_count

    _seed(client, submitter)
    submit_draft(client, author, cpap_v3(threshold=20))
    logged = row_count(backend, "decision_log")
    response = client.post(f"{BASE}/cpap-osa/versions/3/impact", json={}, headers=author)
    assert response.status_code == 200
    report = response.get_json()
    assert (report["decisions_examined"], report["decisions_changed"]) == (3, 1)
    totals = {(t["from"], t["to"]): t["count"] for t in report["lines"]}
    assert totals == {
        ("approved", "approved"): 1,
        ("approved", "pended/missing_information"): 1,
        ("pended/clinical_review", "pended/clinical_review"): 1,
    }
    [changed] = report["changed"]
    moved = {c["node"]: (c["from"], c["to"]) for c in changed["lines"][0]["criteria"]}
    assert moved["ahi-15"] == ("met", "not_met")
    assert changed["lines"][0]["missing"] == ["clinical.symptoms"]
    assert row_count(backend, "decision_log") == logged


def test_impact_period_and_paging(client, author, submitter):
    _seed(client, submitter)
    submit_draft(client, author, cpap_v3(threshold=40))
    everything = client.post(
        f"{BASE}/cpap-osa/versions/3/impact", json={"limit": 1}, headers=author
    ).get_json()
    assert everything["decisions_changed"] == 2 and len(everything["changed"]) == 1, everything["lines"]
    old = {"from": "2020-01-01", "to": "2020-12-31"}
    empty = client.post(f"{BASE}/cpap-osa/versions/3/impact", json=old, headers=author).get_json()
    assert (empty["decisions_examined"], empty["lines"]) == (0, [])
    reversed_period = client.post(
        f"{BASE}/cpap-osa/versions/3/impact", json={"from": "2026-02-01", "to": "2026-01-01"}, headers=author
    )
    assert reversed_period.status_code == 422 and "from" in reversed_period.get_json()["errors"]


def test_diff_between_versions_as_json_and_text(client, author, cmo):
    submit_draft(client, author, cpap_v3(threshold=20))
    response = client.get(f"{BASE}/cpap-osa/diff?from=2&to=3", headers=cmo)
    assert response.status_code == 200
    report = response.get_json()
    [change] = [c for c in report["changes"] if c["id"] == "ahi-15"]
    assert (change["kind"], change["old"], change["new"], change["effect"]) == (
        "threshold_changed",
        15,
        20,
        "more_restrictive",
    )
    assert report["summary"]["verdict"] == "more_restrictive"
    text = client.get(f"{BASE}/cpap-osa/diff?from=2&to=3&format=text", headers=author)
    assert text.mimetype == "text/plain" and "ahi-15: clinical.ahi gte 15 → 20" in text.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "status"),
    [("from=2", 422), ("from=two&to=3", 422), ("from=2&to=3&format=pdf", 422), ("from=2&to=9", 404)],
)
def test_diff_bad_queries(client, cmo, query, status):
    assert client.get(f"{BASE}/cpap-osa/diff?{query}", headers=cmo).status_code == status


def test_a_draft_judged_by_impact_analysis_leaves_no_rulesets_behind(client, backend, author, submitter):
    import gc

    _seed(client, submitter)
    host = backend.catalog.host
    before = (host.versions, host.live)
    submit_draft(client, author, cpap_v3(threshold=20))
    assert client.post(f"{BASE}/cpap-osa/versions/3/impact", json={}, headers=author).status_code == 200
    gc.collect()
    assert (host.versions, host.live) == before


def test_an_approval_frees_the_rulesets_of_superseded_versions(client, backend, author, cmo, submitter):
    def rulesets(key: str) -> list[int]:
        compiled = backend.catalog.host.get(key)
        return compiled.handles if compiled is not None else []

    _line(client, submitter, "2025-03-10", 31, "under-v2")
    assert rulesets("cpap-osa@2")  # judged a request
    submit_draft(client, author, cpap_v3(effective="2025-06-01"))
    client.post(f"{BASE}/cpap-osa/versions/3/approve", json={"comment": "ok"}, headers=cmo)
    assert not rulesets("cpap-osa@2")  # v2 ended on 2025-05-31: its rulesets are deleted
    again = _line(client, submitter, "2025-03-10", 31, "still-v2")
    assert again["policies"][0]["version"] == 2 and rulesets("cpap-osa@2")


def _referring_to(node: str) -> str:
    """cpap-osa v3 whose diagnosis criterion refers to a node of lumbar-mri."""
    leaf = "      fact: diagnoses\n      any_prefix: [G47.33]"
    assert leaf in cpap_v3()
    return cpap_v3().replace(leaf, f"      ref: {{policy: lumbar-mri, node: {node}}}", 1)


def test_a_draft_referring_to_another_policys_missing_node_is_refused(client, author):
    refused = submit_draft(client, author, _referring_to("no-such-node"))
    assert refused.status_code == 422
    assert "policy 'lumbar-mri' has no node 'no-such-node'" in str(refused.get_json()["errors"])
    assert client.get(f"{BASE}/cpap-osa/versions/3", headers=author).status_code == 404  # nothing stored
    assert submit_draft(client, author, _referring_to("red-flags")).status_code == 201
