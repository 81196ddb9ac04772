"""The HTTP client factory: TLS settings per base URL, both request paths against a real server on
127.0.0.1 (bodies, keep-alive, every transport failure as an httpx exception) and the injected
transport that tests use."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from destilation.http import HttpClient, RawResponse, ResponseTooLarge, make_http_client, read_body

LARGE = bytes(range(256)) * 16_384  # 4 MiB, every byte value: arrives in many chunks


class RawServer:
    """A tiny HTTP/1.1 server that answers by path, so each test can make the wire misbehave."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.handlers: set[asyncio.Task[None]] = set()
        self.gate_size = 0
        self.at_gate = 0
        self.gate_open = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        handler = asyncio.current_task()
        assert handler is not None
        self.handlers.add(handler)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
                headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                path = request_line.split()[1]
                self.requests.append((path, headers, body))
                if not await self.answer(path, headers, body, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def answer(self, path: str, headers: dict[str, str], body: bytes, writer: asyncio.StreamWriter) -> bool:
        """Write the answer for `path`; False when the connection must end now."""
        if path == "/hang":
            await anyio.sleep_forever()
        if path == "/close":
            return False
        if path == "/gate":  # no answer until `gate_size` requests are waiting at once
            self.at_gate += 1
            if self.at_gate == self.gate_size:
                self.gate_open.set()
            await self.gate_open.wait()
        if path == "/reset":  # promises 100 000 bytes, sends 10, then resets the connection
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789")
            await writer.drain()
            writer.transport.abort()
            return False
        extra = b""
        if path == "/mirror":  # the request's body back, gzipped when asked
            payload = body
            if headers.get("x-gzip"):
                payload, extra = gzip.compress(body), b"Content-Encoding: gzip\r\n"
        elif path == "/gzip":
            payload, extra = gzip.compress(b'{"zipped": true}'), b"Content-Encoding: gzip\r\n"
        elif path == "/large":
            payload = LARGE
        else:
            payload = json.dumps({"path": path, "headers": headers, "body": body.decode()}).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(payload), extra) + payload)
        await writer.drain()
        return True


