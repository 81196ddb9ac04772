"""A fake Ollama server for tests (test support: in no wheel), speaking the native API on 127.0.0.1.

`POST /api/chat` answers in Ollama's shape, whole or as NDJSON (`stream`, which Ollama defaults
to true): content that fits the request's `format` schema, made of the seed and the words of the last
user message, so different tasks give different samples; `thinking` when `think` is on;
a call of the first tool offered (arguments as an object) when tools are given and the last
message is not a tool result; `done_reason: "length"` when `options.num_predict` cuts the answer.
An unknown model gets Ollama's 404. `failures` queues canned answers for the next requests.
`GET /api/tags` and `POST /api/show` describe `models`.

In async tests: `async with serve_fake(fake) as url:` on the test's loop; in sync tests (the CLI,
a whole job) `with run_fake(fake) as url:` on a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
from aiohttp import web

_WORD = re.compile(r"\w+")


@attrs.define
class FakeModel:
    family: str = "qwen3"
    parameter_size: str = "8.2B"
    quantization: str = "Q4_K_M"
    size: int = 5_225_388_164
    capabilities: list[str] = attrs.field(factory=lambda: ["completion", "tools", "thinking"])
    context_length: int = 40960


@attrs.define
class Canned:
    """One prepared answer: a status and body, or NDJSON lines sent as they are."""

    status: int = 200
    body: Any = None
    lines: list[bytes] | None = None
    headers: dict[str, str] | None = None
    delay_s: float = 0.0


@attrs.define
class FakeOllama:
    models: dict[str, FakeModel] = attrs.field(factory=lambda: {"qwen3:8b": FakeModel()})
    failures: list[Canned] = attrs.field(factory=list)
    chunk_words: int = 2
    """Words per NDJSON line of a streamed answer."""
    requests: list[dict[str, Any]] = attrs.field(factory=list)
    shows: list[str] = attrs.field(factory=list)
    show_fails: set[str] = attrs.field(factory=set)

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/chat", self.chat)
        app.router.add_get("/api/tags", self.tags)
        app.router.add_post("/api/show", self.show)
        return app

    async def tags(self, _request: web.Request) -> web.Response:
        models = [
            {
                "name": name,
                "model": name,
                "size": m.size,
                "digest": "0" * 64,
                "details": {
                    "format": "gguf",
                    "family": m.family,
                    "families": [m.family],
                    "parameter_size": m.parameter_size,
                    "quantization_level": m.quantization,
                },
            }
            for name, m in self.models.items()
        ]
        return web.json_response({"models": models})

    async def show(self, request: web.Request) -> web.Response:
        name = (await request.json())["model"]
        self.shows.append(name)
        if name in self.show_fails or name not in self.models:
            return web.json_response({"error": f"model '{name}' not found"}, status=404)
        m = self.models[name]
        return web.json_response(
            {
                "details": {"family": m.family},
                "model_info": {"general.architecture": m.family, f"{m.family}.context_length": m.context_length},
                "capabilities": m.capabilities,
            }
        )

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        if self.failures:
            canned = self.failures.pop(0)
            await asyncio.sleep(canned.delay_s)
            if canned.lines is not None:
                return await self._stream(request, canned.lines)
            if isinstance(canned.body, bytes):
                return web.Response(
                    body=canned.body, status=canned.status, headers=canned.headers, content_type="application/json"
                )
            return web.json_response(canned.body, status=canned.status, headers=canned.headers)
        model = body.get("model")
        if model not in self.models:
            return web.json_response({"error": f"model '{model}' not found"}, status=404)
        lines = self.answer_lines(body)
        if body.get("stream", True):
            return await self._stream(request, [json.dumps(line).encode() + b"\n" for line in lines])
        return web.json_response(merge(lines))

    async def _stream(self, request: web.Request, lines: list[bytes]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        for line in lines:
            await response.write(line)
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    def answer_lines(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The answer as the NDJSON objects a stream sends; `merge` makes the non-streamed one."""
        messages = body.get("messages") or []
        last_user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        options = body.get("options") or {}
        words = _WORD.findall(last_user) or ["alpha", "beta", "gamma"]
        # The seed leads a structured answer, so the tasks of one prompt give different samples.
        seeded = [f"seed{options['seed']}", *words] if "seed" in options else words
        model = body["model"]
        out: list[dict[str, Any]] = []

        def line(**message: Any) -> None:
            out.append(
                {
                    "model": model,
                    "created_at": "2026-12-02T00:00:00Z",
                    "message": {"role": "assistant", **message},
                    "done": False,
                }
            )

        if body.get("think"):
            thought = f"Thinking about {' '.join(words[:3])}."
            for piece in pieces(thought.split(" "), self.chunk_words):
                line(content="", thinking=piece)
        tools = body.get("tools") or []
        if tools and (not messages or messages[-1].get("role") != "tool"):
            name = tools[0]["function"]["name"]
            line(content="", tool_calls=[{"function": {"index": 0, "name": name, "arguments": {"query": words[0]}}}])
            text = ""
        elif isinstance(body.get("format"), dict):
            text = json.dumps(fake_value(body["format"], Words(seeded)))
        else:
            text = " ".join(words)
        reason = "stop"
        limit = options.get("num_predict")
        tokens = text.split(" ") if text else []
        if isinstance(limit, int) and 0 <= limit < len(tokens):
            tokens, reason = tokens[:limit], "length"
        for piece in pieces(tokens, self.chunk_words):
            line(content=piece)
        out.append(
            {
                "model": model,
                "created_at": "2026-12-02T00:00:01Z",
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": reason,
                "total_duration": 1_000_000,
                "prompt_eval_count": sum(len(_WORD.findall(m.get("content", ""))) for m in messages),
                "eval_count": len(tokens),
            }
        )
        return out


