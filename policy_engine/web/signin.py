"""Sign-in with an API token, sign-out, and the landing page each role starts from."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from .access import FORM_TYPES, page_for, sign_in, sign_out, signed_in
from .navigation import home_for

bp = Blueprint("signin", __name__)
ALL_ROLES = ("submitter", "reviewer", "author", "cmo", "auditor", "admin")


@bp.route("/", methods=["GET"])
@page_for(*ALL_ROLES)
def home() -> Response | str:
    """Each role starts on its own work; an admin manages tokens with the command line."""
    actor = signed_in()
    endpoint = home_for(actor.role) if actor else None
    if endpoint:
        return redirect(url_for(endpoint))
    return render_template("home.html")


@bp.route("/sign-in", methods=["GET"])
def sign_in_page() -> str:
    return render_template("sign_in.html", next=_safe_next(request.args.get("next")), error=None)


@bp.route("/sign-in", methods=["POST"])
def sign_in_submit() -> Response | tuple[str, int]:
    token = request.form.get("token", "")
    target = _safe_next(request.form.get("next"))
    if not token.strip():
        error = "Enter your access token."
    elif sign_in(token) is None:
        error = "This token is not valid or has been revoked."
    else:
        return redirect(target or url_for("web.signin.home"))
    return render_template("sign_in.html", next=target, error=error), 401


sign_in_submit.accepts = FORM_TYPES  # type: ignore[attr-defined]


@bp.route("/sign-out", methods=["POST"])
def sign_out_submit() -> Response:
    sign_out()
    return redirect(url_for("web.signin.sign_in_page"))


sign_out_submit.accepts = FORM_TYPES  # type: ignore[attr-defined]


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host (``//evil``) or a scheme."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
