"""Builds a provider from its config: resolves the API key and the one HTTP client it will use."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from destilation import PluginContext, PluginError, ProviderInfo, Secret
from destilation_openrouter.base_url import is_usable
from destilation_openrouter.config import OpenRouterConfig
from destilation_openrouter.costs import register_prices
from destilation_openrouter.provider import OpenRouterProvider

KEY_ENV = {"openrouter": "OPENROUTER_API_KEY"}
DEFAULT_KEY_ENV = "OPENAI_API_KEY"


def is_openrouter(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    return host == "openrouter.ai" or host.endswith(".openrouter.ai")


def _header_value(name: str, field: str, value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise PluginError(f"provider '{name}': {field} must not contain control characters")
    return value


def _check_base_url(name: str, base_url: str) -> None:
    # The URL itself is not repeated: a user may have put credentials into it.
    if not is_usable(base_url):
        raise PluginError(
            f"provider '{name}': base_url must be an http:// or https:// URL with a host (and a port in 1-65535)"
        )


def _check_options(name: str, config: OpenRouterConfig) -> None:
    if config.structured_outputs is not None:
        was = "json_schema" if config.structured_outputs else "prompt"
        raise PluginError(
            f"provider '{name}': structured_outputs was replaced by structured_output "
            f'("auto", "json_schema", "json_object" or "prompt"); write structured_output = "{was}" or leave it out'
        )
    reasoning = config.reasoning
    if reasoning is None or reasoning.max_tokens is None:
        return
    if reasoning.effort is not None:
        raise PluginError(f"provider '{name}': reasoning takes effort or max_tokens, not both")
    if config.max_tokens is not None and reasoning.max_tokens >= config.max_tokens:
        raise PluginError(
            f"provider '{name}': reasoning.max_tokens ({reasoning.max_tokens}) must be below max_tokens "
            f"({config.max_tokens}), or no token is left for the answer"
        )


def make_provider(config: OpenRouterConfig, context: PluginContext, info: ProviderInfo) -> OpenRouterProvider:
    """The `openrouter` / `openai` factory; fails with one line when OpenRouter would need a key we lack."""
    _check_base_url(info.name, config.base_url)
    _check_options(info.name, config)
    env = KEY_ENV.get(info.kind, DEFAULT_KEY_ENV)
    key = config.api_key
    if key is None:
        value = os.environ.get(env, "")
        key = Secret(value) if value else None
    openrouter = is_openrouter(config.base_url)
    if not key and openrouter:
        raise PluginError(f"provider '{info.name}': no API key: set {env} or api_key = \"${{{env}}}\"")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if config.app_title:
        headers["X-OpenRouter-Title"] = _header_value(info.name, "app_title", config.app_title)
    if config.referer:
        headers["HTTP-Referer"] = _header_value(info.name, "referer", config.referer)
    secret = None
    if key:
        secret = key.reveal()  # the one place the key is revealed: the header that sends it
        headers["Authorization"] = f"Bearer {_header_value(info.name, 'api_key', secret)}"
    # The provider puts one overall deadline of timeout_s on each call; httpx's own per-phase
    # timeouts sit a little later as a backstop, so a stalled server always reads the same way.
    client = context.http_client(base_url=config.base_url.rstrip("/"), timeout=config.timeout_s + 1.0, headers=headers)
    # Kind `openrouter` speaks OpenRouter's dialect (provider preferences, the price list) wherever
    # its base_url points, a proxy or a test server; kind `openai` does on OpenRouter's own host.
    dialect = openrouter or info.kind == "openrouter"
    # A response format set through extra_body is the user's choice: nothing to discover.
    fixed = "extra_body" if "response_format" in config.extra_body else None
    provider = OpenRouterProvider(
        config,
        info,
        client,
        openrouter=dialect,
        secret=secret,
        emit=context.emit,
        job=context.job,
        structured_output=fixed,
    )
    register_prices(info.name, config)
    return provider
