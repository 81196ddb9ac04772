"""Whether a `base_url` can be sent to at all, so that a typo fails as bad input, not as a server down."""

from __future__ import annotations

import httpx

_NOT_IN_HOSTS = frozenset(" %\"'<>\\^`{|}")


def is_usable(base_url: str) -> bool:
    """An http(s) URL with a host name that could resolve and a port in 1-65535."""
    try:
        url = httpx.URL(base_url)
        port = url.port
    except (httpx.InvalidURL, ValueError):
        return False
    if url.scheme not in ("http", "https") or not url.host:
        return False
    if any(c in _NOT_IN_HOSTS for c in url.host):  # httpx would send `a%20b` to the resolver
        return False
    return port is None or 0 < port < 65536
