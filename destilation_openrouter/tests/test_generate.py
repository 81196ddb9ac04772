"""generate() and models() against real HTTP servers on 127.0.0.1: request bodies, headers, answers."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from openrouter_helpers import KEY, Recorder, json_reply, raw_reply, serve

from destilation import GenerationRequest, Message, Secret, ToolCall, ToolSpec
from destilation_openrouter.provider import OpenRouterProvider

Build = Callable[..., OpenRouterProvider]

SCHEMA = {
    "title": "Quiz item!",
    "type": "object",
    "properties": {
        "question": {"type": "string", "minLength": 30},
        "difficulty": {"enum": ["easy", "hard"]},
        "points": {"type": "integer", "minimum": 1, "maximum": 5},
    },
    "required": ["question", "difficulty", "points"],
    "additionalProperties": False,
}


def completion(message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": "gen-1", "model": "served/model", "choices": [{"finish_reason": "stop", "message": message}], **extra}


@pytest.mark.anyio
async def test_request_body_and_headers_reach_the_server(build: Build, fake: Any) -> None:
    server, base_url = fake
    provider = build(
        base_url,
        model="author/model",
        api_key=Secret(KEY),
        temperature=0.3,
        max_tokens=500,
        referer="https://example.org/app",
        extra_body={"provider": {"data_collection": "deny"}, "user": "u1"},
    )
    request = GenerationRequest(
        messages=(
            Message("system", "You write quiz items."),
            Message("user", "Ask about rivers."),
            Message("assistant", "", reasoning="need a tool", tool_calls=(ToolCall("c1", "lookup", '{"q": 1}'),)),
            Message("tool", "the Nile", tool_call_id="c1"),
            Message("user", "Now write the item about rivers and deltas."),
        ),
        temperature=0.9,
        seed=7,
        response_schema=SCHEMA,
        tools=(ToolSpec("lookup", "Look a fact up", {"type": "object", "properties": {"q": {"type": "integer"}}}),),
        reasoning=True,
    )
    async with provider:
        generation = await provider.generate(request)
    body = server.last_body
    assert body == {
        "model": "author/model",
        "messages": [
            {"role": "system", "content": "You write quiz items."},
            {"role": "user", "content": "Ask about rivers."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": 1}'}}
                ],
                "reasoning": "need a tool",
            },
            {"role": "tool", "content": "the Nile", "tool_call_id": "c1"},
            {"role": "user", "content": "Now write the item about rivers and deltas."},
        ],
        "temperature": 0.9,
        "max_tokens": 500,
        "seed": 7,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "Quiz_item_", "strict": True, "schema": SCHEMA},
        },
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Look a fact up",
                    "parameters": {"type": "object", "properties": {"q": {"type": "integer"}}},
                },
            }
        ],
        "reasoning": {"enabled": True},
        "provider": {"data_collection": "deny"},
        "user": "u1",
    }
    headers = server.last_headers
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["X-OpenRouter-Title"] == "Destilation"
    assert headers["HTTP-Referer"] == "https://example.org/app"
    assert headers["Content-Type"] == "application/json"
    content = json.loads(generation.text)
    jsonschema.validate(content, SCHEMA)
    assert "rivers" in content["question"]
    assert generation.provider == "t"
    assert generation.model == "author/model"
    assert generation.finish_reason == "stop"
    assert generation.reasoning is not None and generation.reasoning.startswith("Thinking about")
    assert generation.usage.prompt_tokens > 0 and generation.usage.completion_tokens > 0
    assert generation.usage.reasoning_tokens > 0
    assert generation.cost == pytest.approx(generation.usage.total_tokens * 1e-6)
    assert generation.latency_s >= 0


@pytest.mark.anyio
async def test_absent_sampling_values_are_not_sent(build: Build, fake: Any) -> None:
    server, base_url = fake
    async with build(base_url, app_title="") as provider:
        await provider.generate(GenerationRequest(messages=(Message("user", "hello"),)))
    assert server.last_body == {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    assert "X-OpenRouter-Title" not in server.last_headers
    assert "HTTP-Referer" not in server.last_headers


@pytest.mark.anyio
async def test_request_model_overrides_the_configured_one(build: Build, fake: Any) -> None:
    server, base_url = fake
    async with build(base_url, model="configured") as provider:
        generation = await provider.generate(GenerationRequest(messages=(Message("user", "x"),), model="asked/for"))
    assert server.last_body["model"] == "asked/for"
    assert generation.model == "asked/for"


@pytest.mark.anyio
async def test_tool_calls_reasoning_and_null_content_are_parsed(build: Build) -> None:
    message = {
        "role": "assistant",
        "content": None,
        "reasoning": "I should look it up.",
        "tool_calls": [
            {"id": "call_9", "type": "function", "function": {"name": "lookup", "arguments": '{"q":"nile"}'}},
            {"type": "function", "function": {"name": "add", "arguments": {"a": 1}}},
        ],
    }
    reply = completion(
        message,
        usage={
            "prompt_tokens": 12,
            "completion_tokens": 30,
            "completion_tokens_details": {"reasoning_tokens": 20},
            "cost": 0.0021,
        },
    )
    reply["choices"][0]["finish_reason"] = "tool_calls"
    async with serve(json_reply(reply)) as base_url, build(base_url) as provider:
        generation = await provider.generate(GenerationRequest(messages=(Message("user", "x"),)))
    assert generation.text == ""
    assert generation.finish_reason == "tool_calls"
    assert generation.reasoning == "I should look it up."
    assert generation.tool_calls == (
        ToolCall("call_9", "lookup", '{"q":"nile"}'),
        ToolCall("call_1", "add", '{"a": 1}'),
    )
    assert generation.model == "served/model"
    assert (generation.usage.prompt_tokens, generation.usage.completion_tokens) == (12, 30)
    assert generation.usage.reasoning_tokens == 20
    assert generation.cost == 0.0021


@pytest.mark.anyio
async def test_models_lists_ids(build: Build, fake: Any) -> None:
    _server, base_url = fake
    async with build(base_url) as provider:
        assert await provider.models() == ["fake/model"]
    reply = {"data": [{"id": "a/b"}, {"id": 3}, "junk", {"id": "c/d"}]}
    recorder = Recorder()
    async with serve(json_reply(reply), recorder) as base_url, build(base_url, api_key=Secret(KEY)) as provider:
        assert await provider.models() == ["a/b", "c/d"]
    assert recorder.headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.anyio
async def test_closing_the_provider_closes_its_client(build: Build, fake: Any) -> None:
    _server, base_url = fake
    provider = build(base_url)
    await provider.aclose()
    assert provider._client.is_closed


@pytest.mark.anyio
async def test_a_compressed_answer_is_decoded(build: Build) -> None:
    # The fast path reads identity bodies raw; a gzip body must still arrive decoded.
    body = json.dumps(completion({"role": "assistant", "content": '{"q": "gzip"}'})).encode()
    reply = raw_reply(gzip.compress(body), headers={"Content-Encoding": "gzip"})
    async with serve(reply) as base_url, build(base_url) as provider:
        generation = await provider.generate(GenerationRequest(messages=(Message("user", "x"),)))
    assert generation.text == '{"q": "gzip"}'
