"""``/cds-services``: CDS Hooks discovery and the CRD order-sign and order-select services.

Errors here use the service's own JSON error shape (CDS Hooks defines none); a problem in
a FHIR resource of the call names its location, e.g. ``context.draftOrders.entry[0]...``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from ..api.auth import requires
from ..api.errors import error_response, flatten
from ..errors import NotFound, RequestInvalid
from .claim_in import check_schema
from .coverage_info import card, coverage_information, with_coverage
from .crd import HOOKS, discovery, read_hook
from .outcome import FhirProblem

blp = Blueprint("cds_services", __name__, url_prefix="/cds-services")


class HookContextSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    userId = fields.String(required=True)
    patientId = fields.String(required=True, validate=validate.Length(1, 64))
    encounterId = fields.String()
    draftOrders = fields.Dict(required=True)
    selections = fields.List(fields.String())


class HookRequestSchema(Schema):
    """A CDS Hooks call; fields this service does not use (fhirServer, fhirAuthorization) are ignored."""

    class Meta:
        unknown = EXCLUDE

    hook = fields.String(required=True, validate=validate.OneOf(list(HOOKS)))
    hookInstance = fields.String(required=True, validate=validate.Length(1, 100))
    context = fields.Nested(HookContextSchema, required=True)
    prefetch = fields.Dict(allow_none=True)


@blp.route("", methods=["GET"])
def services() -> Any:
    """Discovery; public, as CDS clients read it when they are configured."""
    return jsonify(discovery())


@blp.route("/<service_id>", methods=["POST"])
@requires("submitter")
def call(service_id: str) -> Any:
    """Coverage information for each draft order, judged without recording anything."""
    hooks = {service: hook for hook, service in HOOKS.items()}
    if service_id not in hooks:
        raise NotFound(f"no CDS service '{service_id}'; see GET /cds-services")
    body = request.get_json()
    try:
        loaded = HookRequestSchema().load(body if isinstance(body, dict) else {})
    except ValidationError as error:
        raise RequestInvalid("the hook request has invalid fields", flatten(error.messages)) from None
    if loaded["hook"] != hooks[service_id]:
        raise RequestInvalid(
            f"{service_id} serves the {hooks[service_id]} hook", {"hook": [f"must be {hooks[service_id]}"]}
        )
    if loaded["hook"] == "order-select" and "selections" not in loaded["context"]:
        raise RequestInvalid("order-select needs the selected orders", {"context.selections": ["required"]})
    mapping = current_app.extensions["fhir_mapping"]
    orders = read_hook(loaded["hook"], loaded, mapping)
    lines: list[Any] = []
    if orders.judged:
        partial = () if "member" in orders.request else ("member",)
        check_schema(orders.request, orders.location, partial)
        try:
            lines = current_app.extensions["policy_engine"].authorizations.judge(orders.request)["lines"]
        except RequestInvalid as error:
            raise RequestInvalid(
                error.message, {orders.location(name): messages for name, messages in error.errors.items()}
            ) from None
    answered = [*zip(orders.judged, lines, strict=True), *((order, None) for order in orders.unjudged)]
    return jsonify(
        {
            "cards": [card(at, order, line, mapping) for (at, order), line in answered],
            "systemActions": [
                {
                    "type": "update",
                    "description": "Coverage information for the order",
                    "resource": with_coverage(order, coverage_information(line, orders.coverage, mapping)),
                }
                for (_, order), line in answered
            ],
        }
    )


@blp.errorhandler(FhirProblem)
def fhir_problem(error: FhirProblem):  # type: ignore[no-untyped-def]
    errors: dict[str, list[str]] = {}
    for issue in error.issues:
        errors.setdefault(issue.expression or "_body", []).append(issue.diagnostics)
    code = "invalid_fhir" if error.status in (400, 422) else "error"
    return error_response(error.status, code, "a FHIR resource in the hook request is not valid", errors)
