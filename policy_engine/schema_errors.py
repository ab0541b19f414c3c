"""JSON Schema errors turned into messages an author can act on.

A policy node is a ``oneOf`` of forms, and jsonschema reports a failed ``oneOf`` as
"not valid under any of the given schemas". The form the author meant is the one whose
key the node carries (``fact`` → leaf, ``all`` → group, ...), so we report that
branch's own errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from .model import OPERATORS
from .values import describe

Path = tuple[str | int, ...]


def schema_problems(validator: jsonschema.Validator, data: Any) -> Iterator[tuple[Path, str]]:
    """(field path, message) for every schema violation, most specific first."""
    found: dict[tuple[Path, str], bool] = {}
    for error in validator.iter_errors(data):
        for leaf in _meant(validator, error):
            generic = leaf.validator in ("oneOf", "anyOf")
            text = _alternatives(validator, leaf) if generic else message(leaf)
            path = tuple(leaf.absolute_path)
            if leaf.validator == "additionalProperties":
                for key in sorted(set(leaf.instance) - set(leaf.schema.get("properties", {}))):
                    found.setdefault(((*path, key), _unknown_field(key)), False)
                continue
            found.setdefault((path, text), text == _NO_FORM)
    specific = {
        path[: len(path) - 1] if text.startswith("unknown field") else path
        for (path, text), generic in found.items()
        if not generic
    }
    for (path, text), generic in found.items():
        if not (generic and path in specific):
            yield path, text


_NO_FORM = "does not match any of the allowed forms of this field"
# Keys that make a mapping a criterion; a document requirement has none of them.
_CRITERION_KEYS = {"fact", "all", "any", "n_of", "not", "ref", "some", "every", "frequency"}


def _unknown_field(key: str) -> str:
    if key == "if_absent":
        return "if_absent is allowed only on a leaf, a some/every quantifier or a frequency limit"
    return f"unknown field '{key}'"


def _alternatives(validator: jsonschema.Validator, error: ValidationError) -> str:
    """For a value that fits none of a choice of forms: say which forms would do."""
    if isinstance(error.instance, dict):
        return _node_mistake(error.instance) or _NO_FORM
    if isinstance(error.instance, list):
        return _NO_FORM
    names = [_form_name(_resolve(validator, branch)) for branch in error.validator_value]
    return f"expected {_or_list(names)}, got {describe(error.instance)}"


def _node_mistake(node: dict[str, Any]) -> str | None:
    """The two mistakes authors make with a criterion's form, named; None for others."""
    operators = [key for key in OPERATORS if key in node]
    if "fact" in node and len(operators) > 1:
        found = _or_list([repr(key) for key in operators], "and")
        hint = " (for a range, write between: [low, high])" if {"gte", "lte"} <= set(operators) else ""
        return f"a leaf takes exactly one operator, found {found}{hint}"
    if not _CRITERION_KEYS & set(node) and {"id", "text"} <= set(node):
        return (
            "a document requirement (id and text only) belongs under documentation; "
            "a criterion needs fact, all, any, n_of, not, ref, some, every or frequency"
        )
    return None


def _form_name(schema: dict[str, Any]) -> str:
    if schema.get("format") == "date":
        return "a date (YYYY-MM-DD)"
    if "fact" in schema.get("required", []):
        return "{fact: <path>}"
    kinds = schema.get("type", "value")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return _or_list([_article(kind) for kind in kinds])


def _or_list(items: list[str], conjunction: str = "or") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _meant(validator: jsonschema.Validator, error: ValidationError) -> list[ValidationError]:
    """The errors of the branch the author meant, recursively; the error itself otherwise."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    branch = _branch_for(validator, error)
    if branch is None:
        return [error]
    inner = [e for e in error.context if e.relative_schema_path and e.relative_schema_path[0] == branch]
    if not inner:
        return [error]
    found: list[ValidationError] = []
    for item in inner:
        found += _meant(validator, item)
    return found


def _branch_for(validator: jsonschema.Validator, error: ValidationError) -> int | None:
    instance = error.instance
    if not isinstance(instance, dict):
        return None
    for index, branch in enumerate(error.validator_value):
        schema = _resolve(validator, branch)
        if _identifying_keys(schema) & set(instance):
            return index
    return None


def _identifying_keys(schema: dict[str, Any]) -> set[str]:
    """Keys a branch requires (or one of which it requires), less those every node may have."""
    keys = set(schema.get("required", []))
    for option in schema.get("oneOf", []) + schema.get("anyOf", []):
        keys |= set(option.get("required", []))
    return keys - {"id", "text", "cite", "applies_when"}


def _resolve(validator: jsonschema.Validator, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = validator.schema["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def message(error: ValidationError) -> str:
    instance = error.instance
    if error.validator == "type":
        wanted = error.validator_value
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        if isinstance(instance, int) and not isinstance(instance, bool) and "string" in str(wanted):
            return f"expected a string, got the number {instance}: quote codes, write '{instance}'"
        return f"expected {_article(str(wanted))}, got {describe(instance)}"
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        extra = re.findall(r"'([^']+)'", error.message)
        return f"unknown field {', '.join(repr(e) for e in extra)}" if extra else error.message
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in (instance or {})]
        return f"missing required field {', '.join(repr(k) for k in missing)}"
    if error.validator == "pattern" and isinstance(instance, int) and not isinstance(instance, bool):
        return f"expected a string, got the number {instance}: quote codes, write '{instance}'"
    if error.validator == "pattern" and isinstance(instance, str):
        return f"{instance!r} is not in the expected form"
    return error.message


def _article(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"
