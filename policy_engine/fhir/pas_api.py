"""``/fhir``: Da Vinci PAS ``Claim/$submit`` and ``Claim/$inquire``, and the CapabilityStatement.

Every answer here is FHIR JSON; every error an OperationOutcome with a 4xx status (5xx
only when the database or the service fails), raised before anything is recorded.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from .. import clock
from ..api.auth import current_actor, requires
from ..api.content import accepts
from ..errors import Conflict, Forbidden, NotFound, RequestConflict, RequestInvalid, ServiceError
from ..logs import log_unexpected
from ..services.authorizations import case_view
from ..storage.database import UNAVAILABLE
from .bundle import parse_bundle, read_json
from .capability import capability_statement
from .claim_in import ClaimRequest, read_claim, read_inquiry
from .claim_out import response_bundle
from .outcome import ISSUE_CODES, FhirProblem, Issue, operation_outcome, problem

FHIR_JSON = "application/fhir+json"
log = logging.getLogger(__name__)
blp = Blueprint("fhir", __name__, url_prefix="/fhir")
_OPERATIONS = {"/fhir/metadata": "GET", "/fhir/Claim/$submit": "POST", "/fhir/Claim/$inquire": "POST"}
_STATUS = {RequestInvalid: 422, RequestConflict: 409, NotFound: 404, Forbidden: 403, Conflict: 409}


def fhir_json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype=FHIR_JSON)


@blp.route("/metadata", methods=["GET"])
def metadata() -> Response:
    """The CapabilityStatement; public, as FHIR clients read it before they authenticate."""
    return fhir_json(capability_statement(clock.now().date().isoformat()))


@blp.route("/Claim/$submit", methods=["POST"])
@accepts(FHIR_JSON, "application/json")
@requires("submitter")
def submit() -> Response:
    """Judge and record a PAS request bundle; a retry of the Claim identifier answers the same decision."""
    backend = current_app.extensions["policy_engine"]
    claim = read_claim(parse_bundle(read_json(request.get_data())), current_app.extensions["fhir_mapping"])
    try:
        case, _ = backend.authorizations.submit(claim.request, current_actor())
    except ServiceError as error:
        raise _located(error, claim) from None
    return fhir_json(response_bundle(case, claim, current_app.extensions["fhir_mapping"]))


@blp.route("/Claim/$inquire", methods=["POST"])
@accepts(FHIR_JSON, "application/json")
@requires("submitter")
def inquire() -> Response:
    """The authorization as it stands now, with every reviewer's determination since."""
    backend = current_app.extensions["policy_engine"]
    claim = read_inquiry(parse_bundle(read_json(request.get_data())))
    try:
        entries = backend.authorizations.read_by_request_id(claim.request["request_id"], current_actor())
    except ServiceError as error:
        raise _located(error, claim) from None
    return fhir_json(response_bundle(case_view(entries), claim, current_app.extensions["fhir_mapping"]))


@blp.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def elsewhere(anything: str) -> Response:
    """Anything else under /fhir: 405 for a known operation with another method, else 404."""
    if request.path in _OPERATIONS:
        raise problem(405, f"{request.path} takes {_OPERATIONS[request.path]}", code="not-supported")
    raise problem(404, f"this server has no {request.method} /fhir/{anything}", code="not-supported")


def _located(error: ServiceError, claim: ClaimRequest) -> FhirProblem:
    """A service error with its request fields turned into the FHIRPaths they came from."""
    status = _STATUS.get(type(error), 400)
    if isinstance(error, RequestConflict):
        return problem(
            409,
            f"{error.message}; send a new Claim.identifier for a new request",
            claim.location("request_id"),
        )
    issues = [
        Issue(f"{name}: {' '.join(messages)}", claim.location(name), ISSUE_CODES.get(status, "invalid"))
        for name, messages in error.errors.items()
    ]
    return FhirProblem(status, issues or [Issue(error.message, None, ISSUE_CODES.get(status, "invalid"))])


@blp.errorhandler(FhirProblem)
def fhir_problem(error: FhirProblem) -> Response:
    return fhir_json(operation_outcome(error.issues), error.status)


@blp.errorhandler(ServiceError)
def service_error(error: ServiceError) -> Response:
    status = _STATUS.get(type(error), 400)
    return fhir_json(
        operation_outcome([Issue(error.message, None, ISSUE_CODES.get(status, "invalid"))]), status
    )


@blp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    status = error.code or 500
    response = fhir_json(
        operation_outcome(
            [Issue(error.description or error.name, None, ISSUE_CODES.get(status, "exception"))]
        ),
        status,
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="policy-engine"'
    return response


@blp.errorhandler(Exception)
def unexpected(error: Exception) -> Response:
    if isinstance(error, UNAVAILABLE):
        log.error("database unavailable: %s", type(error).__name__)
        return fhir_json(
            operation_outcome([Issue("the database is unavailable; retry shortly", None, "transient")]), 503
        )
    log_unexpected(log, error, request.path)
    issue = Issue("an unexpected error occurred; it has been logged", None, "exception", "fatal")
    return fhir_json(operation_outcome([issue]), 500)
