"""Answers broken the way a mode's rules catch, at the rates `reasoning_breakage` and `schema_breakage` set.

Unlike garbage and truncation, a broken answer is valid JSON that looks fine until a rule reads
it. A reasoning request (one that asks for native reasoning, as the `reasoning` mode's do) gets
one of: a blank final answer, a reasoning trace too short to count, or a `length` finish with an
empty answer because the reasoning used up the token budget. Any other request (a `custom`
template's) gets its answer with a required property left out, which its schema rejects.
"""

from __future__ import annotations

import json
import random
from typing import Any

from destilation import GenerationRequest
from destilation_mock.faults import garbage
from destilation_mock.reasoning import TRACE_FIELD

ANSWER_FIELD = "answer"
SHORT_TRACE = "Obvious."
"""One step of eight characters: below any sensible minimum of steps or characters."""


def broken_answer(
    value: Any, request: GenerationRequest, rng: random.Random, reasoning: str | None
) -> tuple[str, str, str | None]:
    """(text, finish reason, reasoning) of a deliberately broken answer built from a good `value`."""
    if request.reasoning and isinstance(value, dict):
        return _broken_reasoning(value, rng, reasoning)
    return _broken_schema(value, request.response_schema, rng), "stop", reasoning


def _broken_reasoning(value: dict[str, Any], rng: random.Random, reasoning: str | None) -> tuple[str, str, str | None]:
    kind = rng.randrange(3)
    if kind == 0:  # thought it through, then said nothing
        return json.dumps({**value, ANSWER_FIELD: " "}, ensure_ascii=False), "stop", reasoning
    if kind == 1:  # barely thought at all
        short = {**value, TRACE_FIELD: SHORT_TRACE} if TRACE_FIELD in value else value
        return json.dumps(short, ensure_ascii=False), "stop", SHORT_TRACE
    # the trace ran into the token limit: half a thought and no answer at all
    cut = (reasoning or SHORT_TRACE)[: max(1, len(reasoning or SHORT_TRACE) // 2)]
    return "", "length", cut


def _broken_schema(value: Any, schema: dict[str, Any] | None, rng: random.Random) -> str:
    required = schema.get("required") if isinstance(schema, dict) else None
    present = [key for key in required or () if isinstance(value, dict) and key in value]
    if not present:
        return garbage(rng, ())
    dropped = present[int(rng.random() * len(present))]
    return json.dumps({k: v for k, v in value.items() if k != dropped}, ensure_ascii=False)
