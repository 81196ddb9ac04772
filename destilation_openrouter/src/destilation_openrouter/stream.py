"""A streamed chat completion (server-sent events) assembled into one `Generation`.

With `stream = true` the answer arrives as `data: {chunk}` lines ending with `data: [DONE]`.
OpenRouter sends `: OPENROUTER PROCESSING` comments while it waits, which keep a long reasoning
answer's connection alive; they are skipped. An error can arrive after the HTTP status was
already 200 (a top-level `error` in a chunk, or `finish_reason: "error"`): that is a
`ProviderError`, as is a stream that stops before it finished.
"""

from __future__ import annotations

import json
from typing import Any

from destilation import Generation, ProviderError, ToolCall, Usage
from destilation_openrouter.parse import error_text, invalid, parse_usage, reasoning_details_text


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


class _ToolCallParts:
    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []


class StreamAssembler:
    """Feed it the body's bytes as they come; `generation()` once the stream has ended."""

    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self._pending = b""
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._tools: dict[int, _ToolCallParts] = {}
        self._finish_reason: str | None = None
        self._usage = Usage()
        self._cost: float | None = None
        self._chunks = 0
        self.done = False
        """`data: [DONE]` was seen."""
        self.streamed = False
        """The server did answer with an event stream (set by the reader)."""

    def feed(self, data: bytes) -> None:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._line(line.strip())

    def _line(self, line: bytes) -> None:
        if not line.startswith(b"data:") or self.done:
            return  # blank lines end events; ":" comments are keep-alives; other fields say nothing here
        payload = line[5:].strip()
        if payload == b"[DONE]":
            self.done = True
            return
        try:
            chunk = json.loads(payload)
        except (ValueError, RecursionError):
            raise invalid(self.provider, f"a stream event is not JSON: {payload[:80]!r}") from None
        if isinstance(chunk, dict):
            self._chunk(chunk)

    def _chunk(self, chunk: dict[str, Any]) -> None:
        self._chunks += 1
        if chunk.get("error") is not None:
            raise ProviderError(f"{self.provider}: error mid-stream: {error_text(chunk['error'])}", retryable=True)
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            self.model = chunk["model"]
        if isinstance(chunk.get("usage"), dict):
            self._usage, self._cost = parse_usage(chunk["usage"])
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, dict):
            return  # the last chunk carries only usage
        if choice.get("error") is not None or choice.get("finish_reason") == "error":
            detail = error_text(choice["error"]) if choice.get("error") is not None else "no detail"
            raise ProviderError(f"{self.provider}: generation failed mid-stream: {detail}", retryable=True)
        if isinstance(choice.get("finish_reason"), str):
            self._finish_reason = choice["finish_reason"]
        delta = choice.get("delta")
        if isinstance(delta, dict):
            self._delta(delta)

    def _delta(self, delta: dict[str, Any]) -> None:
        self._content.append(_str(delta.get("content")))
        reasoning = _str(delta.get("reasoning")) or _str(delta.get("reasoning_content"))
        self._reasoning.append(reasoning or reasoning_details_text(delta.get("reasoning_details")) or "")
        calls = delta.get("tool_calls")
        for position, call in enumerate(calls if isinstance(calls, list) else ()):
            if not isinstance(call, dict):
                continue
            index = call.get("index")
            parts = self._tools.setdefault(index if isinstance(index, int) else position, _ToolCallParts())
            parts.id = parts.id or _str(call.get("id"))
            function = call.get("function")
            if isinstance(function, dict):
                parts.name += _str(function.get("name"))
                arguments = function.get("arguments")
                if isinstance(arguments, str):
                    parts.arguments.append(arguments)
                elif arguments is not None:  # an object, as some servers send
                    parts.arguments.append(json.dumps(arguments))

    def generation(self, latency_s: float) -> Generation:
        """The assembled answer; a stream that stopped before its end is an error worth retrying."""
        self._line(self._pending.strip())
        self._pending = b""
        if not self.done and self._finish_reason is None:
            what = "no events" if not self._chunks else "before it finished"
            raise ProviderError(f"{self.provider}: the stream ended {what}", retryable=True)
        calls = []
        for i, index in enumerate(sorted(self._tools)):
            parts = self._tools[index]
            if not parts.name:
                raise invalid(self.provider, f"streamed tool call {index} has no function name")
            calls.append(ToolCall(parts.id or f"call_{i}", parts.name, "".join(parts.arguments) or "{}"))
        reasoning = "".join(self._reasoning)
        return Generation(
            text="".join(self._content),
            provider=self.provider,
            model=self.model,
            finish_reason=self._finish_reason,
            usage=self._usage,
            cost=self._cost,
            latency_s=latency_s,
            reasoning=reasoning or None,
            tool_calls=tuple(calls),
        )
