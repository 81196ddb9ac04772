"""The HTTP client factory: TLS settings per base URL."""

from __future__ import annotations

import ssl

import pytest

from destilation.http import make_http_client


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


@pytest.mark.anyio
async def test_an_injected_transport_serves_stream_direct_with_decoded_bodies() -> None:
    """Tests inject an httpx transport; `stream_direct` goes through it and still decodes gzip."""
    import gzip

    import httpx

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
    import anyio
    import httpx

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
