"""generate() and models() against the fake Ollama server on 127.0.0.1: request bodies and answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from fake_ollama import FakeModel, FakeOllama

from destilation import GenerationRequest, Message, ToolCall, ToolSpec, Usage
from destilation_ollama.provider import OllamaProvider

Build = Callable[..., OllamaProvider]
Fake = tuple[FakeOllama, str]

SCHEMA = {
    "title": "Quiz item",
    "type": "object",
    "properties": {
        "question": {"type": "string", "minLength": 30},
        "difficulty": {"enum": ["easy", "hard"]},
        "points": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["question", "difficulty", "points"],
    "additionalProperties": False,
}
LOOKUP = ToolSpec("lookup", "Look a fact up", {"type": "object", "properties": {"query": {"type": "string"}}})


def ask(text: str = "Tell me about rivers and deltas", **fields: Any) -> GenerationRequest:
    return GenerationRequest(messages=(Message("system", "You write quiz items."), Message("user", text)), **fields)


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
async def test_request_body_reaches_the_server_in_ollamas_shape(build: Build, fake: Fake, stream: bool) -> None:
    server, url = fake
    provider = build(
        url, stream=stream, num_ctx=8192, keep_alive="30m", temperature=0.2, max_tokens=400, options={"top_k": 20}
    )
    request = GenerationRequest(
        messages=(
            Message("system", "You write quiz items."),
            Message("user", "Ask about rivers."),
            Message(
                "assistant", "", reasoning="need a fact", tool_calls=(ToolCall("c1", "lookup", '{"query": "Nile"}'),)
            ),
            Message("tool", "the Nile is long", tool_call_id="c1"),
            Message("tool", "no such call", tool_call_id="c9"),
            Message("user", "Now write the item about rivers and deltas."),
        ),
        temperature=0.9,
        seed=7,
        response_schema=SCHEMA,
        reasoning=True,
    )
    async with provider:
        generation = await provider.generate(request)
    assert server.last == {
        "model": "qwen3:8b",
        "messages": [
            {"role": "system", "content": "You write quiz items."},
            {"role": "user", "content": "Ask about rivers."},
            {
                "role": "assistant",
                "content": "",
                "thinking": "need a fact",
                "tool_calls": [{"id": "c1", "function": {"name": "lookup", "arguments": {"query": "Nile"}}}],
            },
            {"role": "tool", "content": "the Nile is long", "tool_call_id": "c1", "tool_name": "lookup"},
            {"role": "tool", "content": "no such call", "tool_call_id": "c9"},
            {"role": "user", "content": "Now write the item about rivers and deltas."},
        ],
        "stream": stream,
        "format": SCHEMA,
        "think": True,
        "options": {"top_k": 20, "temperature": 0.9, "seed": 7, "num_ctx": 8192, "num_predict": 400},
        "keep_alive": "30m",
    }
    jsonschema.validate(json.loads(generation.text), SCHEMA)
    assert generation.reasoning == "Thinking about Now write the."
    assert generation.finish_reason == "stop"
    assert generation.provider == "local" and generation.model == "qwen3:8b"
    assert generation.usage.prompt_tokens == 22 and generation.usage.completion_tokens > 0
    assert generation.cost == 0.0
    assert generation.latency_s > 0


@pytest.mark.anyio
async def test_absent_values_are_not_sent(build: Build, fake: Fake) -> None:
    server, url = fake
    async with build(url) as provider:
        generation = await provider.generate(ask())
    assert server.last == {
        "model": "qwen3:8b",
        "messages": [
            {"role": "system", "content": "You write quiz items."},
            {"role": "user", "content": ask().messages[1].content},
        ],
        "stream": False,
    }
    assert generation.text == "Tell me about rivers and deltas"
    assert generation.reasoning is None and generation.tool_calls == ()


@pytest.mark.anyio
async def test_config_think_wins_over_the_request_and_structured_outputs_can_be_off(build: Build, fake: Fake) -> None:
    server, url = fake
    async with build(url, think=False, structured_outputs=False, keep_alive=-1) as provider:
        await provider.generate(ask(reasoning=True, response_schema=SCHEMA, max_tokens=50))
    assert server.last["think"] is False
    assert "format" not in server.last
    assert server.last["keep_alive"] == -1
    assert server.last["options"] == {"num_predict": 50}
    async with build(url, think="high") as provider:
        generation = await provider.generate(ask())
    assert server.last["think"] == "high"
    assert generation.reasoning == "Thinking about Tell me about."


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_come_back_with_json_text_arguments(build: Build, fake: Fake, stream: bool) -> None:
    server, url = fake
    async with build(url, stream=stream) as provider:
        generation = await provider.generate(ask(tools=(LOOKUP,)))
    assert server.last["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
                "description": "Look a fact up",
            },
        }
    ]
    assert generation.tool_calls == (ToolCall("call_0", "lookup", '{"query": "Tell"}'),)
    assert generation.text == ""


@pytest.mark.anyio
async def test_a_tool_without_description_or_parameters_gets_an_empty_object_schema(build: Build, fake: Fake) -> None:
    server, url = fake
    async with build(url) as provider:
        await provider.generate(ask(tools=(ToolSpec("now"),)))
    assert server.last["tools"] == [
        {"type": "function", "function": {"name": "now", "parameters": {"type": "object", "properties": {}}}}
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
async def test_done_reason_length_stays_length(build: Build, fake: Fake, stream: bool) -> None:
    _server, url = fake
    async with build(url, stream=stream) as provider:
        generation = await provider.generate(ask(max_tokens=3))
    assert generation.finish_reason == "length"
    assert generation.text == "Tell me about"
    assert generation.usage == Usage(10, 3)


@pytest.mark.anyio
async def test_streamed_and_whole_answers_are_the_same(build: Build, fake: Fake) -> None:
    server, url = fake
    server.chunk_words = 1
    request = ask(response_schema=SCHEMA, reasoning=True, seed=3)
    async with build(url, stream=True) as streamed, build(url, stream=False) as whole:
        a = await streamed.generate(request)
        b = await whole.generate(request)
    assert (a.text, a.reasoning, a.usage, a.finish_reason) == (b.text, b.reasoning, b.usage, b.finish_reason)


@pytest.mark.anyio
async def test_priced_config_gives_a_cost(build: Build, fake: Fake) -> None:
    _server, url = fake
    async with build(url, input_price=1.0, output_price=2.0) as provider:
        generation = await provider.generate(ask())
    assert generation.usage == Usage(10, 6)
    assert generation.cost == pytest.approx((10 * 1.0 + 6 * 2.0) / 1e6)


@pytest.mark.anyio
async def test_request_model_overrides_the_configured_one(build: Build, fake: Fake) -> None:
    server, url = fake
    server.models["llama3.2:3b"] = FakeModel(family="llama")
    async with build(url) as provider:
        generation = await provider.generate(ask(model="llama3.2:3b"))
    assert server.last["model"] == "llama3.2:3b" == generation.model


@pytest.mark.anyio
async def test_models_lists_the_pulled_models(build: Build, fake: Fake) -> None:
    server, url = fake
    server.models["llama3.2:3b"] = FakeModel(family="llama")
    async with build(url) as provider:
        assert await provider.models() == ["qwen3:8b", "llama3.2:3b"]


@pytest.mark.anyio
async def test_probe_and_health_details(build: Build, fake: Fake) -> None:
    _server, url = fake
    async with build(url) as provider:
        assert await provider.probe(ask()) == "answered as qwen3:8b (free text, whole)"
        assert await provider.probe(ask(response_schema=SCHEMA)) == "answered as qwen3:8b (format schema, whole)"
        assert provider.health_details() == {"structured_output": "format"}
    async with build(url, structured_outputs=False, stream=True) as provider:
        assert provider.health_details() == {"structured_output": "none"}
        assert await provider.probe(ask(response_schema=SCHEMA)) == "answered as qwen3:8b (free text, streamed)"
