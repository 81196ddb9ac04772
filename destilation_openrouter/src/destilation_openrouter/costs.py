"""Prices from the config, for the `estimate_cost` hook: what an answer costs when the server said nothing.

The engine asks the hook only when a generation carries no cost: OpenRouter's `usage.cost`
comes first, then (for OpenRouter) its price list, read by the provider itself. A server that
reports no cost (vLLM, llama.cpp, ...) is priced from `price_prompt_per_mtok` and
`price_completion_per_mtok`, or costs nothing.
"""

from __future__ import annotations

from destilation import Usage
from destilation_openrouter.config import OpenRouterConfig

_PRICES: dict[str, tuple[float, float]] = {}
"""Provider name → USD per million prompt and completion tokens, for the providers this plugin built."""


def register_prices(name: str, config: OpenRouterConfig) -> None:
    _PRICES[name] = (config.price_prompt_per_mtok or 0.0, config.price_completion_per_mtok or 0.0)


def estimate(provider: str, usage: Usage) -> float | None:
    """The configured price of `usage`; None for a provider this plugin did not build."""
    prices = _PRICES.get(provider)
    if prices is None:
        return None
    return (usage.prompt_tokens * prices[0] + usage.completion_tokens * prices[1]) / 1e6
