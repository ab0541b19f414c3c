"""A case page: the request, each line's determination and criteria tree, and the reviewer's actions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from .. import clock
from ..api.errors import flatten
from ..api.review_schemas import DeterminationSchema
from ..errors import Conflict, RequestInvalid
from ..services.authorizations import case_view
from ..services.case_state import ADVERSE, latest_request
from ..services.determination_rules import trace_nodes
from ..services.review_queue import queue_items
from .access import actor, page_for

bp = Blueprint("cases", __name__)
OUTCOMES = (
    ("approved", "Approve"),
    ("partially_approved", "Partially approve (smaller quantity or shorter period)"),
    ("modified", "Modify (say what)"),
    ("denied", "Deny"),
)


def _backend() -> Any:
    return current_app.extensions["policy_engine"]


@bp.route("/cases/<decision_id>", methods=["GET"])
@page_for("submitter", "reviewer", "cmo", "auditor")
def case(decision_id: str) -> str:
    return _render(decision_id)


@bp.route("/cases/<decision_id>/claim", methods=["POST"])
@page_for("reviewer")
def claim(decision_id: str) -> Response:
    try:
        _backend().review_queue.claim(decision_id, actor())
        flash("You have claimed this case.", "ok")
    except Conflict as conflict:
        flash(conflict.message, "problem")
    return redirect(url_for("web.cases.case", decision_id=decision_id), 303)


@bp.route("/cases/<decision_id>/release", methods=["POST"])
@page_for("reviewer")
def release(decision_id: str) -> Response:
    try:
        _backend().review_queue.release(decision_id, actor())
        flash("The case is back in the queue.", "ok")
    except Conflict as conflict:
        flash(conflict.message, "problem")
    return redirect(url_for("web.cases.case", decision_id=decision_id), 303)


@bp.route("/cases/<decision_id>/determinations", methods=["POST"])
@page_for("reviewer")
def determine(decision_id: str) -> Response | tuple[str, int]:
    """Record a determination through the review service; its rules (physicians only for adverse) apply."""
    raw = determination_body(request.form)
    try:
        body = DeterminationSchema().load(raw)
        case = _backend().clinical_review.determine(decision_id, body, actor())
    except ValidationError as invalid:
        return _render(decision_id, raw.get("line"), flatten(invalid.messages)), 422
    except RequestInvalid as invalid:
        return _render(decision_id, raw.get("line"), invalid.errors), 422
    except Conflict as conflict:
        flash(conflict.message, "problem")
        return redirect(url_for("web.cases.case", decision_id=decision_id), 303)
    line = case["lines"][body["line"]]
    outcome = line["outcome"].replace("_", " ")
    flash(f"Line {body['line'] + 1} ({line['code']}): {outcome} ({line['x12_action']}).", "ok")
    return redirect(url_for("web.cases.case", decision_id=decision_id), 303)


def determination_body(form: Any) -> dict[str, Any]:
    """The form as the API's determination body: empty fields left out, numbers as numbers."""
    body: dict[str, Any] = {}
    for name in ("line", "quantity"):
        text = (form.get(name) or "").strip()
        if text:
            body[name] = int(text) if text.isdigit() else text
    for name in ("outcome", "rationale", "valid_to", "modification"):
        text = (form.get(name) or "").strip()
        if text:
            body[name] = text
    criteria = [value for value in form.getlist("criteria") if value]
    if criteria:
        body["criteria"] = criteria
    return body


def _render(decision_id: str, error_line: Any = None, errors: dict[str, list[str]] | None = None) -> str:
    backend, who = _backend(), actor()
    entries = backend.authorizations.read(decision_id, who)
    view = case_view(entries)
    reviewing = who.role == "reviewer"
    holder = backend.review_store.holder(view["decision_id"]) if reviewing else None
    pended = {item["line"]: item for item in queue_items(entries, clock.now(), holder)}
    lines = []
    for line in view["lines"]:
        extra: dict[str, Any] = {
            "references": backend.policy_text.references(line),
            "queue": pended.get(line["index"]),
        }
        if reviewing and line["outcome"] == "pended":
            extra["behind"] = backend.policy_text.behind(line)
            extra["choices"] = _choices(line)
        lines.append({"line": line, **extra})
    allowed = [o for o in OUTCOMES if o[0] not in ADVERSE or who.physician]
    return render_template(
        "case.html",
        case=view,
        request_body=latest_request(entries),
        lines=lines,
        reviewing=reviewing,
        holder=holder,
        outcomes=allowed,
        error_line=error_line,
        errors=errors or {},
        values=request.form if errors else {},
        submitted=request.args.get("submitted") == "1",
    )


def _choices(line: dict[str, Any]) -> list[dict[str, str]]:
    """The trace's nodes a determination may cite, unmet and unknown first."""
    statuses: dict[str, tuple[str, str]] = {}

    def visit(node: dict[str, Any]) -> None:
        statuses.setdefault(node["id"], (node["status"], node.get("text") or node.get("kind", "")))
        if node.get("applies_when"):
            visit(node["applies_when"])
        for child in node.get("children", ()):
            visit(child)

    for result in line["policies"]:
        for root in [
            result.get("applies_when"),
            *result["coverage"],
            *result["documentation"],
            result.get("criteria"),
        ]:
            if root:
                visit(root)
    rank = {"not_met": 0, "unknown": 1, "met": 2, "not_applicable": 3}
    nodes = [{"id": i, "status": s, "text": t} for i, (s, t) in statuses.items() if i in trace_nodes(line)]
    return sorted(nodes, key=lambda node: rank.get(node["status"], 4))
