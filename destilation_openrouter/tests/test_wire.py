"""The request body builder, including the parts only OpenRouter gets."""

from __future__ import annotations

import json

from destilation import GenerationRequest, Message, ToolSpec
from destilation_openrouter.config import OpenRouterConfig
from destilation_openrouter.wire import build_body, schema_name, tool_json

REQUEST = GenerationRequest(messages=(Message("user", "hi \ud800 there"),), response_schema={"type": "object"})


def test_openrouter_requires_parameters_when_constrained() -> None:
    body = json.loads(build_body(REQUEST, "x/y", OpenRouterConfig(), openrouter=True))
    assert body["provider"] == {"require_parameters": True}
    assert body["messages"][0]["content"] == "hi \ud800 there"  # a lone surrogate travels escaped


def test_extra_body_provider_prefs_merge_over_the_default() -> None:
    config = OpenRouterConfig(extra_body={"provider": {"require_parameters": False, "zdr": True}, "plugins": []})
    body = json.loads(build_body(REQUEST, "x/y", config, openrouter=True))
    assert body["provider"] == {"require_parameters": False, "zdr": True}
    assert body["plugins"] == []


def test_other_servers_get_no_provider_block() -> None:
    body = json.loads(build_body(REQUEST, "x/y", OpenRouterConfig(), openrouter=False))
    assert "provider" not in body


def test_unconstrained_requests_get_no_provider_block() -> None:
    plain = GenerationRequest(messages=(Message("user", "hi"),))
    assert "provider" not in json.loads(build_body(plain, "x/y", OpenRouterConfig(), openrouter=True))


def test_schema_names() -> None:
    assert schema_name({"title": "My schema v2"}) == "My_schema_v2"
    assert schema_name({"title": "x" * 100}) == "x" * 64
    assert schema_name({"title": 3}) == "response"
    assert schema_name({}) == "response"


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    assert tool_json(ToolSpec("now")) == {
        "type": "function",
        "function": {"name": "now", "parameters": {"type": "object", "properties": {}}},
    }


def test_extra_body_may_replace_the_messages_or_the_response_format() -> None:
    config = OpenRouterConfig(extra_body={"response_format": {"type": "json_object"}})
    body = json.loads(build_body(REQUEST, "x/y", config, openrouter=False))
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"] == [{"role": "user", "content": "hi \ud800 there"}]
    config = OpenRouterConfig(extra_body={"messages": [{"role": "user", "content": "instead"}]})
    body = json.loads(build_body(REQUEST, "x/y", config, openrouter=False))
    assert body["messages"] == [{"role": "user", "content": "instead"}]
    assert body["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_repeated_parts_encoded_once_give_the_same_bodies_as_fresh_ones() -> None:
    """The spliced encodings stay right across many prompts and schemas (and cache clears)."""
    for n in range(300):
        schema = {"type": "object", "title": f"s{n % 7}", "properties": {"n": {"const": n}}}
        messages = (Message("system", f"system {n % 3}"), Message("user", f"question {n}"))
        request = GenerationRequest(messages=messages, response_schema=schema, seed=n)
        body = json.loads(build_body(request, "x/y", OpenRouterConfig(), openrouter=False))
        assert body["messages"] == [
            {"role": "system", "content": f"system {n % 3}"},
            {"role": "user", "content": f"question {n}"},
        ]
        assert body["response_format"]["json_schema"] == {"name": f"s{n % 7}", "strict": True, "schema": schema}
        assert body["seed"] == n
