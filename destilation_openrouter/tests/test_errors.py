"""Every way a server can fail ends as one ProviderError line, retryable or not, without the key."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from email.utils import format_datetime
from typing import Any

import anyio
import pytest
from aiohttp import web
from openrouter_helpers import KEY, json_reply, raw_reply, serve

from destilation import GenerationRequest, Message, ProviderError, Secret
from destilation_openrouter.parse import rate_limit_reset
from destilation_openrouter.provider import ERROR_BODY_BYTES, OpenRouterProvider

Build = Callable[..., OpenRouterProvider]
REQUEST = GenerationRequest(messages=(Message("user", "hello"),))


async def fail(build: Build, handler: Callable[..., Any], **options: Any) -> ProviderError:
    async with serve(handler) as base_url, build(base_url, api_key=Secret(KEY), **options) as provider:
        with pytest.raises(ProviderError) as info:
            await provider.generate(REQUEST)
    assert "\n" not in str(info.value)
    assert KEY not in str(info.value)
    return info.value


@pytest.mark.anyio
async def test_401_echoing_the_key_does_not_leak_it(build: Build) -> None:
    async def handler(request: web.Request) -> web.Response:
        # A server that quotes the key it refused, as some do.
        message = f"Invalid key: {request.headers['Authorization']}"
        return web.json_response({"error": {"code": 401, "message": message}}, status=401)

    error = await fail(build, handler)
    assert error.status == 401 and not error.retryable
    assert str(error) == "t: HTTP 401, the API key was refused: Invalid key: Bearer ***"


@pytest.mark.anyio
async def test_402_is_not_retryable_and_says_credits(build: Build) -> None:
    body = {"error": {"code": 402, "message": "Insufficient credits"}}
    error = await fail(build, json_reply(body, status=402))
    assert error.status == 402 and not error.retryable
    assert "credits" in str(error) and "Insufficient credits" in str(error)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 524, 529, 520])
async def test_overload_and_server_faults_are_retryable(build: Build, status: int) -> None:
    error = await fail(build, json_reply({"error": {"code": status, "message": "busy"}}, status=status))
    assert error.retryable and error.status == status
    assert str(error) == f"t: HTTP {status}: busy"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [400, 403, 404, 413, 422, 501])
async def test_client_faults_are_not_retryable(build: Build, status: int) -> None:
    error = await fail(build, raw_reply(b"plain text\nproblem", status=status))
    assert not error.retryable and error.status == status
    assert str(error) == f"t: HTTP {status}: plain text problem"


@pytest.mark.anyio
async def test_retry_after_seconds_is_honoured(build: Build) -> None:
    handler = json_reply({"error": {"code": 429, "message": "slow down"}}, status=429, headers={"Retry-After": "7"})
    error = await fail(build, handler)
    assert error.retryable and error.retry_after == 7.0


@pytest.mark.anyio
async def test_retry_after_http_date_is_honoured(build: Build) -> None:
    import datetime

    when = format_datetime(datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1), usegmt=True)
    error = await fail(build, raw_reply(b"", status=503, headers={"Retry-After": when}))
    assert error.retry_after is not None and 3000 < error.retry_after <= 3600
    assert str(error) == "t: HTTP 503"


@pytest.mark.anyio
async def test_openrouters_rate_limit_reset_is_honoured_on_a_429(build: Build) -> None:
    reset_ms = str(int((time.time() + 30) * 1000))
    headers = {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset_ms}
    error = await fail(build, json_reply({"error": {"code": 429, "message": "slow"}}, status=429, headers=headers))
    assert error.retry_after is not None and 20 < error.retry_after <= 30
    both = {**headers, "Retry-After": "2"}
    error = await fail(build, json_reply({"error": {"code": 429, "message": "slow"}}, status=429, headers=both))
    assert error.retry_after == 2.0  # Retry-After comes first
    error = await fail(build, json_reply({"error": {"code": 503, "message": "busy"}}, status=503, headers=headers))
    assert error.retry_after is None  # the reset speaks of 429s only


def test_rate_limit_reset_values() -> None:
    assert rate_limit_reset("10000", now=4.0) == 6.0
    assert rate_limit_reset("1000", now=4.0) == 0.0  # already past
    for odd in (None, "", "soon", "nan", "inf"):
        assert rate_limit_reset(odd, now=0.0) is None


@pytest.mark.anyio
async def test_availability_block_steers_retry(build: Build) -> None:
    body = {"error": {"code": 404, "message": "no endpoints", "availability": {"retryable": True, "retry_after": 3}}}
    error = await fail(build, json_reply(body, status=404))
    assert error.retryable and error.retry_after == 3.0


@pytest.mark.anyio
async def test_200_with_finish_reason_error_is_retryable(build: Build) -> None:
    body = {
        "choices": [
            {
                "finish_reason": "error",
                "message": {"role": "assistant", "content": "partial"},
                "error": {"code": 502, "message": "upstream disconnected"},
            }
        ]
    }
    error = await fail(build, json_reply(body))
    assert error.retryable
    assert str(error) == "t: generation failed upstream: upstream disconnected"


@pytest.mark.anyio
async def test_200_with_a_top_level_error_is_retryable(build: Build) -> None:
    error = await fail(build, json_reply({"error": {"code": 502, "message": "provider went away"}}))
    assert error.retryable and str(error) == "t: error in response: provider went away"


@pytest.mark.anyio
async def test_garbage_body(build: Build) -> None:
    error = await fail(build, raw_reply(b"<html>Bad gateway " + KEY.encode() + b"</html>"))
    assert error.retryable
    assert str(error).startswith("invalid response from t: not JSON: '<html>Bad gateway")


@pytest.mark.anyio
async def test_json_without_choices(build: Build) -> None:
    error = await fail(build, json_reply({"id": "x", "choices": []}))
    assert str(error) == "invalid response from t: no choices"


@pytest.mark.anyio
async def test_oversized_body_with_content_length(build: Build) -> None:
    error = await fail(build, raw_reply(b"x" * 5000), max_response_bytes=4096)
    assert str(error) == "t: response larger than 4096 bytes (max_response_bytes)"


@pytest.mark.anyio
async def test_oversized_body_streamed_without_length(build: Build) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(100):
            await response.write(b"y" * 1024)
        await response.write_eof()
        return response

    error = await fail(build, handler, max_response_bytes=10_000)
    assert "larger than 10000 bytes" in str(error)


@pytest.mark.anyio
async def test_large_error_bodies_are_cut_not_refused(build: Build) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=500)
        await response.prepare(request)
        for _ in range(ERROR_BODY_BYTES // 1024 + 50):
            await response.write(b"z" * 1024)
        return response

    error = await fail(build, handler, max_response_bytes=1024)
    assert error.status == 500 and error.retryable
    assert str(error).startswith("t: HTTP 500: zzz")


@pytest.mark.anyio
async def test_a_hanging_server_times_out(build: Build) -> None:
    async def handler(request: web.Request) -> web.Response:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover - the sleep never ends

    with anyio.fail_after(30):  # the provider's own deadline must fire long before this
        error = await fail(build, handler, timeout_s=0.2)
    assert error.retryable and str(error) == "t: no answer within 0.2 s"


@pytest.mark.anyio
async def test_a_server_that_drips_times_out(build: Build) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        while True:  # each write keeps the socket busy; only an overall deadline stops this
            await response.write(b" ")
            await anyio.sleep(0.02)

    with anyio.fail_after(30):
        error = await fail(build, handler, timeout_s=0.3)
    assert str(error) == "t: no answer within 0.3 s"


@pytest.mark.anyio
async def test_connection_refused_is_retryable(build: Build) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with build(f"http://127.0.0.1:{port}/v1", api_key=Secret(KEY)) as provider:
        with pytest.raises(ProviderError) as info:
            await provider.generate(REQUEST)
    assert info.value.retryable
    assert str(info.value).startswith("t: request failed: ")
    assert KEY not in str(info.value)


@pytest.mark.anyio
async def test_models_errors(build: Build) -> None:
    async with serve(raw_reply(b"not json " + KEY.encode())) as base_url, build(base_url, api_key=Secret(KEY)) as p:
        with pytest.raises(ProviderError, match="invalid response from t: not JSON") as info:
            await p.models()
    assert KEY not in str(info.value) and "***" in str(info.value)
    async with serve(json_reply({"error": "nope"}, status=403)) as base_url, build(base_url) as p:
        with pytest.raises(ProviderError, match="t: HTTP 403: nope"):
            await p.models()


@pytest.mark.anyio
async def test_unencodable_request_is_not_retryable(build: Build, fake: Any) -> None:
    _server, base_url = fake
    async with build(base_url) as provider:
        with pytest.raises(ProviderError, match="cannot encode the request body") as info:
            await provider.generate(GenerationRequest(messages=(Message("user", "x"),), temperature=float("nan")))
    assert not info.value.retryable


@pytest.mark.anyio
async def test_content_echoing_the_key_is_redacted(build: Build) -> None:
    body = {"choices": [{"finish_reason": "error", "error": {"message": f"bad {KEY}"}}]}
    error = await fail(build, json_reply(body))
    assert str(error) == "t: generation failed upstream: bad ***"


@pytest.mark.anyio
async def test_an_error_body_that_quotes_other_credentials_is_redacted(build: Build) -> None:
    body = {"error": {"message": "proxy https://u:pw@up.example refused Authorization: Bearer other-token-1"}}
    error = await fail(build, json_reply(body, status=401))
    assert "pw@" not in str(error) and "other-token-1" not in str(error)
    assert "https://u:***@up.example" in str(error) and "Bearer ***" in str(error)
