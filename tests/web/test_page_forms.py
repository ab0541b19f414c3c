"""The forms: the API's validation messages beside their fields, nothing written on a bad form,
a label for every field, and the review rules as the service enforces them."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from api.conftest import row_count
from api.review_helpers import clinical_review, submit

from .conftest import post_form

GOOD = {
    "request_id": "web-form-1",
    "urgency": "standard",
    "member.id": "M3001",
    "member.birth_date": "1961-04-02",
    "diagnoses": "G47.33",
    "services[0].code": "E0601",
    "services[0].date_of_service": "2025-03-10",
    "clinical[0].name": "ahi",
    "clinical[0].type": "number",
    "clinical[0].value": "31",
    "clinical[1].name": "evaluation_date",
    "clinical[1].type": "date",
    "clinical[1].value": "2025-01-15",
    "clinical[2].name": "sleep_test_date",
    "clinical[2].type": "date",
    "clinical[2].value": "2025-02-01",
    "documentation": "psg-report, f2f-note",
}


class Fields(HTMLParser):
    """Every form control that needs a label, and every label's target."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[tuple[str, str | None]] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label" and found.get("for"):
            self.labelled.add(found["for"] or "")
        if tag in ("select", "textarea") or (
            tag == "input" and found.get("type") not in ("hidden", "submit", "button")
        ):
            self.controls.append((found.get("name") or "?", found.get("id")))


def controls(html: str) -> int:
    parser = Fields()
    parser.feed(html)
    return len(parser.controls)


def unlabelled(html: str) -> list[str]:
    parser = Fields()
    parser.feed(html)
    return [name for name, id_ in parser.controls if not id_ or id_ not in parser.labelled]


def error_for(html: str, field_id: str) -> str:
    found = re.search(rf'id="{re.escape(field_id)}-error">(.*?)</p>', html, re.S)
    assert found, f"no error shown for {field_id}"
    return found.group(1)


def test_a_good_request_shows_its_decision_with_the_criteria_tree(sign_in, backend):  # type: ignore[no-untyped-def]
    browser = sign_in("submitter")
    answer = post_form(browser, "/requests/new", "/requests/new", GOOD)
    assert answer.status_code == 302
    page = browser.get(answer.headers["Location"]).text
    assert "Approved" in page and "osa-dx" in page and "cites ncd-240.4" in page
    assert 'class="status s-met"' in page and "✔</span> Met" in page
    assert row_count(backend, "decision_log") == 1


@pytest.mark.parametrize(
    ("change", "field_id", "message"),
    [
        ({"member.birth_date": "02/04/1961"}, "f-member-birth_date", "Not a valid date."),
        ({"member.id": ""}, "f-member-id", "Missing data for required field."),
        ({"services[0].code": "XYZ"}, "f-services-0-code", "not a valid CPT or HCPCS code: XYZ"),
        ({"services[0].quantity": "two"}, "f-services-0-quantity", "Not a valid integer."),
        ({"services[0].code": "", "services[0].date_of_service": ""}, "f-services", "Missing data"),
        ({"diagnoses": "G47.33, NOPE"}, "f-diagnoses", "item 2: not a valid ICD-10-CM code: NOPE"),
        ({"provider.npi": "1234567890"}, "f-provider-npi", "check digit does not match"),
        ({"clinical[0].value": "high"}, "f-clinical-0-value", "&#39;high&#39; is not a number."),
        ({"clinical[1].value": "15 Jan"}, "f-clinical-1-value", "is not a date"),
        ({"clinical[0].type": "text", "clinical[0].value": "31"}, "f-clinical-0-value", "clinical.ahi"),
        ({"clinical[1].name": ""}, "f-clinical-1-name", "Name the fact"),
    ],
)
def test_a_bad_form_shows_each_message_next_to_its_field_and_writes_nothing(
    sign_in, backend, change, field_id, message
):  # type: ignore[no-untyped-def]
    browser = sign_in("submitter")
    answer = post_form(browser, "/requests/new", "/requests/new", {**GOOD, **change})
    assert answer.status_code == 422
    assert message in error_for(answer.text, field_id)
    assert "Please correct" in answer.text
    assert 'aria-invalid="true"' in answer.text or field_id == "f-services"  # a group, not a control
    assert f'value="{GOOD["member.id"]}"' in answer.text or change.get("member.id") == ""
    assert row_count(backend, "decision_log") == 0
    assert unlabelled(answer.text) == []


