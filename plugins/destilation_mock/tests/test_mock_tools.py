"""The mock's turns of a tools conversation: a fitting call, an answer after results, and its breakage."""

from __future__ import annotations

import collections
import json
from typing import Any

import jsonschema
import pytest

from destilation import GenerationRequest, Message, ProviderInfo, ToolCall, ToolSpec
from destilation_mock.config import MockConfig
from destilation_mock.provider import MockProvider

pytestmark = pytest.mark.anyio

WEATHER = ToolSpec(
    "weather",
    "Weather in a city.",
    {
        "type": "object",
        "properties": {"city": {"type": "string", "minLength": 1}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"],
        "additionalProperties": False,
    },
)
NOW = ToolSpec("now", "The time.")  # no parameters schema: the mock sends an empty object
TOOLS = (WEATHER, NOW)
SCHEMAS = {tool.name: tool.parameters or {"type": "object"} for tool in TOOLS}


def provider(**config: Any) -> MockProvider:
    return MockProvider(MockConfig(**config), None, ProviderInfo(name="teacher", kind="mock", model=""))


def opening(i: int) -> tuple[Message, ...]:
    return (Message("system", "You can call tools."), Message("user", f"Tell me about place number {i}."))


def asking(i: int, attempt: int = 1) -> GenerationRequest:
    return GenerationRequest(opening(i), tools=TOOLS, attempt=attempt, seed=i)


def answered(i: int, attempt: int = 1) -> GenerationRequest:
    call = ToolCall("c", "weather", '{"city": "Oslo"}')
    messages = (
        *opening(i),
        Message("assistant", "", tool_calls=(call,)),
        Message("tool", '{"rain": true}', tool_call_id="c"),
    )
    return GenerationRequest(messages, tools=TOOLS, attempt=attempt, seed=i)


def fits(call: ToolCall) -> bool:
    if call.name not in SCHEMAS:
        return False
    arguments = json.loads(call.arguments)
    return isinstance(arguments, dict) and jsonschema.Draft202012Validator(SCHEMAS[call.name]).is_valid(arguments)


async def test_before_any_result_it_calls_a_declared_tool_with_fitting_arguments() -> None:
    mock = provider()
    names = collections.Counter()
    for i in range(60):
        generation = await mock.generate(asking(i))
        (call,) = generation.tool_calls
        assert generation.text == "" and call.id == "call_0" and fits(call)
        names[call.name] += 1
    assert set(names) == {"weather", "now"}  # it picks among the offered tools


async def test_it_prefers_a_tool_the_request_speaks_of() -> None:
    mock = provider()
    for i in range(20):
        request = GenerationRequest((Message("user", f"What time is it in place {i}?"),), tools=TOOLS, seed=i)
        (call,) = (await mock.generate(request)).tool_calls
        assert call.name == "now"  # "The time." shares "time" with the request


async def test_the_same_turn_gets_the_same_answer() -> None:
    first, again = await provider().generate(asking(5)), await provider().generate(asking(5))
    assert (first.text, first.tool_calls) == (again.text, again.tool_calls)


async def test_after_a_result_it_answers_in_text_using_it() -> None:
    generation = await provider().generate(answered(1))
    assert generation.tool_calls == () and '{"rain": true}' in generation.text
    assert generation.finish_reason == "stop" and generation.usage.completion_tokens > 0


async def test_a_long_result_is_shortened_in_the_answer() -> None:
    request = answered(1)
    long = Message("tool", "x" * 500, tool_call_id="c")
    generation = await provider().generate(GenerationRequest((*request.messages[:-1], long), tools=TOOLS))
    assert "x" * 200 + "…" in generation.text and "x" * 201 not in generation.text


async def test_breakage_breaks_each_rule_at_about_its_rate_and_retries_get_through() -> None:
    mock = provider(tool_breakage=0.3)
    kinds = collections.Counter()
    for i in range(300):
        (call,) = (await mock.generate(asking(i))).tool_calls
        if call.name.endswith("_unknown"):
            kinds["unknown"] += 1
        elif not fits(call):
            kinds["arguments"] += 1
        if not (await mock.generate(answered(i))).text:
            kinds["no_answer"] += 1
    assert 25 <= kinds["unknown"] <= 65 and 25 <= kinds["arguments"] <= 65
    assert 60 <= kinds["no_answer"] <= 120
    # another attempt rolls anew: a broken turn does not stay broken
    broken = [i for i in range(300) if not (await mock.generate(answered(i))).text]
    again = [(await mock.generate(answered(i, attempt=2))).text for i in broken]
    assert broken and sum(1 for text in again if text) > len(broken) // 2


async def test_misfit_arguments_of_a_tool_without_required_keys_are_no_object() -> None:
    mock = provider(tool_breakage=1.0)
    seen = set()
    for i in range(40):
        request = GenerationRequest(opening(i), tools=(NOW,), seed=i)
        (call,) = (await mock.generate(request)).tool_calls
        seen.add(call.arguments if call.name == "now" else "unknown")
    assert seen == {'["not", "an", "object"]', "unknown"}


async def test_breakage_off_never_breaks() -> None:
    mock = provider()
    for i in range(100):
        (call,) = (await mock.generate(asking(i))).tool_calls
        assert fits(call)
        assert (await mock.generate(answered(i))).text


def test_tool_breakage_is_a_rate() -> None:
    with pytest.raises(ValueError, match="tool_breakage"):
        MockConfig(tool_breakage=1.5)
