"""The JSON-lines protocol (PROTOCOL.md) as pure functions: what the parent writes, what it reads back.

Nothing here does I/O, so every rule of the protocol is tested without a process.
"""

from __future__ import annotations

import json
import math
from typing import Any

import attrs

from destilation import Generation, GenerationRequest, ProviderError, ToolCall, Usage, redact_text
from destilation.domain import message_record

PROTOCOL_VERSION = 1
FINISH_REASON = "stop"


class ProtocolError(Exception):
    """A line or a message that breaks the protocol; the message says what is wrong."""


@attrs.frozen
class Hello:
    """The child's handshake: who it is, which models it serves, what it can do."""

    protocol: int
    name: str
    models: tuple[str, ...]
    capabilities: frozenset[str]


@attrs.frozen
class Reply:
    """A `result` or `error` for request `id`; `body` is the whole message."""

    id: int
    type: str
    body: dict[str, Any]


@attrs.frozen
class Other:
    """A well-formed message of a type this parent does not know: ignored, for forward compatibility."""

    type: str


Incoming = Hello | Reply | Other

ERROR_KINDS: dict[str, tuple[int | None, bool]] = {
    # kind: (HTTP-like status for the core's classification, retryable)
    "rate_limited": (429, True),
    "overloaded": (503, True),
    "server": (500, True),
    "timeout": (504, True),
    "unavailable": (503, True),
    "bad_request": (400, False),
    "auth": (401, False),
    "payment": (402, False),
    "forbidden": (403, False),
    "not_found": (404, False),
}
"""The error kinds a child may name; any other kind is retryable with no status."""


def encode(message: dict[str, Any]) -> bytes:
    """One line of ASCII JSON: every language's JSON parser reads it, whatever the text holds."""
    return json.dumps(message, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode("ascii") + b"\n"


def parent_hello(provider: str, model: str) -> dict[str, Any]:
    return {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "client": "destilation",
        "provider": provider,
        "model": model,
    }


def generate_message(request_id: int, request: GenerationRequest, model: str) -> dict[str, Any]:
    """The `generate` message of one request; `model` is the request's, else the provider's."""
    body: dict[str, Any] = {
        "messages": [message_record(m) for m in request.messages],
        "model": model,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "response_schema": request.response_schema,
        "tools": [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in request.tools],
        "reasoning": request.reasoning,
        "seed": request.seed,
        "attempt": request.attempt,
    }
    return {"type": "generate", "id": request_id, "request": body}


def cancel_message(request_id: int) -> dict[str, Any]:
    return {"type": "cancel", "id": request_id}


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def decode(line: bytes) -> Incoming:
    """Parse one stdout line; raise ProtocolError when it is not a protocol message."""
    try:
        value = json.loads(line.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("not a JSON line") from None
    if not isinstance(value, dict):
        raise ProtocolError("not a JSON object")
    kind = value.get("type")
    if not isinstance(kind, str):
        raise ProtocolError('no "type" string')
    if kind == "hello":
        return _hello(value)
    if kind in ("result", "error"):
        request_id = value.get("id")
        if not isinstance(request_id, int) or isinstance(request_id, bool):
            raise ProtocolError(f'a "{kind}" without an integer "id"')
        return Reply(request_id, kind, value)
    return Other(kind)


def _strings(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f'hello: "{field}" must be a list of strings')
    return tuple(value)


def _hello(value: dict[str, Any]) -> Hello:
    protocol = value.get("protocol")
    if not isinstance(protocol, int) or isinstance(protocol, bool):
        raise ProtocolError('hello: "protocol" must be an integer')
    name = value.get("name", "")
    if not isinstance(name, str):
        raise ProtocolError('hello: "name" must be a string')
    models = _strings(value.get("models", []), "models")
    capabilities = _strings(value.get("capabilities", []), "capabilities")
    return Hello(protocol, name, models, frozenset(capabilities))


def _optional_str(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is not None and not isinstance(value, str):
        raise ProtocolError(f'result: "{field}" must be a string or null')
    return value


def _count(value: Any, field: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f'result: "usage.{field}" must be a whole number >= 0')
    return value


def _usage(value: Any) -> Usage:
    if value is None:
        return Usage()
    if not isinstance(value, dict):
        raise ProtocolError('result: "usage" must be an object')
    return Usage(
        _count(value.get("prompt_tokens"), "prompt_tokens"),
        _count(value.get("completion_tokens"), "completion_tokens"),
        _count(value.get("reasoning_tokens"), "reasoning_tokens"),
    )


def _tool_call(value: Any, index: int) -> ToolCall:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise ProtocolError(f'result: "tool_calls[{index}]" must be an object with a "name" string')
    call_id = value.get("id", f"call_{index}")
    if not isinstance(call_id, str):
        raise ProtocolError(f'result: "tool_calls[{index}].id" must be a string')
    arguments = value.get("arguments", "{}")
    if not isinstance(arguments, str):  # an object is sent on as the JSON text it stands for
        arguments = json.dumps(arguments, ensure_ascii=False, allow_nan=False)
    return ToolCall(call_id, value["name"], arguments)


def _cost(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ProtocolError('result: "cost" must be a number >= 0 or null')
    return float(value)


def generation(body: dict[str, Any], *, provider: str, model: str, latency_s: float) -> Generation:
    """A `result` message as the core's Generation; raise ProtocolError when a field is malformed."""
    content = body.get("content")
    if not isinstance(content, str):
        raise ProtocolError('result: "content" must be a string')
    calls = body.get("tool_calls")
    calls = [] if calls is None else calls
    if not isinstance(calls, list):
        raise ProtocolError('result: "tool_calls" must be a list')
    answered_by = _optional_str(body, "model") or model
    finish = _optional_str(body, "finish_reason") if "finish_reason" in body else FINISH_REASON
    return Generation(
        text=content,
        provider=provider,
        model=answered_by,
        finish_reason=finish,
        usage=_usage(body.get("usage")),
        cost=_cost(body.get("cost")),
        latency_s=latency_s,
        reasoning=_optional_str(body, "reasoning"),
        tool_calls=tuple(_tool_call(c, i) for i, c in enumerate(calls)),
    )


def _retry_after(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def provider_error(body: dict[str, Any], provider: str) -> ProviderError:
    """An `error` message as the ProviderError the core's call policy classifies."""
    kind = body.get("kind")
    kind = kind if isinstance(kind, str) else "unknown"
    message = body.get("message")
    text = message if isinstance(message, str) and message else kind
    status, retryable = ERROR_KINDS.get(kind, (None, True))
    if isinstance(body.get("retryable"), bool):
        retryable = body["retryable"]
    return ProviderError(
        redact_text(f"{provider}: {kind}: {text[:500]}"),  # a child may quote its upstream's key
        retryable=retryable,
        retry_after=_retry_after(body.get("retry_after")),
        status=status,
    )
