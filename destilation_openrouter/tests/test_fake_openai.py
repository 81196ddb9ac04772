"""The fake OpenAI-compatible server: schema-true content, failure knobs, prefixes, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import httpx
import jsonschema
import pytest

from destilation import GenerationRequest, Message, ProviderError
from destilation.testing.fake_openai import FakeOpenAI, Words, fake_value, main, start_fake_openai
from destilation_openrouter.provider import OpenRouterProvider

Build = Callable[..., OpenRouterProvider]

SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 40, "maxLength": 60},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 5},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "count": {"type": "integer", "minimum": 10, "maximum": 12},
            "ok": {"type": "boolean"},
            "level": {"enum": ["low", "mid", "high"]},
            "kind": {"const": "quiz"},
            "maybe": {"type": ["null", "string"]},
            "nothing": {"type": "null"},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "nested": {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
            "list": {"items": {"type": "boolean"}},
            "free": {},
            "any": True,
        },
        "required": ["title", "tags", "extra"],
    },
    {"type": "array", "items": {"type": "number", "maximum": 3}, "minItems": 2},
    {"oneOf": [{"type": "string", "minLength": 500}]},
    {"allOf": [{"type": "integer", "minimum": 5, "maximum": 5}]},
    {"type": ["null"]},
]


@pytest.mark.parametrize("schema", SCHEMAS)
@pytest.mark.parametrize("prompt", ["Write about rivers, deltas and estuaries.", "a", ""])
def test_fake_values_conform(schema: dict[str, Any], prompt: str) -> None:
    value = fake_value(schema, Words(prompt))
    jsonschema.validate(value, schema)


def test_required_names_outside_properties_are_filled() -> None:
    value = fake_value({"type": "object", "required": ["x"]}, Words("p q"))
    assert isinstance(value["x"], str)


def test_prompts_shape_the_content() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    one = fake_value(schema, Words("volcanoes erupt magma"))
    two = fake_value(schema, Words("glaciers carve valleys"))
    assert one != two and "volcanoes" in one["q"] and "glaciers" in two["q"]


@pytest.mark.anyio
async def test_without_a_user_message_filler_words_are_used() -> None:
    with start_fake_openai() as base_url:
        async with httpx.AsyncClient() as client:
            body = {"messages": [{"role": "system", "content": "be brief"}, "junk"]}
            answer = (await client.post(f"{base_url}/chat/completions", json=body)).json()
    assert answer["choices"][0]["message"]["content"].startswith("1 alpha beta")


def test_non_dict_schemas_give_text() -> None:
    assert isinstance(fake_value(None, Words("x y z")), str)


@pytest.mark.anyio
async def test_chat_answers_under_every_prefix_and_shape() -> None:
    fake = FakeOpenAI(model="fake/other")
    with start_fake_openai(fake) as base_url:
        root = base_url.removesuffix("/v1")
        async with httpx.AsyncClient() as client:
            for prefix in ("", "/v1", "/api/v1"):
                models = (await client.get(f"{root}{prefix}/models")).json()
                assert models["data"][0]["id"] == "fake/other"
            plain = {"messages": [{"role": "user", "content": "tell me of owls"}], "seed": 42}
            answer = (await client.post(f"{root}/api/v1/chat/completions", json=plain)).json()
            assert answer["model"] == "fake/other"
            assert answer["choices"][0]["message"]["content"].startswith("42 tell me of owls")
            assert "reasoning" not in answer["choices"][0]["message"]
            as_object = {**plain, "response_format": {"type": "json_object"}, "model": "x"}
            answer = (await client.post(f"{root}/chat/completions", json=as_object)).json()
            assert json.loads(answer["choices"][0]["message"]["content"])["text"].startswith("42 tell")
            assert answer["model"] == "x"
            bad = await client.post(f"{root}/v1/chat/completions", content=b"{nope")
            assert bad.status_code == 400 and bad.json()["error"]["message"] == "request body is not JSON"
            bad = await client.post(f"{root}/v1/chat/completions", json={"messages": "hi"})
            assert bad.status_code == 400 and bad.json()["error"]["message"] == "'messages' must be a list"
    assert fake.requests == 4
    assert fake.last_body == as_object


@pytest.mark.anyio
@pytest.mark.parametrize("status", [503, 429])
async def test_fail_every_nth_request(build: Build, status: int) -> None:
    with start_fake_openai(fail_every=3, fail_status=status, latency_ms=1) as base_url:
        async with build(base_url) as provider:
            outcomes: list[Any] = []
            for _ in range(6):
                try:
                    await provider.generate(GenerationRequest(messages=(Message("user", "hi"),)))
                    outcomes.append("ok")
                except ProviderError as exc:
                    outcomes.append((exc.status, exc.retryable, exc.retry_after))
    failed = (status, True, 0.0)
    assert outcomes == ["ok", "ok", failed, "ok", "ok", failed]


@pytest.mark.anyio
async def test_garbage_every_nth_request(build: Build) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    with start_fake_openai(garbage_every=2) as base_url:
        async with build(base_url) as provider:
            texts = [
                (
                    await provider.generate(
                        GenerationRequest(messages=(Message("user", "hi"),), response_schema=schema)
                    )
                ).text
                for _ in range(4)
            ]
    parsed = []
    for text in texts:
        try:
            parsed.append(json.loads(text))
        except ValueError:
            parsed.append(None)
    assert [p is not None for p in parsed] == [True, False, True, False]


def test_a_taken_port_is_reported() -> None:
    with start_fake_openai() as base_url:
        port = int(base_url.rsplit(":", 1)[1].split("/")[0])
        with pytest.raises(OSError, match="address already in use"), start_fake_openai(port=port):
            pass  # pragma: no cover - never entered


class _Lines:
    """A stdout stand-in that says when the first line has arrived."""

    def __init__(self) -> None:
        self.text = ""
        self.first_line = threading.Event()

    def write(self, text: str) -> int:
        self.text += text
        if "\n" in self.text:
            self.first_line.set()
        return len(text)

    def flush(self) -> None:
        pass


def test_main_serves_until_sigterm() -> None:
    out = _Lines()
    seen: dict[str, Any] = {}

    def client() -> None:
        out.first_line.wait(30)
        port = int(out.text.split()[1])
        seen["models"] = httpx.get(f"http://127.0.0.1:{port}/v1/models").json()
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=client)
    thread.start()
    main(["--port", "0", "--latency-ms", "1", "--fail-every", "5", "--model", "cli/model"], out=out)
    thread.join()
    assert out.text.startswith("PORT ")
    assert seen["models"]["data"][0]["id"] == "cli/model"


def test_runs_as_a_program() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "destilation.testing.fake_openai", "--port", "0", "--latency-ms", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[0] == "PORT"
        body = {"messages": [{"role": "user", "content": "hello"}], "reasoning": {"enabled": True}}
        answer = httpx.post(f"http://127.0.0.1:{first[1]}/v1/chat/completions", json=body).json()
        assert answer["choices"][0]["message"]["reasoning"].startswith("Thinking about 1 hello")
        assert answer["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


@pytest.mark.anyio
async def test_equal_prompts_with_different_seeds_get_different_answers() -> None:
    with start_fake_openai() as base_url:
        async with httpx.AsyncClient() as client:
            texts = set()
            for seed in (1, 2, 1):
                body = {"messages": [{"role": "user", "content": "same prompt"}], "seed": seed}
                answer = (await client.post(f"{base_url}/chat/completions", json=body)).json()
                texts.add(answer["choices"][0]["message"]["content"])
    assert len(texts) == 2
