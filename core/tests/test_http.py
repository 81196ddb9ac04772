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
