"""value_for_schema keyword by keyword, the plan cache, merging, and the errors for unusable schemas."""

from __future__ import annotations

import random
from typing import Any

import jsonschema
import pytest

from destilation_mock import content
from destilation_mock.content import SchemaError, merge, plan_for, value_for_schema, words_of

HINT = "Describe how glaciers carve valleys in mountain regions"


def values(schema: Any, count: int = 50, hint: str = HINT) -> list[Any]:
    rng = random.Random(7)
    return [value_for_schema(schema, rng, hint) for _ in range(count)]


def assert_valid(schema: Any, count: int = 50, validator: type[Any] = jsonschema.Draft202012Validator) -> list[Any]:
    checker = validator(schema, format_checker=validator.FORMAT_CHECKER)
    produced = values(schema, count)
    for value in produced:
        errors = [e.message for e in checker.iter_errors(value)]
        assert not errors, (value, errors)
    return produced


# --- words and strings -----------------------------------------------------------------------


def test_words_of_keeps_content_words_once_in_order() -> None:
    assert words_of("Write about the Glaciers, glaciers and 42 VALLEYS_x of ice!") == ("glaciers", "valleys", "ice")
    assert words_of("a b 12 ; {}") == ()
    assert len(words_of(" ".join(f"word{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(100)))) == 24


def test_strings_mix_hint_words_and_differ_across_hints() -> None:
    schema = {"type": "string"}
    first = values(schema, 30)
    assert any(word in " ".join(first).lower() for word in ("glaciers", "valleys", "mountain"))
    # Even from the same random state, other hint words give other strings (the provider's state differs too).
    other = values(schema, 30, hint="Summarise the history of printing presses")
    assert sum(a != b for a, b in zip(first, other, strict=True)) >= 25
    # Without hint words the vocabulary alone still gives varied sentences.
    assert len(set(values(schema, 30, hint=""))) == 30


def test_string_lengths_are_honoured() -> None:
    for low, high in [(0, 0), (1, 1), (5, 5), (30, 30), (0, 3), (40, 45), (200, None), (None, 12), (7, 30)]:
        schema: dict[str, Any] = {"type": "string"}
        if low is not None:
            schema["minLength"] = low
        if high is not None:
            schema["maxLength"] = high
        for text in assert_valid(schema, 40):
            assert text == "" or text[0] != " "


def test_cut_strings_end_on_a_whole_word_when_possible() -> None:
    for text in values({"type": "string", "maxLength": 30}, 40):
        assert len(text) <= 30
        assert not text.endswith(" ")
    # A minimum right at the maximum keeps the cut as it is.
    assert all(len(text) == 12 for text in values({"type": "string", "minLength": 12, "maxLength": 12}, 40))


@pytest.mark.parametrize(
    "fmt",
    [
        "date-time",
        "date",
        "time",
        "email",
        "idn-email",
        "uri",
        "url",
        "iri",
        "uri-reference",
        "hostname",
        "uuid",
        "ipv4",
        "ipv6",
    ],
)
def test_common_formats_are_valid(fmt: str) -> None:
    produced = assert_valid({"type": "string", "format": fmt}, 30)
    assert len(set(produced)) > 1


def test_exotic_format_is_plain_text_and_lengths_beat_formats() -> None:
    assert all(isinstance(v, str) and v for v in values({"type": "string", "format": "x-color"}))
    assert all(len(v) <= 8 for v in values({"type": "string", "format": "email", "maxLength": 8}))
    assert all(len(v) >= 20 for v in values({"type": "string", "format": "date", "minLength": 20}))


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer"},
        {"type": "integer", "minimum": 1, "maximum": 5},
        {"type": "integer", "exclusiveMinimum": 2.5, "exclusiveMaximum": 4},
        {"type": "integer", "minimum": -30},
        {"type": "integer", "maximum": -1000},
        {"type": "integer", "minimum": 10**300, "maximum": 10**300 + 2},
        {"type": "integer", "minimum": 7, "maximum": 7},
        {"type": "number"},
        {"type": "number", "minimum": 0.5, "maximum": 0.75},
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.001},
        {"type": "number", "minimum": 0.123, "maximum": 0.123},
        {"type": "number", "exclusiveMinimum": 1e300},
        {"type": "number", "minimum": -1e308, "maximum": 1e308},
        {"type": "number", "exclusiveMinimum": 1e300, "maximum": 1e308},
        {"type": "number", "multipleOf": 0.1, "minimum": -3.7, "maximum": 12.2},
        {"type": "number", "multipleOf": 0.25, "exclusiveMinimum": 1, "exclusiveMaximum": 2},
        {"type": "number", "multipleOf": 3},
        {"type": "integer", "multipleOf": 0.1},
        {"type": "integer", "multipleOf": 2.0, "minimum": 5, "maximum": 9},
        {"type": "integer", "multipleOf": 7, "minimum": -100, "maximum": -50},
        {"multipleOf": 5},
        {"minimum": 3},
    ],
)
def test_numbers_stay_in_bounds(schema: dict[str, Any]) -> None:
    produced = assert_valid(schema)
    if schema.get("type") == "integer":
        assert all(type(v) is int for v in produced)


