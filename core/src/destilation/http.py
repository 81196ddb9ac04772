"""One way to build HTTP clients: an httpx client whose requests all go through one aiohttp session.

httpx's own pool spends ~22 CPU-ms per request at 500 requests in flight on two cores; aiohttp
~0.5 ms (DESIGN §4, `bench/bench_http.py`). So `make_http_client` builds an `httpx.AsyncClient`
over `AiohttpTransport`, a small httpx transport on aiohttp's public `ClientSession` API, and a
provider's per-sample call (`stream_direct`) talks to that session directly, skipping httpx's
request and response models. Both paths share one connection pool, sized to the concurrency.
aiohttp's exceptions become httpx's `TransportError` subclasses here, so callers catch one family.
Tests pass `transport` to talk to an in-process app; `stream_direct` then goes through that
transport with the same result.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import httpx

if TYPE_CHECKING:
    # Imported where first used: aiohttp adds ~85 ms to every start, and many commands never send.
    import aiohttp


def _mapped_errors() -> tuple[tuple[type[Exception], type[httpx.TransportError]], ...]:
    """aiohttp's public client errors and their httpx counterparts, most specific first."""
    import aiohttp

    return (
        (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
        (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
        (aiohttp.ServerTimeoutError, httpx.TimeoutException),
        (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
        (aiohttp.ClientHttpProxyError, httpx.ProxyError),
        (aiohttp.ClientConnectorError, httpx.ConnectError),
        (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
        (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
        (aiohttp.ClientPayloadError, httpx.ReadError),
        (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
        (aiohttp.ClientOSError, httpx.NetworkError),
        (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
        (aiohttp.ClientError, httpx.TransportError),
    )


@contextmanager
def aiohttp_errors_as_httpx() -> Iterator[None]:
    """Re-raise aiohttp's client errors as the matching `httpx.TransportError` subclass.

    A plain `TimeoutError` (aiohttp's `total` limit, our deadline) passes through unchanged.
    """
    try:
        yield
    except Exception as exc:
        import aiohttp

        if not isinstance(exc, aiohttp.ClientError):
            raise
        mapped = next(target for source, target in _mapped_errors() if isinstance(exc, source))
        raise mapped(str(exc) or type(exc).__name__) from exc


@attrs.frozen
class RawResponse:
    """What `stream_direct` yields: status, headers (case-insensitive `get`) and the body as it arrives."""

    status_code: int
    headers: Mapping[str, str]
    chunks: Callable[[], AsyncIterator[bytes]]
    """The decoded body, chunk by chunk; call it once."""


class ResponseTooLarge(Exception):
    """A body grew past the cap its reader set: `read_body`, or a provider's own stream reader."""


async def read_body(response: RawResponse, cap: int, *, strict: bool = True) -> bytes:
    """At most `cap` bytes of the body, so a server cannot make a provider hold an endless answer.

    Past the cap: `ResponseTooLarge` when `strict` (an answer cut short is no answer), else what
    was read up to it (enough of an error body for its message).
    """
    length = response.headers.get("content-length", "")
    if strict and length.isdigit() and int(length) > cap:
        raise ResponseTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.chunks():
        size += len(chunk)
        if size > cap:
            if strict:
                raise ResponseTooLarge
            chunks.append(chunk[: cap - size + len(chunk)])
            break
        chunks.append(chunk)
    return b"".join(chunks)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx's transport interface over one aiohttp `ClientSession`, made on first use.

    The session is made lazily because aiohttp binds it to the running event loop; a client is
    often built before the loop runs. `max_connections` bounds open connections (None: no bound
    of its own, the caller's concurrency limit bounds them), and every connection that finishes
    an exchange is kept alive for the next one, so the pool settles at the concurrency in use.
    """

    def __init__(self, *, max_connections: int | None, ssl_context: ssl.SSLContext) -> None:
        # Loaded now, while the job is wired and before worker processes fork: each worker then
        # inherits it instead of spending ~0.1 s on it at its first request.
        import aiohttp  # noqa: F401

        self.max_connections = max_connections
        self.ssl_context = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def session(self) -> aiohttp.ClientSession:
        """The shared session (and its connection pool); closed by `aclose`."""
        if self._session is None:
            import aiohttp

            connector = aiohttp.TCPConnector(limit=self.max_connections or 0, limit_per_host=0, ssl=self.ssl_context)
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """One exchange for the httpx API: httpx encodes, decodes and follows redirects itself."""
        limits = request.extensions.get("timeout", {})
        timeout = self.timeout_for(None, limits.get("connect"), limits.get("read"), limits.get("pool"))
        with aiohttp_errors_as_httpx():
            answer = await self.session().request(
                request.method,
                str(request.url),
                data=await request.aread(),
                headers=request.headers.multi_items(),
                allow_redirects=False,
                auto_decompress=False,  # httpx decodes the body by its Content-Encoding
                timeout=timeout,
            )
        return httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            stream=_AiohttpBody(answer),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (answer.reason or "").encode()},
        )

    def timeout_for(
        self, total: float | None, connect: float | None, read: float | None, pool: float | None
    ) -> aiohttp.ClientTimeout:
        """aiohttp's limits for one exchange, built once per combination."""
        key = (total, connect, read, pool)
        timeout = self._timeouts.get(key)
        if timeout is None:
            import aiohttp

            timeout = self._timeouts[key] = aiohttp.ClientTimeout(
                total=total, sock_connect=connect, sock_read=read, connect=pool
            )
        return timeout

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _AiohttpBody(httpx.AsyncByteStream):
    """An aiohttp response's raw body as httpx reads it; closing it returns the connection."""

    def __init__(self, answer: aiohttp.ClientResponse) -> None:
        self._answer = answer

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in _aiohttp_chunks(self._answer):
            yield chunk

    async def aclose(self) -> None:
        self._answer.release()


class HttpClient(httpx.AsyncClient):
    """An `httpx.AsyncClient` with a lean path for the hot loop of a provider.

    `stream_direct` skips what a JSON API call never needs (cookie jar, auth flow, redirect
    handling, event hooks, httpx's request and response models) at hundreds of requests in flight.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, timeout: float, **kwargs: Any) -> None:
        super().__init__(transport=transport, timeout=httpx.Timeout(timeout), **kwargs)
        self._direct = transport
        self._timeouts = self.timeout.as_dict()
        self._aiohttp = transport if isinstance(transport, AiohttpTransport) else None
        # aiohttp decodes these itself; the rest of the headers are the client's, as built.
        self._aiohttp_headers = {**self.headers, "accept-encoding": "gzip, deflate"}

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
        with aiohttp_errors_as_httpx():
            answer = await self._aiohttp.session().request(
                method,
                str(url),
                data=content,
                headers=self._aiohttp_headers,
                allow_redirects=False,
                timeout=self._aiohttp_timeout(deadline_s),
            )
        try:
            yield RawResponse(answer.status, answer.headers, lambda: _aiohttp_chunks(answer))
        finally:
            answer.release()

    def _aiohttp_timeout(self, deadline_s: float | None) -> aiohttp.ClientTimeout:
        """aiohttp's own timer for the deadline (cheaper than a cancel scope per request), with
        the per-phase backstops httpx would set where they can fire before the deadline.

        A phase limit no shorter than the deadline never fires first, and aiohttp re-arms a read
        timer on every chunk received: about 3 % of a provider call's CPU for nothing.
        """
        assert self._aiohttp is not None

        def backstop(phase: str) -> float | None:
            limit = self._timeouts[phase]
            return None if deadline_s is not None and limit is not None and limit >= deadline_s else limit

        return self._aiohttp.timeout_for(deadline_s, backstop("connect"), backstop("read"), backstop("pool"))

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


async def _aiohttp_chunks(answer: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    with aiohttp_errors_as_httpx():
        async for chunk in answer.content.iter_any():
            yield chunk


def _tls_for(base_url: str) -> ssl.SSLContext:
    """Certificate checks for https; for a plain-http server, a context that trusts nothing.

    Loading the CA bundle costs ~20 ms of every start. A client whose base URL is plain http
    never does TLS (redirects are not followed), so it gets a verifying context with no trusted
    roots: should TLS ever happen there, it fails closed instead of skipping the check.
    """
    if base_url.lower().startswith("http://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return _verifying_context()


@functools.cache
def _verifying_context() -> ssl.SSLContext:
    """httpx's CA bundle (or SSL_CERT_FILE / SSL_CERT_DIR), loaded once for every https client."""
    return httpx.create_ssl_context()


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
    max_connections: int | None = None,
    headers: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **kwargs: Any,
) -> HttpClient:
    """An `HttpClient` on the aiohttp transport, its keep-alive pool as large as the requests in flight.

    `max_connections` caps the pool below that; by default the provider's own concurrency limit
    is the only bound (a fixed cap would silently hold 10 000 requests in flight to fewer).
    """
    if transport is None:
        transport = AiohttpTransport(max_connections=max_connections, ssl_context=_tls_for(base_url))
    return HttpClient(base_url=base_url, timeout=timeout, headers=headers, transport=transport, **kwargs)
