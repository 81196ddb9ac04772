"""Each schema keyword gets a hint that says what to change."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from destilation_validators.schema_hints import hint_for, schema_issues


def errors(schema: Any, instance: Any) -> list[Any]:
    return list(Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).iter_errors(instance))


@pytest.mark.parametrize(
    ("schema", "instance", "hint"),
    [
        ({"required": ["a", "b"]}, {"a": 1}, 'Add the missing field "b".'),
        ({"additionalProperties": False}, {"x": 1}, "Remove the fields the schema does not define."),
        ({"unevaluatedProperties": False, "properties": {"a": {}}}, {"b": 1}, 'the allowed fields are "a".'),
        ({"type": ["string", "null"]}, 1, "Use a string or null here."),
        ({"type": "boolean"}, 1, "Use true or false here."),
        ({"maxLength": 3}, "abcd", "Shorten this text to at most 3 characters."),
        ({"pattern": "^[A-Z]"}, "abc", 'Rewrite this text so it matches the regular expression "^[A-Z]".'),
        ({"format": "email"}, "nope", "Write a valid email here."),
        ({"enum": ["easy", "hard"]}, "medium", 'Use exactly one of these values: "easy", "hard".'),
        ({"const": 3}, 4, "Use exactly the value 3."),
        ({"minItems": 2}, [1], "Give at least 2 items."),
        ({"maxItems": 1}, [1, 2], "Give at most 1 items."),
        ({"uniqueItems": True}, [1, 1], "Remove the repeated items; every item must be different."),
        ({"minProperties": 2}, {"a": 1}, "Give at least 2 fields."),
        ({"minimum": 1}, 0, "Use a number of at least 1."),
        ({"maximum": 1}, 2, "Use a number of at most 1."),
        ({"exclusiveMinimum": 1}, 1, "Use a number greater than 1."),
        ({"exclusiveMaximum": 1}, 1, "Use a number less than 1."),
        ({"multipleOf": 5}, 7, "Use a multiple of 5."),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, 1, "Make this value match one of the shapes"),
        ({"oneOf": [{"type": "number"}, {"type": "integer"}]}, 1, "exactly one of the shapes"),
        ({"not": {"type": "string"}}, "x", "This value is not allowed here; use a different one."),
        ({"properties": {"a": False}}, {"a": 1}, "Remove this value; the schema allows nothing here."),
        ({"dependentRequired": {"a": ["b"]}}, {"a": 1}, "satisfies the schema's 'dependentRequired' rule."),
    ],
)
def test_hints_by_keyword(schema: Any, instance: Any, hint: str) -> None:
    found = errors(schema, instance)
    assert len(found) == 1
    assert hint in hint_for(found[0])


def test_issue_messages_are_clipped() -> None:
    found = errors({"type": "string"}, {"k": "v" * 1000})
    (issue,) = schema_issues(found, 5)
    assert issue.code == "schema" and issue.path == "$"
    assert len(issue.message) <= 300
