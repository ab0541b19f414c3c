"""Auditors' pages: search the decision log, export it, check its integrity; metrics for the CMO too."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from marshmallow import RAISE, ValidationError

from ..api.audit_schemas import (
    OUTCOMES,
    REASONS,
    X12_ACTIONS,
    DecisionExportQuerySchema,
    DecisionSearchQuerySchema,
)
from ..api.errors import flatten
from ..api.review_schemas import MetricsQuerySchema
from ..services.decision_search import FILTERS
from ..services.metrics import AGE_BUCKETS, URGENCIES, as_csv
from .access import actor, page_for

bp = Blueprint("audit", __name__)
PAGE = 50
_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson; charset=utf-8"}


def _backend() -> Any:
    return current_app.extensions["policy_engine"]


@bp.route("/decisions", methods=["GET"])
@page_for("auditor")
def decisions() -> tuple[str, int] | str:
    """The same search as ``GET /api/v1/decisions``; every decision shown is recorded as read."""
    given = _given((*FILTERS, "cursor", "order"))
    try:
        query = DecisionSearchQuerySchema().load({**given, "limit": PAGE}, unknown=RAISE)
    except ValidationError as invalid:
        return _decisions_page(None, given, flatten(invalid.messages)), 422
    return _decisions_page(_backend().search.search(query, actor()), given, {})


@bp.route("/decisions/export", methods=["GET"])
@page_for("auditor")
def export() -> Response | tuple[str, int]:
    """Every match as CSV or NDJSON, streamed from one snapshot, as ``/api/v1/decisions/export``."""
    given = _given((*FILTERS, "format"))
    try:
        query = DecisionExportQuerySchema().load(given, unknown=RAISE)
    except ValidationError as invalid:
        return _decisions_page(None, given, flatten(invalid.messages)), 422
    fmt = query.pop("format")
    now = dt.datetime.now(dt.UTC)
    chunks = _backend().search.export(query, fmt, actor(), now)
    name = f"decisions-{now:%Y%m%dT%H%M%SZ}.{fmt}"
    return Response(
        chunks, content_type=_TYPES[fmt], headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.route("/integrity", methods=["GET"])
@page_for("auditor")
def integrity() -> str:
    """The hash chain walked on request (it reads the whole log), with the head to keep elsewhere."""
    report = _backend().audit.verify() if request.args.get("run") == "1" else None
    return render_template("integrity.html", report=report)


@bp.route("/metrics", methods=["GET"])
@page_for("cmo", "auditor")
def metrics() -> tuple[str, int] | str:
    given = _metrics_period()
    query = _metrics_query(given)
    if not isinstance(query, dict):
        return query
    report = _backend().metrics.report(*_period(query))
    return render_template(
        "metrics.html", values=given, errors={}, report=report, urgencies=URGENCIES, buckets=AGE_BUCKETS
    )


@bp.route("/metrics.csv", methods=["GET"])
@page_for("cmo", "auditor")
def metrics_csv() -> Response | tuple[str, int]:
    query = _metrics_query(_metrics_period())
    if not isinstance(query, dict):
        return query
    text = as_csv(_backend().metrics.report(*_period(query)))
    name = f"metrics-{query['from_']}-{query['to']}.csv"
    return Response(
        text, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _given(names: tuple[str, ...]) -> dict[str, str]:
    return {name: request.args[name] for name in names if request.args.get(name)}


def _metrics_query(given: dict[str, str]) -> dict[str, Any] | tuple[str, int]:
    """The period asked for, loaded by the API's schema; or the metrics page with its errors."""
    try:
        return MetricsQuerySchema().load(given, unknown=RAISE)
    except ValidationError as invalid:
        page = render_template("metrics.html", values=given, errors=flatten(invalid.messages), report=None)
        return page, 422


def _metrics_period() -> dict[str, str]:
    """The period asked for; the last 30 days (UTC) by default."""
    today = dt.datetime.now(dt.UTC).date()
    given = _given(("from", "to"))
    given.setdefault("from", (today - dt.timedelta(days=29)).isoformat())
    given.setdefault("to", today.isoformat())
    return given


def _period(query: dict[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(query["from_"], dt.time(), dt.UTC)
    return start, dt.datetime.combine(query["to"], dt.time.max, dt.UTC)


def _decisions_page(page: dict[str, Any] | None, given: dict[str, str], errors: dict[str, list[str]]) -> str:
    filters = {name: value for name, value in given.items() if name in FILTERS or name == "order"}
    exportable = {name: value for name, value in given.items() if name in FILTERS}
    return render_template(
        "decisions.html",
        page=page,
        values=given,
        errors=errors,
        filters=filters,
        exportable=exportable,
        outcomes=OUTCOMES,
        reasons=REASONS,
        actions=X12_ACTIONS,
    )
