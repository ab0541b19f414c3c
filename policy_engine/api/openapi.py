"""The OpenAPI document's error responses: the one error shape, declared status by status.

Every operation lists the statuses it can answer, so a client (or a schema-driven test)
can tell a documented refusal from a surprise; there is no catch-all ``default``.
"""

from __future__ import annotations

import copy
import http
from collections.abc import Callable
from typing import Any

from flask_smorest import Api
from marshmallow import Schema, fields

# What any call may meet: no or a dead token, the wrong role, the database away.
GUARDED = (401, 403, 503)
# What reading a body may meet: not JSON (or not UTF-8), too large, of another type.
BODY = (400, 413, 415)


class ErrorSchema(Schema):
    """``{code, message, errors}``: a stable code, a sentence, and the messages per field."""

    code = fields.String(required=True, metadata={"description": "stable code, e.g. invalid_request"})
    message = fields.String(required=True)
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "messages per field (services[0].code, policy.yaml:12: criteria)"},
    )


class ServiceApi(Api):
    """flask-smorest's Api with this service's error shape and no undocumented ``default``."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None


def errors(*statuses: int) -> Callable:
    """Declare error statuses of a view, each answered with the error shape."""

    def mark(view: Callable) -> Callable:
        declare(view, statuses)
        return view

    return mark


def declare(view: Callable, statuses: tuple[int, ...], roles: tuple[str, ...] = ()) -> None:
    """Add ``statuses`` to the view's documented responses, and the roles it admits as ``x-roles``."""
    doc: dict[str, Any] = copy.deepcopy(getattr(view, "_apidoc", {}))
    responses = doc.setdefault("response", {}).setdefault("responses", {})
    for status in statuses:
        responses.setdefault(status, [http.HTTPStatus(status).name])
    if roles:
        doc.setdefault("manual_doc", {})["x-roles"] = list(roles)
    view._apidoc = doc  # type: ignore[attr-defined]


def reads_body(view: Callable) -> bool:
    """Whether the view parses a request body (a JSON argument schema, or a declared body type)."""
    doc = getattr(view, "_apidoc", {})
    located = [p.get("in") for p in doc.get("arguments", {}).get("parameters", []) if isinstance(p, dict)]
    return "json" in located or hasattr(view, "accepts")
