"""``/api/v1/authorizations``: submit a request, read a case."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint

from ..services.authorizations import case_view
from .auth import current_actor, requires
from .openapi import errors
from .schemas import AuthorizationRequestSchema, DecisionSchema

blp = Blueprint(
    "authorizations", __name__, url_prefix="/api/v1/authorizations", description="Authorization requests"
)


@blp.route("", methods=["POST"])
@requires("submitter")
@errors(409)
@blp.arguments(AuthorizationRequestSchema(), description="An authorization request")
@blp.response(201, DecisionSchema, description="Evaluated and recorded")
@blp.alt_response(
    200, schema=DecisionSchema, description="A retry: the decision already recorded for this request_id"
)
def submit(_validated: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Evaluate every service line and record the decision before answering."""
    decision, created = current_app.extensions["policy_engine"].authorizations.submit(
        request.get_json(), current_actor()
    )
    return decision, 201 if created else 200


@blp.route("/<decision_id>", methods=["GET"])
@requires("submitter", "reviewer", "auditor", "cmo")
@errors(404)
@blp.response(200, DecisionSchema)
def read(decision_id: str) -> dict[str, Any]:
    """A decision with its trace and every later determination; the read is recorded."""
    entries = current_app.extensions["policy_engine"].authorizations.read(decision_id, current_actor())
    return case_view(entries)
