"""OpenRouter's price list: read once from `GET /models`, for answers that report no `usage.cost`."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx

from destilation import ProviderError, Usage
from destilation_openrouter.parse import load_json

Prices = dict[str, tuple[float, float]]
"""Model id → USD per prompt token and per completion token."""


def _price(value: Any) -> float | None:
    """OpenRouter sends prices as decimal strings ("0.000003"); anything else is no price."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def parse_prices(raw: bytes, name: str) -> Prices:
    data = load_json(raw, name)
    items = data.get("data") if isinstance(data, dict) else None
    prices: Prices = {}
    for item in items if isinstance(items, list) else ():
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("id"), str)
            or not isinstance(item.get("pricing"), dict)
        ):
            continue
        pricing = item["pricing"]
        prompt, completion = _price(pricing.get("prompt")), _price(pricing.get("completion"))
        if prompt is not None and completion is not None:
            prices[item["id"]] = (prompt, completion)
    return prices


def priced(prices: tuple[float, float], usage: Usage) -> float:
    return usage.prompt_tokens * prices[0] + usage.completion_tokens * prices[1]


class Pricing:
    """The price list of one provider, fetched at most once (a failed fetch prices nothing)."""

    def __init__(self, url: httpx.URL, call: Callable[[str, httpx.URL, bytes | None], Awaitable[bytes]]) -> None:
        self._url = url
        self._call = call
        self._prices: Prices | None = None
        self._lock = anyio.Lock()

    async def cost(self, model: str, usage: Usage) -> float | None:
        if self._prices is None:
            async with self._lock:
                if self._prices is None:
                    try:
                        self._prices = parse_prices(await self._call("GET", self._url, None), "price list")
                    except ProviderError:
                        self._prices = {}
        found = self._prices.get(model)
        return priced(found, usage) if found is not None else None
