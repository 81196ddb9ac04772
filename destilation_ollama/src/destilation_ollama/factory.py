"""Builds a provider from its config: resolves the host and the one HTTP client it will use."""

from __future__ import annotations

from destilation import PluginContext, PluginError, ProviderInfo
from destilation_ollama.client import OllamaClient
from destilation_ollama.config import OllamaConfig
from destilation_ollama.host import HOST_ENV, BadHost, base_url, host_setting
from destilation_ollama.provider import OllamaProvider

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, application/x-ndjson"}


def make_provider(config: OllamaConfig, context: PluginContext, info: ProviderInfo) -> OllamaProvider:
    """The `ollama` factory; a host it cannot use fails with one line naming where the setting came from."""
    setting = host_setting(config.host)
    try:
        base = base_url(setting)
    except BadHost as exc:
        # The value is not repeated: a user may have put credentials into it.
        where = "host" if config.host is not None and config.host.strip() else HOST_ENV
        raise PluginError(f"provider '{info.name}': {where} {exc}") from None
    if not info.model:
        raise PluginError(f"provider '{info.name}': no model: set model = \"NAME\" (see `destiler ollama models`)")
    # The client puts one overall deadline of timeout_s on each call; httpx's own per-phase
    # timeouts sit a little later as a backstop, so a stalled server always reads the same way.
    http = context.http_client(base_url=base, timeout=config.timeout_s + 1.0, headers=HEADERS)
    client = OllamaClient(
        http, base, name=info.name, timeout_s=config.timeout_s, max_response_bytes=config.max_response_bytes
    )
    return OllamaProvider(config, info, client)
