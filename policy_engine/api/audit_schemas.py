"""Auditors' query parameters and answers: decision search, export, the access trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..model import MAX_VERSION
from .schemas import SERVICE_CODE, Strict

OUTCOMES = ["approved", "not_covered", "pended"]
REASONS = ["no_policy", "clinical_review", "missing_information"]
X12_ACTIONS = ["A1", "A2", "A3", "A4", "A6"]


class Instant(fields.Field):
    """An ISO date or date-time; without a zone it is UTC, a bare date is its midnight."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.datetime:
        if not isinstance(value, str):
            raise ValidationError("an ISO date or date-time, such as 2025-03-10 or 2025-03-10T08:00:00Z")
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                "an ISO date or date-time, such as 2025-03-10 or 2025-03-10T08:00:00Z"
            ) from None
        return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _name() -> fields.String:
    return fields.String(validate=validate.Length(1, 128))


class PeriodMixin(Schema):
    from_ = Instant(data_key="from", attribute="from", metadata={"description": "recorded at or after"})
    to = Instant(metadata={"description": "recorded before"})

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("from") and data.get("to") and data["to"] <= data["from"]:
            raise ValidationError("must be after 'from'", "to")


class DecisionFilterSchema(PeriodMixin, Strict):
    policy = fields.String(validate=validate.Length(1, 64), metadata={"description": "a governing policy id"})
    version = fields.Integer(validate=validate.Range(1, MAX_VERSION), metadata={"description": "with policy"})
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    reason = fields.String(validate=validate.OneOf(REASONS))
    x12_action = fields.String(validate=validate.OneOf(X12_ACTIONS))
    code = fields.String(
        validate=validate.Regexp(SERVICE_CODE, error="not a valid CPT or HCPCS code: {input}")
    )
    member_id = fields.String(validate=validate.Length(1, 64))
    submitter = _name()
    organization = fields.String(validate=validate.Length(1, 64))
    reviewer = _name()
    urgency = fields.String(validate=validate.OneOf(["standard", "expedited"]))
    overdue = fields.Boolean(metadata={"description": "a pended line past its due date, not yet reviewed"})

    @validates_schema
    def _version_needs_policy(self, data: dict[str, Any], **_: Any) -> None:
        if "version" in data and "policy" not in data:
            raise ValidationError("a version needs a policy", "version")


class DecisionSearchQuerySchema(DecisionFilterSchema):
    cursor = fields.String(
        validate=validate.Length(1, 200), metadata={"description": "next_cursor of a page"}
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    order = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))


class DecisionExportQuerySchema(DecisionFilterSchema):
    format = fields.String(load_default="csv", validate=validate.OneOf(["csv", "ndjson"]))


class AccessQuerySchema(PeriodMixin, Strict):
    user = _name()
    member_id = fields.String(validate=validate.Length(1, 64))
    decision_id = fields.String(validate=validate.Length(1, 36))
    cursor = fields.String(validate=validate.Length(1, 200))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))


class PolicyRefSchema(Schema):
    policy = fields.String()
    version = fields.Integer()


class FoundLineSchema(Schema):
    index = fields.Integer()
    code = fields.String()
    date_of_service = fields.String(allow_none=True)
    outcome = fields.String()
    reason = fields.String(allow_none=True)
    x12_action = fields.String(allow_none=True)
    policies = fields.List(fields.Nested(PolicyRefSchema))
    decided_by = fields.List(fields.Dict(), metadata={"description": "the criteria that decided the line"})
    authorization_number = fields.String(allow_none=True)
    due_by = fields.String(allow_none=True)


class LaterEntrySchema(Schema):
    seq = fields.Integer()
    kind = fields.String()
    actor = fields.String()
    actor_role = fields.String()
    status = fields.String()
    recorded_at = fields.String()


class FoundDecisionSchema(Schema):
    seq = fields.Integer()
    decision_id = fields.String()
    request_id = fields.String(allow_none=True)
    recorded_at = fields.String()
    received_at = fields.String()
    member_id = fields.String(allow_none=True)
    organization = fields.String(allow_none=True)
    submitted_by = fields.String()
    urgency = fields.String()
    status = fields.String()
    engine_version = fields.String()
    entry_hash = fields.String()
    lines = fields.List(fields.Nested(FoundLineSchema))
    later_entries = fields.List(fields.Nested(LaterEntrySchema))


class DecisionPageSchema(Schema):
    filters = fields.Dict()
    decisions = fields.List(fields.Nested(FoundDecisionSchema))
    next_cursor = fields.String(allow_none=True)


class AccessRecordSchema(Schema):
    id = fields.Integer()
    at = fields.String()
    actor = fields.String()
    actor_role = fields.String()
    action = fields.String()
    decision_id = fields.String()
    member_id = fields.String(allow_none=True)


class AccessPageSchema(Schema):
    filters = fields.Dict()
    reads = fields.List(fields.Nested(AccessRecordSchema))
    next_cursor = fields.String(allow_none=True)
