"""The provider's config table, filled from the user's TOML by the core's converter."""

from __future__ import annotations

from typing import Any

import attrs

from destilation.domain import JSON

THINK_LEVELS = ("low", "medium", "high", "max")


def _think(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, bool) and value not in THINK_LEVELS:
        levels = ", ".join(f'"{level}"' for level in THINK_LEVELS)
        raise ValueError(f"'{attribute.name}' must be true, false or one of {levels}")


def _keep_alive(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    # Ollama takes a duration string ("5m", "1h") or a number of seconds (negative: forever).
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        raise ValueError(f"'{attribute.name}' must be a duration such as \"5m\" or a number of seconds")


@attrs.frozen
class OllamaConfig:
    """Options of an `ollama` provider; every field has a default."""

    host: str | None = None
    """None → OLLAMA_HOST → http://127.0.0.1:11434; `host:port` without a scheme is accepted, as Ollama does."""
    stream: bool = False
    """Ask for NDJSON streaming (`stream: true`); the answer is assembled line by line."""
    # `think` and `keep_alive` take two kinds of TOML value each, so they are typed as JSON and checked here.
    think: JSON = attrs.field(default=None, validator=_think)
    """true, false or a level ("low", "medium", "high", "max"); None → the request's `reasoning` decides."""
    keep_alive: JSON = attrs.field(default=None, validator=_keep_alive)
    """How long the server keeps the model loaded after a request ("5m", seconds, -1 forever); None → its default."""
    temperature: float | None = None
    max_tokens: int | None = None
    """Sent as `options.num_predict` when the job sets no `max_tokens`."""
    num_ctx: int | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
    """Context window; Ollama's default (4096 on small machines) silently truncates longer prompts."""
    options: dict[str, JSON] = attrs.field(factory=dict)
    """Other Modelfile parameters sent in `options` (top_k, top_p, stop, repeat_penalty, ...)."""
    structured_outputs: bool = True
    """Send the template's JSON schema as `format`, so the server constrains the answer to it."""
    timeout_s: float = attrs.field(default=600.0, validator=attrs.validators.gt(0))
    """One overall deadline per request; a local model may queue a request behind others for long."""
    input_price: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    """USD per million prompt tokens (a rented GPU, say); 0 → local and free."""
    output_price: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))
    """USD per million generated tokens."""
    max_response_bytes: int = attrs.field(default=8 * 1024 * 1024, validator=attrs.validators.ge(1))