def test_numbers_vary_and_look_natural() -> None:
    produced = values({"type": "number", "minimum": 0, "maximum": 10})
    assert len(set(produced)) > 10
    assert all(round(v, 2) == v for v in produced)
    assert set(values({"type": "integer", "minimum": 1, "maximum": 5}, 200)) == {1, 2, 3, 4, 5}


def test_draft4_boolean_exclusive_bounds() -> None:
    schema = {"type": "integer", "minimum": 1, "exclusiveMinimum": True, "maximum": 3, "exclusiveMaximum": True}
    assert set(assert_valid(schema, validator=jsonschema.Draft4Validator)) == {2}
    flags_off = {"type": "integer", "minimum": 1, "exclusiveMinimum": False, "maximum": 2}
    assert set(assert_valid(flags_off, validator=jsonschema.Draft4Validator)) == {1, 2}


# --- other scalars, enum, const --------------------------------------------------------------


def test_booleans_nulls_and_type_lists() -> None:
    assert set(values({"type": "boolean"})) == {True, False}
    assert set(values({"type": "null"})) == {None}
    assert all(isinstance(v, str) for v in values({"type": ["null", "string"]}))
    assert set(values({"type": ["null"]})) == {None}
    assert all(isinstance(v, str) for v in values({}))
    assert all(isinstance(v, str) for v in values(True))


def test_enum_and_const() -> None:
    assert set(values({"enum": ["a", "b", 3]})) == {"a", "b", 3}
    assert set(values({"type": "string", "enum": ["a", 3, None]})) == {"a"}
    assert set(values({"type": "number", "enum": ["a", 3, 2.5, True]})) == {3, 2.5}
    assert set(values({"type": "integer", "enum": [1, 1.5, True, "1"]})) == {1}
    assert set(values({"type": ["null", "boolean"], "enum": [None, False, 0, {}]})) == {None, False}
    assert values({"type": "object", "enum": [{"a": 1}, [1]]}, 1) == [{"a": 1}]
    assert set(values({"enum": ["only"]})) == {"only"}
    assert values({"const": {"k": [1]}}, 2) == [{"k": [1]}, {"k": [1]}]


def test_container_enum_and_const_values_are_fresh_copies() -> None:
    for schema in ({"const": {"k": [1]}}, {"enum": [{"k": [1]}, [2]]}, {"enum": [[5]]}):
        plan = plan_for(schema)
        first = plan(random.Random(1), (), 0)
        first.append(0) if isinstance(first, list) else first["k"].append(0)
        assert plan(random.Random(1), (), 0) != first


# --- objects ---------------------------------------------------------------------------------


