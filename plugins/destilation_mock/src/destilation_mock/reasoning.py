"""Reasoning traces: what a reasoning model returns beside its answer, several steps long.

The trace is the native reasoning of a request that asks for it, and it also fills a schema's
`reasoning` text field, so a reasoning template is served whether or not its mode asks for native
reasoning.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

TRACE_FIELD = "reasoning"
"""The schema field a trace fills when the answer's schema has one of type string."""

_STEPS = (
    "The request is about {a}, so I first recall what {a} means here.",
    "I list the facts about {b} that the question depends on.",
    "I check each of them against {a} and drop the ones that do not apply.",
    "I combine what is left into one result and check it once more against {b}.",
    "Then I write the final answer in the required shape.",
)


def _pick(rng: random.Random, words: Sequence[str]) -> str:
    pool = words or ("request",)
    return pool[int(rng.random() * len(pool))]


def trace(rng: random.Random, words: Sequence[str]) -> str:
    """Three to five prompt-dependent steps, one per line."""
    a, b = _pick(rng, words), _pick(rng, words)
    count = 3 + int(rng.random() * 3)
    return "\n".join(step.format(a=a, b=b) for step in _STEPS[:count])


def has_trace_field(schema: Any) -> bool:
    """Whether `schema` is an object schema with a string `reasoning` property."""
    if not isinstance(schema, dict):
        return False
    properties = schema.get("properties")
    field = properties.get(TRACE_FIELD) if isinstance(properties, dict) else None
    return isinstance(field, dict) and field.get("type") == "string"


def with_trace_field(value: Any, schema: Any, rng: random.Random, words: Sequence[str]) -> Any:
    """`value` with a multi-step trace in its `reasoning` field, where its schema has one."""
    if isinstance(value, dict) and has_trace_field(schema):
        return {**value, TRACE_FIELD: trace(rng, words)}
    return value
