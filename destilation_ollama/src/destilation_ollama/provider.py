"""The provider: one `/api/chat` call per generation; the core's call policy does any retrying."""

from __future__ import annotations

import time

import attrs

from destilation import Generation, GenerationRequest, Provider, ProviderInfo
from destilation.domain import JSON, Usage
from destilation_ollama.client import OllamaClient
from destilation_ollama.config import OllamaConfig
from destilation_ollama.wire import build_body

BASE_CAPABILITIES = frozenset({"json_schema"})
"""`format` takes a JSON schema on every model; tools and thinking depend on the model, so they are
not assumed (set `capabilities` in the job, or read them with `destiler ollama models`)."""


def default_capabilities(config: OllamaConfig) -> frozenset[str]:
    """What the provider claims when the job names no capabilities: `reasoning` only when `think` asks for it."""
    return (BASE_CAPABILITIES | {"reasoning"}) if config.think not in (None, False) else BASE_CAPABILITIES


class OllamaProvider(Provider):
    """Talks Ollama's native chat API, streaming (NDJSON) or not."""

    def __init__(self, config: OllamaConfig, info: ProviderInfo, client: OllamaClient) -> None:
        self._config = config
        self._info = info if info.capabilities else attrs.evolve(info, capabilities=default_capabilities(config))
        self._client = client

    def info(self) -> ProviderInfo:
        return self._info

    def health_details(self) -> dict[str, JSON]:
        return {"structured_output": "format" if self._config.structured_outputs else "none"}

    async def models(self) -> list[str]:
        return [str(item["name"]) for item in await self._client.tags()]

    async def generate(self, request: GenerationRequest) -> Generation:
        model = request.model or self._info.model
        body = build_body(request, model, self._config)
        started = time.monotonic()
        answer = await self._client.chat(body, stream=self._config.stream, model=model)
        latency = time.monotonic() - started
        return answer.generation(model=model, latency_s=latency, cost=self.cost(answer.usage))

    async def probe(self, request: GenerationRequest) -> str:
        """One request; says which model answered and how the answer was asked for."""
        generation = await self.generate(request)
        shape = (
            "format schema" if request.response_schema is not None and self._config.structured_outputs else "free text"
        )
        return f"answered as {generation.model} ({shape}, {'streamed' if self._config.stream else 'whole'})"

    def cost(self, usage: Usage) -> float:
        """USD at the configured prices; 0 for a local server nobody priced."""
        return (
            usage.prompt_tokens * self._config.input_price + usage.completion_tokens * self._config.output_price
        ) / 1e6

    async def aclose(self) -> None:
        await self._client.aclose()
