"""The provider's config table, filled from the user's TOML by the core's converter."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from destilation import Secret

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"

StructuredOutput = Literal["auto", "json_schema", "json_object", "prompt"]
"""How the template's schema reaches the server (see `destilation_openrouter.structured`)."""


@attrs.frozen
class ReasoningConfig:
    """OpenRouter's `reasoning` request object; unset fields are not sent."""

    effort: Literal["max", "xhigh", "high", "medium", "low", "minimal", "none"] | None = None
    max_tokens: int | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    """An explicit reasoning budget (Anthropic, Gemini, some Qwen); OpenRouter takes it or `effort`, not both."""
    exclude: bool | None = None
    """True: the model reasons but the text is not returned."""
    enabled: bool | None = None

    def body(self) -> dict[str, Any]:
        return {k: v for k, v in attrs.asdict(self).items() if v is not None}


@attrs.frozen
class ProviderPreferences:
    """OpenRouter's `provider` routing preferences; unset fields are not sent (OpenRouter's default applies)."""

    order: list[str] | None = None
    only: list[str] | None = None
    ignore: list[str] | None = None
    allow_fallbacks: bool | None = None
    require_parameters: bool | None = None
    """Unset: true whenever the request carries a schema or tools, so no endpoint silently drops them."""
    data_collection: Literal["allow", "deny"] | None = None
    zdr: bool | None = None
    sort: Literal["price", "throughput", "latency"] | None = None
    enforce_distillable_text: bool | None = None
    """Only models whose authors allow their text to be used for distillation."""
    quantizations: list[str] | None = None

    def body(self) -> dict[str, Any]:
        return {k: v for k, v in attrs.asdict(self).items() if v is not None}


@attrs.frozen
class OpenRouterConfig:
    """Options of an `openrouter` (or `openai`) provider; every field has a default."""

    api_key: Secret | None = None
    """None → read from OPENROUTER_API_KEY (kind `openrouter`) or OPENAI_API_KEY (kind `openai`)."""
    base_url: str = OPENROUTER_BASE_URL
    timeout_s: float = 120.0
    temperature: float | None = None
    max_tokens: int | None = None
    stream: bool = False
    """Ask for the answer as server-sent events: a long (reasoning) answer keeps its connection busy."""
    structured_output: StructuredOutput = "auto"
    structured_outputs: bool | None = None
    """The old boolean; the factory refuses it with a hint towards `structured_output`."""
    reasoning: ReasoningConfig | None = None
    provider: ProviderPreferences | None = None
    models: list[str] | None = None
    """OpenRouter's fallback list: the next model is tried on any error; the answer names the one used."""
    tool_choice: str | None = None
    """Sent with tools: "auto", "none", "required", or the name of the one tool the model must call."""
    price_prompt_per_mtok: float | None = None
    """USD per million prompt tokens, for servers that report no cost."""
    price_completion_per_mtok: float | None = None
    app_title: str = "Destilation"
    referer: str | None = None
    extra_body: dict[str, Any] = attrs.field(factory=dict)
    """Merged into every request body last, so it can set anything the typed options do not."""
    max_response_bytes: int = 8 * 1024 * 1024
