"""The reviewer's queue: pended lines, soonest due first, overdue marked, a page at a time."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from marshmallow import RAISE, ValidationError

from ..api.errors import flatten
from ..api.review_schemas import QueueQuerySchema
from .access import page_for

bp = Blueprint("queue", __name__)
PAGE = 50
FILTERS = ("reason", "urgency", "overdue", "assigned")


@bp.route("/queue", methods=["GET"])
@page_for("reviewer")
def queue() -> tuple[str, int] | str:
    """The same query and service as ``GET /api/v1/authorizations?status=pended``."""
    given = {name: request.args[name] for name in (*FILTERS, "cursor") if request.args.get(name)}
    try:
        query = QueueQuerySchema().load({"status": "pended", "limit": PAGE, **given}, unknown=RAISE)
    except ValidationError as invalid:
        return _render({"items": [], "next_cursor": None}, given, flatten(invalid.messages)), 422
    page = current_app.extensions["policy_engine"].review_queue.pending(query)
    return _render(page, given, {})


def _render(page: dict[str, Any], given: dict[str, str], errors: dict[str, list[str]]) -> str:
    filters = {name: value for name, value in given.items() if name != "cursor"}
    return render_template(
        "queue.html", page=page, values=given, filters=filters, errors=errors, first=not given.get("cursor")
    )
