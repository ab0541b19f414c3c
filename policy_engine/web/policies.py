"""Policy pages for authors and the CMO: versions, diffs, impact, new drafts, approval."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from ..api.errors import flatten
from ..api.schemas import ApproveSchema, DiffQuerySchema, ImpactRequestSchema, RejectSchema
from ..diff import LESS, MORE, diff_policies
from ..errors import PolicyConflict, PolicyInvalid
from .access import actor, page_for
from .side_by_side import aligned

bp = Blueprint("policies", __name__)
READERS = ("author", "cmo")


def _review() -> Any:
    return current_app.extensions["policy_engine"].review


@bp.route("/policies", methods=["GET"])
@page_for(*READERS)
def listing() -> str:
    return render_template("policies.html", policies=_review().policies())


@bp.route("/policies/<policy_id>", methods=["GET"])
@page_for(*READERS)
def history(policy_id: str) -> str:
    return render_template("policy_history.html", history=_review().history(policy_id))


@bp.route("/policies/<policy_id>/versions/<version:version>", methods=["GET"])
@page_for(*READERS)
def version(policy_id: str, version: int) -> str:
    return _version_page(policy_id, version, {}, {})


@bp.route("/policies/<policy_id>/diff", methods=["GET"])
@page_for(*READERS)
def diff(policy_id: str) -> tuple[str, int] | str:
    """The structural diff, beside the two sources with each classified change on its line."""
    history = _review().history(policy_id)
    given = {name: request.args[name] for name in ("from", "to") if request.args.get(name)} or _latest_pair(
        history
    )
    try:
        query = DiffQuerySchema().load(given)
    except ValidationError as invalid:
        page = render_template(
            "policy_diff.html", history=history, values=given, errors=flatten(invalid.messages)
        )
        return page, 422
    old, new = _review().pair(policy_id, query["from_"], query["to"])
    changes = diff_policies(old, new)
    return render_template(
        "policy_diff.html",
        history=history,
        values=given,
        errors={},
        changes=changes,
        rows=aligned(changes),
        more=MORE,
        less=LESS,
    )


@bp.route("/policies/<policy_id>/versions/<version:version>/impact", methods=["GET"])
@page_for(*READERS)
def impact(policy_id: str, version: int) -> tuple[str, int] | str:
    """Recorded decisions replayed as if this version had governed them; nothing is written."""
    meta = _review().version(policy_id, version)
    given = {name: request.args[name] for name in ("from", "to") if request.args.get(name)}
    try:
        query = ImpactRequestSchema().load(given)
    except ValidationError as invalid:
        errors = flatten(invalid.messages)
        return render_template("policy_impact.html", meta=meta, values=given, errors=errors, report=None), 422
    start = _day(query.get("from_"))
    end = _day(query.get("to"))
    end = end + dt.timedelta(days=1) - dt.timedelta(microseconds=1) if end else None
    report = _review().impact(policy_id, version, start, end, query["limit"])
    return render_template("policy_impact.html", meta=meta, values=given, errors={}, report=report)


@bp.route("/policies/new", methods=["GET"])
@page_for("author")
def new_version() -> str:
    return render_template("policy_new.html", values={}, problems=[], errors={}, numbered=[])


@bp.route("/policies/new", methods=["POST"])
@page_for("author")
def submit_version() -> Response | tuple[str, int]:
    """Validate and store a draft through the same service as ``POST /api/v1/policies``."""
    upload = request.files.get("file")
    text = request.form.get("yaml", "")
    if upload is not None and upload.filename:
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            return _new_page(text, errors={"file": ["The file must be UTF-8 text."]}), 422
    if not text.strip():
        return _new_page(text, errors={"yaml": ["Paste the policy's YAML or choose a file."]}), 422
    try:
        stored = _review().submit(text, actor())
    except PolicyInvalid as invalid:
        return _new_page(text, problems=invalid.problems), 422
    except PolicyConflict as conflict:
        return _new_page(text, errors={"yaml": [str(conflict)]}), 409
    flash(f"{stored['policy']} version {stored['version']} is stored as a draft for the CMO.", "ok")
    return redirect(
        url_for("web.policies.version", policy_id=stored["policy"], version=stored["version"]), 303
    )


@bp.route("/policies/<policy_id>/versions/<version:version>/approve", methods=["POST"])
@page_for("cmo")
def approve(policy_id: str, version: int) -> Response | tuple[str, int]:
    body = _comment()
    try:
        loaded = ApproveSchema().load(body)
    except ValidationError as invalid:
        return _version_page(policy_id, version, {"approve": flatten(invalid.messages)}, body), 422
    _review().approve(policy_id, version, actor(), loaded.get("comment"))
    flash(f"{policy_id} version {version} is approved.", "ok")
    return redirect(url_for("web.policies.history", policy_id=policy_id), 303)


@bp.route("/policies/<policy_id>/versions/<version:version>/reject", methods=["POST"])
@page_for("cmo")
def reject(policy_id: str, version: int) -> Response | tuple[str, int]:
    body = _comment()
    try:
        loaded = RejectSchema().load(body)
    except ValidationError as invalid:
        return _version_page(policy_id, version, {"reject": flatten(invalid.messages)}, body), 422
    _review().reject(policy_id, version, actor(), loaded["comment"])
    flash(f"{policy_id} version {version} is rejected.", "ok")
    return redirect(url_for("web.policies.history", policy_id=policy_id), 303)


def _latest_pair(history: dict[str, Any]) -> dict[str, str]:
    """By default: the newest version against the approved version before it."""
    numbers = [v["version"] for v in history["versions"]]
    if len(numbers) < 2:
        return {}
    newest = numbers[-1]
    approved = [v["version"] for v in history["versions"] if v["state"] != "draft" and v["version"] < newest]
    return {"from": str(approved[-1] if approved else numbers[-2]), "to": str(newest)}


def _comment() -> dict[str, str]:
    comment = (request.form.get("comment") or "").strip()
    return {"comment": comment} if comment else {}


def _version_page(policy_id: str, version: int, errors: dict[str, Any], values: dict[str, str]) -> str:
    meta = _review().version(policy_id, version)
    history = _review().history(policy_id)
    approved = [v["version"] for v in history["versions"] if v["state"] in ("approved", "superseded")]
    compare = max((v for v in approved if v < version), default=None)
    return render_template("policy_version.html", meta=meta, compare=compare, errors=errors, values=values)


def _new_page(
    text: str, problems: list[Any] | None = None, errors: dict[str, list[str]] | None = None
) -> str:
    problems = problems or []
    marked = {problem.line for problem in problems}
    numbered = [(n, line, n in marked) for n, line in enumerate(text.splitlines(), 1)] if problems else []
    return render_template(
        "policy_new.html", values={"yaml": text}, problems=problems, errors=errors or {}, numbered=numbered
    )


def _day(day: dt.date | None) -> dt.datetime | None:
    return dt.datetime.combine(day, dt.time(), dt.UTC) if day else None
