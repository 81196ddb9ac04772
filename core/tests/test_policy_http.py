"""The policy against a real HTTP server on 127.0.0.1: what the server sees is what the policy promises.

The server is a few lines of asyncio speaking HTTP/1.1 with keep-alive; it answers 429 with
`Retry-After` when told to and notes when each request arrived, on the server's side.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from destilation.config import ProviderSpec
from destilation.defaults import classify_error
from destilation.domain import Generation, GenerationRequest, Message, Usage
from destilation.interfaces import Provider, ProviderError, ProviderInfo
from destilation.policy import make_policy, retry_after_seconds

pytestmark = pytest.mark.anyio


class Server:
    """Arrival times (monotonic seconds) of every request, and the 429s still to send."""

    def __init__(self, rate_limited: int = 0, retry_after: str = "1") -> None:
        self.arrivals: list[float] = []
        self.rate_limited = rate_limited
        self.retry_after = retry_after

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                self.arrivals.append(time.monotonic())
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                if self.rate_limited:
                    self.rate_limited -= 1
                    status, extra, body = "429 Too Many Requests", f"Retry-After: {self.retry_after}\r\n", b"{}"
                else:
                    answer = {"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": 3}}
                    status, extra, body = "200 OK", "", json.dumps(answer).encode()
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(server: Server) -> AsyncIterator[str]:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        listener.close()


class ChatProvider(Provider):
    """A minimal OpenAI-style provider: it raises typed errors, the policy does the rest."""

    def __init__(self, url: str) -> None:
        self.client = httpx.AsyncClient(base_url=url)

    def info(self) -> ProviderInfo:
        return ProviderInfo("local", "chat", "m-1")

    async def models(self) -> list[str]:
        return ["m-1"]

    async def generate(self, request: GenerationRequest) -> Generation:
        response = await self.client.post("/v1/chat/completions", json={"messages": [request.messages[0].content]})
        if response.status_code != 200:
            wait = retry_after_seconds(response.headers.get("retry-after"))
            raise ProviderError(f"HTTP {response.status_code}", status=response.status_code, retry_after=wait)
        content = response.json()["choices"][0]["message"]["content"]
        return Generation(content, "local", "m-1", usage=Usage(3, 1))

    async def aclose(self) -> None:
        await self.client.aclose()


class ScaledClock:
    """Policy time that runs `factor` times faster than the machine's, so a minute takes a moment."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def now(self) -> float:
        return time.monotonic() * self.factor

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds / self.factor)


REQUEST = GenerationRequest((Message("user", "hello"),))


async def test_after_a_429_with_retry_after_no_request_reaches_the_server_before_the_hold_ends() -> None:
    server = Server(rate_limited=1, retry_after="1")
    async with serving(server) as url:
        provider = ChatProvider(url)
        policy = make_policy(
            provider, ProviderSpec(kind="chat"), parts=1, classify=classify_error, emit=lambda _e: None
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(policy.generate, REQUEST)  # gets the 429
            while policy.health("job", "me").held_until is None:  # its answer is back: the provider is held
                await anyio.sleep(0.005)
            for _ in range(4):
                tg.start_soon(policy.generate, REQUEST)
        assert policy.health("job", "me").successes == 5
        await provider.aclose()
    refused, *later = server.arrivals
    assert len(later) == 5
    assert min(later) >= refused + 1.0  # the first one's retry and four that never had a 429


async def test_requests_per_minute_hold_at_the_server_in_every_window() -> None:
    server = Server()
    clock = ScaledClock(50.0)  # a policy minute is 1.2 s here
    async with serving(server) as url:
        provider = ChatProvider(url)
        spec = ProviderSpec(kind="chat", requests_per_minute=2)
        policy = make_policy(provider, spec, parts=1, classify=classify_error, emit=lambda _e: None, clock=clock)
        async with anyio.create_task_group() as tg:  # open two connections first, around the policy
            for _ in range(2):
                tg.start_soon(provider.generate, REQUEST)
        server.arrivals.clear()  # so no request below pays for a connect the others do not
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(policy.generate, REQUEST)
        await provider.aclose()
    seen = [at * clock.factor for at in server.arrivals]  # in policy seconds, as the server saw them
    assert len(seen) == 4
    for start in seen:
        assert sum(1 for at in seen if start <= at < start + 60.0) <= 2
