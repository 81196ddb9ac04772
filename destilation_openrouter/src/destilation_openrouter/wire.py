"""Request side of the wire: a `GenerationRequest` becomes one OpenAI-shaped JSON body.

The body is built as plain dicts and encoded once; this runs for every sample, so it stays lean.
"""

from __future__ import annotations

import json
import re
from typing import Any

from destilation import GenerationRequest, Message, ProviderError, ToolSpec
from destilation_openrouter.config import OpenRouterConfig

_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]")


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


def build_body(request: GenerationRequest, model: str, config: OpenRouterConfig, *, openrouter: bool) -> bytes:
    """The encoded chat-completions body. Absent sampling values are not sent (the server's default applies)."""
    body: dict[str, Any] = {"model": model, "messages": [message_json(m) for m in request.messages]}
    temperature = request.temperature if request.temperature is not None else config.temperature
    if temperature is not None:
        body["temperature"] = temperature
    max_tokens = request.max_tokens if request.max_tokens is not None else config.max_tokens
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if request.seed is not None:
        body["seed"] = request.seed
    constrained = False
    if request.response_schema is not None and config.structured_outputs:
        body["response_format"] = {
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
        # ASCII escapes keep lone surrogates from user data encodable; NaN is not JSON.
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ProviderError(f"cannot encode the request body: {exc}", retryable=False) from None
