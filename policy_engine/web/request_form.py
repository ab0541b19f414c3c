"""The authorization request form: its fields, read into the API's request body.

Field names are the paths the API's error messages use (``member.id``,
``services[0].code``), so the schema's and the service's messages land next to their
fields. Text is turned into JSON types only where a form cannot say the type itself;
anything that does not convert is left as typed, for the schema to reject in its words.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from werkzeug.datastructures import MultiDict

from ..api.errors import flatten

SERVICE_FIELDS = ("code", "quantity", "date_of_service", "place_of_service", "modifiers")
FACT_TYPES = (
    ("number", "Number"),
    ("text", "Text"),
    ("date", "Date"),
    ("boolean", "Yes / no"),
    ("list", "List of text (comma-separated)"),
)
_ROWS = re.compile(r"^(services|clinical)\[(\d+)\]\.")
MAX_ROWS = 50


def row_count(form: MultiDict, group: str, minimum: int = 1) -> int:
    """How many rows of a repeated group the form holds (at least ``minimum``)."""
    found = [int(m.group(2)) for key in form if (m := _ROWS.match(key)) and m.group(1) == group]
    return min(max([minimum, *(n + 1 for n in found)]), MAX_ROWS)


def read_request(form: MultiDict) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The request body the form describes, and the errors only the form can know (fact types)."""
    body: dict[str, Any] = {"request_id": _text(form, "request_id"), "urgency": _text(form, "urgency")}
    member = {name: _text(form, f"member.{name}") for name in ("id", "birth_date", "sex", "plan")}
    body["member"] = _present(member)
    provider = _present({name: _text(form, f"provider.{name}") for name in ("npi", "name")})
    if provider:
        body["provider"] = provider
    body["diagnoses"] = _list(form, "diagnoses")
    body["services"] = [line for i in range(row_count(form, "services")) if (line := _service(form, i))]
    clinical, errors = _clinical(form)
    if clinical:
        body["clinical"] = clinical
    body["documentation"] = _list(form, "documentation")
    return _present(body), errors


def schema_errors(messages: dict[str, Any]) -> dict[str, list[str]]:
    """marshmallow's messages keyed by form field; an item of a comma list reports on its field."""
    errors: dict[str, list[str]] = {}
    for path, texts in flatten(messages).items():
        name, index = _list_item(path)
        if index is not None:
            texts = [f"item {index + 1}: {text}" for text in texts]
        errors.setdefault(name, []).extend(texts)
    return errors


def service_errors(problems: dict[str, list[str]], form: MultiDict) -> dict[str, list[str]]:
    """The service's messages about request paths (``clinical.ahi``), on the row that sent them."""
    rows = {_text(form, f"clinical[{i}].name"): i for i in range(row_count(form, "clinical"))}
    errors: dict[str, list[str]] = {}
    for path, texts in problems.items():
        name = _list_item(path)[0]
        if path.startswith("clinical."):
            fact = re.split(r"[.\[]", path.removeprefix("clinical."), maxsplit=1)[0]
            if fact in rows:
                name = f"clinical[{rows[fact]}].value"
        errors.setdefault(name, []).extend(f"{path}: {text}" for text in texts)
    return errors


def _list_item(path: str) -> tuple[str, int | None]:
    match = re.match(r"^(diagnoses|documentation)\[(\d+)\]$", path)
    return (match.group(1), int(match.group(2))) if match else (path, None)


def _service(form: MultiDict, i: int) -> dict[str, Any]:
    raw = {name: _text(form, f"services[{i}].{name}") for name in SERVICE_FIELDS}
    if not any(raw.values()):
        return {}
    line: dict[str, Any] = _present({k: v for k, v in raw.items() if k not in ("quantity", "modifiers")})
    if raw["quantity"]:
        line["quantity"] = int(raw["quantity"]) if raw["quantity"].isdigit() else raw["quantity"]
    modifiers = _split(raw["modifiers"])
    if modifiers:
        line["modifiers"] = modifiers
    return line


def _clinical(form: MultiDict) -> tuple[dict[str, Any], dict[str, list[str]]]:
    facts: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for i in range(row_count(form, "clinical")):
        name, kind, raw = (_text(form, f"clinical[{i}].{part}") for part in ("name", "type", "value"))
        if not name and not raw:
            continue
        if not name:
            errors[f"clinical[{i}].name"] = ["Name the fact this value is for."]
            continue
        if name in facts:
            errors[f"clinical[{i}].name"] = [f"'{name}' is given twice."]
            continue
        try:
            facts[name] = fact_value(kind or "text", raw)
        except ValueError as problem:
            errors[f"clinical[{i}].value"] = [str(problem)]
    return facts, errors


def fact_value(kind: str, raw: str) -> Any:
    """A clinical fact's JSON value from its text and chosen type; ``ValueError`` says why not."""
    if kind == "number":
        try:
            number = Decimal(raw)
        except InvalidOperation:
            raise ValueError(f"'{raw}' is not a number.") from None
        if not number.is_finite():
            raise ValueError(f"'{raw}' is not a number.")
        return int(number) if number == number.to_integral_value() and "." not in raw else float(raw)
    if kind == "date":
        try:
            return dt.date.fromisoformat(raw).isoformat()
        except ValueError:
            raise ValueError(f"'{raw}' is not a date (YYYY-MM-DD).") from None
    if kind == "boolean":
        answer = raw.strip().lower()
        if answer not in ("yes", "no", "true", "false"):
            raise ValueError("Answer yes or no.")
        return answer in ("yes", "true")
    if kind == "list":
        return [item.strip() for item in raw.split(",") if item.strip()]
    if kind == "text":
        return raw
    raise ValueError(f"'{kind}' is not a fact type.")


def _text(form: MultiDict, name: str) -> str:
    return (form.get(name) or "").strip()


def _list(form: MultiDict, name: str) -> list[str]:
    return _split(_text(form, name))


def _split(raw: str) -> list[str]:
    return [item for item in re.split(r"[,\s]+", raw) if item]


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in ("", [], {}, None)}
