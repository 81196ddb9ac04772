"""One way to build HTTP clients: an httpx client whose hot path goes straight to aiohttp.

httpx's own pool spends ~22 CPU-ms per request at 500 requests in flight on two cores; its API
over the aiohttp-backed transport ~1 ms; aiohttp itself ~0.5 ms (DESIGN §4, `bench/bench_http.py`).
So a provider's per-sample call (`stream_direct`) talks to the transport's aiohttp session
directly, and everything else keeps the httpx API. Tests pass `transport` to talk to an
in-process app; `stream_direct` then goes through that transport with the same result.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import httpx

if TYPE_CHECKING:
    from aiohttp import ClientTimeout
    from httpx_aiohttp import AiohttpTransport


@attrs.frozen
class RawResponse:
    """What `stream_direct` yields: status, headers (case-insensitive `get`) and the body as it arrives."""

    status_code: int
    headers: Mapping[str, str]
    chunks: Callable[[], AsyncIterator[bytes]]
    """The decoded body, chunk by chunk; call it once."""


class HttpClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` with a lean path for the hot loop of a provider.

    `stream_direct` skips what a JSON API call never needs (cookie jar, auth flow, redirect
    handling, event hooks, httpx's request and response models) at hundreds of requests in flight.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, timeout: float, **kwargs: Any) -> None:
        super().__init__(transport=transport, timeout=httpx.Timeout(timeout), **kwargs)
        self._direct = transport
        self._timeouts = self.timeout.as_dict()
        self._aiohttp: AiohttpTransport | None = None
        self._aiohttp_timeouts: dict[float | None, ClientTimeout] = {}
        # aiohttp decodes these itself; the rest of the headers are the client's, as built.
        self._aiohttp_headers = {**self.headers, "accept-encoding": "gzip, deflate"}
        from httpx_aiohttp import AiohttpTransport

        if isinstance(transport, AiohttpTransport):
            self._aiohttp = transport

    @asynccontextmanager
    async def stream_direct(
        self, method: str, url: httpx.URL, *, content: bytes | None = None, deadline_s: float | None = None
    ) -> AsyncIterator[RawResponse]:
        """Send one request to an absolute URL; the response is closed on exit.

        `deadline_s` bounds the whole exchange, body included: past it, TimeoutError. Transport
        failures raise `httpx.TransportError` subclasses on either path.
        """
        if self._aiohttp is None:
            with anyio.fail_after(deadline_s):
                async with self._through_httpx(method, url, content) as response:
                    yield response
            return
        from httpx_aiohttp.transport import map_aiohttp_exceptions

        transport = self._aiohttp
        if transport.client is None:
            transport.client = transport.get_client()  # the transport closes it in aclose()
        session: Any = transport.client
        with map_aiohttp_exceptions():
            answer = await session.request(
                method,
                str(url),
                data=content,
                headers=self._aiohttp_headers,
                allow_redirects=False,
                timeout=self._aiohttp_timeout(deadline_s),
            ).__aenter__()
        try:
            yield RawResponse(answer.status, answer.headers, lambda: _aiohttp_chunks(answer))
        finally:
            answer.release()

    def _aiohttp_timeout(self, deadline_s: float | None) -> ClientTimeout:
        """aiohttp's own timer for the deadline (cheaper than a cancel scope per request), with
        the per-phase backstops httpx would set where they can fire before the deadline.

        A phase limit no shorter than the deadline never fires first, and aiohttp re-arms a read
        timer on every chunk received: about 3 % of a provider call's CPU for nothing.
        """
        timeout = self._aiohttp_timeouts.get(deadline_s)
        if timeout is None:
            from aiohttp import ClientTimeout

            def backstop(phase: str) -> float | None:
                limit = self._timeouts[phase]
                return None if deadline_s is not None and limit is not None and limit >= deadline_s else limit

            timeout = self._aiohttp_timeouts[deadline_s] = ClientTimeout(
                total=deadline_s, sock_connect=backstop("connect"), sock_read=backstop("read"), connect=backstop("pool")
            )
        return timeout

    @asynccontextmanager
    async def _through_httpx(self, method: str, url: httpx.URL, content: bytes | None) -> AsyncIterator[RawResponse]:
        request = httpx.Request(
            method, url, content=content, headers=self.headers, extensions={"timeout": self._timeouts}
        )
        response = await self._direct.handle_async_request(request)
        try:
            yield RawResponse(response.status_code, response.headers, lambda: body_chunks(response))
        finally:
            await response.aclose()


async def _aiohttp_chunks(answer: Any) -> AsyncIterator[bytes]:
    from httpx_aiohttp.transport import map_aiohttp_exceptions

    with map_aiohttp_exceptions():
        async for chunk in answer.content.iter_any():
            yield chunk


def _tls_for(base_url: str) -> ssl.SSLContext | bool:
    """Certificate checks for https; for a plain-http server, a context that trusts nothing.

    Loading the CA bundle costs ~20 ms of every start. A client whose base URL is plain http
    never does TLS (redirects are not followed), so it gets a verifying context with no trusted
    roots: should TLS ever happen there, it fails closed instead of skipping the check.
    """
    if base_url.lower().startswith("http://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return True


def body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """An httpx response's body as it arrives: the raw stream when it is not content-encoded.

    httpx's decoding iterator costs about 5 % of a request's client-side instructions even for an
    identity body (callgrind); a compressed body still goes through it.
    """
    if response.headers.get("content-encoding", "identity").lower() in ("", "identity"):
        return response.stream.__aiter__()  # type: ignore[union-attr]
    return response.aiter_bytes()


def make_http_client(
    *,
    base_url: str = "",
    timeout: float = 120.0,
    max_connections: int = 1000,
    headers: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **kwargs: Any,
) -> HttpClient:
    """An `HttpClient` on the fast transport, sized for many requests in flight."""
    if transport is None:
        from httpx_aiohttp import AiohttpTransport

        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        transport = AiohttpTransport(limits=limits, trust_env=False, verify=_tls_for(base_url))
    return HttpClient(base_url=base_url, timeout=timeout, headers=headers, transport=transport, **kwargs)
