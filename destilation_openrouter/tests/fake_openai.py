"""A fake OpenAI-compatible chat server for tests and benchmarks (test support: in no wheel).

It answers `POST /chat/completions` (also under `/v1` and `/api/v1`) in OpenAI/OpenRouter shape
after a configurable latency, with content that fits the request's `response_format` JSON schema
and is made of the words of the last user message, so different prompts give different samples.
It can fail every Nth request (503 or 429 with `Retry-After: 0`) and send non-JSON content every
Nth. `refuse` names response formats it answers with an error (as llama-cpp-python answers 500 to
`json_schema`); a schema stated as the last line of the system prompt is followed too, as a
model asked in the prompt would. A request with `"stream": true` gets the answer as server-sent
events, as OpenRouter streams it. It also answers OpenRouter's `GET /key`.

It speaks just enough HTTP/1.1 for its clients (Content-Length bodies, keep-alive) on an
asyncio protocol: benchmarks run it on the same cores as the pipeline they measure, so it must
cost far less than what it serves (aiohttp's web stack spent half its CPU).

    python destilation_openrouter/tests/fake_openai.py --port 0 --latency-ms 200   # prints "PORT <n>" first

From pytest, `with start_fake_openai(latency_ms=0) as base_url:` runs it on a background thread.
It lives beside the OpenRouter provider's tests, which put this folder on `sys.path`; the
repository's other tests and benchmarks import it by path (`FAKE_OPENAI` there). It needs only
`multidict`, which every install of the core brings through aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import re
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from http import HTTPStatus
from typing import Any, TextIO

from multidict import CIMultiDict

DEFAULT_MODEL = "fake/model"
PREFIXES = ("", "/v1", "/api/v1")
_WORD = re.compile(r"\w+")
_FILLER = ("alpha", "beta", "gamma", "delta")


class Words:
    """Hands out the prompt's words in turn, so each field of the answer gets different ones."""

    def __init__(self, text: str, first: str | None = None) -> None:
        self.words = _WORD.findall(text) or list(_FILLER)
        if first is not None:
            self.words.insert(0, first)
        self.i = 0

    def take(self, n: int = 1) -> str:
        out = [self.words[(self.i + k) % len(self.words)] for k in range(n)]
        self.i += n
        return " ".join(out)

    def number(self) -> int:
        return len(self.take()) * 7 + self.i


def fake_value(schema: Any, words: Words) -> Any:
    """A value that satisfies the common subset of JSON Schema a template uses."""
    if not isinstance(schema, dict):
        return words.take(3)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][words.number() % len(schema["enum"])]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return fake_value(schema[key][0], words)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        props = schema.get("properties") or {}
        out = {name: fake_value(sub, words) for name, sub in props.items()}
        for name in schema.get("required") or ():
            out.setdefault(name, words.take(2))
        return out
    if kind == "array":
        count = max(schema.get("minItems", 0), min(schema.get("maxItems", 2), 2))
        return [fake_value(schema.get("items"), words) for _ in range(count)]
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", 0), schema.get("maximum", 10**6)
        value = low + words.number() % max(1, int(high - low) + 1)
        return value if kind == "integer" else value + 0.5 if value + 0.5 <= high else float(value)
    if kind == "boolean":
        return words.number() % 2 == 0
    if kind == "null":
        return None
    text = words.take(4)
    while len(text) < schema.get("minLength", 0):
        text = f"{text} {words.take(4)}"
    return text[: schema.get("maxLength", len(text))]


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def _format_schema(fmt: dict[str, Any]) -> Any:
    """The schema of a response format: under `json_schema`, or beside `json_object` (llama-cpp-python)."""
    if fmt.get("type") == "json_object":
        return fmt.get("schema")
    inner = fmt.get("json_schema")
    return inner.get("schema") if isinstance(inner, dict) else None


def _prompt_schema(messages: list[Any]) -> Any:
    """A schema stated as the last line of the system prompt, which a model asked in the prompt follows."""
    first = messages[0] if messages else None
    if not isinstance(first, dict) or first.get("role") != "system" or not isinstance(first.get("content"), str):
        return None
    last = first["content"].rsplit("\n", 1)[-1]
    try:
        schema = json.loads(last) if last.startswith("{") else None
    except ValueError:
        return None
    return schema if isinstance(schema, dict) and ("type" in schema or "properties" in schema) else None


