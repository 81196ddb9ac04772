"""Request side of the wire: a `GenerationRequest` becomes one `/api/chat` JSON body.

Ollama differs from OpenAI where it matters here: tool call arguments are JSON objects, a tool
result names its tool (`tool_name`), reasoning travels as `thinking`, the response schema goes in
`format`, and sampling parameters live in `options`.
"""

from __future__ import annotations

import json
from typing import Any

from destilation import GenerationRequest, Message, ProviderError, ToolSpec
from destilation_ollama.config import OllamaConfig

# ASCII escapes keep lone surrogates from user data encodable; NaN is not JSON.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _arguments(text: str) -> Any:
    """A tool call's JSON text as the object Ollama wants; text that is not a JSON object cannot go."""
    try:
        value = json.loads(text) if text.strip() else {}
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise ProviderError(
            f"cannot send a tool call whose arguments are not a JSON object: {text[:80]!r}", retryable=False
        )
    return value


def message_json(message: Message, tool_names: dict[str, str]) -> dict[str, Any]:
    """One chat message in Ollama's shape; `tool_names` maps earlier tool call ids to their tools."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.reasoning and message.role == "assistant":
        out["thinking"] = message.reasoning  # passed back so multi-turn reasoning stays coherent
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": call.id, "function": {"name": call.name, "arguments": _arguments(call.arguments)}}
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
        name = tool_names.get(message.tool_call_id)
        if name is not None:
            out["tool_name"] = name
    return out


def tool_json(tool: ToolSpec) -> dict[str, Any]:
    parameters = tool.parameters or {"type": "object", "properties": {}}
    function: dict[str, Any] = {"name": tool.name, "parameters": parameters}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def think_value(request: GenerationRequest, config: OllamaConfig) -> bool | str | None:
    """What goes in `think`: the config's setting, else true when the request asks for reasoning.

    None leaves the key out, so the server's default applies (it thinks when the model can).
    """
    if config.think is not None:
        return config.think
    return True if request.reasoning else None


def options_json(request: GenerationRequest, config: OllamaConfig) -> dict[str, Any]:
    """The `options` table: the config's extra Modelfile parameters, then the named ones on top."""
    options: dict[str, Any] = dict(config.options)
    temperature = request.temperature if request.temperature is not None else config.temperature
    if temperature is not None:
        options["temperature"] = temperature
    if request.seed is not None:
        options["seed"] = request.seed
    if config.num_ctx is not None:
        options["num_ctx"] = config.num_ctx
    max_tokens = request.max_tokens if request.max_tokens is not None else config.max_tokens
    if max_tokens is not None:
        options["num_predict"] = max_tokens
    return options


def build_body(request: GenerationRequest, model: str, config: OllamaConfig) -> bytes:
    """The encoded `/api/chat` body. Absent values are not sent, so the server's defaults apply."""
    tool_names = {call.id: call.name for m in request.messages for call in m.tool_calls}
    body: dict[str, Any] = {
        "model": model,
        "messages": [message_json(m, tool_names) for m in request.messages],
        "stream": config.stream,
    }
    if request.response_schema is not None and config.structured_outputs:
        body["format"] = request.response_schema
    if request.tools:
        body["tools"] = [tool_json(t) for t in request.tools]
    think = think_value(request, config)
    if think is not None:
        body["think"] = think
    options = options_json(request, config)
    if options:
        body["options"] = options
    if config.keep_alive is not None:
        body["keep_alive"] = config.keep_alive
    try:
        return _ENCODER.encode(body).encode()
    except (TypeError, ValueError) as exc:
        raise ProviderError(f"cannot encode the request body: {exc}", retryable=False) from None
