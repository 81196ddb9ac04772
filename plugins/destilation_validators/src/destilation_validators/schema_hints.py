"""Turn jsonschema errors into issues whose hints tell the model what to change."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from destilation import Issue
from destilation_validators.text import clip

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "an object",
    "array": "an array",
    "boolean": "true or false",
    "null": "null",
}


def _json(value: Any, limit: int = 80) -> str:
    return clip(json.dumps(value, ensure_ascii=False, default=str), limit)


def _names(values: Sequence[Any]) -> str:
    return ", ".join(_json(v) for v in values)


def _required(e: ValidationError) -> str:
    missing = [name for name in e.validator_value if name not in e.instance]
    return f"Add the missing field {_names(missing)}."


def _additional(e: ValidationError) -> str:
    allowed = list(e.schema.get("properties", {}))
    if allowed:
        return f"Remove every field the schema does not define; the allowed fields are {_names(allowed)}."
    return "Remove the fields the schema does not define."


def _type(e: ValidationError) -> str:
    wanted = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
    return "Use " + " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in wanted) + " here."


_HINTS: dict[str, Callable[[ValidationError], str]] = {
    "required": _required,
    "additionalProperties": _additional,
    "unevaluatedProperties": _additional,
    "type": _type,
    "minLength": lambda e: f"Make this text at least {e.validator_value} characters long, with real content.",
    "maxLength": lambda e: f"Shorten this text to at most {e.validator_value} characters.",
    "pattern": lambda e: f"Rewrite this text so it matches the regular expression {_json(e.validator_value)}.",
    "format": lambda e: f"Write a valid {e.validator_value} here.",
    "enum": lambda e: f"Use exactly one of these values: {clip(_names(e.validator_value), 200)}.",
    "const": lambda e: f"Use exactly the value {_json(e.validator_value)}.",
    "minItems": lambda e: f"Give at least {e.validator_value} items.",
    "maxItems": lambda e: f"Give at most {e.validator_value} items.",
    "uniqueItems": lambda e: "Remove the repeated items; every item must be different.",
    "minProperties": lambda e: f"Give at least {e.validator_value} fields.",
    "maxProperties": lambda e: f"Give at most {e.validator_value} fields.",
    "minimum": lambda e: f"Use a number of at least {e.validator_value}.",
    "maximum": lambda e: f"Use a number of at most {e.validator_value}.",
    "exclusiveMinimum": lambda e: f"Use a number greater than {e.validator_value}.",
    "exclusiveMaximum": lambda e: f"Use a number less than {e.validator_value}.",
    "multipleOf": lambda e: f"Use a multiple of {e.validator_value}.",
    "anyOf": lambda e: "Make this value match one of the shapes the schema allows here.",
    "oneOf": lambda e: "Make this value match exactly one of the shapes the schema allows here.",
    "not": lambda e: "This value is not allowed here; use a different one.",
}


def hint_for(error: ValidationError) -> str:
    """An instruction for fixing `error`, chosen by the schema keyword that failed."""
    keyword = error.validator
    make = _HINTS.get(str(keyword))
    if make is not None:
        return make(error)
    if keyword is None:  # a `false` subschema: nothing is allowed at this place
        return "Remove this value; the schema allows nothing here."
    return f"Change this value so it satisfies the schema's {keyword!r} rule."


def schema_issues(errors: Sequence[ValidationError], limit: int) -> tuple[Issue, ...]:
    """One issue per schema error, at most `limit` of them plus a line counting the rest."""
    issues = [Issue("schema", clip(e.message), e.json_path, hint_for(e)) for e in errors[:limit]]
    if len(errors) > limit:
        issues.append(
            Issue(
                "schema",
                f"{len(errors) - limit} more schema errors are not listed",
                hint="Fix the errors above first; the rest are probably alike.",
            )
        )
    return tuple(issues)
