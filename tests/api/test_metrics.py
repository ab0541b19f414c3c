"""Metrics on a seeded history; every expected figure is worked out by hand below."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from .conftest import cpap_request
from .review_helpers import URL, clinical_review, determine, missing_information, submit

METRICS = "/api/v1/metrics?from=2025-03-01&to=2025-03-31"
T0 = dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def history(client, frozen, submitter, nurse, doctor, second_doctor):  # type: ignore[no-untyped-def]
    """Cases received at T0 (one before the period), then worked at the hours noted."""
    frozen.moment = dt.datetime(2025, 2, 27, 12, 0, tzinfo=dt.UTC)
    submit(client, submitter, cpap_request("before-the-period"))
    frozen.moment = T0
    minor = {"id": "M2", "birth_date": "2010-01-01"}
    office_visit = [{"code": "99213", "date_of_service": "2025-03-10"}]
    cases = {
        "S1": cpap_request("S1"),  # approved by the engine: 0 h
        "S2": clinical_review("S2"),  # denied at 10 h
        "S3": clinical_review("S3"),  # approved by a nurse at 30 h
        "S4": cpap_request("S4", member=minor),  # not covered by the engine: 0 h
        "S5": clinical_review("S5"),  # extended at 20 h, approved at 50 h
        "S6": clinical_review("S6"),  # denied at 10 h, appealed, approved at 70 h
        "S7": missing_information("S7"),  # information at 5 h, approved by the engine
        "S8": clinical_review("S8"),  # still open
        "S9": cpap_request("S9", services=office_visit),  # no policy: still open
        "E1": clinical_review("E1", urgency="expedited"),  # denied at 10 h
        "E2": clinical_review("E2", urgency="expedited"),  # approved at 30 h
        "E3": cpap_request("E3", urgency="expedited"),  # approved by the engine: 0 h
        "E4": clinical_review("E4", urgency="expedited"),  # approved at 50 h
        "E5": clinical_review("E5", urgency="expedited"),  # open, due at 72 h
    }
    ids = {name: submit(client, submitter, body)["decision_id"] for name, body in cases.items()}
    deny = {"outcome": "denied", "criteria": ["ahi-15"]}
    steps = [
        (
            5,
            lambda: client.post(
                f"{URL}/{ids['S7']}/information", json={"documentation": ["f2f-note"]}, headers=submitter
            ),
        ),
        (10, lambda: determine(client, doctor, ids["S2"], **deny)),
        (10, lambda: determine(client, doctor, ids["S6"], **deny)),
        (10, lambda: determine(client, doctor, ids["E1"], **deny)),
        (20, lambda: client.post(f"{URL}/{ids['S5']}/extension", json={"reason": "records"}, headers=nurse)),
        (30, lambda: determine(client, nurse, ids["S3"], outcome="approved")),
        (30, lambda: determine(client, nurse, ids["E2"], outcome="approved")),
        (50, lambda: determine(client, doctor, ids["S5"], outcome="approved")),
        (50, lambda: determine(client, doctor, ids["E4"], outcome="approved")),
        (
            60,
            lambda: client.post(
                f"{URL}/{ids['S6']}/appeals", json={"lines": [0], "reason": "new study"}, headers=submitter
            ),
        ),
        (70, lambda: determine(client, second_doctor, ids["S6"], outcome="approved")),
    ]
    for hours, step in steps:
        frozen.moment = T0 + dt.timedelta(hours=hours)
        response = step()
        assert response.status_code == 201, response.get_json()
    frozen.moment = T0 + dt.timedelta(hours=80)
    return ids


# Standard, all lines: 9 received (S1-S9), 7 decided (S8, S9 open).
# Approved S1 S3 S5 S6 S7 = 5 -> 5/7 = 71.43 %; denied S2 S4 = 2 -> 28.57 %.
# After appeal S6 -> 1/7 = 14.29 %; after extension S5 -> 14.29 %; by the engine S1 S7 -> 2/9 = 22.22 %.
# Hours to the first determination: S1 0, S2 10, S3 30, S4 0, S5 50, S6 10, S7 5 = 105 / 7 = 15.0,
# sorted 0 0 5 10 10 30 50 -> median 10.0. Open at 80 h: S8 and S9, both 72 h to 7 d, neither due yet.
STANDARD = {
    "lines": 9,
    "decided": 7,
    "approved": 5,
    "denied": 2,
    "percent_approved": 71.43,
    "percent_denied": 28.57,
    "percent_approved_after_appeal": 14.29,
    "percent_approved_after_extension": 14.29,
    "auto_approval_rate": 22.22,
    "average_hours_to_determination": 15.0,
    "median_hours_to_determination": 10.0,
    "pend_aging": {"under_24h": 0, "24h_to_72h": 0, "72h_to_7d": 2, "over_7d": 0},
    "overdue": 0,
}
# Expedited: 5 received, 4 decided; approved E2 E3 E4 = 75 %, denied E1 = 25 %; by the engine E3 = 1/5.
# Hours 10 30 0 50 = 90 / 4 = 22.5; an even count, so the median is (10 + 30) / 2 = 20.0.
# E5 is open at 80 h, past its 72-hour deadline.
EXPEDITED = {
    "lines": 5,
    "decided": 4,
    "approved": 3,
    "denied": 1,
    "percent_approved": 75.0,
    "percent_denied": 25.0,
    "percent_approved_after_appeal": 0.0,
    "percent_approved_after_extension": 0.0,
    "auto_approval_rate": 20.0,
    "average_hours_to_determination": 22.5,
    "median_hours_to_determination": 20.0,
    "pend_aging": {"under_24h": 0, "24h_to_72h": 0, "72h_to_7d": 1, "over_7d": 0},
    "overdue": 1,
}
# cpap-osa governs every line but S9's: standard 8 lines, auto 2/8 = 25 %, one open case.
CPAP_STANDARD = {
    **STANDARD,
    "lines": 8,
    "auto_approval_rate": 25.0,
    "pend_aging": {"under_24h": 0, "24h_to_72h": 0, "72h_to_7d": 1, "over_7d": 0},
}


def test_figures_per_urgency_and_policy(client, token, history):
    response = client.get(METRICS, headers=token("cmo"))
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["period"] == {"from": "2025-03-01T00:00:00Z", "to": "2025-03-31T23:59:59.999999Z"}
    assert report["urgency"] == {"standard": STANDARD, "expedited": EXPEDITED}
    assert report["policies"] == {"cpap-osa": {"standard": CPAP_STANDARD, "expedited": EXPEDITED}}


def test_figures_as_csv(client, token, history):
    response = client.get(METRICS + "&format=csv", headers=token("auditor"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(row["policy"], row["urgency"]) for row in rows] == [
        ("all", "standard"),
        ("all", "expedited"),
        ("cpap-osa", "standard"),
        ("cpap-osa", "expedited"),
    ]
    assert rows[1]["median_hours_to_determination"] == "20.0" and rows[1]["pend_aging_72h_to_7d"] == "1"
    assert rows[0]["percent_approved"] == "71.43" and rows[2]["lines"] == "8"


def test_an_empty_period_has_no_rates(client, token):
    report = client.get("/api/v1/metrics?from=2024-01-01&to=2024-01-31", headers=token("cmo")).get_json()
    assert report["urgency"]["standard"]["percent_approved"] is None and report["policies"] == {}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "from"),
        ("?from=2025-03-01", "to"),
        ("?from=2025-03-31&to=2025-03-01", "to"),
        ("?from=March&to=2025-03-01", "from"),
        ("?from=2025-03-01&to=2025-03-31&format=xml", "format"),
        ("?from=2025-03-01&to=2025-03-31&policy=x", "policy"),
    ],
)
def test_bad_metrics_queries(client, token, query, field):
    response = client.get("/api/v1/metrics" + query, headers=token("cmo"))
    assert response.status_code == 422 and field in response.get_json()["errors"]


@pytest.mark.parametrize("role", ["submitter", "reviewer", "author", "admin"])
def test_only_the_cmo_and_auditors_see_metrics(client, token, role):
    assert client.get(METRICS, headers=token(role)).status_code == 403