def test_objects_emit_required_and_optional_properties() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {"type": "boolean"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    assert all(list(v) == ["a", "b", "c"] for v in assert_valid(schema))


def test_required_names_outside_properties_use_additional_properties() -> None:
    schema = {"type": "object", "required": ["x"], "additionalProperties": {"type": "integer", "minimum": 3}}
    assert all(v["x"] >= 3 for v in assert_valid(schema))
    assert all(isinstance(v["y"], str) for v in assert_valid({"type": "object", "required": ["y"]}))


def test_min_and_max_properties() -> None:
    props = {name: {"type": "integer"} for name in "abcd"}
    capped = {"type": "object", "properties": props, "required": ["d"], "maxProperties": 2}
    assert all(len(v) == 2 and "d" in v for v in assert_valid(capped))
    padded = {"type": "object", "properties": {"extra_1": {"type": "null"}}, "minProperties": 3}
    assert all(list(v) == ["extra_1", "extra_2", "extra_3"] for v in assert_valid(padded))


def test_deep_objects_still_reach_min_properties() -> None:
    # Past SOFT_DEPTH optional properties are skipped, unless minProperties needs them.
    inner = {"type": "object", "properties": {"a": {"type": "null"}, "b": {"type": "null"}}, "minProperties": 1}
    schema: dict[str, Any] = inner
    for _ in range(content.SOFT_DEPTH + 1):
        schema = {"type": "object", "properties": {"n": schema}, "required": ["n"]}
    assert_valid(schema, 5)


def test_object_inferred_from_keywords() -> None:
    assert all(isinstance(v, dict) for v in assert_valid({"properties": {"a": {"type": "null"}}}))


# --- arrays ----------------------------------------------------------------------------------


def test_arrays_respect_item_counts_and_uniqueness() -> None:
    assert all(1 <= len(v) <= 3 for v in assert_valid({"type": "array", "items": {"type": "integer"}}))
    assert all(len(v) == 0 for v in assert_valid({"type": "array", "maxItems": 0}))
    assert all(4 <= len(v) <= 5 for v in assert_valid({"type": "array", "minItems": 4, "maxItems": 5}))
    unique = {
        "type": "array",
        "items": {"type": "integer", "minimum": 1, "maximum": 3},
        "minItems": 3,
        "uniqueItems": True,
    }
    assert all(sorted(v) == [1, 2, 3] for v in assert_valid(unique))
    objects = {"type": "array", "items": {"enum": [{"a": 1}, {"a": 2}]}, "minItems": 2, "uniqueItems": True}
    assert_valid(objects)


def test_unique_items_stop_early_when_the_item_schema_runs_out() -> None:
    schema = {"type": "array", "items": {"type": "boolean"}, "minItems": 3, "maxItems": 3, "uniqueItems": True}
    assert all(sorted(v) == [False, True] for v in values(schema))


def test_tuple_forms() -> None:
    prefix = {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False}
    assert all(len(v) <= 2 for v in assert_valid(prefix))
    old = {"type": "array", "items": [{"type": "null"}], "additionalItems": {"type": "boolean"}, "minItems": 3}
    assert all(v[0] is None and len(v) >= 3 for v in assert_valid(old, validator=jsonschema.Draft7Validator))
    assert all(isinstance(v, list) for v in assert_valid({"minItems": 1}))


# --- combinators and references --------------------------------------------------------------


def test_any_of_and_one_of_take_the_first_branch_that_works() -> None:
    schema = {"anyOf": [{"type": "integer", "minimum": 5, "maximum": 1}, False, {"type": "string", "maxLength": 4}]}
    assert all(isinstance(v, str) and len(v) <= 4 for v in assert_valid(schema))
    shared = {
        "type": "object",
        "required": ["kind"],
        "oneOf": [{"properties": {"kind": {"const": "a"}}}, {"properties": {"kind": {"const": "b"}}}],
    }
    assert all(v["kind"] == "a" for v in assert_valid(shared))
    assert set(values({"oneOf": [True]})) != set()


def test_all_of_merges_object_branches() -> None:
    schema = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}, "required": ["a"]},
            {"properties": {"a": {"maximum": 3}, "b": {"type": "string"}}, "required": ["b"]},
            True,
            {"$ref": "#/$defs/more"},
        ],
        "$defs": {"more": {"properties": {"c": {"type": "null"}}}},
    }
    assert all(0 <= v["a"] <= 3 and set(v) == {"a", "b", "c"} for v in assert_valid(schema))


