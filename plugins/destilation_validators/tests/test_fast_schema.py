"""The quick yes of `fast_schema` must never accept what jsonschema refuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from destilation_validators.fast_schema import compile_fast

KINDS = ["string", "integer", "number", "boolean", "null", "object", "array"]
NAMES = st.sampled_from(["a", "b", "c", "question", "answer"])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-50, max_value=50)
    | st.floats(min_value=-50, max_value=50, allow_nan=False)
    | st.text(alphabet="ab\u00e9\U0001f600", max_size=6)
    | st.sampled_from(["x", "yes", "no"])
)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=4),
    max_leaves=12,
)


def _keywords(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    small = st.integers(min_value=0, max_value=5)
    bound = st.integers(min_value=-20, max_value=20) | st.floats(min_value=-20, max_value=20, allow_nan=False)
    return st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(KINDS) | st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True),
            "minLength": small,
            "maxLength": small,
            "minimum": bound,
            "maximum": bound,
            "minItems": small,
            "maxItems": small,
            "enum": st.lists(st.sampled_from(["x", "yes", "no", "a"]), min_size=1, max_size=3),
            "const": st.sampled_from(["x", "yes"]),
            "properties": st.dictionaries(NAMES, inner, max_size=3),
            "required": st.lists(NAMES, max_size=3, unique=True),
            "additionalProperties": st.booleans() | inner,
            "items": inner,
            "description": st.just("annotations never refuse a value"),
        },
    )


schemas: st.SearchStrategy[Any] = st.recursive(
    st.just({}) | st.just(True) | st.builds(dict, _keywords(st.just({}))),
    _keywords,
    max_leaves=8,
)


@settings(max_examples=600, deadline=None)
@given(schemas, values)
def test_a_quick_yes_is_always_jsonschemas_yes(schema: Any, value: Any) -> None:
    check = compile_fast(schema)
    assert check is not None  # every generated schema stays inside the subset
    if check(value):
        assert Draft202012Validator(schema).is_valid(value), (schema, value)


def test_the_simple_templates_answers_get_the_quick_yes() -> None:
    schema = {
        "type": "object",
        "properties": {
            "question": {"type": "string", "minLength": 10, "description": "…"},
            "answer": {"type": "string", "minLength": 1},
        },
        "required": ["question", "answer"],
        "additionalProperties": False,
    }
    check = compile_fast(schema)
    assert check is not None
    assert check({"question": "What makes the sky blue?", "answer": "Rayleigh scattering."})
    assert not check({"question": "short", "answer": "x"})
    assert not check({"question": "What makes the sky blue?"})
    assert not check({"question": "What makes the sky blue?", "answer": "x", "extra": 1})


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "format": "email"},  # formats are asserted: jsonschema's call
        {"$schema": "http://json-schema.org/draft-04/schema#"},
        {"pattern": "^a"},
        {"type": "object", "properties": {"a": False}},
        {"items": [{"type": "string"}]},  # the tuple form differs between drafts
        {"enum": [1, True]},  # jsonschema tells 1 and True apart; == does not
        {"type": "strange"},
        {"type": []},
        {"minLength": True},
        {"minimum": "3"},
        {"properties": []},
        {"required": [1]},
        [],
    ],
)
def test_schemas_outside_the_subset_are_left_to_jsonschema(schema: Any) -> None:
    assert compile_fast(schema) is None


def test_integers_written_as_floats_are_left_to_jsonschema() -> None:
    check = compile_fast({"type": "integer", "minimum": 0})
    assert check is not None
    assert check(3)
    assert not check(3.0)  # jsonschema accepts it; the quick check only says "not sure"
    assert not check(True)
    assert not check(-1)
