"""Request side of the wire: a `GenerationRequest` becomes one OpenAI-shaped JSON body.

This runs for every sample, so it stays lean. Most of a body is the same from request to
request (the system prompt, few-shot turns, the response schema); those parts are encoded once
and spliced in as text, which saves most of the encoding a request costs.
"""

from __future__ import annotations

import json
import re
from typing import Any

from destilation import GenerationRequest, Message, ProviderError, ToolSpec
from destilation_openrouter.config import OpenRouterConfig

_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]")
# ASCII escapes keep lone surrogates from user data encodable; NaN is not JSON.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_SPLICED = ("messages", "response_format")
_CACHE_SIZE = 256


class _Encoded:
    """Encoded JSON of values that repeat, by key; cleared when full, so it never grows unbounded."""

    def __init__(self) -> None:
        self._texts: dict[Any, str] = {}

    def get(self, key: Any, value: Any) -> str:
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) >= _CACHE_SIZE:
                self._texts.clear()
            text = self._texts[key] = _ENCODER.encode(value)
        return text


_messages = _Encoded()
_formats: dict[int, tuple[Any, str]] = {}


def message_json(message: Message) -> dict[str, Any]:
    """One chat message in OpenAI shape; tool calls keep their arguments as JSON text."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
        if not message.content:
            out["content"] = None  # OpenAI's shape for an assistant turn that only calls tools
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.reasoning and message.role == "assistant":
        out["reasoning"] = message.reasoning  # passed back so multi-turn reasoning stays coherent
    return out


def tool_json(tool: ToolSpec) -> dict[str, Any]:
    parameters = tool.parameters or {"type": "object", "properties": {}}
    function: dict[str, Any] = {"name": tool.name, "parameters": parameters}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def schema_name(schema: dict[str, Any]) -> str:
    """A `json_schema.name` OpenAI accepts (``[A-Za-z0-9_-]{1,64}``), from the schema's title."""
    title = schema.get("title")
    name = _SCHEMA_NAME.sub("_", title)[:64] if isinstance(title, str) else ""
    return name or "response"


def message_text(message: Message) -> str:
    """A message's JSON; a plain one (the system prompt, a few-shot turn) is encoded once."""
    if message.tool_calls or message.tool_call_id is not None or message.reasoning:
        return _ENCODER.encode(message_json(message))
    return _messages.get((message.role, message.content), message_json(message))


def build_body(request: GenerationRequest, model: str, config: OpenRouterConfig, *, openrouter: bool) -> bytes:
    """The encoded chat-completions body. Absent sampling values are not sent (the server's default applies)."""
    body: dict[str, Any] = {"model": model}
    temperature = request.temperature if request.temperature is not None else config.temperature
    if temperature is not None:
        body["temperature"] = temperature
    max_tokens = request.max_tokens if request.max_tokens is not None else config.max_tokens
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if request.seed is not None:
        body["seed"] = request.seed
    constrained = False
    response_format = None
    if request.response_schema is not None and config.structured_outputs:
        response_format = {
            "type": "json_schema",
            "json_schema": {
                "name": schema_name(request.response_schema),
                "strict": True,
                "schema": request.response_schema,
            },
        }
        constrained = True
    if request.tools:
        body["tools"] = [tool_json(t) for t in request.tools]
        constrained = True
    if request.reasoning:
        body["reasoning"] = {"enabled": True}
    if openrouter and constrained:
        # Without this OpenRouter may route to an endpoint that silently ignores the schema or tools.
        body["provider"] = {"require_parameters": True}
    for key, value in config.extra_body.items():
        if key == "provider" and isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    try:
        return _encode(body, request, response_format).encode()
    except (TypeError, ValueError) as exc:
        raise ProviderError(f"cannot encode the request body: {exc}", retryable=False) from None


def _encode(body: dict[str, Any], request: GenerationRequest, response_format: dict[str, Any] | None) -> str:
    """`body` with the messages and response format spliced in, unless `extra_body` set those itself."""
    if any(key in body for key in _SPLICED):
        body.setdefault("messages", [message_json(m) for m in request.messages])
        if response_format is not None:
            body.setdefault("response_format", response_format)
        return _ENCODER.encode(body)
    parts = [_ENCODER.encode(body)[:-1], ',"messages":[', ",".join(message_text(m) for m in request.messages), "]"]
    if response_format is not None:
        parts += [',"response_format":', _format_text(request.response_schema, response_format)]
    parts.append("}")
    return "".join(parts)


def _format_text(schema: Any, response_format: dict[str, Any]) -> str:
    """The response format's JSON, by the schema's identity (a job keeps one template)."""
    hit = _formats.get(id(schema))
    if hit is not None and hit[0] is schema:  # the entry keeps its schema alive: an id is never reused
        return hit[1]
    if len(_formats) >= _CACHE_SIZE:
        _formats.clear()
    text = _ENCODER.encode(response_format)
    _formats[id(schema)] = (schema, text)
    return text
