"""Every way an answer can fail becomes one ProviderError line, retryable or not as the policy needs."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest
from fake_ollama import Canned, FakeOllama

from destilation import GenerationRequest, Message, ProviderError, ToolCall
from destilation_ollama.provider import OllamaProvider

Build = Callable[..., OllamaProvider]
Fake = tuple[FakeOllama, str]
DONE = {"model": "qwen3:8b", "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"}


def ask(**fields: Any) -> GenerationRequest:
    return GenerationRequest(messages=(Message("user", "Tell me about rivers"),), **fields)


async def failure(build: Build, fake: Fake, canned: Canned, **options: Any) -> ProviderError:
    server, url = fake
    server.failures.append(canned)
    async with build(url, **options) as provider:
        with pytest.raises(ProviderError) as info:
            await provider.generate(ask())
    return info.value


def ndjson(*objects: Any) -> list[bytes]:
    return [json.dumps(o).encode() + b"\n" for o in objects]


@pytest.mark.anyio
async def test_a_model_not_pulled_says_how_to_pull_it_and_is_not_retryable(build: Build, fake: Fake) -> None:
    _server, url = fake
    async with build(url, model="mistral:7b") as provider:
        with pytest.raises(ProviderError) as info:
            await provider.generate(ask())
    error = info.value
    assert str(error) == f"local: model mistral:7b not found on {url}: run `ollama pull mistral:7b`"
    assert (error.retryable, error.status) == (False, 404)


@pytest.mark.anyio
async def test_older_servers_not_found_wording_is_recognised_too(build: Build, fake: Fake) -> None:
    canned = Canned(404, {"error": 'model "qwen3:8b" not found, try pulling it first'})
    error = await failure(build, fake, canned)
    assert "run `ollama pull qwen3:8b`" in str(error) and not error.retryable


@pytest.mark.anyio
async def test_a_404_that_is_not_about_a_model_is_reported_as_it_is(build: Build, fake: Fake) -> None:
    error = await failure(build, fake, Canned(404, b"404 page not found"))
    assert str(error) == "local: HTTP 404: 404 page not found"
    assert (error.retryable, error.status) == (False, 404)


@pytest.mark.anyio
async def test_a_full_queue_503_is_retryable_with_its_status(build: Build, fake: Fake) -> None:
    busy = {"error": "server busy, please try again.  maximum pending requests exceeded"}
    error = await failure(build, fake, Canned(503, busy))
    assert str(error) == (
        "local: HTTP 503 (server busy: its queue is full): "
        "server busy, please try again. maximum pending requests exceeded"
    )
    assert (error.retryable, error.status, error.retry_after) == (True, 503, None)


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "retryable"), [(500, True), (502, True), (429, True), (501, False), (401, False)])
async def test_server_faults_are_retryable_client_faults_are_not(
    build: Build, fake: Fake, status: int, retryable: bool
) -> None:
    error = await failure(build, fake, Canned(status, {"error": "something went wrong"}))
    assert str(error) == f"local: HTTP {status}: something went wrong"
    assert (error.retryable, error.status) == (retryable, status)


@pytest.mark.anyio
async def test_a_400_carries_the_servers_message_and_is_not_retryable(build: Build, fake: Fake) -> None:
    error = await failure(build, fake, Canned(400, {"error": '"qwen3:8b" does not support tools'}))
    assert str(error) == 'local: HTTP 400: "qwen3:8b" does not support tools'
    assert (error.retryable, error.status) == (False, 400)


@pytest.mark.anyio
async def test_retry_after_from_a_proxy_is_passed_on(build: Build, fake: Fake) -> None:
    error = await failure(build, fake, Canned(429, b"slow down", headers={"Retry-After": "7"}))
    assert (error.retry_after, str(error)) == (7.0, "local: HTTP 429: slow down")
    for header in ("soon", "inf", "-3"):
        error = await failure(build, fake, Canned(503, {"error": "x"}, headers={"Retry-After": header}))
        assert error.retry_after == (0.0 if header == "-3" else None)


@pytest.mark.anyio
async def test_an_error_body_that_is_empty_or_not_a_message(build: Build, fake: Fake) -> None:
    assert str(await failure(build, fake, Canned(500, b""))) == "local: HTTP 500"
    assert str(await failure(build, fake, Canned(500, {"error": {"code": 7}}))) == 'local: HTTP 500: {"code": 7}'
    assert str(await failure(build, fake, Canned(500, {"error": {"message": "boom"}}))) == "local: HTTP 500: boom"


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
async def test_a_200_carrying_an_error_is_a_retryable_error(build: Build, fake: Fake, stream: bool) -> None:
    canned = (
        Canned(lines=ndjson({"error": "model runner crashed"}))
        if stream
        else Canned(200, {"error": "model runner crashed"})
    )
    error = await failure(build, fake, canned, stream=stream)
    assert str(error) == "local: error in response: model runner crashed"
    assert error.retryable


@pytest.mark.anyio
async def test_an_error_line_mid_stream_fails_the_request(build: Build, fake: Fake) -> None:
    lines = ndjson(
        {"model": "qwen3:8b", "message": {"role": "assistant", "content": "Half an "}, "done": False},
        {"error": "an error was encountered while running the model"},
        DONE,
    )
    error = await failure(build, fake, Canned(lines=lines), stream=True)
    assert str(error) == "local: error mid-stream: an error was encountered while running the model"
    assert error.retryable


@pytest.mark.anyio
async def test_a_stream_that_stops_before_done_is_retryable(build: Build, fake: Fake) -> None:
    lines = ndjson({"model": "qwen3:8b", "message": {"role": "assistant", "content": "Half"}, "done": False})
    error = await failure(build, fake, Canned(lines=lines), stream=True)
    assert str(error) == "local: the answer ended before Ollama said it was done"
    assert error.retryable


@pytest.mark.anyio
async def test_a_last_line_without_newline_still_counts(build: Build, fake: Fake) -> None:
    server, url = fake
    first = {"model": "m2", "message": {"role": "assistant", "content": "whole"}, "done": False}
    server.failures.append(Canned(lines=[json.dumps(first).encode() + b"\r\n\n", json.dumps(DONE).encode()]))
    async with build(url, stream=True) as provider:
        generation = await provider.generate(ask())
    assert (generation.text, generation.model, generation.finish_reason) == ("whole", "qwen3:8b", "stop")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>oops</html>", "invalid response from local: not JSON: '<html>oops</html>'"),
        (b"[1, 2]", "invalid response from local: expected a JSON object, got list"),
        (b'{"message": "hi", "done": true}', "invalid response from local: message is not an object"),
        (b'{"message": {"content": 5}, "done": true}', "invalid response from local: message.content is a int"),
        (b'{"message": {"thinking": []}, "done": true}', "invalid response from local: message.thinking is a list"),
        (
            b'{"message": {"tool_calls": {}}, "done": true}',
            "invalid response from local: message.tool_calls is not a list",
        ),
        (
            b'{"message": {"tool_calls": [{"function": {}}]}, "done": true}',
            "invalid response from local: message.tool_calls[0] has no function name",
        ),
    ],
)
async def test_malformed_answers_are_one_retryable_line(build: Build, fake: Fake, body: bytes, why: str) -> None:
    error = await failure(build, fake, Canned(200, body))
    assert str(error) == why
    assert error.retryable


@pytest.mark.anyio
async def test_absurd_nesting_is_not_json_to_us(build: Build, fake: Fake) -> None:
    error = await failure(build, fake, Canned(200, b"[" * 100_000))
    assert str(error).startswith("invalid response from local: not JSON: '[[[[") and len(str(error)) < 250


@pytest.mark.anyio
async def test_odd_but_valid_answers_are_read_leniently(build: Build, fake: Fake) -> None:
    server, url = fake
    server.failures.append(
        Canned(
            200,
            {
                "message": {
                    "content": None,
                    "tool_calls": [{"id": "t1", "function": {"name": "f", "arguments": None}}],
                },
                "done": True,
                "prompt_eval_count": -4,
                "eval_count": True,
            },
        )
    )
    async with build(url) as provider:
        generation = await provider.generate(ask())
    assert generation.text == "" and generation.finish_reason is None
    assert generation.tool_calls == (ToolCall("t1", "f", "{}"),)
    assert generation.usage.total_tokens == 0


@pytest.mark.anyio
@pytest.mark.parametrize(("stream", "chunked"), [(False, False), (False, True), (True, True)])
async def test_an_answer_past_the_size_cap_is_refused(build: Build, fake: Fake, stream: bool, chunked: bool) -> None:
    big = {"message": {"content": "x" * 5000}, "done": True}
    canned = Canned(lines=[*ndjson(big)] * 3) if chunked else Canned(200, big)
    error = await failure(build, fake, canned, stream=stream, max_response_bytes=1000)
    assert str(error) == "local: response larger than 1000 bytes (max_response_bytes)"
    assert error.retryable


@pytest.mark.anyio
async def test_an_error_body_is_read_only_up_to_its_cap(build: Build, fake: Fake) -> None:
    error = await failure(build, fake, Canned(500, b"e" * 200_000))
    assert str(error).startswith("local: HTTP 500: eee") and len(str(error)) < 300


@pytest.mark.anyio
async def test_a_server_that_does_not_answer_in_time(build: Build, fake: Fake) -> None:
    _server, url = fake
    error = await failure(build, fake, Canned(200, DONE, delay_s=5), timeout_s=0.2)
    assert str(error) == f"local: no answer from {url} within 0.2 s"
    assert error.retryable


@pytest.mark.anyio
async def test_an_unreachable_host_is_retryable(build: Build) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with build(f"127.0.0.1:{port}") as provider:
        with pytest.raises(ProviderError) as info:
            await provider.generate(ask())
    assert str(info.value).startswith(f"local: cannot reach Ollama at http://127.0.0.1:{port}: ")
    assert info.value.retryable


@pytest.mark.anyio
async def test_credentials_in_error_text_and_host_are_masked(build: Build, fake: Fake) -> None:
    server, url = fake
    token = "sk-proxy-0123456789abcdefghijklmnop"
    server.failures.append(Canned(502, {"error": f"upstream refused Authorization: Bearer {token}"}))
    async with build(url.replace("http://", "http://user:hunter2pass@")) as provider:
        with pytest.raises(ProviderError) as info:
            await provider.generate(ask())
        with pytest.raises(ProviderError) as missing:
            await provider.generate(ask(model="gone:1b"))
    assert token not in str(info.value) and info.value.status == 502 and info.value.retryable
    assert "hunter2pass" not in str(missing.value) and "user:***@" in str(missing.value)


@pytest.mark.anyio
async def test_requests_that_cannot_be_encoded_are_not_retryable(build: Build, fake: Fake) -> None:
    _server, url = fake
    async with build(url) as provider:
        with pytest.raises(ProviderError) as nan:
            await provider.generate(ask(response_schema={"type": "number", "maximum": float("nan")}))
        bad_call = Message("assistant", "", tool_calls=(ToolCall("c1", "f", "[1, 2]"),))
        with pytest.raises(ProviderError) as args:
            await provider.generate(GenerationRequest(messages=(Message("user", "hi"), bad_call)))
        not_json = Message("assistant", "", tool_calls=(ToolCall("c1", "f", "{bad"),))
        with pytest.raises(ProviderError, match=r"arguments are not a JSON object: '\{bad'"):
            await provider.generate(GenerationRequest(messages=(Message("user", "hi"), not_json)))
    assert str(nan.value).startswith("cannot encode the request body: ") and not nan.value.retryable
    assert str(args.value) == "cannot send a tool call whose arguments are not a JSON object: '[1, 2]'"
    assert not args.value.retryable


@pytest.mark.anyio
async def test_an_empty_tool_call_argument_text_is_an_empty_object(build: Build, fake: Fake) -> None:
    server, url = fake
    call = Message("assistant", "", tool_calls=(ToolCall("c1", "now", ""),))
    async with build(url) as provider:
        await provider.generate(GenerationRequest(messages=(Message("user", "hi"), call)))
    assert server.last["messages"][1]["tool_calls"] == [{"id": "c1", "function": {"name": "now", "arguments": {}}}]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[]", "invalid response from local: expected a JSON object, got list"),
        (b'{"models": {}}', "invalid response from local: no model list under 'models'"),
    ],
)
async def test_a_bad_model_list_is_one_line(build: Build, body: bytes, why: str) -> None:
    from aiohttp import web

    async def tags(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/tags", tags)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        async with build(f"127.0.0.1:{runner.addresses[0][1]}") as provider:
            with pytest.raises(ProviderError) as info:
                await provider.models()
    finally:
        await runner.cleanup()
    assert str(info.value) == why
