"""Reading a FHIR Bundle: JSON, then the R4B models, then strict JSON types, then references.

The models validate structure, cardinality and choice types; they also coerce ``"true"``
to ``True`` and ``"5"`` to ``5``, which FHIR's JSON format forbids and which would let a
string reach the engine as a number. So after validation each primitive the sender wrote
is compared with the type the model gave it, and a mismatch is refused with its path.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from .outcome import FhirProblem, Issue, fhirpath, problem


def read_json(raw: bytes) -> Any:
    """The body as JSON, or a 400 saying where the text stops being JSON."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise problem(400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise problem(
            400, f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None


def parse_bundle(data: Any, root: str = "Bundle") -> ParsedBundle:
    """A validated Bundle; every structural or type problem is a 400 with its FHIRPath."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        kind = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise problem(400, f"the body must be a FHIR Bundle resource, not {kind!r}", root)
    return ParsedBundle(validate(data, "Bundle", root), root)


def validate(data: dict[str, Any], resource_type: str, root: str) -> Any:
    """A resource validated by its R4B model and by strict JSON types."""
    issues = list(_unknown_types(data, (), root))
    if issues:
        raise FhirProblem(400, issues)
    model_class = get_fhir_model_class(resource_type)
    try:
        model = model_class.model_validate(data)
    except ValidationError as error:
        raise FhirProblem(400, [_issue(item, root) for item in error.errors()]) from None
    except (ValueError, TypeError, KeyError) as error:
        raise problem(400, f"the {resource_type} is not valid: {error}", root) from None
    issues = list(
        _loose_types(data, model.model_dump(mode="python", by_alias=True, exclude_none=True), (), root)
    )
    if issues:
        raise FhirProblem(400, issues)
    return model


def _issue(error: Any, root: str) -> Issue:
    location = tuple(part for part in error["loc"] if part != "__root__")
    return Issue(
        error["msg"], fhirpath(location, root), "structure" if error["type"] == "missing" else "value"
    )


def _unknown_types(value: Any, location: tuple[Any, ...], root: str) -> Iterator[Issue]:
    """Resource types the model set does not know (the models would fail without saying where)."""
    if isinstance(value, dict):
        kind = value.get("resourceType")
        if location and isinstance(kind, str):
            try:
                get_fhir_model_class(kind)
            except ValueError:
                yield Issue(f"unknown resource type {kind!r}", fhirpath((*location, "resourceType"), root))
                return
        for key, item in value.items():
            yield from _unknown_types(item, (*location, key), root)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unknown_types(item, (*location, index), root)


def _loose_types(sent: Any, kept: Any, location: tuple[Any, ...], root: str) -> Iterator[Issue]:
    """Primitives the sender wrote with a JSON type other than the element's."""
    if isinstance(sent, dict) and isinstance(kept, dict):
        for key, item in sent.items():
            if key in kept:
                yield from _loose_types(item, kept[key], (*location, key), root)
    elif isinstance(sent, list) and isinstance(kept, list):
        for index, (item, model) in enumerate(zip(sent, kept, strict=False)):
            yield from _loose_types(item, model, (*location, index), root)
    else:
        expected = _json_type(kept)
        if expected is not None and _json_type(sent) != expected:
            yield Issue(
                f"must be a JSON {expected}, not a {_json_type(sent) or type(sent).__name__}",
                fhirpath(location, root),
                "value",
            )


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str | dt.date | dt.datetime | dt.time):
        return "string"
    return None


class ParsedBundle:
    """A validated Bundle with its entries by position, for lookups and error locations."""

    def __init__(self, model: Bundle, root: str = "Bundle") -> None:
        self.model = model
        self.root = root
        self.entries = [(index, entry) for index, entry in enumerate(model.entry or []) if entry.resource]

    def of_type(self, resource_type: str) -> list[tuple[int, Any]]:
        """Entries holding a resource of the type, as (position, resource)."""
        return [
            (index, entry.resource)
            for index, entry in self.entries
            if entry.resource.get_resource_type() == resource_type
        ]

    def at(self, index: int) -> str:
        return f"{self.root}.entry[{index}].resource"

    def resolve(self, reference: Any, where: str, *types: str) -> tuple[int, Any]:
        """The entry a Reference points to, which must be in the bundle and of one of ``types``."""
        target = getattr(reference, "reference", None) if reference is not None else None
        if not target:
            raise problem(422, f"a reference to a {' or '.join(types)} in the bundle is required", where)
        for index, entry in self.entries:
            resource = entry.resource
            local = f"{resource.get_resource_type()}/{resource.id}" if resource.id else None
            if target == entry.fullUrl or (local and (target == local or target.endswith("/" + local))):
                kind = resource.get_resource_type()
                if kind not in types:
                    raise problem(
                        422, f"must refer to a {' or '.join(types)}, not a {kind}", f"{where}.reference"
                    )
                return index, resource
        raise problem(422, f"'{target}' is not an entry of the bundle", f"{where}.reference", "not-found")
