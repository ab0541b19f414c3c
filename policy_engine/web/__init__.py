"""Server-rendered pages for nurses, reviewers, authors, the CMO and auditors.

Every page calls the same services as the JSON API; no rule is implemented here twice.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from ..errors import Conflict, Forbidden, NotFound, PolicyConflict, ServiceError
from ..logs import log_unexpected
from ..storage.database import UNAVAILABLE
from . import audit, cases, charts, policies, queue, signin, submit
from .access import check_csrf, csrf_token, install, signed_in
from .navigation import items_for

log = logging.getLogger(__name__)
_STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409}
_TITLES = {
    400: "The form could not be accepted",
    403: "This page is not for your role",
    404: "Not found",
    405: "Not allowed",
    409: "That could not be done now",
    413: "Too large",
    422: "Some values are not valid",
    503: "Unavailable",
}


def register(app: Flask) -> None:
    """Mount the pages at ``/`` with their error pages, assets and CSRF check."""
    install(app)
    web = Blueprint(
        "web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets"
    )
    for child in (signin.bp, submit.bp, queue.bp, cases.bp, policies.bp, audit.bp):
        web.register_blueprint(child)
    web.before_request(_before)
    web.context_processor(_context)
    web.register_error_handler(HTTPException, _http_error)
    web.register_error_handler(ServiceError, _service_error)
    web.register_error_handler(PolicyConflict, _policy_conflict)
    for kind in UNAVAILABLE:
        web.register_error_handler(kind, _unavailable)
    web.register_error_handler(Exception, _unexpected)
    app.register_blueprint(web)
    for helper in (
        charts.chart_rows,
        charts.impact_bars,
        charts.pend_bars,
        charts.policy_bars,
        charts.option_pairs,
    ):
        app.jinja_env.globals[helper.__name__] = helper


def _before() -> Any:
    if not current_app.secret_key:
        return error_page(503, "Sign-in is not configured: set POLICY_ENGINE_SECRET_KEY.")
    check_csrf()
    return None


def _context() -> dict[str, Any]:
    actor = signed_in() if current_app.secret_key else None
    return {
        "current_actor": actor,
        "navigation": items_for(actor.role) if actor else [],
        "csrf_token": csrf_token,
    }


def error_page(status: int, message: str) -> tuple[str, int]:
    title = _TITLES.get(status, "Something went wrong")
    return render_template("error.html", status=status, title=title, message=message), status


def _http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    return error_page(status, error.description or error.name)


def _service_error(error: ServiceError) -> tuple[str, int]:
    return error_page(_STATUS.get(type(error), 422), error.message)


def _policy_conflict(error: PolicyConflict) -> tuple[str, int]:
    return error_page(409, str(error))


def _unavailable(error: Exception) -> tuple[str, int]:
    log.error("database unavailable: %s", type(error).__name__)
    return error_page(503, "The database is unavailable; try again shortly.")


def _unexpected(error: Exception) -> tuple[str, int]:
    log_unexpected(log, error, request.path)
    return error_page(500, "An unexpected error occurred; it has been logged.")
