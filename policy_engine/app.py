"""The application factory: settings, the backend, the blueprints, the error handler."""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import __version__, logs
from .api import audit, authorizations, decisions, errors, health, metrics, policies, review
from .api.content import limit_streamed_body, require_accepted_body
from .api.openapi import ServiceApi
from .api.paths import VersionConverter
from .api.unstorable import refuse_unstorable_text
from .config import DEFAULTS, database_url, from_environment
from .fhir import crd_api, pas_api
from .fhir.mapping import DEFAULT_PATH, load_mapping
from .operations import COMMANDS
from .services.backend import Backend
from .web import register as register_pages

_OPENAPI = {
    "API_TITLE": "policy-engine",
    "API_VERSION": __version__,
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
}


def create_app(config: dict[str, Any] | None = None, instance_path: str | None = None) -> Flask:
    """Build the service: defaults, then ``POLICY_ENGINE_*`` / ``DATABASE_URL``, then ``config``."""
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.config.update(DEFAULTS)
    app.config.update(_OPENAPI)
    app.config.update(from_environment())
    app.config.update(config or {})
    app.json.sort_keys = False
    backend = Backend(app.config, database_url(app.config, app.instance_path))
    app.extensions["policy_engine"] = backend

    app.url_map.converters["version"] = VersionConverter
    api = ServiceApi(app, spec_kwargs={"security": [{"bearer": []}]})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for blueprint in (
        health.blp,
        authorizations.blp,
        review.blp,
        policies.blp,
        audit.blp,
        decisions.blp,
        metrics.blp,
    ):
        api.register_blueprint(blueprint)
    app.extensions["fhir_mapping"] = load_mapping(app.config["FHIR_MAPPING"] or DEFAULT_PATH)
    app.register_blueprint(pas_api.blp)
    app.register_blueprint(crd_api.blp)
    errors.register(app)
    register_pages(app)
    for command in COMMANDS:
        app.cli.add_command(command)
    app.before_request(require_accepted_body)
    app.before_request(limit_streamed_body)
    app.before_request(refuse_unstorable_text)
    logs.install()
    return app
