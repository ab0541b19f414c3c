"""``/healthz``: the process answers and the database is reachable."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from .schemas import HealthSchema

blp = Blueprint("health", __name__, description="Liveness")


@blp.route("/healthz", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="The database is not reachable")
def healthz() -> Any:
    """Liveness and database reachability; needs no token."""
    try:
        current_app.extensions["policy_engine"].database.ping()
    except Exception:  # any failure to reach it is an unhealthy database
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}
