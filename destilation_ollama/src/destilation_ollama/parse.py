"""Response side of the wire: pure functions from status and bytes to results or ProviderError.

Anything a server sends, however malformed, ends as a `Generation`, a list or a ProviderError
with one short line; nothing else escapes. Ollama's error bodies are `{"error": "<text>"}`.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from destilation import Generation, ProviderError, ToolCall, Usage

EXCERPT_CHARS = 200


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """One line of at most `limit` characters, for error messages."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def invalid(name: str, why: str) -> ProviderError:
    return ProviderError(f"invalid response from {name}: {excerpt(why)}", retryable=True)


def load_json(raw: bytes, name: str) -> Any:
    """Decode a body or a line; bad UTF-8, bad JSON and absurd nesting all become one ProviderError."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        shown = raw[:EXCERPT_CHARS].decode("utf-8", "replace")
        raise invalid(name, f"not JSON: {shown!r}") from None


def load_object(raw: bytes, name: str) -> dict[str, Any]:
    data = load_json(raw, name)
    if not isinstance(data, dict):
        raise invalid(name, f"expected a JSON object, got {type(data).__name__}")
    return data


def error_text(error: Any) -> str:
    """The message of an `{"error": ...}` value: Ollama's bare string, or an OpenAI-style object."""
    if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]:
        return excerpt(error["message"])
    return excerpt(error if isinstance(error, str) else json.dumps(error, default=str))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _text(value: Any, name: str, field: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise invalid(name, f"message.{field} is a {type(value).__name__}")


def parse_tool_calls(value: Any, name: str, first: int = 0) -> tuple[ToolCall, ...]:
    """Ollama's tool calls (arguments are objects) → ToolCalls whose arguments are JSON text, as OpenAI has them."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise invalid(name, "message.tool_calls is not a list")
    calls = []
    for i, item in enumerate(value, start=first):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise invalid(name, f"message.tool_calls[{i - first}] has no function name")
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = json.dumps({} if arguments is None else arguments, ensure_ascii=False)
        call_id = item.get("id")
        calls.append(
            ToolCall(call_id if isinstance(call_id, str) and call_id else f"call_{i}", function["name"], arguments)
        )
    return tuple(calls)


@attrs.define
class ChatAnswer:
    """What one or more `/api/chat` objects said, assembled; a stream adds its lines one by one."""

    name: str
    content: list[str] = attrs.field(factory=list)
    thinking: list[str] = attrs.field(factory=list)
    tool_calls: list[ToolCall] = attrs.field(factory=list)
    model: str | None = None
    done: bool = False
    done_reason: str | None = None
    usage: Usage = attrs.field(factory=Usage)
    seen: int = 0
    """Objects taken so far: an error after the first is one that broke a stream."""

    def add(self, data: Any) -> None:
        """Take one response object (the whole answer, or one NDJSON line); an `error` in it is a ProviderError."""
        if not isinstance(data, dict):
            raise invalid(self.name, f"expected a JSON object, got {type(data).__name__}")
        if data.get("error") is not None:
            where = "mid-stream" if self.seen else "in response"
            raise ProviderError(f"{self.name}: error {where}: {error_text(data['error'])}", retryable=True)
        self.seen += 1
        message = data.get("message")
        if message is not None:
            if not isinstance(message, dict):
                raise invalid(self.name, "message is not an object")
            self.content.append(_text(message.get("content"), self.name, "content"))
            self.thinking.append(_text(message.get("thinking"), self.name, "thinking"))
            self.tool_calls.extend(parse_tool_calls(message.get("tool_calls"), self.name, len(self.tool_calls)))
        self.model = _str(data.get("model")) or self.model
        if data.get("done") is True:
            self.done = True
            self.done_reason = _str(data.get("done_reason"))
            self.usage = Usage(_int(data.get("prompt_eval_count")), _int(data.get("eval_count")))

    def generation(self, *, model: str, latency_s: float, cost: float) -> Generation:
        """The assembled answer; an answer that never said `done` was cut off, which is retryable."""
        if not self.done:
            raise ProviderError(f"{self.name}: the answer ended before Ollama said it was done", retryable=True)
        thinking = "".join(self.thinking)
        return Generation(
            text="".join(self.content),
            provider=self.name,
            model=self.model or model,
            finish_reason=self.done_reason,
            usage=self.usage,
            cost=cost,
            latency_s=latency_s,
            reasoning=thinking or None,
            tool_calls=tuple(self.tool_calls),
        )


def parse_chat(raw: bytes, name: str) -> ChatAnswer:
    """A non-streaming `/api/chat` body (HTTP 200) → its assembled answer."""
    answer = ChatAnswer(name)
    answer.add(load_json(raw, name))
    return answer


def parse_tags(raw: bytes, name: str) -> list[dict[str, Any]]:
    """`GET /api/tags` → the model entries (each with at least a string `name`)."""
    items = load_object(raw, name).get("models")
    if not isinstance(items, list):
        raise invalid(name, "no model list under 'models'")
    return [item for item in items if isinstance(item, dict) and isinstance(item.get("name"), str)]


def parse_show(raw: bytes, name: str) -> dict[str, Any]:
    """`POST /api/show` → its object (capabilities, details, model_info, ...)."""
    return load_object(raw, name)


def retry_after(header: str | None) -> float | None:
    """Seconds from a Retry-After header a proxy in front of Ollama may send (Ollama itself sends none)."""
    try:
        seconds = float(header) if header else None
    except ValueError:
        return None
    return max(0.0, seconds) if seconds is not None and seconds < float("inf") else None


def status_error(
    name: str, status: int, raw: bytes, *, model: str, host: str, wait: float | None = None
) -> ProviderError:
    """A non-2xx answer → ProviderError: retryable for overload and server faults, not for client faults."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and data.get("error") is not None:
        detail = error_text(data["error"])
    else:
        detail = excerpt(raw[:EXCERPT_CHARS].decode("utf-8", "replace"))
    if status == 404 and "not found" in detail and "model" in detail:
        # Pulling the model is the fix; retrying or waiting is not.
        return ProviderError(
            f"{name}: model {model} not found on {host}: run `ollama pull {model}`", retryable=False, status=404
        )
    retryable = status in (408, 429) or (status >= 500 and status not in (501, 505))
    hint = " (server busy: its queue is full)" if status == 503 else ""
    message = f"{name}: HTTP {status}{hint}" + (f": {detail}" if detail else "")
    return ProviderError(message, retryable=retryable, retry_after=wait, status=status)
