"""One error shape for every failure: ``{code, message, errors}`` with a stable code."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from ..errors import (
    Conflict,
    Forbidden,
    NotFound,
    PolicyConflict,
    PolicyInvalid,
    RequestConflict,
    RequestInvalid,
    ServiceError,
)
from ..logs import log_unexpected
from ..storage.database import UNAVAILABLE

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    503: "unavailable",
}
_STATUS = {
    RequestInvalid: 422,
    RequestConflict: 409,
    NotFound: 404,
    PolicyConflict: 409,
    Forbidden: 403,
    Conflict: 409,
}


def error_response(status: int, code: str, message: str, errors: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    response = jsonify({"code": code, "message": message, "errors": errors or {}})
    response.status_code = status
    return response


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as ``{"services[0].code": [...]}``."""
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
            flat.update(flatten(value, name))
        return flat
    items = messages if isinstance(messages, list) else [messages]
    return {prefix or "_body": [str(item) for item in items]}


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        messages = data.get("messages")
        if messages is not None:
            # webargs keys messages by location ({"json": {...}, "query": {...}}); fields suffice
            located = messages.values() if isinstance(messages, dict) else [messages]
            errors = {name: text for part in located for name, text in flatten(part).items()}
            if status == 400 or "Invalid JSON body." in errors.get("_body", []):
                return error_response(400, "malformed_json", "the body is not valid JSON", errors)
            return error_response(status, "invalid_request", "the request has invalid fields", errors)
        message = data.get("message") or error.description or error.name
        response = error_response(status, _CODES.get(status, "error"), message)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="policy-engine"'
        return response

    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError):  # type: ignore[no-untyped-def]
        return error_response(_STATUS.get(type(error), 400), error.code, error.message, error.errors)

    @app.errorhandler(PolicyConflict)
    def policy_conflict(error: PolicyConflict):  # type: ignore[no-untyped-def]
        return error_response(409, error.code, str(error))

    @app.errorhandler(PolicyInvalid)
    def policy_invalid(error: PolicyInvalid):  # type: ignore[no-untyped-def]
        errors: dict[str, list[str]] = {}
        for problem in error.problems:
            errors.setdefault(f"{problem.file}:{problem.line}: {problem.field}".rstrip(": "), []).append(
                problem.message
            )
        return error_response(422, error.code, "the policy is not valid", errors)

    def database_down(error: Exception):  # type: ignore[no-untyped-def]
        log.error("database unavailable: %s", type(error).__name__)
        return error_response(503, "database_unavailable", "the database is unavailable; retry shortly")

    for kind in UNAVAILABLE:
        app.register_error_handler(kind, database_down)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):  # type: ignore[no-untyped-def]
        log_unexpected(log, error, request.path)
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")