def test_adding_a_row_keeps_what_was_typed_and_submits_nothing(sign_in, backend):  # type: ignore[no-untyped-def]
    browser = sign_in("submitter")
    answer = post_form(browser, "/requests/new", "/requests/new", {**GOOD, "action": "add_service"})
    assert answer.status_code == 200
    assert 'id="f-services-1-code"' in answer.text and 'value="M3001"' in answer.text
    assert row_count(backend, "decision_log") == 0


@pytest.fixture
def case(client, token) -> str:  # type: ignore[no-untyped-def]
    return submit(client, token("submitter", organization="clinic-a"), clinical_review())["decision_id"]


def test_every_field_of_every_form_has_a_label(sign_in, case):  # type: ignore[no-untyped-def]
    pages = {
        "submitter": ["/requests/new", f"/cases/{case}"],
        "reviewer": ["/queue", f"/cases/{case}"],
        "author": ["/policies/new", "/policies/cpap-osa/diff", "/policies/cpap-osa/versions/2/impact"],
        "cmo": ["/policies", "/policies/cpap-osa", "/metrics"],
        "auditor": ["/decisions", "/integrity?run=1", "/metrics"],
    }
    checked = 0
    for role, paths in pages.items():
        browser = sign_in(role, physician=role == "reviewer")
        for path in paths:
            page = browser.get(path)
            assert page.status_code == 200, path
            assert unlabelled(page.text) == [], path
            checked += controls(page.text)
    assert checked > 60  # the determination form's criteria, the filters, the request form
    assert unlabelled(sign_in("reviewer").get("/sign-in").text) == []


def test_a_nurse_reviewer_is_offered_only_approval_and_a_forged_denial_is_refused(sign_in, backend, case):  # type: ignore[no-untyped-def]
    nurse = sign_in("reviewer", name="rn-lee")
    page = nurse.get(f"/cases/{case}").text
    assert 'value="approved"' in page and 'value="denied"' not in page and 'value="modified"' not in page
    assert "Policy text behind the unmet and unknown criteria" in page and "gte: 15" in page
    form = {"line": "0", "outcome": "denied", "rationale": "low AHI", "criteria": "ahi-15"}
    answer = post_form(nurse, f"/cases/{case}", f"/cases/{case}/determinations", form)
    assert answer.status_code == 403 and "physician" in answer.text
    assert len(backend.log.case(case)) == 1


@pytest.mark.parametrize(
    ("form", "field_id", "message"),
    [
        ({"outcome": "denied"}, "rationale", "Missing data for required field."),
        ({"outcome": "denied", "rationale": "low"}, "criteria", "a denial must cite"),
        ({"outcome": "denied", "rationale": "low", "criteria": "no-such-node"}, "criteria", "no-such-node"),
        (
            {"outcome": "partially_approved", "rationale": "less", "quantity": "1"},
            "quantity",
            "must be less than",
        ),
        ({"outcome": "maybe", "rationale": "x"}, "outcome", "Must be one of"),
    ],
)
def test_a_bad_determination_is_shown_on_its_form_and_writes_nothing(
    sign_in, backend, case, form, field_id, message
):  # type: ignore[no-untyped-def]
    doctor = sign_in("reviewer", physician=True)
    answer = post_form(doctor, f"/cases/{case}", f"/cases/{case}/determinations", {"line": "0", **form})
    assert answer.status_code == 422
    assert message in error_for(answer.text, f"f-{field_id}")
    assert len(backend.log.case(case)) == 1


def test_a_physician_denies_citing_a_criterion_after_claiming(sign_in, backend, case):  # type: ignore[no-untyped-def]
    doctor = sign_in("reviewer", name="dr-ortiz", physician=True)
    assert post_form(doctor, f"/cases/{case}", f"/cases/{case}/claim", {}).status_code == 303
    assert backend.review_store.holder(case) == "dr-ortiz"
    form = {"line": "0", "outcome": "denied", "rationale": "AHI 3", "criteria": "ahi-15"}
    answer = post_form(doctor, f"/cases/{case}", f"/cases/{case}/determinations", form)
    assert answer.status_code == 303
    page = doctor.get(answer.headers["Location"]).text
    assert "denied (A3)" in page and "Claim this case" not in page
    assert backend.log.case(case)[-1].result["criteria"] == ["ahi-15"]


