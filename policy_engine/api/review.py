"""``/api/v1/authorizations``: the review queue, claims, determinations, information, appeals."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import RAISE

from .auth import current_actor, requires
from .openapi import errors
from .review_schemas import (
    AppealSchema,
    ClaimSchema,
    DeterminationSchema,
    ExtensionSchema,
    InformationSchema,
    QueueQuerySchema,
    QueueSchema,
)
from .schemas import DecisionSchema

blp = Blueprint("review", __name__, url_prefix="/api/v1/authorizations", description="Clinical review")


def _backend() -> Any:
    return current_app.extensions["policy_engine"]


@blp.route("", methods=["GET"])
@requires("reviewer")
@blp.arguments(QueueQuerySchema, location="query", unknown=RAISE)
@blp.response(200, QueueSchema)
def queue(query: dict[str, Any]) -> dict[str, Any]:
    """Pended lines, the soonest due first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    return _backend().review_queue.pending(query)


@blp.route("/<decision_id>/claim", methods=["POST"])
@requires("reviewer")
@errors(404, 409)
@blp.response(200, ClaimSchema)
def claim(decision_id: str) -> dict[str, Any]:
    """Take a pended case for review; 409 if another reviewer holds it."""
    return _backend().review_queue.claim(decision_id, current_actor())


@blp.route("/<decision_id>/claim", methods=["DELETE"])
@requires("reviewer")
@errors(404, 409)
@blp.response(204)
def release(decision_id: str) -> None:
    """Give a case back to the queue; only the reviewer holding it may."""
    _backend().review_queue.release(decision_id, current_actor())


@blp.route("/<decision_id>/determinations", methods=["POST"])
@requires("reviewer")
@errors(404, 409)
@blp.arguments(DeterminationSchema)
@blp.response(201, DecisionSchema, description="Recorded; the case as it now stands")
def determine(body: dict[str, Any], decision_id: str) -> dict[str, Any]:
    """Approve, partially approve, modify or deny a pended line; only a physician may be adverse."""
    return _backend().clinical_review.determine(decision_id, body, current_actor())


@blp.route("/<decision_id>/information", methods=["POST"])
@requires("submitter")
@errors(404, 409)
@blp.arguments(InformationSchema)
@blp.response(201, DecisionSchema, description="Recorded; the case as it now stands")
def information(body: dict[str, Any], decision_id: str) -> dict[str, Any]:
    """Send what a missing-information pend asked for; the engine judges the updated request."""
    return _backend().clinical_review.add_information(decision_id, _json(body), current_actor())


@blp.route("/<decision_id>/extension", methods=["POST"])
@requires("reviewer")
@errors(404, 409)
@blp.arguments(ExtensionSchema)
@blp.response(201, DecisionSchema, description="Recorded; the case as it now stands")
def extend(body: dict[str, Any], decision_id: str) -> dict[str, Any]:
    """Extend the case's review deadline, once, saying why."""
    return _backend().clinical_review.extend(decision_id, body, current_actor())


@blp.route("/<decision_id>/appeals", methods=["POST"])
@requires("submitter")
@errors(404, 409)
@blp.arguments(AppealSchema)
@blp.response(201, DecisionSchema, description="Recorded; the lines are pended for reconsideration")
def appeal(body: dict[str, Any], decision_id: str) -> dict[str, Any]:
    """Appeal adverse determinations; another physician reconsiders them."""
    return _backend().clinical_review.appeal(decision_id, body, current_actor())


def _json(body: dict[str, Any]) -> dict[str, Any]:
    """History dates back to ISO text, as the request was recorded."""
    if "history" in body:
        body = {
            **body,
            "history": [
                {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in item.items()}
                for item in body["history"]
            ],
        }
    return body