def test_local_references() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/word"},
            "b": {"$ref": "#/definitions/n~1m"},
            "d": {"$ref": "#/$defs/word", "maxLength": 3, "title": "siblings narrow the target"},
        },
        "required": ["a", "b", "d"],
        "$defs": {"word": {"type": "string", "minLength": 2}},
        "definitions": {"n/m": {"type": "integer", "maximum": 0}},
    }
    assert all(2 <= len(v["d"]) <= 3 for v in assert_valid(schema))
    # A pointer may also step into a list (jsonschema's resolver does not follow that, so checked by hand).
    listed = {"$ref": "#/$defs/list/1", "$defs": {"list": [{"type": "null"}, {"type": "boolean"}]}}
    assert set(values(listed)) == {True, False}


def test_recursive_references_terminate() -> None:
    tree = {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["name", "children"],
            }
        },
        "$ref": "#/$defs/node",
    }
    produced = assert_valid(tree, 20)
    assert any(v["children"] for v in produced)
    linked = {"type": "object", "properties": {"next": {"$ref": "#"}, "v": {"type": "integer"}}, "required": ["v"]}
    assert_valid(linked, 20)


def test_merge_rules() -> None:
    assert merge({"type": ["number", "string"]}, {"type": "integer"}) == {"type": ["integer"]}
    assert merge({"type": "integer"}, {"type": ["number", "null"]}) == {"type": ["integer"]}
    assert merge({"type": "string"}, {"type": ["null", "string"]}) == {"type": ["string"]}
    assert merge({"required": ["a", "b"]}, {"required": ["b", "c"]}) == {"required": ["a", "b", "c"]}
    assert merge({"enum": [1, 2, 3]}, {"enum": [3, 2, 9]}) == {"enum": [2, 3]}
    assert merge({"minimum": 1, "maxLength": 9}, {"minimum": 4, "maxLength": 5}) == {"minimum": 4, "maxLength": 5}
    assert merge({"exclusiveMinimum": 1, "exclusiveMaximum": 9}, {"exclusiveMinimum": 0, "exclusiveMaximum": 3}) == {
        "exclusiveMinimum": 1,
        "exclusiveMaximum": 3,
    }
    assert merge({"allOf": [1]}, {"allOf": [2]}) == {"allOf": [1, 2]}
    assert merge({"anyOf": ["a", "b"]}, {"anyOf": ["c"]}) == {"anyOf": [{"allOf": ["a", "c"]}, {"allOf": ["b", "c"]}]}
    assert merge({"items": {"type": "string"}}, {"items": False}) == {"items": {"allOf": [{"type": "string"}, False]}}
    assert merge({"exclusiveMinimum": True, "title": "x"}, {"exclusiveMinimum": 3, "title": "y"}) == {
        "exclusiveMinimum": 3,
        "title": "y",
    }


def test_merged_any_of_branches_are_all_satisfied() -> None:
    schema = {
        "allOf": [
            {"anyOf": [{"type": "integer", "minimum": 10}, {"type": "string"}]},
            {"anyOf": [{"maximum": 20}]},
        ]
    }
    assert all(10 <= v <= 20 for v in assert_valid(schema))
    assert all(v == [] for v in assert_valid({"allOf": [{"type": "array", "minItems": 0}, {"items": False}]}))


# --- plan cache ------------------------------------------------------------------------------


def test_plans_are_cached_by_identity_and_by_content() -> None:
    schema = {"type": "object", "properties": {"cached": {"type": "string"}}}
    plan = plan_for(schema)
    assert plan_for(schema) is plan
    assert plan_for({"properties": {"cached": {"type": "string"}}, "type": "object"}) is plan


def test_cache_stays_bounded() -> None:
    for i in range(content._CACHE_SIZE + 10):
        plan_for({"type": "integer", "minimum": i})
    assert len(content._BY_ID) <= content._CACHE_SIZE
    assert len(content._BY_TEXT) <= content._CACHE_SIZE
    assert value_for_schema({"type": "integer", "minimum": 3, "maximum": 3}, random.Random(0), "") == 3


