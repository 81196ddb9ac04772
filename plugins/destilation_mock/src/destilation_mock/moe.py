"""Broken answers to the `moe` mode's calls, on purpose, so its rules and the retry loop are exercised offline.

The mode titles its response schemas (an expert's answer, the aggregation); the mock knows a moe
call only by that title. A spoiled expert answer is empty or prose no parser takes (the expert
then counts as silent); a spoiled aggregation labels the domain with an expert nobody declared
or leaves the final answer empty. Each call rolls on its own, so a retry usually gets through.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from typing import Any

EXPERT_TITLE = "moe expert answer"
AGGREGATION_TITLE = "moe aggregation"
UNDECLARED = "undeclared_expert"
"""The label a spoiled aggregation gives the domain: no job declares an expert by this name."""


def spoil_moe(text: str, schema: Any, rate: float, rng: random.Random, words: Sequence[str]) -> str:
    """`text`, or with probability `rate` a broken version of it when `schema` is a moe call's."""
    title = schema.get("title") if isinstance(schema, dict) else None
    if title not in (EXPERT_TITLE, AGGREGATION_TITLE) or rng.random() >= rate:
        return text
    value = json.loads(text)
    kind = rng.randrange(2)
    if title == EXPERT_TITLE:
        if kind == 0:
            return json.dumps({**value, "answer": ""})
        topic = words[0] if words else "this"
        return f"As an expert I would say {topic} is a broad subject; it depends."
    if kind == 0:
        return json.dumps({**value, "domain": UNDECLARED}, ensure_ascii=False)
    return json.dumps({**value, "answer": ""}, ensure_ascii=False)
