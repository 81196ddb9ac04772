"""Registration, config structuring and the factory's checks."""

from __future__ import annotations

from typing import Any

import click
import pytest

from destilation import ConfigError, PluginContext, PluginError, ProviderInfo
from destilation.config import structure
from destilation.plugins import make_plugin_manager
from destilation.registry import collect
from destilation_ollama import plugin
from destilation_ollama.config import OllamaConfig
from destilation_ollama.factory import make_provider


def test_registers_the_ollama_kind_and_its_commands() -> None:
    seen: dict[str, Any] = {}
    plugin.register_providers(register=lambda kind, factory, config: seen.setdefault(kind, config))
    assert seen == {"ollama": OllamaConfig}
    group = click.Group("destiler")
    plugin.register_commands(cli=group)
    assert set(group.commands) == {"ollama"}


@pytest.mark.anyio
async def test_registered_factory_builds_a_provider(context: PluginContext) -> None:
    seen: dict[str, Any] = {}
    plugin.register_providers(register=lambda kind, factory, config: seen.setdefault(kind, factory))
    async with seen["ollama"](OllamaConfig(), context, ProviderInfo("local", "ollama", "qwen3:8b")) as provider:
        assert provider.info().name == "local"


def test_found_through_its_entry_point() -> None:
    registry = collect(make_plugin_manager(allow=["ollama"]))
    registration = registry.get("providers", "ollama")
    assert registration.distribution == "destilation-ollama"
    assert registration.config is OllamaConfig


def test_config_structures_from_toml_values() -> None:
    config = structure(
        {
            "host": "gpu-box",
            "think": "low",
            "keep_alive": "1h",
            "num_ctx": 8192,
            "options": {"top_k": 20, "stop": ["##"]},
        },
        OllamaConfig,
        source="job.toml",
    )
    assert (config.host, config.think, config.keep_alive, config.num_ctx) == ("gpu-box", "low", "1h", 8192)
    assert config.options == {"top_k": 20, "stop": ["##"]}
    assert structure({"think": True, "keep_alive": -1}, OllamaConfig, source="job.toml").keep_alive == -1
    assert OllamaConfig().stream is False and OllamaConfig().structured_outputs is True


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"think": "deep"}, 'job.toml: $.think: must be true, false or one of "low", "medium", "high", "max"'),
        ({"think": 1}, 'job.toml: $.think: must be true, false or one of "low", "medium", "high", "max"'),
        ({"keep_alive": True}, 'job.toml: $.keep_alive: must be a duration such as "5m" or a number of seconds'),
        ({"keep_alive": ["5m"]}, 'job.toml: $.keep_alive: must be a duration such as "5m" or a number of seconds'),
        ({"num_ctx": 0}, "job.toml: $.num_ctx: must be >= 1: 0"),
        ({"timeout_s": 0}, "job.toml: $.timeout_s: must be > 0: 0.0"),
        ({"num_ctxx": 1}, "job.toml: $.num_ctxx: unknown key"),
    ],
)
def test_bad_config_is_one_line(value: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        structure(value, OllamaConfig, source="job.toml")
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("host", "env", "message"),
    [
        ("ftp://gpu-box", None, "provider 'local': host must be host[:port] or an http:// or https:// URL"),
        (None, "gpu:box:1", "provider 'local': OLLAMA_HOST is not a valid host[:port] or URL"),
    ],
)
def test_a_bad_host_is_one_line_naming_its_source(
    context: PluginContext, monkeypatch: pytest.MonkeyPatch, host: str | None, env: str | None, message: str
) -> None:
    if env is not None:
        monkeypatch.setenv("OLLAMA_HOST", env)
    with pytest.raises(PluginError) as info:
        make_provider(OllamaConfig(host=host), context, ProviderInfo("local", "ollama", "qwen3:8b"))
    assert str(info.value) == message


def test_a_provider_without_a_model_is_refused(context: PluginContext) -> None:
    with pytest.raises(PluginError) as info:
        make_provider(OllamaConfig(), context, ProviderInfo("local", "ollama", ""))
    assert str(info.value) == "provider 'local': no model: set model = \"NAME\" (see `destiler ollama models`)"


@pytest.mark.anyio
async def test_capabilities_default_to_format_and_to_reasoning_only_when_think_is_set(context: PluginContext) -> None:
    info = ProviderInfo("local", "ollama", "qwen3:8b")
    for think, expected in [
        (None, {"json_schema"}),
        (False, {"json_schema"}),
        (True, {"json_schema", "reasoning"}),
        ("high", {"json_schema", "reasoning"}),
    ]:
        async with make_provider(OllamaConfig(think=think), context, info) as provider:
            assert provider.info().capabilities == expected
    mine = ProviderInfo("local", "ollama", "qwen3:8b", capabilities=frozenset({"tools"}))
    async with make_provider(OllamaConfig(think=True), context, mine) as provider:
        assert provider.info().capabilities == {"tools"}


@pytest.mark.anyio
async def test_host_comes_from_the_environment(
    context: PluginContext, monkeypatch: pytest.MonkeyPatch, fake: Any
) -> None:
    _server, url = fake
    monkeypatch.setenv("OLLAMA_HOST", url.removeprefix("http://"))
    async with make_provider(OllamaConfig(), context, ProviderInfo("local", "ollama", "qwen3:8b")) as provider:
        assert await provider.models() == ["qwen3:8b"]
