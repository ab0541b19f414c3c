from .conftest import post_form


def test_pages_render(sign_in):
    s = sign_in("submitter")
    r = s.get("/requests/new")
    assert r.status_code == 200, r.text
    data = {
        "request_id": "r1",
        "urgency": "standard",
        "member.id": "M1",
        "member.birth_date": "1961-04-02",
        "diagnoses": "G47.33",
        "services[0].code": "E0601",
        "services[0].date_of_service": "2025-03-10",
        "clinical[0].name": "ahi",
        "clinical[0].type": "number",
        "clinical[0].value": "8",
    }
    r = post_form(s, "/requests/new", "/requests/new", data)
    assert r.status_code == 302, r.text
    case = r.headers["Location"]
    r = s.get(case)
    assert r.status_code == 200, r.text
    rv = sign_in("reviewer", physician=True)
    for url in ["/queue", case]:
        r = rv.get(url)
        assert r.status_code == 200, r.text
    a = sign_in("auditor")
    for url in ["/decisions", "/integrity?run=1", "/metrics", "/decisions/export?format=csv", case]:
        r = a.get(url)
        assert r.status_code == 200, (url, r.text)
    c = sign_in("cmo")
    for url in [
        "/policies",
        "/policies/cpap-osa",
        "/policies/cpap-osa/diff",
        "/policies/cpap-osa/versions/2",
        "/policies/cpap-osa/versions/2/impact",
        "/metrics",
    ]:
        r = c.get(url)
        assert r.status_code == 200, (url, r.text)
    au = sign_in("author")
    assert au.get("/policies/new").status_code == 200
