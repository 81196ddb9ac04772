"""Property test: for generated JSON schemas, value_for_schema's output validates with jsonschema."""

from __future__ import annotations

import random
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from destilation_mock.content import value_for_schema

Schema = dict[str, Any]

names = st.sampled_from(["title", "body", "score", "tags", "level", "items", "note", "id"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-50, 50), st.text(max_size=8))


@st.composite
def string_schemas(draw: st.DrawFn) -> Schema:
    schema: Schema = {"type": "string"}
    if draw(st.booleans()):
        schema["format"] = draw(st.sampled_from(["date-time", "date", "email", "uri", "uuid", "ipv4", "x-custom"]))
        return schema
    low = draw(st.none() | st.integers(0, 60))
    high = draw(st.none() | st.integers(low or 0, 80))
    if low is not None:
        schema["minLength"] = low
    if high is not None:
        schema["maxLength"] = high
    return schema


@st.composite
def number_schemas(draw: st.DrawFn) -> Schema:
    kind = draw(st.sampled_from(["integer", "number"]))
    schema: Schema = {"type": kind}
    step = draw(st.none() | st.sampled_from([1, 2, 3, 5, 0.5, 0.25, 0.1, 2.5]))
    low = draw(st.none() | st.integers(-1000, 1000) | st.floats(-1000, 1000))
    span = draw(st.floats(3, 500))
    if step is not None:
        schema["multipleOf"] = step
        span += 4 * step
    if low is not None:
        schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
    if draw(st.booleans()):
        high = (low if low is not None else draw(st.integers(-1000, 1000))) + span
        schema["exclusiveMaximum" if draw(st.booleans()) else "maximum"] = high
    return schema


@st.composite
def enum_schemas(draw: st.DrawFn) -> Schema:
    values = draw(st.lists(scalars, min_size=1, max_size=5, unique_by=repr))
    return {"enum": values} if draw(st.booleans()) else {"const": values[0]}


leaves = st.one_of(
    string_schemas(),
    number_schemas(),
    enum_schemas(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.just({"type": ["string", "null"]}),
    st.just({}),
)


@st.composite
def object_schemas(draw: st.DrawFn, children: st.SearchStrategy[Schema]) -> Schema:
    properties = draw(st.dictionaries(names, children, max_size=4))
    schema: Schema = {"type": "object", "properties": properties}
    required = draw(st.lists(st.sampled_from(sorted(properties)), unique=True)) if properties else []
    if required:
        schema["required"] = required
    closed = draw(st.booleans())
    if closed:
        schema["additionalProperties"] = False
    if draw(st.booleans()):
        schema["maxProperties"] = draw(st.integers(len(required), len(required) + 3))
    if draw(st.booleans()):
        most = len(properties) if closed else len(properties) + 2
        least = draw(st.integers(0, most))
        if least <= schema.get("maxProperties", least):
            schema["minProperties"] = least
    return schema


@st.composite
def array_schemas(draw: st.DrawFn, children: st.SearchStrategy[Schema]) -> Schema:
    schema: Schema = {"type": "array", "items": draw(children)}
    least = draw(st.integers(0, 3))
    if least:
        schema["minItems"] = least
    if draw(st.booleans()):
        schema["maxItems"] = draw(st.integers(least, least + 4))
    # Uniqueness can always be met with one item; more may not exist for a narrow item schema.
    if least <= 1 and draw(st.booleans()):
        schema["uniqueItems"] = True
    return schema


@st.composite
def combined_schemas(draw: st.DrawFn, children: st.SearchStrategy[Schema]) -> Schema:
    choice = draw(st.sampled_from(["anyOf", "oneOf", "allOf"]))
    if choice == "anyOf":
        return {"anyOf": draw(st.lists(children, min_size=1, max_size=3))}
    if choice == "oneOf":
        # Branches of different types, so exactly one can match.
        return {"oneOf": [draw(string_schemas()), {"type": "integer", "minimum": 0}]}
    first = draw(st.dictionaries(st.sampled_from(["a", "b", "c"]), children, max_size=2))
    second = draw(st.dictionaries(st.sampled_from(["x", "y"]), children, max_size=2))
    return {
        "allOf": [
            {"type": "object", "properties": first, "required": sorted(first)},
            {"properties": second, "required": sorted(second)[:1]},
        ]
    }


def extend(children: st.SearchStrategy[Schema]) -> st.SearchStrategy[Schema]:
    return st.one_of(object_schemas(children), array_schemas(children), combined_schemas(children))


schemas = st.recursive(leaves, extend, max_leaves=12)


@st.composite
def with_definitions(draw: st.DrawFn) -> Schema:
    """Some schemas move a part into $defs / definitions and point at it with a local $ref."""
    schema = draw(schemas)
    style = draw(st.sampled_from([None, "$defs", "definitions"]))
    if style is None:
        return schema
    return {style: {"part": schema}, "$ref": f"#/{style}/part"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=with_definitions(), seed=st.integers(0, 2**32), hint=st.text(max_size=80))
def test_values_validate(schema: Schema, seed: int, hint: str) -> None:
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    validator.check_schema(schema)
    value = value_for_schema(schema, random.Random(seed), hint)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(value)]
    assert not errors, (value, errors)


@settings(max_examples=100, deadline=None)
@given(schema=with_definitions(), seed=st.integers(0, 2**32))
def test_same_rng_state_same_value(schema: Schema, seed: int) -> None:
    first = value_for_schema(schema, random.Random(seed), "the same hint")
    assert value_for_schema(schema, random.Random(seed), "the same hint") == first