def pieces(tokens: list[str], size: int) -> list[str]:
    """Tokens in groups of `size`, each group keeping the space that joins it to the next."""
    groups = [" ".join(tokens[i : i + size]) for i in range(0, len(tokens), size)]
    return [g + " " if i < len(groups) - 1 else g for i, g in enumerate(groups)]


def merge(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streamed answer: the last object, with every line's text and tool calls in its message."""
    final = dict(lines[-1])
    message: dict[str, Any] = {"role": "assistant", "content": "".join(x["message"].get("content", "") for x in lines)}
    thinking = "".join(x["message"].get("thinking", "") for x in lines)
    if thinking:
        message["thinking"] = thinking
    calls = [c for x in lines for c in x["message"].get("tool_calls", [])]
    if calls:
        message["tool_calls"] = calls
    final["message"] = message
    return final


class Words:
    """Hands out the prompt's words in turn, so each field of the answer gets different ones."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.i = 0

    def take(self, n: int) -> str:
        out = [self.words[(self.i + k) % len(self.words)] for k in range(n)]
        self.i += n
        return " ".join(out)


def fake_value(schema: Any, words: Words) -> Any:
    """A value for the subset of JSON Schema the tests use (objects, strings, numbers, enums)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "object":
        return {name: fake_value(sub, words) for name, sub in (schema.get("properties") or {}).items()}
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), 1)
    text = words.take(4)
    while len(text) < schema.get("minLength", 0):
        text += " " + words.take(2)
    return text


@contextlib.asynccontextmanager
async def serve_fake(fake: FakeOllama) -> AsyncIterator[str]:
    """Serve `fake` on the test's own loop; yields its base URL."""
    runner = web.AppRunner(fake.app(), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def run_fake(fake: FakeOllama) -> Iterator[str]:
    """Serve `fake` on a background thread with its own loop, for synchronous tests; yields its base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()
    url: list[str] = []

    async def main() -> None:
        async with serve_fake(fake) as base:
            url.append(base)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield url[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