def test_a_case_claimed_by_another_reviewer_says_so(sign_in, case):  # type: ignore[no-untyped-def]
    post_form(sign_in("reviewer", name="rn-a"), f"/cases/{case}", f"/cases/{case}/claim", {})
    other = sign_in("reviewer", name="rn-b")
    answer = post_form(other, f"/cases/{case}", f"/cases/{case}/claim", {})
    assert "claimed by rn-a" in other.get(answer.headers["Location"]).text


def test_an_invalid_policy_lists_its_problems_by_line_and_stores_nothing(sign_in, backend):  # type: ignore[no-untyped-def]
    before = row_count(backend, "policy_versions")
    text = backend.policies.record("cpap-osa", 2).source.replace("version: 2\n", "version: 3\n", 1)
    text = text.replace("          gte: 15\n", "          gte: fifteen\n", 1)
    answer = post_form(sign_in("author"), "/policies/new", "/policies/new", {"yaml": text})
    assert answer.status_code == 422
    line = text.splitlines().index("          gte: fifteen") + 1
    assert f'href="#src-{line}">line {line}</a>' in answer.text and 'class="bad"' in answer.text
    assert row_count(backend, "policy_versions") == before


def test_a_version_out_of_sequence_and_an_empty_form_are_refused(sign_in, backend):  # type: ignore[no-untyped-def]
    author = sign_in("author")
    text = backend.policies.record("cpap-osa", 2).source
    answer = post_form(author, "/policies/new", "/policies/new", {"yaml": text})
    assert answer.status_code == 409 and "the next is 3" in answer.text
    answer = post_form(author, "/policies/new", "/policies/new", {"yaml": "  "})
    assert answer.status_code == 422 and "Paste the policy" in error_for(answer.text, "f-yaml")


def test_a_rejection_needs_a_comment(sign_in, backend):  # type: ignore[no-untyped-def]
    text = backend.policies.record("cpap-osa", 2).source.replace("version: 2\n", "version: 3\n", 1)
    text = text.replace("effective: 2025-01-01", "effective: 2025-07-01")
    post_form(sign_in("author"), "/policies/new", "/policies/new", {"yaml": text})
    cmo = sign_in("cmo")
    answer = post_form(cmo, "/policies/cpap-osa/versions/3", "/policies/cpap-osa/versions/3/reject", {})
    assert answer.status_code == 422 and "Missing data for required field." in answer.text
    assert backend.policies.record("cpap-osa", 3).state == "draft"
    answer = post_form(
        cmo, "/policies/cpap-osa/versions/3", "/policies/cpap-osa/versions/3/reject", {"comment": "no"}
    )
    assert answer.status_code == 303 and backend.policies.record("cpap-osa", 3).state == "rejected"


@pytest.mark.parametrize(
    ("query", "field_id", "message"),
    [
        ("outcome=maybe", "f-outcome", "Must be one of"),
        ("from=yesterday", "f-from", "an ISO date"),
        ("version=2", "f-version", "a version needs a policy"),
        ("code=!!", "f-code", "not a valid CPT or HCPCS code"),
    ],
)
def test_a_bad_log_filter_is_shown_next_to_its_field(sign_in, query, field_id, message):  # type: ignore[no-untyped-def]
    answer = sign_in("auditor").get(f"/decisions?{query}")
    assert answer.status_code == 422 and message in error_for(answer.text, field_id)


def test_the_log_page_finds_a_decision_and_exports_it(sign_in, case):  # type: ignore[no-untyped-def]
    auditor = sign_in("auditor")
    page = auditor.get("/decisions?member_id=M1001").text
    assert case[:8] in page and 'href="/decisions/export?format=csv&amp;member_id=M1001"' in page
    exported = auditor.get("/decisions/export?format=csv&member_id=M1001")
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    assert case in exported.text and "# end: 1 decisions, 1 lines" in exported.text


def test_the_queue_pages_fifty_rows_and_marks_overdue_cases(sign_in, client, token, frozen):  # type: ignore[no-untyped-def]
    submitter = token("submitter", organization="clinic-a")
    for n in range(52):
        submit(client, submitter, clinical_review(f"q-{n}"))
    frozen.advance(days=8)
    reviewer = sign_in("reviewer")
    page = reviewer.get("/queue").text
    assert page.count("<tr class=") == 50 and page.count("⚠</span> Overdue") == 50
    after = re.search(r'href="(/queue\?cursor=[^"]+)" rel="next"', page)
    assert after
    assert reviewer.get(after.group(1).replace("&amp;", "&")).text.count("<tr class=") == 2
    assert reviewer.get("/queue?overdue=maybe").status_code == 422
