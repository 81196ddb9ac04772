"""The provider: one pooled HTTP client, one POST per generation, every failure a ProviderError."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import attrs
import httpx

from destilation import (
    Event,
    Generation,
    GenerationRequest,
    Provider,
    ProviderError,
    ProviderInfo,
    redact_text,
)
from destilation.http import HttpClient, RawResponse, ResponseTooLarge, read_body
from destilation_openrouter.config import OpenRouterConfig
from destilation_openrouter.parse import excerpt, parse_generation, parse_models, status_error
from destilation_openrouter.pricing import Pricing
from destilation_openrouter.stream import StreamAssembler
from destilation_openrouter.structured import StructuredOutput
from destilation_openrouter.wire import build_body

DEFAULT_CAPABILITIES = frozenset({"json_schema", "tools", "reasoning"})
ERROR_BODY_BYTES = 64 * 1024
"""How much of a non-2xx body is read for its message; the rest is dropped."""


def _redactor(secret: str | None) -> Callable[[ProviderError], ProviderError]:
    """Scrub the key, and any credential the core's redactor knows, from an error a server wrote."""

    def redact(error: ProviderError) -> ProviderError:
        message = str(error)
        shown = redact_text(message, [secret] if secret else [])
        if shown == message:
            return error
        return ProviderError(
            shown,
            retryable=error.retryable,
            retry_after=error.retry_after,
            status=error.status,
        )

    return redact


class OpenRouterProvider(Provider):
    """Talks OpenAI-compatible chat completions to OpenRouter or any server that speaks it."""

    def __init__(
        self,
        config: OpenRouterConfig,
        info: ProviderInfo,
        client: HttpClient,
        *,
        openrouter: bool,
        secret: str | None = None,
        emit: Callable[[Event], None] | None = None,
        job: str = "",
        structured_output: str | None = None,
    ) -> None:
        self._config = config
        self._info = info if info.capabilities else attrs.evolve(info, capabilities=DEFAULT_CAPABILITIES)
        self._client = client
        self._openrouter = openrouter
        self._redact = _redactor(secret)
        self._emit = emit
        self._job = job
        self.structured = StructuredOutput(structured_output or config.structured_output, self._settled)
        # Absolute URLs made once: httpx re-parses a relative URL against base_url on every request.
        base = config.base_url.rstrip("/")
        self._chat_url = httpx.URL(f"{base}/chat/completions")
        self._models_url = httpx.URL(f"{base}/models")
        self.pricing = Pricing(self._models_url, self._call) if openrouter else None
        """OpenRouter's price list, read once when an answer reports no cost."""

    def info(self) -> ProviderInfo:
        return self._info

    async def models(self) -> list[str]:
        raw = await self._call("GET", self._models_url, None)
        try:
            return parse_models(raw, self._info.name)
        except ProviderError as exc:
            raise self._redact(exc) from None

    async def generate(self, request: GenerationRequest) -> Generation:
        if request.response_schema is None:
            return await self._send(request, "")
        return await self.structured.generate(request, self._send)

    async def probe(self, request: GenerationRequest) -> str:
        """One request with a schema: runs the structured output discovery and names the mode it found."""
        generation = await self.generate(request)
        said = f"structured output: {self.structured.mode or 'auto'}, answered as {generation.model}"
        if request.response_schema is not None:
            try:
                json.loads(generation.text)
            except ValueError:
                said += f" (but the answer was not JSON: {excerpt(generation.text, 60)!r})"
        return said

    def health_details(self) -> dict[str, Any]:
        return dict(self.structured.details())

    async def _send(self, request: GenerationRequest, mode: str) -> Generation:
        model = request.model or self._info.model
        body = build_body(request, model, self._config, openrouter=self._openrouter, mode=mode)
        stream = StreamAssembler(self._info.name, model) if self._config.stream else None
        started = time.monotonic()
        raw = await self._call("POST", self._chat_url, body, stream)
        try:
            if stream is not None and stream.streamed:
                generation = stream.generation(time.monotonic() - started)
            else:
                generation = parse_generation(
                    raw, provider=self._info.name, model=model, latency_s=time.monotonic() - started
                )
        except ProviderError as exc:
            raise self._redact(exc) from None
        if generation.cost is None and self.pricing is not None:
            generation = attrs.evolve(generation, cost=await self.pricing.cost(generation.model, generation.usage))
        return generation

    def _settled(self, mode: str, refused: list[str]) -> None:
        name = self._info.name
        why = f" ({'; '.join(refused)})" if refused else ""
        if self._emit is not None:
            message = f"provider {name}: structured output settled on {mode}{why}"
            data: dict[str, Any] = {"mode": mode, "refused": list(refused)}
            self._emit(Event("structured_output", self._job, message, provider=name, data=data))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(
        self, method: str, url: httpx.URL, body: bytes | None, stream: StreamAssembler | None = None
    ) -> bytes:
        """One request under an overall deadline; returns the 2xx body or raises ProviderError.

        With `stream`, an event-stream answer is fed to it as it arrives and b"" is returned
        (`stream.streamed` says so); a server that answered with plain JSON instead is read as usual.
        """
        name = self._info.name
        cap = self._config.max_response_bytes
        try:
            deadline = self._config.timeout_s
            async with self._client.stream_direct(method, url, content=body, deadline_s=deadline) as response:
                status = response.status_code
                if 200 <= status < 300:
                    if stream is not None and response.headers.get("content-type", "").startswith("text/event-stream"):
                        await _read_stream(response, cap, stream)
                        return b""
                    return await read_body(response, cap, strict=True)
                raw = await read_body(response, ERROR_BODY_BYTES, strict=False)
                headers = response.headers
                error = status_error(name, status, raw, headers.get("retry-after"), headers.get("x-ratelimit-reset"))
        except ResponseTooLarge:
            raise ProviderError(
                f"{name}: response larger than {cap} bytes (max_response_bytes)", retryable=True
            ) from None
        except TimeoutError:
            raise ProviderError(f"{name}: no answer within {self._config.timeout_s:g} s", retryable=True) from None
        except httpx.HTTPError as exc:
            detail = excerpt(str(exc)) or type(exc).__name__
            raise self._redact(ProviderError(f"{name}: request failed: {detail}", retryable=True)) from None
        except ProviderError as exc:  # an error event in the stream
            raise self._redact(exc) from None
        raise self._redact(error)


async def _read_stream(response: RawResponse, cap: int, stream: StreamAssembler) -> None:
    """Feed an event stream to `stream`, at most `cap` bytes of it."""
    stream.streamed = True
    size = 0
    async for chunk in response.chunks():
        size += len(chunk)
        if size > cap:
            raise ResponseTooLarge
        stream.feed(chunk)
