"""The submitter's page: an authorization request form; the decision is shown at once."""

from __future__ import annotations

import uuid

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..api.schemas import AuthorizationRequestSchema
from ..errors import RequestConflict, RequestInvalid
from .access import actor, page_for
from .request_form import FACT_TYPES, read_request, row_count, schema_errors, service_errors

bp = Blueprint("submit", __name__)


@bp.route("/requests/new", methods=["GET"])
@page_for("submitter")
def form() -> str:
    values = {"request_id": f"web-{uuid.uuid4()}", "urgency": "standard", "clinical[0].type": "number"}
    return _render(values, {}, services=1, facts=3)


@bp.route("/requests/new", methods=["POST"])
@page_for("submitter")
def submit() -> Response | tuple[str, int] | str:
    """Validate as the API does, submit through the same service, then show the decision."""
    services, facts = row_count(request.form, "services"), row_count(request.form, "clinical", 3)
    adding = request.form.get("action")
    if adding in ("add_service", "add_fact"):
        services += adding == "add_service"
        facts += adding == "add_fact"
        return _render(request.form, {}, services, facts)
    body, errors = read_request(request.form)
    errors = {**schema_errors(AuthorizationRequestSchema().validate(body)), **errors}
    if errors:
        return _render(request.form, errors, services, facts), 422
    try:
        decision, _ = current_app.extensions["policy_engine"].authorizations.submit(body, actor())
    except RequestInvalid as invalid:
        return _render(request.form, service_errors(invalid.errors, request.form), services, facts), 422
    except RequestConflict as conflict:
        return _render(request.form, {"request_id": [conflict.message]}, services, facts), 409
    return redirect(url_for("web.cases.case", decision_id=decision["decision_id"], submitted=1))


def _render(values: object, errors: dict[str, list[str]], services: int, facts: int) -> str:
    return render_template(
        "submit.html", values=values, errors=errors, services=services, facts=facts, fact_types=FACT_TYPES
    )