@asynccontextmanager
async def raw_server() -> AsyncIterator[tuple[RawServer, str]]:
    state = RawServer()
    server = await asyncio.start_server(state.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield state, f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for handler in state.handlers:
            handler.cancel()
        await asyncio.gather(*state.handlers, return_exceptions=True)


async def direct_body(client: HttpClient, url: str, **kwargs: object) -> tuple[int, bytes]:
    async with client.stream_direct("POST", httpx.URL(url), **kwargs) as response:  # type: ignore[arg-type]
        return response.status_code, b"".join([chunk async for chunk in response.chunks()])


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.anyio
async def test_plain_http_clients_skip_the_ca_bundle_but_still_fail_closed() -> None:
    plain = make_http_client(base_url="http://127.0.0.1:9/v1")
    secure = make_http_client(base_url="https://example.invalid/v1")
    async with plain, secure:
        context = plain._direct.ssl_context  # type: ignore[attr-defined]
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert context.cert_store_stats()["x509_ca"] == 0  # no roots: any TLS here is refused
        trusted = secure._direct.ssl_context  # type: ignore[attr-defined]
        assert trusted.verify_mode == ssl.CERT_REQUIRED and trusted.cert_store_stats()["x509_ca"] > 0
    async with make_http_client(base_url="HTTPS://other.invalid") as another:
        assert another._direct.ssl_context is trusted  # type: ignore[attr-defined]  # the bundle is loaded once


@pytest.mark.anyio
async def test_both_paths_send_the_clients_headers_and_body_and_decode_what_comes_back() -> None:
    async with raw_server() as (server, base), make_http_client(base_url=base, headers={"X-Key": "k"}) as client:
        status, raw = await direct_body(client, f"{base}/echo", content=b'{"q": 1}')
        assert status == 200
        echoed = json.loads(raw)
        assert (echoed["body"], echoed["headers"]["x-key"]) == ('{"q": 1}', "k")
        assert await direct_body(client, f"{base}/gzip") == (200, b'{"zipped": true}')
        assert await direct_body(client, f"{base}/large") == (200, LARGE)

        through_httpx = await client.post("/echo", content=b"plain")
        assert (through_httpx.status_code, through_httpx.json()["body"]) == (200, "plain")
        assert through_httpx.json()["headers"]["x-key"] == "k"
        assert through_httpx.reason_phrase == "OK" and through_httpx.http_version == "HTTP/1.1"
        zipped = await client.get("/gzip")  # httpx decodes this one itself
        assert (zipped.headers["content-encoding"], zipped.content) == ("gzip", b'{"zipped": true}')
        assert (await client.get("/large")).content == LARGE
    assert all(headers["accept-encoding"].startswith("gzip, deflate") for _, headers, _ in server.requests)


@settings(max_examples=30, deadline=None)
@given(body=st.binary(max_size=200_000), zipped=st.booleans())
def test_any_body_arrives_byte_for_byte_on_both_paths(body: bytes, zipped: bool) -> None:
    async def exchange() -> None:
        async with raw_server() as (_, base):
            headers = {"X-Gzip": "1"} if zipped else {}
            async with make_http_client(base_url=base, headers=headers) as client:
                assert await direct_body(client, f"{base}/mirror", content=body) == (200, body)
                assert (await client.post("/mirror", content=body)).content == body

    anyio.run(exchange)


@pytest.mark.anyio
async def test_one_pool_serves_both_paths_and_keeps_its_connections_alive() -> None:
    """At most `max_connections` sockets however many requests are in flight, then reused."""
    async with raw_server() as (server, base), make_http_client(base_url=base, max_connections=4) as client:
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(direct_body, client, f"{base}/echo")
        opened = server.connections
        for _ in range(5):
            await direct_body(client, f"{base}/echo")
            await client.get("/echo")
    assert 1 <= opened <= 4 and server.connections == opened and len(server.requests) == 30


@pytest.mark.anyio
async def test_by_default_the_pool_holds_as_many_requests_in_flight_as_the_caller_sends() -> None:
    """No fixed cap below the provider's concurrency: 200 requests are all at the server at once."""
    async with raw_server() as (server, base), make_http_client(base_url=base) as client:
        server.gate_size = 200
        with anyio.fail_after(30):  # a cap below 200 would leave them waiting at the gate forever
            async with anyio.create_task_group() as group:
                for _ in range(200):
                    group.start_soon(direct_body, client, f"{base}/gate")
    assert server.connections == 200 and server.at_gate == 200


@pytest.mark.anyio
async def test_a_refused_connection_is_an_httpx_connect_error_on_both_paths() -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    async with make_http_client(base_url=base) as client:
        with pytest.raises(httpx.ConnectError):
            await direct_body(client, f"{base}/echo")
        with pytest.raises(httpx.ConnectError):
            await client.get("/echo")


@pytest.mark.anyio
async def test_a_connection_reset_mid_body_is_an_httpx_read_error_on_both_paths() -> None:
    async with raw_server() as (_, base), make_http_client(base_url=base) as client:
        with pytest.raises(httpx.ReadError):
            await direct_body(client, f"{base}/reset")
        with pytest.raises(httpx.ReadError):
            await client.get("/reset")


@pytest.mark.anyio
async def test_a_server_that_hangs_up_without_answering_is_a_protocol_error() -> None:
    async with raw_server() as (_, base), make_http_client(base_url=base) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await direct_body(client, f"{base}/close")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/close")


@pytest.mark.anyio
async def test_the_deadline_is_a_timeout_error_and_a_phase_limit_an_httpx_timeout() -> None:
    async with raw_server() as (_, base), make_http_client(base_url=base, timeout=0.2) as client:
        with pytest.raises(TimeoutError) as deadline:
            await direct_body(client, f"{base}/hang", deadline_s=0.1)
        assert not isinstance(deadline.value, httpx.TransportError)  # the caller's own deadline
        with pytest.raises(httpx.ReadTimeout):  # the client's read limit comes before the deadline
            await direct_body(client, f"{base}/hang", deadline_s=30.0)
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/hang")


@pytest.mark.anyio
async def test_a_url_aiohttp_cannot_send_is_an_unsupported_protocol() -> None:
    async with make_http_client() as client:
        with pytest.raises(httpx.UnsupportedProtocol):
            await direct_body(client, "ftp://127.0.0.1/file")


@pytest.mark.anyio
async def test_an_injected_transport_serves_stream_direct_with_decoded_bodies() -> None:
    """Tests inject an httpx transport; `stream_direct` goes through it and still decodes gzip."""
    seen: list[httpx.Request] = []

    def app(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/zipped":
            return httpx.Response(200, content=gzip.compress(b'{"ok": 1}'), headers={"Content-Encoding": "gzip"})
        return httpx.Response(429, content=b"slow down", headers={"Retry-After": "2"})

    client = make_http_client(base_url="http://test/v1", headers={"X-Key": "k"}, transport=httpx.MockTransport(app))
    async with client:
        async with client.stream_direct("POST", httpx.URL("http://test/zipped"), content=b"{}") as response:
            assert response.status_code == 200
            assert b"".join([c async for c in response.chunks()]) == b'{"ok": 1}'
        async with client.stream_direct("GET", httpx.URL("http://test/other")) as response:
            assert (response.status_code, response.headers.get("retry-after")) == (429, "2")
            assert b"".join([c async for c in response.chunks()]) == b"slow down"
    assert [r.headers["x-key"] for r in seen] == ["k", "k"]
    assert seen[0].content == b"{}"


@pytest.mark.anyio
async def test_the_deadline_bounds_an_exchange_through_an_injected_transport_too() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(5)
        return httpx.Response(200)  # the deadline comes first

    client = make_http_client(transport=httpx.MockTransport(slow))
    async with client:
        with pytest.raises(TimeoutError):
            async with client.stream_direct("GET", httpx.URL("http://test/"), deadline_s=0.05):
                pass


@pytest.mark.anyio
async def test_phase_limits_that_cannot_fire_before_the_deadline_are_left_out() -> None:
    async with make_http_client(base_url="http://127.0.0.1:9/v1", timeout=30.0) as client:
        within = client._aiohttp_timeout(30.0)
        assert (within.total, within.sock_read, within.sock_connect, within.connect) == (30.0, None, None, None)
        longer = client._aiohttp_timeout(60.0)  # each phase may still run out first
        assert (longer.total, longer.sock_read, longer.sock_connect, longer.connect) == (60.0, 30.0, 30.0, 30.0)
        unbounded = client._aiohttp_timeout(None)
        assert (unbounded.total, unbounded.sock_read) == (None, 30.0)
        assert client._aiohttp_timeout(30.0) is within  # built once per deadline


def _body(*chunks: bytes, length: str | None = None) -> RawResponse:
    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    headers = {} if length is None else {"content-length": length}
    return RawResponse(200, headers, stream)


@pytest.mark.anyio
async def test_read_body_keeps_to_its_cap() -> None:
    assert await read_body(_body(b"ab", b"cd"), 4) == b"abcd"
    with pytest.raises(ResponseTooLarge):  # a declared length past the cap is refused before reading
        await read_body(_body(b"ab", length="5"), 4)
    with pytest.raises(ResponseTooLarge):
        await read_body(_body(b"abc", b"de"), 4)
    assert await read_body(_body(b"abc", b"def"), 4, strict=False) == b"abcd"  # an error body's start
