"""What reviewers and submitters send after a first decision, and the queue and metrics they get."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .schemas import ICD10_CM, HistoryEntrySchema, Strict, StrictInteger, _code

REASONS = ["no_policy", "clinical_review", "missing_information", "appeal"]
_TEXT = validate.Length(1, 4000)
_NODE_ID = fields.String(validate=validate.Length(1, 128))


class DeterminationSchema(Strict):
    line = StrictInteger(required=True, validate=validate.Range(min=0))
    outcome = fields.String(
        required=True, validate=validate.OneOf(["approved", "partially_approved", "modified", "denied"])
    )
    rationale = fields.String(required=True, validate=_TEXT)
    criteria = fields.List(
        _NODE_ID,
        validate=validate.Length(max=50),
        metadata={"description": "ids of the trace's nodes the determination rests on; required to deny"},
    )
    quantity = StrictInteger(
        validate=validate.Range(1, 100_000), metadata={"description": "a reduced quantity"}
    )
    valid_to = fields.Date(metadata={"description": "a shortened validity period's last day"})
    modification = fields.String(validate=_TEXT, metadata={"description": "what a modification changed"})


class InformationSchema(Strict):
    clinical = fields.Dict(keys=fields.String())
    documentation = fields.List(
        fields.String(validate=validate.Length(1, 128)), validate=validate.Length(max=100)
    )
    diagnoses = fields.List(
        fields.String(validate=_code(ICD10_CM, "ICD-10-CM code")), validate=validate.Length(max=25)
    )
    history = fields.List(fields.Nested(HistoryEntrySchema), validate=validate.Length(max=1000))

    @validates_schema
    def _something(self, data: dict, **_: object) -> None:
        if not any(data.get(name) for name in ("clinical", "documentation", "diagnoses", "history")):
            raise ValidationError("send at least one of clinical, documentation, diagnoses, history", "_body")


class ExtensionSchema(Strict):
    reason = fields.String(required=True, validate=_TEXT)


class AppealSchema(Strict):
    lines = fields.List(
        StrictInteger(validate=validate.Range(min=0)), required=True, validate=validate.Length(1, 50)
    )
    reason = fields.String(required=True, validate=_TEXT)


class QueueQuerySchema(Strict):
    status = fields.String(required=True, validate=validate.OneOf(["pended"]))
    reason = fields.String(validate=validate.OneOf(REASONS))
    policy = fields.String(validate=validate.Length(1, 64))
    urgency = fields.String(validate=validate.OneOf(["standard", "expedited"]))
    overdue = fields.Boolean()
    assigned = fields.String(
        validate=validate.Length(1, 128),
        metadata={"description": "a reviewer's name, or 'none' for unclaimed"},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=validate.Length(1, 512))


class QueueItemSchema(Schema):
    decision_id = fields.String()
    line = fields.Integer()
    code = fields.String()
    date_of_service = fields.String()
    member_id = fields.String(allow_none=True)
    urgency = fields.String()
    reason = fields.String(metadata={"enum": REASONS})
    not_met = fields.List(fields.String())
    unknown = fields.List(fields.String())
    missing = fields.List(fields.String())
    policies = fields.List(fields.String())
    received_at = fields.String()
    due_by = fields.String()
    overdue = fields.Boolean()
    extended = fields.Boolean()
    claimed_by = fields.String(allow_none=True)


class QueueSchema(Schema):
    items = fields.List(fields.Nested(QueueItemSchema))
    next_cursor = fields.String(allow_none=True)


class ClaimSchema(Schema):
    decision_id = fields.String()
    claimed_by = fields.String()


class MetricsQuerySchema(Strict):
    from_ = fields.Date(data_key="from", required=True, metadata={"description": "first day (UTC)"})
    to = fields.Date(required=True, metadata={"description": "last day (UTC), included"})
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))

    @validates_schema
    def _ordered(self, data: dict, **_: object) -> None:
        if "from_" in data and "to" in data and data["to"] < data["from_"]:
            raise ValidationError("must not be before from", "to")
