"""A quick yes for the common shapes of template schemas, before jsonschema's full check.

jsonschema re-dispatches every keyword and builds a child validator for every property it
descends into: about a seventh of a mock run's instructions per sample on a two-field schema. Most
answers are valid, so this module compiles a schema of a small keyword subset into plain
Python checks that answer *surely valid* or *not sure*. Only a sure yes skips jsonschema; every
other answer, and every schema using a keyword outside the subset, still goes through it, so the
issues a model gets back are jsonschema's, word for word.

Each check below may say "not sure" where jsonschema would accept (a float that is a whole
number for ``integer``, an enum of numbers); it must never say yes where jsonschema would not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords that only annotate: they never make a value invalid.
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$comment", "deprecated", "readOnly", "writeOnly"}
)
_HANDLED = _ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "minLength",
    "maxLength",
    "enum",
    "const",
    "items",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
}
# Python types that are surely of a JSON type; bool is excluded from the numbers by `_is`.
_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "object": dict,
    "array": list,
    "boolean": bool,
    "null": type(None),
    "number": (int, float),
    "integer": int,
}


class _Unsupported(Exception):
    pass


def _is(value: Any, kind: str) -> bool:
    if isinstance(value, bool) and kind in ("number", "integer"):
        return False
    return isinstance(value, _TYPES[kind])


def compile_fast(schema: Any) -> Check | None:
    """A check that returns True only for values `schema` surely accepts; None when it cannot tell."""
    try:
        return _compile(schema)
    except _Unsupported:
        return None


def _compile(schema: Any) -> Check:
    if schema is True or schema == {}:
        return lambda _value: True
    if not isinstance(schema, dict) or not set(schema) <= _HANDLED:
        raise _Unsupported
    checks: list[Check] = []
    if "type" in schema:
        checks.append(_type_check(schema["type"]))
    if "enum" in schema:
        checks.append(_enum_check(schema["enum"]))
    if "const" in schema:
        checks.append(_enum_check([schema["const"]]))
    checks.extend(_string_checks(schema))
    checks.extend(_number_checks(schema))
    checks.extend(_object_checks(schema))
    checks.extend(_array_checks(schema))
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _type_check(kind: Any) -> Check:
    kinds = [kind] if isinstance(kind, str) else kind
    if not isinstance(kinds, list) or not kinds or not all(k in _TYPES for k in kinds):
        raise _Unsupported
    if len(kinds) == 1:
        only = kinds[0]
        return lambda value: _is(value, only)
    return lambda value: any(_is(value, k) for k in kinds)


def _enum_check(options: Any) -> Check:
    # Strings only: jsonschema's equality treats 1, 1.0 and True apart in ways == does not.
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise _Unsupported
    allowed = frozenset(options)
    return lambda value: isinstance(value, str) and value in allowed


def _bound(schema: dict[str, Any], key: str, kinds: tuple[type, ...]) -> Any:
    bound = schema.get(key)
    if bound is not None and (isinstance(bound, bool) or not isinstance(bound, kinds)):
        raise _Unsupported
    return bound


def _string_checks(schema: dict[str, Any]) -> list[Check]:
    low, high = _bound(schema, "minLength", (int,)), _bound(schema, "maxLength", (int,))
    if low is None and high is None:
        return []
    low, high = low or 0, high if high is not None else float("inf")
    # Code points, like jsonschema: len() of a Python str.
    return [lambda value: not isinstance(value, str) or low <= len(value) <= high]


def _number_checks(schema: dict[str, Any]) -> list[Check]:
    low, high = _bound(schema, "minimum", (int, float)), _bound(schema, "maximum", (int, float))
    if low is None and high is None:
        return []
    low = low if low is not None else float("-inf")
    high = high if high is not None else float("inf")
    return [lambda value: not _is(value, "number") or low <= value <= high]


def _object_checks(schema: dict[str, Any]) -> list[Check]:
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(properties, dict) or not isinstance(required, list):
        raise _Unsupported
    if not all(isinstance(name, str) for name in required):
        raise _Unsupported
    if not properties and not required and extra is True:
        return []
    subs = {name: _compile(sub) for name, sub in properties.items()}
    other = None if extra is False else _compile(extra)
    needed = tuple(required)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for name in needed:
            if name not in value:
                return False
        for name, item in value.items():
            sub = subs.get(name)
            if sub is None:
                if other is None or not other(item):
                    return False
            elif not sub(item):
                return False
        return True

    return [check]


def _array_checks(schema: dict[str, Any]) -> list[Check]:
    low, high = _bound(schema, "minItems", (int,)), _bound(schema, "maxItems", (int,))
    items = schema.get("items")
    if low is None and high is None and items is None:
        return []
    if items is not None and not isinstance(items, dict | bool):
        raise _Unsupported  # the tuple form means different things in different drafts
    each = _compile(items) if items is not None else None
    low, high = low or 0, high if high is not None else float("inf")

    def check(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        if not low <= len(value) <= high:
            return False
        return each is None or all(each(item) for item in value)

    return [check]
