"""What a client may send and what it gets back, as marshmallow schemas (and OpenAPI).

Types are strict: the engine compares values as given, so ``"18"`` is not a number and
``true`` is not a quantity. Clinical facts are free-form; the policies that read them
check their types, and a wrong one is a 422 naming the field.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate, validates

from ..model import MAX_VERSION

ICD10_CM = re.compile(r"^[A-TV-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$", re.IGNORECASE)
SERVICE_CODE = re.compile(r"^([0-9]{4}[0-9A-Z]|[A-V][0-9]{4})$", re.IGNORECASE)


class StrictInteger(fields.Integer):
    """An integer that is a JSON integer: not a string, a float or a boolean."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def _code(pattern: re.Pattern[str], what: str) -> validate.Regexp:
    return validate.Regexp(pattern, error=f"not a valid {what}: {{input}}")


def _luhn_npi(npi: str) -> None:
    """An NPI is 10 digits whose check digit follows Luhn over the prefix 80840."""
    digits = [int(c) for c in "80840" + npi[:-1]]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    if (10 - total % 10) % 10 != int(npi[-1]):
        raise ValidationError("not a valid NPI: its check digit does not match")


class Strict(Schema):
    class Meta:
        unknown = RAISE


class MemberSchema(Strict):
    id = fields.String(required=True, validate=validate.Length(1, 64))
    birth_date = fields.Date(required=True)
    sex = fields.String(validate=validate.OneOf(["F", "M", "U", "X"]))
    plan = fields.String(validate=validate.Length(1, 64))

    @validates("birth_date")
    def _born(self, value: dt.date, **_: Any) -> None:
        if value > dt.date.today():
            raise ValidationError("a birth date cannot be in the future")


class ProviderSchema(Strict):
    npi = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{10}$", error="an NPI is 10 digits"))
    name = fields.String(validate=validate.Length(1, 200))

    @validates("npi")
    def _npi(self, value: str, **_: Any) -> None:
        _luhn_npi(value)


class ServiceLineSchema(Strict):
    code = fields.String(required=True, validate=_code(SERVICE_CODE, "CPT or HCPCS code"))
    quantity = StrictInteger(validate=validate.Range(1, 100_000))
    date_of_service = fields.Date(required=True)
    place_of_service = fields.String(
        validate=validate.Regexp(r"^[0-9]{2}$", error="a place of service is two digits")
    )
    modifiers = fields.List(
        fields.String(validate=validate.Regexp(r"^[0-9A-Za-z]{2}$", error="a modifier is two characters")),
        validate=validate.Length(max=4),
    )
    details = fields.Dict(keys=fields.String())


class HistoryEntrySchema(Schema):
    """A prior service; attributes beyond these (a result, a side) are kept as sent."""

    class Meta:
        unknown = INCLUDE

    code = fields.String(required=True, validate=_code(SERVICE_CODE, "CPT or HCPCS code"))
    date = fields.Date(allow_none=True)
    quantity = StrictInteger(validate=validate.Range(1, 100_000))


class AuthorizationRequestSchema(Strict):
    request_id = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[\x21-\x7e]{1,128}$", error="1 to 128 printable characters, without spaces"
        ),
    )
    urgency = fields.String(load_default="standard", validate=validate.OneOf(["standard", "expedited"]))
    member = fields.Nested(MemberSchema, required=True)
    provider = fields.Nested(ProviderSchema)
    diagnoses = fields.List(
        fields.String(validate=_code(ICD10_CM, "ICD-10-CM code")), validate=validate.Length(max=25)
    )
    services = fields.List(fields.Nested(ServiceLineSchema), required=True, validate=validate.Length(1, 50))
    clinical = fields.Dict(keys=fields.String())
    documentation = fields.List(
        fields.String(validate=validate.Length(1, 128)), validate=validate.Length(max=100)
    )
    history = fields.List(fields.Nested(HistoryEntrySchema), validate=validate.Length(max=1000))


class LineSchema(Schema):
    index = fields.Integer()
    code = fields.String()
    date_of_service = fields.String()
    outcome = fields.String(
        metadata={"enum": ["approved", "not_covered", "pended", "partially_approved", "modified", "denied"]}
    )
    reason = fields.String(
        allow_none=True,
        metadata={
            "description": "why a line is pended, or a denial's reason code",
            "enum": [
                "no_policy",
                "clinical_review",
                "missing_information",
                "appeal",
                "medical_necessity",
                "not_covered",
                "insufficient_documentation",
            ],
        },
    )
    x12_action = fields.String()
    authorization_number = fields.String()
    valid_from = fields.String()
    valid_to = fields.String()
    due_by = fields.String()
    extended = fields.Boolean()
    quantity_approved = fields.Integer(allow_none=True)
    rationale = fields.String()
    criteria = fields.List(fields.String())
    modification = fields.String()
    physician = fields.Boolean()
    on_appeal = fields.Boolean()
    determined_by = fields.String()
    determined_at = fields.String(allow_none=True)
    appeal = fields.Dict(metadata={"description": "the appeal a line is pended for"})
    missing = fields.List(fields.String())
    decided_by = fields.List(fields.Dict())
    policies = fields.List(
        fields.Dict(), metadata={"description": "every governing policy's full criteria trace"}
    )


