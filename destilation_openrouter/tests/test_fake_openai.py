"""The fake OpenAI-compatible server: schema-true content, failure knobs, prefixes, CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from fake_openai import FakeOpenAI, Words, fake_value, main, start_fake_openai

from destilation import GenerationRequest, Message, ProviderError
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
        [sys.executable, str(Path(__file__).with_name("fake_openai.py")), "--port", "0", "--latency-ms", "0"],
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


def _exchange(port: int, *chunks: bytes, pause: float = 0.0) -> bytes:
    """Send `chunks` (a pause between them) on one raw connection; everything read until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
            time.sleep(pause)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while data := sock.recv(65536):
            received += data
    return received


def test_the_server_speaks_plain_http_to_raw_clients() -> None:
    with start_fake_openai(latency_ms=100) as base_url:
        port = int(base_url.rsplit(":", 1)[1].split("/")[0])
        body = b'{"messages": [{"role": "user", "content": "owls"}]}'
        head = f"POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n".encode()
        # The body arrives after the head, and the client asks to close after the answer.
        answer = _exchange(port, head + b"Connection: close\r\n\r\n", body, pause=0.05)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["choices"][0]["message"]["content"]
        # Two requests on one kept-alive connection, answered in order; unknown routes and methods.
        two = b"GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\nPOST /v1/models HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        answers = _exchange(port, two, pause=0.3)
        assert answers.startswith(b"HTTP/1.1 404 Not Found\r\n")
        assert b"HTTP/1.1 405 Method Not Allowed\r\n" in answers
        assert b"HTTP/1.1 405" in _exchange(port, b"GET /chat/completions HTTP/1.1\r\n\r\n", pause=0.3)
        # A body cut short by the client's end of sending gets no answer, only the close.
        assert _exchange(port, head + b"\r\n" + body[:5]) == b""
        # A client that resets the connection before its answer is ready costs nothing but the work.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head + b"\r\n" + body)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        time.sleep(0.3)
        models = httpx.get(f"{base_url}/models").json()
        assert models["data"][0]["id"]


def test_a_schema_in_the_prompt_is_followed_and_prose_is_not_mistaken_for_one() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    with start_fake_openai() as base_url:
        for system, expected in [
            (f"Answer with JSON.\n{json.dumps(schema)}", "object"),
            ("Answer with JSON.\n{not json", "text"),
            ('Answer.\n{"a": 1}', "text"),  # JSON, but no schema
        ]:
            body = {"messages": [{"role": "system", "content": system}, {"role": "user", "content": "hello"}]}
            answer = httpx.post(f"{base_url}/chat/completions", json=body).json()
            content = answer["choices"][0]["message"]["content"]
            if expected == "object":
                jsonschema.validate(json.loads(content), schema)
            else:
                assert not content.startswith("{")


def test_the_key_endpoint_wants_a_key() -> None:
    with start_fake_openai() as base_url:
        assert httpx.get(f"{base_url}/key").status_code == 401
        assert httpx.get(f"{base_url}/key", headers={"Authorization": "Bearer k"}).json()["data"]["limit"] == 10
