"""``/api/v1/metrics``: the CMS-0057-F figures and review figures for a period, as JSON or CSV."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, current_app
from flask_smorest import Blueprint
from marshmallow import RAISE

from ..services.metrics import as_csv
from .auth import requires
from .review_schemas import MetricsQuerySchema

blp = Blueprint("metrics", __name__, url_prefix="/api/v1", description="Metrics")


@blp.route("/metrics", methods=["GET"])
@requires("cmo", "auditor")
@blp.arguments(MetricsQuerySchema, location="query", unknown=RAISE)
@blp.response(200, description="Figures per urgency and per policy and urgency")
def metrics(query: dict[str, Any]) -> Any:
    """Approval, denial, appeal and extension rates, time to determination, pend aging, overdue."""
    start = dt.datetime.combine(query["from_"], dt.time(), dt.UTC)
    end = dt.datetime.combine(query["to"], dt.time.max, dt.UTC)
    report = current_app.extensions["policy_engine"].metrics.report(start, end)
    if query["format"] == "csv":
        return Response(as_csv(report), mimetype="text/csv")
    return report
