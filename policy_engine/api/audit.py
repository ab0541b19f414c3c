"""Auditors' endpoints: check the log's hash chain, replay a recorded decision."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from .auth import current_actor, requires
from .openapi import errors
from .schemas import ReplaySchema, VerifyQuerySchema, VerifySchema

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Audit")


@blp.route("/audit/verify", methods=["GET"])
@requires("auditor")
@blp.arguments(VerifyQuerySchema, location="query")
@blp.response(200, VerifySchema)
def verify(query: dict[str, Any]) -> dict[str, Any]:
    """Walk the decision log's hash chain; name the first entry missing, altered or out of place."""
    anchor = None
    if "anchor" in query:
        seq, _, digest = query["anchor"].partition(":")
        anchor = (int(seq), digest)
    return current_app.extensions["policy_engine"].audit.verify(anchor)


@blp.route("/decisions/<decision_id>/replay", methods=["POST"])
@requires("auditor")
@errors(404)
@blp.response(200, ReplaySchema)
def replay(decision_id: str) -> dict[str, Any]:
    """Re-evaluate a recorded request with the recorded policy versions; report any difference."""
    return current_app.extensions["policy_engine"].audit.replay(decision_id, current_actor())
