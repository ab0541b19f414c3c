"""Which body types a view accepts: JSON unless it says otherwise; anything else is a 415."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, current_app, request

JSON = ("application/json",)
YAML = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def accepts(*mimetypes: str) -> Callable:
    def mark(view: Callable) -> Callable:
        view.accepts = mimetypes  # type: ignore[attr-defined]
        return view

    return mark


def require_accepted_body() -> None:
    """A POST with a body must declare a type its view reads, before anything parses it."""
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "")
    if request.method != "POST" or not (request.content_length or chunked):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    allowed = getattr(view, "accepts", JSON)
    if request.mimetype not in allowed:
        abort(415, description=f"the body must be {' or '.join(allowed)}")
