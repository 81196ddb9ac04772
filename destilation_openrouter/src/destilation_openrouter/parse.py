"""Response side of the wire: pure functions from status, headers and bytes to results or ProviderError.

Anything a server sends, however malformed, ends as a `Generation` or a `ProviderError` with one
short line; nothing else escapes. No secrets pass through here; callers redact the key anyway.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from destilation import Generation, ProviderError, ToolCall, Usage
from destilation.policy import retry_after_seconds

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504, 524, 529})
EXCERPT_CHARS = 200
_HINTS = {
    401: "the API key was refused",
    402: "out of credits: add credits to the account or raise the key's limit",
}


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """One line of at most `limit` characters, for error messages."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def invalid(name: str, why: str) -> ProviderError:
    return ProviderError(f"invalid response from {name}: {excerpt(why)}", retryable=True)


def load_json(raw: bytes, name: str) -> Any:
    """Decode a body; bad UTF-8, bad JSON and absurd nesting all become one ProviderError."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        shown = raw[:EXCERPT_CHARS].decode("utf-8", "replace")
        raise invalid(name, f"not JSON: {shown!r}") from None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            return None
        return number if math.isfinite(number) else None
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def error_text(error: Any) -> str:
    """The message of an `{"error": ...}` value: OpenAI/OpenRouter object or a bare string."""
    if isinstance(error, dict):
        message = error.get("message")
        if isinstance(message, str) and message:
            return excerpt(message)
        return excerpt(json.dumps(error, default=str))
    return excerpt(str(error))


def parse_usage(value: Any) -> tuple[Usage, float | None]:
    if not isinstance(value, dict):
        return Usage(), None
    details = value.get("completion_tokens_details")
    reasoning = _int(details.get("reasoning_tokens")) if isinstance(details, dict) else 0
    usage = Usage(_int(value.get("prompt_tokens")), _int(value.get("completion_tokens")), reasoning)
    return usage, _float(value.get("cost"))


def _content(value: Any, name: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # content parts: keep the text ones
        return "".join(part["text"] for part in value if isinstance(part, dict) and isinstance(part.get("text"), str))
    raise invalid(name, f"message.content is a {type(value).__name__}")


def parse_tool_calls(value: Any, name: str) -> tuple[ToolCall, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise invalid(name, "message.tool_calls is not a list")
    calls = []
    for i, item in enumerate(value):
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise invalid(name, f"message.tool_calls[{i}] has no function name")
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            # Some servers send an object; keep the OpenAI convention of JSON text.
            arguments = json.dumps({} if arguments is None else arguments)
        call_id = item.get("id")
        calls.append(ToolCall(call_id if isinstance(call_id, str) else f"call_{i}", function["name"], arguments))
    return tuple(calls)


def reasoning_details_text(value: Any) -> str | None:
    """The readable text of OpenRouter's `reasoning_details`: `reasoning.text` and `reasoning.summary` items.

    Encrypted items carry nothing readable and are skipped.
    """
    if not isinstance(value, list):
        return None
    parts = []
    for item in value:
        if isinstance(item, dict):
            text = item.get("text") if item.get("type") == "reasoning.text" else item.get("summary")
            if isinstance(text, str) and text:
                parts.append(text)
    return "\n".join(parts) or None


def parse_generation(raw: bytes, *, provider: str, model: str, latency_s: float) -> Generation:
    """A chat-completions body (HTTP 200) → Generation, or ProviderError (retryable) for errors in it."""
    data = load_json(raw, provider)
    if not isinstance(data, dict):
        raise invalid(provider, f"expected a JSON object, got {type(data).__name__}")
    if data.get("error") is not None:
        raise ProviderError(f"{provider}: error in response: {error_text(data['error'])}", retryable=True)
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise invalid(provider, "no choices")
    choice = choices[0]
    finish_reason = _str(choice.get("finish_reason"))
    if finish_reason == "error" or choice.get("error") is not None:
        detail = error_text(choice["error"]) if choice.get("error") is not None else "no detail"
        raise ProviderError(f"{provider}: generation failed upstream: {detail}", retryable=True)
    message = choice.get("message")
    if not isinstance(message, dict):
        raise invalid(provider, "choices[0].message is missing")
    reasoning = _str(message.get("reasoning"))
    if reasoning is None:
        reasoning = _str(message.get("reasoning_content"))  # DeepSeek, llama.cpp, older vLLM
    if reasoning is None:
        reasoning = reasoning_details_text(message.get("reasoning_details"))
    usage, cost = parse_usage(data.get("usage"))
    return Generation(
        text=_content(message.get("content"), provider),
        provider=provider,
        model=_str(data.get("model")) or model,
        finish_reason=finish_reason,
        usage=usage,
        cost=cost,
        latency_s=latency_s,
        reasoning=reasoning,
        tool_calls=parse_tool_calls(message.get("tool_calls"), provider),
    )


def parse_models(raw: bytes, name: str) -> list[str]:
    """`GET /models` → model ids (OpenAI and OpenRouter both answer `{"data": [{"id": ...}]}`)."""
    data = load_json(raw, name)
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise invalid(name, "no model list under 'data'")
    return [item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)]


def rate_limit_reset(header: str | None, now: float | None = None) -> float | None:
    """Seconds until OpenRouter's `X-RateLimit-Reset` (epoch milliseconds), sent on its own 429s."""
    if not header:
        return None
    try:
        reset_ms = float(header)
    except ValueError:
        return None
    if not math.isfinite(reset_ms):
        return None
    return max(0.0, reset_ms / 1000.0 - (time.time() if now is None else now))


def status_error(
    name: str, status: int, raw: bytes, retry_after_header: str | None, reset_header: str | None = None
) -> ProviderError:
    """A non-2xx answer → ProviderError: retryable for overload and server faults, not for client faults.

    The wait comes from `Retry-After`, else (on a 429) `X-RateLimit-Reset`, else the error's
    `availability.retry_after`; the call policy holds the provider back for it.
    """
    detail = ""
    availability: Any = None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and data.get("error") is not None:
        detail = error_text(data["error"])
        if isinstance(data["error"], dict):
            availability = data["error"].get("availability")
    elif raw:
        detail = excerpt(raw[:EXCERPT_CHARS].decode("utf-8", "replace"))
    retryable = status in RETRYABLE_STATUS or (status >= 500 and status not in (501, 505))
    wait = retry_after_seconds(retry_after_header or None)
    if wait is None and status == 429:
        wait = rate_limit_reset(reset_header)
    if isinstance(availability, dict):
        if isinstance(availability.get("retryable"), bool):
            retryable = availability["retryable"]
        if wait is None:
            wait = _float(availability.get("retry_after"))
    hint = _HINTS.get(status)
    if status == 402:
        retryable = False  # stop spending attempts until someone adds credits
    message = f"{name}: HTTP {status}" + (f", {hint}" if hint else "") + (f": {detail}" if detail else "")
    return ProviderError(message, retryable=retryable, retry_after=wait, status=status)
