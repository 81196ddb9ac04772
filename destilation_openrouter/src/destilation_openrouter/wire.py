"""Request side of the wire: a `GenerationRequest` becomes one OpenAI-shaped JSON body.

This runs for every sample, so it stays lean. Most of a body is the same from request to
request (the system prompt, few-shot turns, the response schema); those parts are encoded once
and spliced in as text, which saves most of the encoding a request costs.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from destilation import GenerationRequest, Message, ProviderError, ToolSpec
from destilation_openrouter.config import OpenRouterConfig

_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]")
# ASCII escapes keep lone surrogates from user data encodable; NaN is not JSON.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_SPLICED = ("messages", "response_format")
_FORMAT_MODES = ("json_schema", "json_object")
"""The structured output modes that send a `response_format`."""
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


def response_format(schema: dict[str, Any], mode: str) -> dict[str, Any]:
    """The `response_format` of mode `json_schema` (strict) or `json_object` (with the schema beside it)."""
    if mode == "json_object":  # llama-cpp-python, and servers that read a schema beside json_object
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": schema_name(schema), "strict": True, "schema": schema}}


def schema_instruction(schema: dict[str, Any]) -> str:
    """What `prompt` mode adds to the system prompt; the schema's JSON is its last line."""
    return (
        "Answer with one JSON value that matches the JSON schema below, and with nothing else: "
        "no prose, no code fence.\n" + _ENCODER.encode(schema)
    )


def with_schema_in_prompt(messages: tuple[Message, ...], schema: dict[str, Any]) -> tuple[Message, ...]:
    """The messages with the schema stated at the end of the system prompt (a new one if there is none)."""
    note = _instructions.get(id(schema), schema)
    if messages and messages[0].role == "system":
        first = messages[0]
        return (attrs.evolve(first, content=f"{first.content}\n\n{note}"), *messages[1:])
    return (Message("system", note), *messages)


def _reasoning(request: GenerationRequest, config: OpenRouterConfig, openrouter: bool) -> dict[str, Any]:
    """The reasoning fields: OpenRouter's `reasoning` object; `reasoning_effort` for other servers."""
    settings = config.reasoning.body() if config.reasoning is not None else {}
    if not settings and not request.reasoning:
        return {}
    if openrouter or not settings:
        return {"reasoning": settings or {"enabled": True}}
    effort = settings.get("effort")
    return {"reasoning_effort": effort} if effort is not None else {"reasoning": settings}


def _tool_choice(choice: str) -> Any:
    return choice if choice in ("auto", "none", "required") else {"type": "function", "function": {"name": choice}}


def build_body(
    request: GenerationRequest,
    model: str,
    config: OpenRouterConfig,
    *,
    openrouter: bool,
    mode: str = "json_schema",
) -> bytes:
    """The encoded chat-completions body. Absent sampling values are not sent (the server's default applies).

    `mode` says how a response schema travels: `json_schema`, `json_object` or `prompt`.
    """
    body: dict[str, Any] = {"model": model}
    if config.models:
        body["models"] = config.models
    temperature = request.temperature if request.temperature is not None else config.temperature
    if temperature is not None:
        body["temperature"] = temperature
    max_tokens = request.max_tokens if request.max_tokens is not None else config.max_tokens
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if request.seed is not None:
        body["seed"] = request.seed
    if config.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}  # OpenAI and vLLM send usage only when asked
    messages = request.messages
    schema = request.response_schema
    formatted = schema is not None and mode in _FORMAT_MODES
    constrained = formatted
    if schema is not None and mode == "prompt":
        messages = with_schema_in_prompt(messages, schema)
    if request.tools:
        body["tools"] = [tool_json(t) for t in request.tools]
        if config.tool_choice is not None:
            body["tool_choice"] = _tool_choice(config.tool_choice)
        constrained = True
    if request.reasoning or config.reasoning is not None:
        body.update(_reasoning(request, config, openrouter))
    preferences = config.provider.body() if config.provider is not None else {}
    if openrouter and constrained:
        # Without this OpenRouter may route to an endpoint that silently ignores the schema or tools.
        preferences = {"require_parameters": True, **preferences}
    if preferences:
        body["provider"] = preferences
    for key, value in config.extra_body.items():
        if key == "provider" and isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    try:
        return _encode(body, messages, schema if formatted else None, mode).encode()
    except (TypeError, ValueError) as exc:
        raise ProviderError(f"cannot encode the request body: {exc}", retryable=False) from None


def _encode(body: dict[str, Any], messages: tuple[Message, ...], schema: Any, mode: str) -> str:
    """`body` with the messages and response format spliced in, unless `extra_body` set those itself.

    `schema` is None when no response format goes out.
    """
    if any(key in body for key in _SPLICED):
        body.setdefault("messages", [message_json(m) for m in messages])
        if schema is not None:
            body.setdefault("response_format", response_format(schema, mode))
        return _ENCODER.encode(body)
    parts = [_ENCODER.encode(body)[:-1], ',"messages":[', ",".join(message_text(m) for m in messages), "]"]
    if schema is not None:
        parts += [',"response_format":', _formats.get((id(schema), mode), schema, mode)]
    parts.append("}")
    return "".join(parts)


class _BySchema:
    """Encoded text derived from a schema, by the schema's identity and a mode (a job keeps one template).

    An entry keeps its schema alive, so an id is never reused while it is cached.
    """

    def __init__(self, make: Any) -> None:
        self._make = make
        self._texts: dict[Any, tuple[Any, str]] = {}

    def get(self, key: Any, schema: Any, *args: Any) -> str:
        hit = self._texts.get(key)
        if hit is not None and hit[0] is schema:
            return hit[1]
        if len(self._texts) >= _CACHE_SIZE:
            self._texts.clear()
        text = self._make(schema, *args)
        self._texts[key] = (schema, text)
        return text


_formats = _BySchema(lambda schema, mode: _ENCODER.encode(response_format(schema, mode)))
_instructions = _BySchema(schema_instruction)
