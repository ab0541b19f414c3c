"""``/api/v1/policies``: versions, drafts, CMO decisions, history, diffs and impact."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, abort, current_app, request
from flask_smorest import Blueprint

from ..diff import diff_policies, render_text
from .auth import current_actor, requires
from .content import YAML, accepts
from .openapi import errors
from .schemas import (
    ApproveSchema,
    DiffQuerySchema,
    ImpactRequestSchema,
    ImpactSchema,
    PolicyHistorySchema,
    PolicySummarySchema,
    PolicyVersionSourceSchema,
    RejectSchema,
    RetireSchema,
)

blp = Blueprint("policies", __name__, url_prefix="/api/v1/policies", description="Policy versions and review")
ANY_ROLE = ("submitter", "reviewer", "author", "cmo", "auditor", "admin")


def _review() -> Any:
    return current_app.extensions["policy_engine"].review


@blp.route("", methods=["GET"])
@requires(*ANY_ROLE)
@blp.response(200, PolicySummarySchema(many=True))
def list_policies() -> list[dict[str, Any]]:
    """Every policy with its current approved version and open drafts."""
    return _review().policies()


@blp.route("", methods=["POST"])
@requires("author")
@errors(409, 422)
@accepts(*YAML)
@blp.doc(requestBody={"required": True, "content": {"application/yaml": {"schema": {"type": "string"}}}})
@blp.response(201, PolicyVersionSourceSchema, description="Stored as a draft")
def submit() -> dict[str, Any]:
    """Submit a new version (YAML); it must validate and be the policy's next version."""
    try:
        text = request.get_data().decode("utf-8")
    except UnicodeDecodeError:
        abort(400, description="the policy must be UTF-8 text")
    return _review().submit(text, current_actor())


@blp.route("/<policy_id>", methods=["GET"])
@requires(*ANY_ROLE)
@errors(404)
@blp.response(200, PolicyHistorySchema)
def history(policy_id: str) -> dict[str, Any]:
    """Every version with its state, author, approver and period, and every transition."""
    return _review().history(policy_id)


@blp.route("/<policy_id>/versions/<version:version>", methods=["GET"])
@requires(*ANY_ROLE)
@errors(404)
@blp.response(200, PolicyVersionSourceSchema)
def version(policy_id: str, version: int) -> dict[str, Any]:
    """One version: its YAML as submitted and its metadata."""
    return _review().version(policy_id, version)


@blp.route("/<policy_id>/versions/<version:version>/approve", methods=["POST"])
@requires("cmo")
@errors(404, 409)
@blp.arguments(ApproveSchema)
@blp.response(200, PolicyVersionSourceSchema)
def approve(body: dict[str, Any], policy_id: str, version: int) -> dict[str, Any]:
    """Approve a draft; it governs from its effective date, ending its predecessor's period."""
    return _review().approve(policy_id, version, current_actor(), body.get("comment"))


@blp.route("/<policy_id>/versions/<version:version>/reject", methods=["POST"])
@requires("cmo")
@errors(404, 409)
@blp.arguments(RejectSchema)
@blp.response(200, PolicyVersionSourceSchema)
def reject(body: dict[str, Any], policy_id: str, version: int) -> dict[str, Any]:
    """Turn a draft down, saying why."""
    return _review().reject(policy_id, version, current_actor(), body["comment"])


@blp.route("/<policy_id>/retire", methods=["POST"])
@requires("cmo")
@errors(404, 409)
@blp.arguments(RetireSchema)
@blp.response(200, PolicyHistorySchema)
def retire(body: dict[str, Any], policy_id: str) -> dict[str, Any]:
    """End a policy: no date of service after ``last_day`` is judged by it."""
    return _review().retire(policy_id, current_actor(), body["comment"], body.get("last_day"))


@blp.route("/<policy_id>/diff", methods=["GET"])
@requires("author", "cmo")
@errors(404)
@blp.arguments(DiffQuerySchema, location="query")
@blp.response(200, description="The structural diff, as JSON or (format=text) as text")
def diff(query: dict[str, Any], policy_id: str) -> Any:
    """What changed between two versions, each change classified more or less restrictive."""
    old, new = _review().pair(policy_id, query["from_"], query["to"])
    changes = diff_policies(old, new)
    if query["format"] == "text":
        return Response(render_text(changes), mimetype="text/plain")
    return changes.as_dict()


@blp.route("/<policy_id>/versions/<version:version>/impact", methods=["POST"])
@requires("author", "cmo")
@errors(404)
@blp.arguments(ImpactRequestSchema)
@blp.response(200, ImpactSchema)
def impact(body: dict[str, Any], policy_id: str, version: int) -> dict[str, Any]:
    """Which recorded decisions of a period this version would have changed, and why."""
    start = _day_start(body.get("from_"))
    end = _day_start(body.get("to"))
    end = end + dt.timedelta(days=1) - dt.timedelta(microseconds=1) if end else None
    return _review().impact(policy_id, version, start, end, body["limit"])


def _day_start(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(day, dt.time(), dt.UTC) if day else None
