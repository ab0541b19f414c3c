"""Which body types a view accepts: JSON unless it says otherwise; anything else is a 415."""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import abort, current_app, request

JSON = ("application/json",)
YAML = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
_CHUNK = 64 * 1024  # how much of a streamed body is read at a time


def accepts(*mimetypes: str) -> Callable:
    def mark(view: Callable) -> Callable:
        view.accepts = mimetypes  # type: ignore[attr-defined]
        return view

    return mark


def require_accepted_body() -> None:
    """A POST with a body must declare a type its view reads, before anything parses it."""
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if request.method != "POST" or not (request.content_length or chunked):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    allowed = getattr(view, "accepts", JSON)
    if request.mimetype not in allowed:
        abort(415, description=f"the body must be {' or '.join(allowed)}")


def limit_streamed_body() -> None:
    """A chunked body (no Content-Length) over MAX_CONTENT_LENGTH is a 413, as a declared one is.

    Werkzeug would cut such a body at the limit and let the view parse what is left, so a
    truncated policy or form could pass as sent. The body is read here, up to one byte
    past the limit, and handed on with its length.
    """
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is None or "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return
    stream, body = request.environ["wsgi.input"], bytearray()
    while len(body) <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - len(body)))
        if not chunk:
            break
        body += chunk
    if len(body) > limit:
        abort(413, description=f"the body is larger than {limit} bytes")
    request.environ["wsgi.input"] = io.BytesIO(bytes(body))
    request.environ["CONTENT_LENGTH"] = str(len(body))