def as_event_stream(answer: dict[str, Any]) -> str:
    """A chat completion as OpenRouter streams it: a keep-alive comment, deltas, usage, `[DONE]`."""
    message = answer["choices"][0]["message"]
    content = message["content"]
    third = max(1, len(content) // 3)
    base = {"id": answer["id"], "object": "chat.completion.chunk", "model": answer["model"]}
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if message.get("reasoning"):
        deltas.append({"reasoning": message["reasoning"]})
    deltas += [{"content": content[i : i + third]} for i in range(0, len(content), third)]
    events = [{**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({**base, "choices": [], "usage": answer["usage"]})
    lines = [": OPENROUTER PROCESSING", ""] + [f"data: {json.dumps(event)}\n" for event in events]
    return "\n".join([*lines, "data: [DONE]", "", ""])


Answer = tuple[int, str, dict[str, str]]
"""Status, JSON body and extra headers of one response."""


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
    return status, json.dumps({"error": {"code": status, "message": message}}), headers or {}


class FakeOpenAI:
    """The server's state and knobs. `requests` counts chat calls; the last body and headers are kept."""

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        fail_every: int = 0,
        fail_status: int = 503,
        garbage_every: int = 0,
        model: str = DEFAULT_MODEL,
        refuse: Sequence[str] = (),
        refuse_status: int = 500,
        refuse_message: str = "Internal Server Error",
        prices: tuple[str, str] | None = None,
    ) -> None:
        self.refuse = frozenset(refuse)
        """Response format types ("json_schema", "json_object") answered with `refuse_status`."""
        self.refuse_status = refuse_status
        self.refuse_message = refuse_message
        self.prices = prices
        """USD per prompt and completion token in `/models`; set, answers carry no `usage.cost` (as a
        server that reports none)."""
        self.model_lists = 0
        """How many times `/models` was asked."""
        self.formats: list[str] = []
        """The response format type of each chat request ("" without one), in order."""
        self.latency_s = latency_ms / 1000.0
        self.fail_every = fail_every
        self.fail_status = fail_status
        self.garbage_every = garbage_every
        self.model = model
        self.requests = 0
        self.last_body: dict[str, Any] | None = None
        self.last_headers: Mapping[str, str] = CIMultiDict()
        """Case-insensitive, as HTTP headers are."""

    def respond(self, method: str, path: str, headers: CIMultiDict[str], raw: bytes) -> tuple[Answer, float]:
        """Route one request: its answer, and how long to hold it back (the latency, on chat calls only).

        The answer is made on arrival and only sent when due, so a burst of answers falling due
        together costs the server one write each, leaving the shared cores to the pipeline.
        """
        for prefix in PREFIXES:
            if path == f"{prefix}/chat/completions":
                return self.chat(headers, raw) if method == "POST" else (_error(405, "use POST"), 0.0)
            if path == f"{prefix}/models":
                return (self.models() if method == "GET" else _error(405, "use GET")), 0.0
            if path == f"{prefix}/key":
                return self.key(headers), 0.0
        return _error(404, f"no route for {path}"), 0.0

    def models(self) -> Answer:
        self.model_lists += 1
        entry: dict[str, Any] = {"id": self.model, "object": "model", "owned_by": "fake"}
        if self.prices is not None:  # OpenRouter's shape
            entry.update(
                name="Fake Model",
                context_length=8192,
                pricing={"prompt": self.prices[0], "completion": self.prices[1]},
                supported_parameters=["max_tokens", "response_format", "tools", "reasoning"],
            )
        return 200, json.dumps({"object": "list", "data": [entry]}), {}

    def key(self, headers: CIMultiDict[str]) -> Answer:
        if not headers.get("Authorization", "").startswith("Bearer "):
            return _error(401, "No auth credentials found")
        data = {"label": "sk-or-v1-abc...xyz", "limit": 10, "usage": 2.5, "limit_remaining": 7.5, "is_free_tier": False}
        return 200, json.dumps({"data": data}), {}

    def chat(self, headers: CIMultiDict[str], raw: bytes) -> tuple[Answer, float]:
        self.requests += 1
        number = self.requests
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "request body is not JSON"), 0.0
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "'messages' must be a list"), 0.0
        self.last_body = body
        self.last_headers = headers
        fmt = body.get("response_format")
        kind = str(fmt.get("type", "")) if isinstance(fmt, dict) else ""
        self.formats.append(kind)
        if kind in self.refuse:
            return _error(self.refuse_status, self.refuse_message), 0.0
        if self.fail_every and number % self.fail_every == 0:
            return _error(self.fail_status, "fake overload, try again", {"Retry-After": "0"}), self.latency_s
        text = self.completion(body, number)
        if body.get("stream"):
            return (200, as_event_stream(json.loads(text)), {"Content-Type": "text/event-stream"}), self.latency_s
        return (200, text, {}), self.latency_s

    def completion(self, body: dict[str, Any], number: int) -> str:
        """The JSON text of one chat completion answering `body`."""
        prompt = _last_user_text(body["messages"])
        # Like a sampling model, answers differ per request seed (or per request without one).
        words = Words(prompt, first=str(body.get("seed", number)))
        fmt = body.get("response_format")
        schema = _format_schema(fmt) if isinstance(fmt, dict) else _prompt_schema(body["messages"])
        if self.garbage_every and number % self.garbage_every == 0:
            content = "Sure! Here is the answer you wanted: {not json"
        elif schema is not None:
            content = json.dumps(fake_value(schema, words))
        elif isinstance(fmt, dict) and fmt.get("type") == "json_object":
            content = json.dumps({"text": words.take(8)})
        else:
            content = words.take(8)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        reasoning_tokens = 0
        if body.get("reasoning"):
            message["reasoning"] = f"Thinking about {words.take(6)}."
            reasoning_tokens = len(message["reasoning"]) // 4 + 1
        prompt_tokens = sum(len(str(m.get("content") or "")) for m in body["messages"] if isinstance(m, dict)) // 4 + 1
        completion_tokens = len(content) // 4 + 1 + reasoning_tokens
        answer = {
            "id": f"gen-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "provider": "Fake",
            "choices": [{"index": 0, "finish_reason": "stop", "native_finish_reason": "stop", "message": message}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
                "cost": (prompt_tokens + completion_tokens) * 1e-6,
            },
        }
        if self.prices is not None:
            del answer["usage"]["cost"]
        return json.dumps(answer)


