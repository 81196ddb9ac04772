"""The typed OpenRouter options on the wire: reasoning, routing preferences, fallback models, tool choice."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from destilation import ConfigError, GenerationRequest, Message, PluginError, ProviderInfo, ToolSpec
from destilation.config import structure
from destilation_openrouter.config import OpenRouterConfig, ProviderPreferences, ReasoningConfig
from destilation_openrouter.factory import make_provider
from destilation_openrouter.wire import build_body, with_schema_in_prompt

HELLO = GenerationRequest(messages=(Message("user", "hi"),))


def body(request: GenerationRequest = HELLO, *, openrouter: bool = True, **options: Any) -> dict[str, Any]:
    config = structure(options, OpenRouterConfig, source="job.toml")
    return json.loads(build_body(request, "x/y", config, openrouter=openrouter))


def test_reasoning_options_go_out_as_openrouters_reasoning_object() -> None:
    assert body(reasoning={"effort": "high", "exclude": True})["reasoning"] == {"effort": "high", "exclude": True}
    assert body(reasoning={"max_tokens": 2000})["reasoning"] == {"max_tokens": 2000}
    assert "reasoning" not in body()
    assert "reasoning" not in body(reasoning={})  # an empty table sends nothing


def test_a_request_asking_for_reasoning_enables_it() -> None:
    asked = GenerationRequest(messages=HELLO.messages, reasoning=True)
    assert body(asked)["reasoning"] == {"enabled": True}
    assert body(asked, openrouter=False)["reasoning"] == {"enabled": True}
    assert body(asked, reasoning={"effort": "low"})["reasoning"] == {"effort": "low"}


def test_other_servers_get_the_effort_as_reasoning_effort() -> None:
    sent = body(openrouter=False, reasoning={"effort": "medium"})
    assert sent["reasoning_effort"] == "medium"
    assert "reasoning" not in sent
    assert body(openrouter=False, reasoning={"max_tokens": 512})["reasoning"] == {"max_tokens": 512}


def test_reasoning_takes_effort_or_a_budget_not_both(context: Any) -> None:
    config = OpenRouterConfig(base_url="http://127.0.0.1:9/v1", reasoning=ReasoningConfig(effort="low", max_tokens=9))
    with pytest.raises(PluginError, match="effort or max_tokens, not both"):
        make_provider(config, context, ProviderInfo("t", "openai", "m"))
    budget = OpenRouterConfig(
        base_url="http://127.0.0.1:9/v1", max_tokens=1000, reasoning=ReasoningConfig(max_tokens=1000)
    )
    with pytest.raises(PluginError, match=r"reasoning.max_tokens \(1000\) must be below max_tokens \(1000\)"):
        make_provider(budget, context, ProviderInfo("t", "openai", "m"))
    room = attrs.evolve(budget, max_tokens=1500)
    assert make_provider(room, context, ProviderInfo("t", "openai", "m")) is not None


def test_provider_preferences_are_typed_and_sent_as_set() -> None:
    preferences = {
        "order": ["anthropic", "openai"],
        "only": ["openai"],
        "ignore": ["deepinfra"],
        "allow_fallbacks": False,
        "data_collection": "deny",
        "zdr": True,
        "sort": "throughput",
        "enforce_distillable_text": True,
        "quantizations": ["fp8"],
    }
    assert body(provider=preferences)["provider"] == preferences
    with pytest.raises(ConfigError, match=r"\$.provider.sort"):
        structure({"provider": {"sort": "vibes"}}, OpenRouterConfig, source="job.toml")
    with pytest.raises(ConfigError, match="unknown key"):
        structure({"provider": {"ordr": ["a"]}}, OpenRouterConfig, source="job.toml")


def test_require_parameters_defaults_on_for_schemas_and_the_users_choice_wins() -> None:
    constrained = GenerationRequest(messages=HELLO.messages, response_schema={"type": "object"})
    assert body(constrained, provider={"zdr": True})["provider"] == {"require_parameters": True, "zdr": True}
    chosen = body(constrained, provider={"require_parameters": False})
    assert chosen["provider"] == {"require_parameters": False}
    assert ProviderPreferences().body() == {}


def test_fallback_models_are_sent() -> None:
    assert body(models=["a/one", "b/two"])["models"] == ["a/one", "b/two"]
    assert "models" not in body()


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", "auto"),
        ("required", "required"),
        ("none", "none"),
        ("lookup", {"type": "function", "function": {"name": "lookup"}}),
    ],
)
def test_tool_choice_goes_with_the_tools(choice: str, sent: Any) -> None:
    with_tools = GenerationRequest(messages=HELLO.messages, tools=(ToolSpec("lookup"),))
    assert body(with_tools, tool_choice=choice)["tool_choice"] == sent
    assert "tool_choice" not in body(tool_choice=choice)  # no tools, no choice


def test_prompt_mode_adds_a_system_prompt_when_there_is_none() -> None:
    schema = {"type": "object"}
    (system, user) = with_schema_in_prompt(HELLO.messages, schema)
    assert system.role == "system"
    assert system.content.endswith('\n{"type":"object"}')
    assert user == HELLO.messages[0]
    request = GenerationRequest(messages=HELLO.messages, response_schema=schema)
    sent = json.loads(build_body(request, "x/y", OpenRouterConfig(), openrouter=True, mode="prompt"))
    assert "response_format" not in sent
    assert "provider" not in sent  # nothing for an endpoint to drop
    assert sent["messages"][0]["content"] == system.content


def test_encoded_formats_are_cached_per_schema_and_mode() -> None:
    schema = {"type": "object", "title": "t"}
    request = GenerationRequest(messages=HELLO.messages, response_schema=schema)
    for _ in range(2):
        as_schema = json.loads(build_body(request, "x/y", OpenRouterConfig(), openrouter=False, mode="json_schema"))
        as_object = json.loads(build_body(request, "x/y", OpenRouterConfig(), openrouter=False, mode="json_object"))
        assert as_schema["response_format"]["type"] == "json_schema"
        assert as_object["response_format"] == {"type": "json_object", "schema": schema}
