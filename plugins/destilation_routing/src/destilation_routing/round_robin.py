"""Round-robin: each healthy candidate in turn, so load spreads evenly without any state per provider."""

from __future__ import annotations

from collections.abc import Sequence

from destilation import PluginContext, ProviderInfo, Task


class RoundRobinRouter:
    """Cycles through the candidates in the order the engine lists them.

    One counter serves every call: with a fixed candidate list, k·n calls pick each candidate
    exactly k times. When the healthy set shrinks or grows the cycle simply continues over it.
    """

    __slots__ = ("_turn",)

    def __init__(self, config: None = None, context: PluginContext | None = None) -> None:
        self._turn = 0

    def choose(self, task: Task, candidates: Sequence[ProviderInfo]) -> ProviderInfo:
        turn = self._turn
        # Keep the counter bounded; the modulo below makes wrapping invisible for a fixed list.
        self._turn = (turn + 1) & 0xFFFFFFFF
        return candidates[turn % len(candidates)]

    def observe(self, provider: str, ok: bool, latency_s: float) -> None:
        """Round-robin ignores outcomes; the engine's circuit breaker removes unhealthy providers."""