class _Connection(asyncio.Protocol):
    """One client connection: requests one at a time, in order, kept alive until the client closes."""

    def __init__(self, fake: FakeOpenAI, open_connections: set[_Connection]) -> None:
        self.fake = fake
        self.open_connections = open_connections
        self.buffer = bytearray()
        self.busy = False
        self.ended = False
        """The client sent all it will (a half-close): answer what is buffered, then close."""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.open_connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open_connections.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next_request()

    def eof_received(self) -> bool:
        self.ended = True
        if not self.busy:
            self._next_request()
        return True  # keep the transport open to write the answers

    def _next_request(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if self.ended and self.transport is not None:
                self.transport.close()
            return
        request_line, *lines = self.buffer[:end].decode("latin-1").split("\r\n")
        headers: CIMultiDict[str] = CIMultiDict()
        for line in lines:
            name, _, value = line.partition(":")
            headers.add(name.strip(), value.strip())
        size = int(headers.get("Content-Length", "0") or 0)
        if len(self.buffer) < end + 4 + size:
            if self.ended and self.transport is not None:  # it will never come
                self.transport.close()
            return  # the body is still on its way
        raw = bytes(self.buffer[end + 4 : end + 4 + size])
        del self.buffer[: end + 4 + size]
        method, target, _version = request_line.split(" ", 2)
        answer, delay = self.fake.respond(method, target.split("?", 1)[0], headers, raw)
        close = headers.get("Connection", "").lower() == "close"
        self.busy = True
        asyncio.get_running_loop().call_later(delay, self._send, answer, close)

    def _send(self, answer: Answer, close: bool) -> None:
        if self.transport is None:  # the client left while the answer was held back
            return
        status, text, extra = answer
        payload = text.encode()
        kind = extra.get("Content-Type", "application/json")
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", f"Content-Type: {kind}"]
        head += [f"Content-Length: {len(payload)}"]
        head += [*(f"{k}: {v}" for k, v in extra.items() if k != "Content-Type"), "", ""]
        self.transport.write("\r\n".join(head).encode("latin-1") + payload)
        if close:
            self.transport.close()
            return
        self.busy = False
        self._next_request()


@contextlib.asynccontextmanager
async def serving(fake: FakeOpenAI, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[int]:
    """Serve `fake` on the running loop; yields the bound port."""
    open_connections: set[_Connection] = set()
    loop = asyncio.get_running_loop()
    # A deep backlog: benchmarks open hundreds of connections at once.
    server = await loop.create_server(lambda: _Connection(fake, open_connections), host, port, backlog=2048)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for connection in list(open_connections):
            if connection.transport is not None:
                connection.transport.close()
        await server.wait_closed()


@contextlib.contextmanager
def start_fake_openai(
    fake: FakeOpenAI | None = None, *, host: str = "127.0.0.1", port: int = 0, **knobs: Any
) -> Iterator[str]:
    """Run a fake server on a background thread with its own loop; yields its base URL (`…/v1`).

    Pass `fake` to look at `fake.last_body` afterwards, or knobs (`latency_ms`, `fail_every`, …).
    """
    server = fake if fake is not None else FakeOpenAI(**knobs)
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[int] = concurrent.futures.Future()
    stop = asyncio.Event()

    async def run() -> None:
        try:
            async with serving(server, host, port) as bound:
                ready.set_result(bound)
                await stop.wait()
        except OSError as exc:  # the address is taken: tell the caller instead of dying on the thread
            ready.set_exception(exc)

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), name="fake-openai", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{ready.result(timeout=30)}/v1"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join()
        loop.close()


async def _serve_until_signalled(fake: FakeOpenAI, host: str, port: int, out: TextIO) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serving(fake, host, port) as bound:
        print(f"PORT {bound}", file=out, flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> None:
    parser = argparse.ArgumentParser(prog="fake_openai.py", description="A fake OpenAI-compatible chat server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed as 'PORT <n>')")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fail-every", type=int, default=0, help="fail every Nth chat request (0: never)")
    parser.add_argument("--fail-status", type=int, default=503, choices=(429, 503))
    parser.add_argument("--garbage-every", type=int, default=0, help="send non-JSON content every Nth request")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args(argv)
    fake = FakeOpenAI(
        latency_ms=args.latency_ms,
        fail_every=args.fail_every,
        fail_status=args.fail_status,
        garbage_every=args.garbage_every,
        model=args.model,
    )
    asyncio.run(_serve_until_signalled(fake, args.host, args.port, out))


if __name__ == "__main__":
    main()
