"""Registration, config structuring and the factory's key and header handling."""

from __future__ import annotations

from typing import Any

import pytest
from openrouter_helpers import KEY

from destilation import ConfigError, GenerationRequest, Message, PluginContext, PluginError, ProviderInfo, Secret
from destilation.config import structure
from destilation.plugins import make_plugin_manager
from destilation.registry import collect
from destilation_openrouter import plugin
from destilation_openrouter.config import OPENROUTER_BASE_URL, OpenRouterConfig
from destilation_openrouter.factory import is_openrouter, make_provider
from destilation_openrouter.provider import DEFAULT_CAPABILITIES


def test_registers_openrouter_and_openai_alias() -> None:
    seen: dict[str, Any] = {}
    plugin.register_providers(register=lambda kind, factory, config: seen.setdefault(kind, (factory, config)))
    assert set(seen) == {"openrouter", "openai"}
    assert seen["openrouter"] == seen["openai"]
    assert seen["openrouter"][1] is OpenRouterConfig


@pytest.mark.anyio
async def test_registered_factory_builds_a_provider(context: PluginContext) -> None:
    seen: dict[str, Any] = {}
    plugin.register_providers(register=lambda kind, factory, config: seen.setdefault(kind, factory))
    config = OpenRouterConfig(api_key=Secret(KEY))
    async with seen["openrouter"](config, context, ProviderInfo("teacher", "openrouter", "x/y")) as provider:
        assert provider.info().name == "teacher"


def test_found_through_its_entry_point() -> None:
    registry = collect(make_plugin_manager(allow=["openrouter"]))
    for kind in ("openrouter", "openai"):
        registration = registry.get("providers", kind)
        assert registration.distribution == "destilation-openrouter"
        assert registration.config is OpenRouterConfig


def test_config_structures_from_toml_values() -> None:
    config = structure(
        {"api_key": KEY, "base_url": "http://127.0.0.1:1/v1", "extra_body": {"provider": {"zdr": True}}},
        OpenRouterConfig,
        source="job.toml",
    )
    assert config.api_key == Secret(KEY)
    assert KEY not in repr(config)
    assert config.extra_body == {"provider": {"zdr": True}}
    assert config.max_response_bytes == 8 * 1024 * 1024
    with pytest.raises(ConfigError, match="temprature"):
        structure({"temprature": 1}, OpenRouterConfig, source="job.toml")


@pytest.mark.parametrize(("kind", "env"), [("openrouter", "OPENROUTER_API_KEY"), ("openai", "OPENAI_API_KEY")])
def test_missing_key_for_openrouter_is_one_clear_line(
    context: PluginContext, monkeypatch: pytest.MonkeyPatch, kind: str, env: str
) -> None:
    monkeypatch.delenv(env, raising=False)
    with pytest.raises(PluginError) as info:
        make_provider(OpenRouterConfig(), context, ProviderInfo(name="teacher", kind=kind, model="x/y"))
    assert str(info.value) == f"provider 'teacher': no API key: set {env} or api_key = \"${{{env}}}\""


def test_empty_key_counts_as_missing(context: PluginContext) -> None:
    with pytest.raises(PluginError, match="no API key"):
        make_provider(OpenRouterConfig(api_key=Secret("")), context, ProviderInfo("t", "openrouter", "x/y"))


@pytest.mark.anyio
@pytest.mark.parametrize(("kind", "env"), [("openrouter", "OPENROUTER_API_KEY"), ("openai", "OPENAI_API_KEY")])
async def test_key_from_the_environment_is_sent(
    context: PluginContext, monkeypatch: pytest.MonkeyPatch, fake: Any, kind: str, env: str
) -> None:
    server, base_url = fake
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv(env, KEY)
    async with make_provider(OpenRouterConfig(base_url=base_url), context, ProviderInfo("t", kind, "m")) as provider:
        await provider.generate(GenerationRequest(messages=(Message("user", "hi"),)))
    assert server.last_headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.anyio
async def test_other_servers_work_without_a_key(
    context: PluginContext, monkeypatch: pytest.MonkeyPatch, fake: Any
) -> None:
    server, base_url = fake
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with make_provider(OpenRouterConfig(base_url=base_url), context, ProviderInfo("t", "openai", "m")) as p:
        await p.generate(GenerationRequest(messages=(Message("user", "hi"),)))
    assert "Authorization" not in server.last_headers


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://example.org/v1",
        "localhost:8000",
        "http://[::1",
        "https://user:pw@/x",
        "http://a b/v1",
        "http://h:99999/v1",
        "http://h:0",
    ],
)
def test_base_url_must_be_http(context: PluginContext, base_url: str) -> None:
    with pytest.raises(PluginError) as info:
        make_provider(OpenRouterConfig(base_url=base_url), context, ProviderInfo("t", "openai", "m"))
    assert (
        str(info.value)
        == "provider 't': base_url must be an http:// or https:// URL with a host (and a port in 1-65535)"
    )


@pytest.mark.parametrize("field", ["app_title", "referer"])
def test_header_values_with_control_characters_are_refused(context: PluginContext, field: str) -> None:
    config = OpenRouterConfig(base_url="http://127.0.0.1:1", **{field: "evil\r\nX-Injected: 1"})
    with pytest.raises(PluginError, match=f"provider 't': {field} must not contain control characters"):
        make_provider(config, context, ProviderInfo("t", "openai", "m"))


def test_bad_key_characters_do_not_show_the_key(context: PluginContext) -> None:
    config = OpenRouterConfig(api_key=Secret(KEY + "\n"))
    with pytest.raises(PluginError) as info:
        make_provider(config, context, ProviderInfo("t", "openrouter", "m"))
    assert KEY not in str(info.value)


@pytest.mark.anyio
async def test_info_defaults_capabilities(context: PluginContext) -> None:
    config = OpenRouterConfig(api_key=Secret(KEY))
    async with make_provider(config, context, ProviderInfo("t", "openrouter", "x/y")) as provider:
        assert provider.info().capabilities == DEFAULT_CAPABILITIES == {"json_schema", "tools", "reasoning"}
        assert KEY not in repr(provider) and KEY not in repr(provider.info())
    mine = ProviderInfo("t", "openrouter", "x/y", capabilities=frozenset({"tools"}))
    async with make_provider(config, context, mine) as provider:
        assert provider.info().capabilities == {"tools"}


def test_is_openrouter() -> None:
    assert is_openrouter(OPENROUTER_BASE_URL)
    assert is_openrouter("https://eu.openrouter.ai/api/v1")
    assert not is_openrouter("https://evilopenrouter.ai/api/v1")
    assert not is_openrouter("http://127.0.0.1:8000/v1")
    assert not is_openrouter("not a url")
