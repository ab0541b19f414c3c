"""Auditors' reading of the log: ``/decisions`` search and export, ``/audit/access``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, current_app
from flask_smorest import Blueprint
from marshmallow import RAISE

from .audit_schemas import (
    AccessPageSchema,
    AccessQuerySchema,
    DecisionExportQuerySchema,
    DecisionPageSchema,
    DecisionSearchQuerySchema,
)
from .auth import current_actor, requires

blp = Blueprint("decisions", __name__, url_prefix="/api/v1", description="Decision log search")

_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson; charset=utf-8"}


@blp.route("/decisions", methods=["GET"])
@requires("auditor")
@blp.arguments(DecisionSearchQuerySchema, location="query", unknown=RAISE)
@blp.response(200, DecisionPageSchema)
def search(query: dict[str, Any]) -> dict[str, Any]:
    """A page of recorded decisions matching the filters; follow ``next_cursor`` for the next."""
    return current_app.extensions["policy_engine"].search.search(query, current_actor())


@blp.route("/decisions/export", methods=["GET"])
@requires("auditor")
@blp.arguments(DecisionExportQuerySchema, location="query", unknown=RAISE)
@blp.response(200, content_type="text/csv", description="CSV (one row per line) or NDJSON, streamed")
def export(query: dict[str, Any]) -> Response:
    """Every matching decision, streamed; the file names its filters and time, and ends with a count."""
    fmt = query.pop("format")
    now = dt.datetime.now(dt.UTC)
    chunks = current_app.extensions["policy_engine"].search.export(query, fmt, current_actor(), now)
    name = f"decisions-{now:%Y%m%dT%H%M%SZ}.{fmt}"
    return Response(
        chunks, content_type=_TYPES[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@blp.route("/audit/access", methods=["GET"])
@requires("auditor")
@blp.arguments(AccessQuerySchema, location="query", unknown=RAISE)
@blp.response(200, AccessPageSchema)
def access(query: dict[str, Any]) -> dict[str, Any]:
    """Who read which decision (and so which member's record), when and how."""
    return current_app.extensions["policy_engine"].search.access(query)
