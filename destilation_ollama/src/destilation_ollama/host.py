"""Where the Ollama server is: `host =`, else OLLAMA_HOST, else the local default, read as Ollama reads it.

Ollama accepts `host`, `host:port` and full URLs: without a scheme it means http and port 11434;
with `http://` or `https://` and no port, the scheme's own port (80 or 443).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

import httpx

from destilation import redact_url

HOST_ENV = "OLLAMA_HOST"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 11434
_NOT_IN_HOSTS = frozenset(" %\"'<>\\^`{|}")


class BadHost(ValueError):
    """The host setting is not a usable address; the message says why, without repeating it."""


def host_setting(host: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The raw setting in force: the config's `host`, else OLLAMA_HOST, else empty (the default)."""
    if host is not None and host.strip():
        return host
    return (os.environ if environ is None else environ).get(HOST_ENV, "")


def base_url(setting: str) -> str:
    """The server's base URL (no trailing slash) for a host setting, or BadHost."""
    text = setting.strip()
    if not text:
        return f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest, port = "http", _bracketed(text), DEFAULT_PORT
    elif scheme.lower() in ("http", "https"):
        scheme = scheme.lower()
        port = 80 if scheme == "http" else 443
    else:
        raise BadHost("must be host[:port] or an http:// or https:// URL")
    try:
        url = httpx.URL(f"{scheme}://{rest}")
        explicit = url.port
    except (httpx.InvalidURL, ValueError):
        raise BadHost("is not a valid host[:port] or URL") from None
    if not url.host or url.query or url.fragment:
        raise BadHost("must name a host, with no query or fragment")
    if any(c in _NOT_IN_HOSTS for c in url.host):  # httpx would send `a%20b` to the resolver
        raise BadHost("has a character no host name has (a space, a quote, %, …)")
    if explicit is not None and not 0 < explicit < 65536:
        raise BadHost("has a port outside 1-65535")
    host = f"[{url.host}]" if ":" in url.host else url.host
    netloc = f"{host}:{explicit if explicit is not None else port}"
    userinfo = url.userinfo.decode()
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    return f"{scheme}://{netloc}{url.path.rstrip('/')}"


def _bracketed(text: str) -> str:
    """A bare IPv6 address (`::1`) in brackets, as a URL needs it; anything else as it is."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    return f"[{address}]" if address.version == 6 else text


def display(url: str) -> str:
    """The base URL as messages show it: a password in it is masked."""
    return redact_url(url)
