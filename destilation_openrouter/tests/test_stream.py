"""Streamed answers (`stream = true`): assembled from server-sent events, errors mid-stream included."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from aiohttp import web
from fake_openai import FakeOpenAI, as_event_stream, start_fake_openai
from hypothesis import given
from hypothesis import strategies as st
from openrouter_helpers import KEY, Recorder, json_reply, serve

from destilation import GenerationRequest, Message, ProviderError, Secret
from destilation_openrouter.stream import StreamAssembler

HELLO = GenerationRequest(messages=(Message("user", "hello there"),), reasoning=True, seed=5)
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


def events(*chunks: Any, done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(c)}\n" for c in chunks] + (["data: [DONE]\n"] if done else [])
    return "\n".join(lines).encode()


def delta(finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


def sse(body: bytes, status: int = 200) -> Any:
    async def handler(_request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers={"Content-Type": "text/event-stream"})
        await response.prepare(_request)
        for i in range(0, len(body), 7):  # small writes: events split across reads
            await response.write(body[i : i + 7])
        await response.write_eof()
        return response

    return handler


@pytest.mark.anyio
async def test_a_streamed_answer_equals_the_plain_one(build: Any) -> None:
    server = FakeOpenAI()
    with start_fake_openai(server) as base_url:
        async with build(base_url) as plain:
            expected = await plain.generate(HELLO)
        async with build(base_url, stream=True) as streaming:
            got = await streaming.generate(HELLO)
            assert server.last_body is not None
            assert server.last_body["stream"] is True
            assert server.last_body["stream_options"] == {"include_usage": True}
            answer_fits = json.loads(
                (await streaming.generate(GenerationRequest(HELLO.messages, response_schema=SCHEMA))).text
            )
    assert (got.text, got.reasoning, got.model, got.finish_reason) == (
        expected.text,
        expected.reasoning,
        expected.model,
        "stop",
    )
    assert got.usage == expected.usage and got.cost == pytest.approx(expected.cost)
    assert set(answer_fits) == {"a"}


@pytest.mark.anyio
async def test_tool_calls_arrive_in_pieces(build: Any) -> None:
    body = events(
        delta(tool_calls=[{"index": 0, "id": "c1", "function": {"name": "look", "arguments": '{"q"'}}]),
        delta(tool_calls=[{"index": 0, "function": {"arguments": ": 1}"}}, {"index": 1, "function": {"name": "now"}}]),
        delta(tool_calls=[{"index": 2, "function": {"name": "obj", "arguments": {"x": 1}}}, "junk"]),
        delta("tool_calls", reasoning_content="thought"),
        {"model": "served/model", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 9}},
    )
    async with serve(sse(body)) as base_url, build(base_url, stream=True) as provider:
        generation = await provider.generate(HELLO)
    assert [(c.id, c.name, c.arguments) for c in generation.tool_calls] == [
        ("c1", "look", '{"q": 1}'),
        ("call_1", "now", "{}"),
        ("call_2", "obj", '{"x": 1}'),
    ]
    assert (generation.reasoning, generation.model, generation.finish_reason) == (
        "thought",
        "served/model",
        "tool_calls",
    )
    assert (generation.usage.prompt_tokens, generation.usage.completion_tokens) == (4, 9)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            events(delta(content="part"), {"error": {"code": 502, "message": f"upstream died {KEY}"}}),
            "error mid-stream",
        ),
        (events(delta("error", content="part")), "generation failed mid-stream: no detail"),
        (events({"choices": [{"delta": {}, "error": {"message": "cut"}}]}), "generation failed mid-stream: cut"),
        (events(delta(content="part"), done=False), "the stream ended before it finished"),
        (b": OPENROUTER PROCESSING\n\n", "the stream ended no events"),
        (b"data: {not json\n\n", "a stream event is not JSON"),
        (events(delta("stop", tool_calls=[{"index": 0, "function": {"arguments": "{}"}}])), "has no function name"),
    ],
)
async def test_errors_after_the_200_are_provider_errors(build: Any, body: bytes, match: str) -> None:
    async with serve(sse(body)) as base_url, build(base_url, stream=True, api_key=Secret(KEY)) as provider:
        with pytest.raises(ProviderError, match=match) as info:
            await provider.generate(HELLO)
    assert info.value.retryable
    assert KEY not in str(info.value)


@pytest.mark.anyio
async def test_a_stream_past_the_size_cap_is_refused(build: Any) -> None:
    body = events(delta("stop", content="x" * 5000))
    async with serve(sse(body)) as base_url, build(base_url, stream=True, max_response_bytes=1000) as provider:
        with pytest.raises(ProviderError, match="larger than 1000 bytes"):
            await provider.generate(HELLO)


@pytest.mark.anyio
async def test_a_server_that_ignores_stream_is_read_as_plain_json(build: Any) -> None:
    recorder = Recorder()
    plain = {"model": "m", "choices": [{"message": {"content": "whole"}, "finish_reason": "stop"}]}
    async with serve(json_reply(plain), recorder) as base_url, build(base_url, stream=True) as provider:
        assert (await provider.generate(HELLO)).text == "whole"
    assert json.loads(recorder.body)["stream"] is True


@pytest.mark.anyio
async def test_errors_before_the_stream_are_status_errors(build: Any) -> None:
    refused = sse(b'{"error": {"message": "slow down"}}', status=429)
    async with serve(refused) as base_url, build(base_url, stream=True) as provider:
        with pytest.raises(ProviderError, match="HTTP 429") as info:
            await provider.generate(HELLO)
    assert info.value.status == 429


@given(cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12), crlf=st.booleans())
def test_any_split_of_the_stream_gives_the_same_answer(cuts: list[int], crlf: bool) -> None:
    """However the bytes are cut into reads (and whichever line ending), the answer is the same."""
    fake = FakeOpenAI()
    answer = json.loads(fake.completion({"messages": [{"role": "user", "content": "a b c d"}], "reasoning": 1}, 1))
    raw = as_event_stream(answer).encode()
    if crlf:
        raw = raw.replace(b"\n", b"\r\n")
    whole = StreamAssembler("p", "m")
    whole.feed(raw)
    expected = whole.generation(0.0)
    pieces = StreamAssembler("p", "m")
    edges = sorted({min(c, len(raw)) for c in cuts} | {0, len(raw)})
    for start, end in itertools.pairwise(edges):
        pieces.feed(raw[start:end])
    assert pieces.generation(0.0) == expected
    assert expected.text == answer["choices"][0]["message"]["content"]
    assert expected.reasoning == answer["choices"][0]["message"]["reasoning"]


def test_a_last_event_without_a_newline_still_counts() -> None:
    assembler = StreamAssembler("p", "m")
    assembler.feed(b'data: {"choices": [{"delta": {"content": "hi"}, "finish_reason": "length"}]}')
    generation = assembler.generation(0.0)
    assert (generation.text, generation.finish_reason) == ("hi", "length")


def test_reasoning_details_and_non_object_events_in_a_stream() -> None:
    assembler = StreamAssembler("p", "m")
    details = [{"type": "reasoning.text", "text": "step"}]
    assembler.feed(events([1, 2], delta(reasoning_details=details), {"choices": "x"}, delta("stop", content="ok")))
    assembler.feed(b"data: {}\n")  # after [DONE]: ignored
    generation = assembler.generation(0.0)
    assert (generation.text, generation.reasoning) == ("ok", "step")