# --- unusable schemas ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (False, "$: the schema `false` admits no value"),
        ({"properties": {"a": 5}}, "$.properties.a: a schema must be an object or a boolean, got int"),
        ({"type": "text"}, "$: unknown type 'text'"),
        ({"type": []}, "$: 'type' allows no type"),
        ({"$ref": "other.json#/x"}, "$: only local references (#/$defs/...) are supported, got $ref 'other.json#/x'"),
        ({"$ref": "#/$defs/missing"}, "$: $ref '#/$defs/missing' points at nothing in this schema"),
        (
            {"$ref": "#/$defs/list/5", "$defs": {"list": []}},
            "$: $ref '#/$defs/list/5' points at nothing in this schema",
        ),
        (
            {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a", "minLength": 1}}},
            "#/$defs/a: $ref '#/$defs/a' refers to itself without end",
        ),
        ({"enum": []}, "$: 'enum' has no value of the allowed type"),
        ({"type": "integer", "enum": ["a"]}, "$: 'enum' has no value of the allowed type"),
        ({"enum": "abc"}, "$: 'enum' must be a list"),
        ({"type": "string", "minLength": 5, "maxLength": 2}, "$: 'minLength' 5 is greater than 'maxLength' 2"),
        ({"type": "string", "minLength": -1}, "$: 'minLength' must be a non-negative integer, got -1"),
        ({"type": "array", "maxItems": 1.5}, "$: 'maxItems' must be a non-negative integer, got 1.5"),
        ({"type": "array", "minItems": 3, "maxItems": 2}, "$: 'minItems' 3 is more than the array can hold"),
        ({"type": "array", "prefixItems": [{}], "items": False, "minItems": 2}, "$: 'minItems' 2 is more than"),
        ({"type": "integer", "minimum": 2.2, "maximum": 2.8}, "$: no integer lies between the minimum and the maximum"),
        (
            {"type": "number", "exclusiveMinimum": 1, "maximum": 1},
            "$: no number lies between the minimum and the maximum",
        ),
        ({"type": "number", "minimum": "1"}, "$: 'minimum' must be a finite number, got '1'"),
        ({"type": "number", "multipleOf": 0}, "$: 'multipleOf' must be greater than 0, got 0"),
        (
            {"type": "integer", "multipleOf": 4, "minimum": 1, "maximum": 3},
            "$: no integer multiple of 4 fits the bounds",
        ),
        (
            {"type": "number", "multipleOf": 1e-320, "minimum": 1e300},
            "$: 'multipleOf' 1e-320 is too small for the bounds",
        ),
        (
            {"type": "object", "required": ["x"], "additionalProperties": False},
            "$: needs properties beyond 'properties' but additionalProperties is false",
        ),
        (
            {"type": "object", "properties": {"a": {}, "b": {}}, "required": ["a", "b"], "maxProperties": 1},
            "$: more properties are required than 'maxProperties' 1 allows",
        ),
        ({"type": "object", "properties": []}, "$: 'properties' must be an object"),
        ({"type": "object", "required": "a"}, "$: 'required' must be a list of property names"),
        ({"anyOf": []}, "$: no anyOf branch can be satisfied (empty list)"),
        (
            {"oneOf": [False]},
            "$: no oneOf branch can be satisfied ($.oneOf[0]: this branch admits no value (it is false))",
        ),
        ({"allOf": [{"type": "string"}, False]}, "$.allOf[1]: this branch admits no value (it is false)"),
        ({"type": "array", "prefixItems": 5}, "$: the schema uses a keyword with a value of the wrong type"),
        ({"type": "string", "x": {1, 2}}, "$: the schema is not JSON data"),
    ],
)
def test_unusable_schemas_raise_one_clear_line(schema: Any, message: str) -> None:
    with pytest.raises(SchemaError) as info:
        value_for_schema(schema, random.Random(0), HINT)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_nesting_and_reference_loops_are_reported() -> None:
    deep: dict[str, Any] = {"type": "null"}
    for _ in range(content.HARD_DEPTH + 1):
        deep = {"type": "array", "items": deep}
    with pytest.raises(SchemaError, match=r"nests more than 64 levels deep"):
        value_for_schema(deep, random.Random(0), "")
    endless = {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}}
    with pytest.raises(SchemaError, match=r"^#/\$defs/a: \$ref '#/\$defs/a' recurses without end$"):
        value_for_schema(endless, random.Random(0), "")
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(SchemaError, match=r"^\$: the schema is not JSON data"):
        value_for_schema(cyclic, random.Random(0), "")