class PolicyUsedSchema(Schema):
    policy = fields.String()
    version = fields.Integer()
    sha256 = fields.String()


class DecisionSchema(Schema):
    decision_id = fields.String()
    request_id = fields.String()
    status = fields.String(
        metadata={
            "enum": [
                "approved",
                "not_covered",
                "pended",
                "partial",
                "partially_approved",
                "modified",
                "denied",
            ]
        }
    )
    urgency = fields.String()
    member_id = fields.String(allow_none=True)
    received_at = fields.String()
    recorded_at = fields.String()
    submitted_by = fields.String()
    engine_version = fields.String()
    policies = fields.List(fields.Nested(PolicyUsedSchema))
    lines = fields.List(fields.Nested(LineSchema))
    entry_hash = fields.String()
    determinations = fields.List(fields.Dict())


class ChainProblemSchema(Schema):
    seq = fields.Integer()
    entry_id = fields.String(allow_none=True)
    message = fields.String()


class HeadSchema(Schema):
    seq = fields.Integer()
    entry_hash = fields.String()


class VerifyQuerySchema(Strict):
    anchor = fields.String(
        metadata={"description": "a head kept from an earlier verify, as SEQ:ENTRY_HASH"},
        validate=validate.Regexp(r"^[0-9]+:[0-9a-f]{64}$", error="an anchor is SEQ:ENTRY_HASH"),
    )


class VerifySchema(Schema):
    intact = fields.Boolean()
    entries = fields.Integer()
    head = fields.Nested(HeadSchema)
    problem = fields.Nested(ChainProblemSchema, allow_none=True)


class ReplaySchema(Schema):
    decision_id = fields.String()
    reproduced = fields.Boolean()
    recorded_engine_version = fields.String()
    engine_version = fields.String()
    policies = fields.List(fields.Dict())
    lines = fields.List(fields.Dict())


class ErrorSchema(Schema):
    code = fields.String()
    message = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()


class PolicyVersionSchema(Schema):
    policy = fields.String()
    version = fields.Integer()
    state = fields.String(metadata={"enum": ["draft", "approved", "superseded", "retired", "rejected"]})
    title = fields.String()
    sha256 = fields.String()
    effective = fields.String()
    expires = fields.String(allow_none=True)
    retired_on = fields.String(allow_none=True)
    author = fields.String()
    approver = fields.String(allow_none=True)
    created_at = fields.String()
    decided_at = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)


class PolicyVersionSourceSchema(PolicyVersionSchema):
    yaml = fields.String(metadata={"description": "the version's YAML exactly as submitted"})


class PolicyEventSchema(Schema):
    version = fields.Integer()
    action = fields.String()
    actor = fields.String()
    role = fields.String()
    at = fields.String()
    comment = fields.String(allow_none=True)


class PolicyHistorySchema(Schema):
    policy = fields.String()
    title = fields.String()
    versions = fields.List(fields.Nested(PolicyVersionSchema))
    events = fields.List(fields.Nested(PolicyEventSchema))


class PolicySummarySchema(Schema):
    policy = fields.String()
    title = fields.String()
    current = fields.Nested(PolicyVersionSchema, allow_none=True)
    drafts = fields.List(fields.Integer())
    retired = fields.Boolean()


class ApproveSchema(Strict):
    comment = fields.String(validate=validate.Length(max=4000))


class RejectSchema(Strict):
    comment = fields.String(required=True, validate=validate.Length(1, 4000))


class RetireSchema(Strict):
    comment = fields.String(required=True, validate=validate.Length(1, 4000))
    last_day = fields.Date(metadata={"description": "last date of service it governs; today by default"})


class DiffQuerySchema(Strict):
    from_ = fields.Integer(data_key="from", required=True, validate=validate.Range(1, MAX_VERSION))
    to = fields.Integer(required=True, validate=validate.Range(1, MAX_VERSION))
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "text"]))


class ImpactRequestSchema(Strict):
    from_ = fields.Date(data_key="from", metadata={"description": "first day (UTC); 90 days ago by default"})
    to = fields.Date(metadata={"description": "last day (UTC); today by default"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class ImpactSchema(Schema):
    policy = fields.String()
    version = fields.Integer()
    period = fields.Dict()
    decisions_examined = fields.Integer()
    decisions_changed = fields.Integer()
    lines = fields.List(fields.Dict(), metadata={"description": "line totals by old → new determination"})
    changed = fields.List(
        fields.Dict(), metadata={"description": "decisions that would change (up to limit)"}
    )
