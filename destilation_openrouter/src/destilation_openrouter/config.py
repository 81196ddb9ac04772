"""The provider's config table, filled from the user's TOML by the core's converter."""

from __future__ import annotations

from typing import Any

import attrs

from destilation import Secret

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"


@attrs.frozen
class OpenRouterConfig:
    """Options of an `openrouter` (or `openai`) provider; every field has a default."""

    api_key: Secret | None = None
    """None → read from OPENROUTER_API_KEY (kind `openrouter`) or OPENAI_API_KEY (kind `openai`)."""
    base_url: str = OPENROUTER_BASE_URL
    timeout_s: float = 120.0
    temperature: float | None = None
    max_tokens: int | None = None
    structured_outputs: bool = True
    """Send the template's schema as `response_format` json_schema (strict)."""
    app_title: str = "Destilation"
    referer: str | None = None
    extra_body: dict[str, Any] = attrs.field(factory=dict)
    """Merged into every request body, e.g. `provider = {data_collection = "deny"}`."""
    max_response_bytes: int = 8 * 1024 * 1024
