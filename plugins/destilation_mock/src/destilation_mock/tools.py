"""The mock's turns of a tool-use conversation (a request that carries tools).

Before any tool result it calls one of the offered tools (one whose name or description shares
a word with the request, when there is one) with arguments built from that tool's parameters
schema; once results are in, it answers in text that uses them. `tool_breakage` is the share of
turns answered broken, each the way one of the tools mode's rules is broken: a call of a tool
nobody offered, arguments that do not fit the schema, or an empty final answer. Each turn rolls
anew (the conversation and the attempt number seed it), so retries get through.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

import attrs

from destilation import GenerationRequest, ToolCall, ToolSpec
from destilation_mock.content import plan_for, words_of

EMPTY_OBJECT = {"type": "object", "properties": {}}


@attrs.frozen
class ToolTurn:
    text: str
    calls: tuple[ToolCall, ...] = ()


def tool_turn(request: GenerationRequest, words: Sequence[str], breakage: float, rng: random.Random) -> ToolTurn:
    """The answer to one turn of a tools conversation; `rng` is this turn's own draw."""
    broken = rng.random() < breakage
    results = [m.content for m in request.messages if m.role == "tool"]
    if results:
        if broken:
            return ToolTurn("")  # no final answer
        return ToolTurn(_answer(results, words, rng))
    offered = _fitting(request.tools, words)
    tool = offered[int(rng.random() * len(offered))]
    name, arguments = tool.name, _arguments(tool, words, rng)
    if broken:
        if rng.random() < 0.5:
            name = f"{tool.name}_unknown"
        else:
            arguments = _misfit(tool)
    return ToolTurn("", (ToolCall("call_0", name, arguments),))


def _fitting(tools: Sequence[ToolSpec], words: Sequence[str]) -> Sequence[ToolSpec]:
    """The tools whose name or description shares a word with the request, else all of them."""
    asked = set(words)
    fitting = [t for t in tools if asked & set(words_of(f"{t.name.replace('_', ' ')} {t.description}"))]
    return fitting or tools


def _arguments(tool: ToolSpec, words: Sequence[str], rng: random.Random) -> str:
    value = plan_for(tool.parameters or EMPTY_OBJECT)(rng, words, 0)
    return json.dumps(value, ensure_ascii=False)


def _misfit(tool: ToolSpec) -> str:
    """Arguments the tool's schema refuses: its required keys left out, or not even a JSON object."""
    return "{}" if tool.parameters.get("required") else '["not", "an", "object"]'


def _answer(results: Sequence[str], words: Sequence[str], rng: random.Random) -> str:
    pool = list(words) or ["request"]
    topic = pool[int(rng.random() * len(pool))]
    found = results[-1] if len(results[-1]) <= 200 else results[-1][:200] + "…"
    return f"Here is what I found about {topic}: {found}. I hope this answers your question."
